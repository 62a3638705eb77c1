package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// stdDecode is the reference: encoding/json on the same struct, one value,
// nothing but whitespace after it, unknown fields refused when strict.
func stdDecode(data []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	if len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) != 0 {
		return errors.New("trailing data")
	}
	return nil
}

func readSample(tb testing.TB, name string) []byte {
	tb.Helper()
	return readFile(tb, "samples/"+name)
}

// readFile reads a file of the package's tree (samples, schemas, testdata).
func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// sqsRecord reads a sample SQS event, which must hold exactly one record.
func sqsRecord(t *testing.T, name string) lambdaevents.SQSMessage {
	t.Helper()
	var ev lambdaevents.SQSEvent
	if err := stdDecode(readSample(t, name), &ev, true); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != 1 {
		t.Fatalf("%s: %d records", name, len(ev.Records))
	}
	return ev.Records[0]
}

// pushBody is the body Pub/Sub pushes to an endpoint.
type pushBody struct {
	Message struct {
		Data        []byte            `json:"data"`
		MessageID   string            `json:"messageId"`
		PublishTime time.Time         `json:"publishTime"`
		OrderingKey string            `json:"orderingKey"`
		Attributes  map[string]string `json:"attributes"`
	} `json:"message"`
	Subscription    string `json:"subscription"`
	DeliveryAttempt int    `json:"deliveryAttempt"`
}

// pushEnvelope reads a sample push body; it may hold nothing else.
func pushEnvelope(t *testing.T, name string) pushBody {
	t.Helper()
	var push pushBody
	if err := stdDecode(readSample(t, name), &push, true); err != nil {
		t.Fatal(err)
	}
	return push
}

// jsonFields lists the JSON names of a struct's fields, those of embedded
// structs included (encoding/json promotes them), sorted.
func jsonFields(v any) []string {
	var out []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		f := rt.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue // encoding/json has no name for it either
		}
		if f.Anonymous && f.Tag.Get("json") == "" {
			out = append(out, jsonFields(reflect.Zero(f.Type).Interface())...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// objectSchema is what the tests read of a JSON schema.
type objectSchema struct {
	Type                 string                     `json:"type"`
	Required             []string                   `json:"required"`
	Properties           map[string]json.RawMessage `json:"properties"`
	AdditionalProperties *bool                      `json:"additionalProperties"`
	Defs                 map[string]struct {
		Properties           map[string]json.RawMessage `json:"properties"`
		AdditionalProperties *bool                      `json:"additionalProperties"`
	} `json:"$defs"`
}

// checkSchema reads schemas/file and holds it to the Go type: an object
// whose properties are exactly fields, which requires only fields, and
// which refuses other properties exactly when closed.
func checkSchema(t *testing.T, file string, fields []string, closed bool) objectSchema {
	t.Helper()
	var s objectSchema
	if err := json.Unmarshal(readFile(t, "schemas/"+file), &s); err != nil {
		t.Fatal(err)
	}
	if props := slices.Sorted(maps.Keys(s.Properties)); s.Type != "object" || !slices.Equal(props, fields) {
		t.Fatalf("%s: schema properties %v, Go fields %v", file, props, fields)
	}
	for _, r := range s.Required {
		if !slices.Contains(fields, r) {
			t.Fatalf("%s: required %q is not a field", file, r)
		}
	}
	if got := s.AdditionalProperties != nil && !*s.AdditionalProperties; got != closed {
		t.Fatalf("%s: additionalProperties closed=%v, want %v", file, got, closed)
	}
	return s
}

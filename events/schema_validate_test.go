package events_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// schemaBase is the prefix of every schema's $id.
const schemaBase = "https://playplane.dev/schemas/"

// compiledSchemas compiles every file of schemas/ with a JSON Schema
// 2020-12 validator that also asserts formats (date-time and the like), so
// that types, enums, bounds, patterns and formats are checked, not just
// property names. Compiling checks each schema against the 2020-12
// metaschema too.
var compiledSchemas = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	files, err := filepath.Glob("schemas/*.json")
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for _, f := range files {
		doc, err := readJSON(f)
		if err != nil {
			return nil, err
		}
		if err := c.AddResource(schemaBase+filepath.Base(f), doc); err != nil {
			return nil, err
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, f := range files {
		s, err := c.Compile(schemaBase + filepath.Base(f))
		if err != nil {
			return nil, err
		}
		out[filepath.Base(f)] = s
	}
	return out, nil
})

func readJSON(path string) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

func schemaFor(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	all, err := compiledSchemas()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := all[name]
	if !ok {
		t.Fatalf("no schema %s", name)
	}
	return s
}

// validate checks one JSON document against a schema.
func validate(t *testing.T, s *jsonschema.Schema, what string, doc []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := s.Validate(inst); err != nil {
		t.Fatalf("%s does not validate against its schema: %v", what, err)
	}
}

// How a sample file carries the message the schema describes.
type envelope int

const (
	plain      envelope = iota // the file is the message
	sqsEvent                   // Records[].body
	pubsubPush                 // Pub/Sub push: message.data, base64
	cloudEvent                 // Eventarc CloudEvent: data.message.data, base64
	httpEvent                  // API Gateway HTTP API event: body
)

// payloads extracts the messages a sample carries.
func payloads(t *testing.T, path string, env envelope) [][]byte {
	t.Helper()
	data := readFile(t, path)
	var out [][]byte
	b64 := func(s string) []byte {
		d, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("%s: data: %v", path, err)
		}
		return d
	}
	switch env {
	case plain:
		out = append(out, data)
	case sqsEvent:
		var ev struct{ Records []struct{ Body string } }
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatal(err)
		}
		for _, r := range ev.Records {
			out = append(out, []byte(r.Body))
		}
	case pubsubPush:
		var p struct{ Message struct{ Data string } }
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, b64(p.Message.Data))
	case cloudEvent:
		var ce struct {
			Data struct{ Message struct{ Data string } }
		}
		if err := json.Unmarshal(data, &ce); err != nil {
			t.Fatal(err)
		}
		out = append(out, b64(ce.Data.Message.Data))
	case httpEvent:
		var ev struct {
			Body            string
			IsBase64Encoded bool
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatal(err)
		}
		body := []byte(ev.Body)
		if ev.IsBase64Encoded {
			body = b64(ev.Body)
		}
		out = append(out, body)
	}
	if len(out) == 0 {
		t.Fatalf("%s carries no message", path)
	}
	return out
}

// schemaSamples lists every sample of a message that has a schema, and the
// Go type the message decodes into.
var schemaSamples = []struct {
	schema string
	goType func() any
	files  map[string]envelope
}{
	{"heartbeat-request.json", func() any { return new(events.HeartbeatRequest) }, map[string]envelope{
		"samples/heartbeat-request.json":          plain,
		"samples/heartbeat-request-prestart.json": plain,
		"aws/heartbeat/heartbeat.json":            httpEvent,
	}},
	{"heartbeat.json", func() any { return new(events.Heartbeat) }, map[string]envelope{
		"samples/heartbeat.json":         plain,
		"samples/heartbeat-sqs.json":     sqsEvent,
		"samples/heartbeat-pubsub.json":  pubsubPush,
		"gcp/heartbeats.push.json":       pubsubPush,
		"gcp/heartbeats.cloudevent.json": cloudEvent,
		"aws/heartbeat/heartbeats.json":  sqsEvent,
	}},
	{"edge-health-report.json", func() any { return new(playback.EdgeReport) }, map[string]envelope{
		"samples/edge-health-report.json": plain,
		"aws/pickedge/health.json":        httpEvent,
	}},
	{"edge-health.json", func() any { return new(events.EdgeHealth) }, map[string]envelope{
		"samples/edge-health.json":        plain,
		"samples/edge-health-sqs.json":    sqsEvent,
		"samples/edge-health-pubsub.json": pubsubPush,
		"gcp/edge-health.push.json":       pubsubPush,
		"gcp/edge-health.cloudevent.json": cloudEvent,
		"aws/pickedge/edge-health.json":   sqsEvent,
	}},
	{"stripe-event-recorded.json", func() any { return new(events.StripeEventRecorded) }, map[string]envelope{
		"samples/stripe-event-recorded.json":        plain,
		"samples/stripe-event-recorded-sqs.json":    sqsEvent,
		"samples/stripe-event-recorded-pubsub.json": pubsubPush,
		"gcp/stripe-events.push.json":               pubsubPush,
		"gcp/stripe-events.cloudevent.json":         cloudEvent,
		"aws/paymentwebhook/stripe-events.json":     sqsEvent,
	}},
	{"entitlement-changed.json", func() any { return new(events.EntitlementChanged) }, map[string]envelope{
		"samples/entitlement-changed.json":           plain,
		"aws/authorizeplay/entitlement-changed.json": sqsEvent,
		"gcp/entitlement-changed.push.json":          pubsubPush,
		"gcp/entitlement-changed.cloudevent.json":    cloudEvent,
	}},
}

// poison lists the messages samples carry malformed on purpose, to show
// that consumers acknowledge and log what they can never process.
var poison = map[string]bool{"aws/heartbeat/heartbeats.json message 1": true}

// TestSamplesValidateAgainstSchemas validates every sample message with a
// real JSON Schema 2020-12 validator, and the Go type's own encoding of it
// too, so a schema whose types or constraints drift from the samples or
// from the Go types fails here.
func TestSamplesValidateAgainstSchemas(t *testing.T) {
	t.Parallel()
	for _, tc := range schemaSamples {
		t.Run(tc.schema, func(t *testing.T) {
			t.Parallel()
			s := schemaFor(t, tc.schema)
			for file, env := range tc.files {
				for i, msg := range payloads(t, file, env) {
					what := fmt.Sprintf("%s message %d", file, i)
					if poison[what] {
						if json.Valid(msg) {
							t.Fatalf("%s is listed as malformed but is JSON", what)
						}
						continue
					}
					validate(t, s, what, msg)
					v := tc.goType()
					if err := json.Unmarshal(msg, v); err != nil {
						t.Fatalf("%s: decoding into %T: %v", what, v, err)
					}
					enc, err := json.Marshal(v)
					if err != nil {
						t.Fatal(err)
					}
					validate(t, s, fmt.Sprintf("%s re-encoded from %T", what, v), enc)
				}
			}
		})
	}
}

// TestEverySampleHasASchemaCheck keeps new samples of schema'd messages
// from escaping validation: every file of samples/ is listed above.
func TestEverySampleHasASchemaCheck(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("samples/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, tc := range schemaSamples {
		for f := range tc.files {
			listed = append(listed, f)
		}
	}
	for _, f := range files {
		if !slices.Contains(listed, filepath.ToSlash(f)) {
			t.Errorf("%s is validated against no schema: add it to schemaSamples", f)
		}
	}
}

// TestSchemasRejectWrongSamples shows the validator checks types and
// constraints: each sample, changed in one place, must fail.
func TestSchemasRejectWrongSamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, schema, sample, field string
		value                       any
	}{
		{"heartbeat position as string", "heartbeat.json", "samples/heartbeat.json", "position_ms", "1234567"},
		{"heartbeat negative position", "heartbeat.json", "samples/heartbeat.json", "position_ms", -1},
		{"heartbeat unknown event", "heartbeat.json", "samples/heartbeat.json", "event", "rewind"},
		{"heartbeat time not a date-time", "heartbeat.json", "samples/heartbeat.json", "received_at", "yesterday"},
		{"heartbeat empty session", "heartbeat.json", "samples/heartbeat.json", "session_id", ""},
		{"heartbeat qoe as array", "heartbeat.json", "samples/heartbeat.json", "qoe", []int{1}},
		{"request duration zero", "heartbeat-request.json", "samples/heartbeat-request.json", "duration_ms", 0},
		{"request pause without a position", "heartbeat-request.json", "samples/heartbeat-request-prestart.json", "event", "pause"},
		{"request position without a duration", "heartbeat-request.json", "samples/heartbeat-request-prestart.json", "position_ms", 5},
		{"report healthy as string", "edge-health-report.json", "samples/edge-health-report.json", "healthy", "true"},
		{"report unknown field", "edge-health-report.json", "samples/edge-health-report.json", "surprise", 1},
		{"edge health load as string", "edge-health.json", "samples/edge-health.json", "load", "42"},
		{"entitlement status outside the enum", "entitlement-changed.json", "samples/entitlement-changed.json", "status", "lapsed"},
		{"entitlement entitled as string", "entitlement-changed.json", "samples/entitlement-changed.json", "entitled", "false"},
		{"stripe event type outside the enum", "stripe-event-recorded.json", "samples/stripe-event-recorded.json", "type", "charge.refunded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var doc map[string]any
			if err := json.Unmarshal(readFile(t, tc.sample), &doc); err != nil {
				t.Fatal(err)
			}
			doc[tc.field] = tc.value
			changed, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(changed))
			if err != nil {
				t.Fatal(err)
			}
			if err := schemaFor(t, tc.schema).Validate(inst); err == nil {
				t.Fatalf("%s with %s=%v validates against %s", tc.sample, tc.field, tc.value, tc.schema)
			}
		})
	}
}

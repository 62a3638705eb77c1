// Package lambdatest tests the Lambda side of the functions: it runs a
// function's Builder over DynamoDB Local and fauxqs and invokes it through
// aws-lambda-go's lambda.NewHandler(h).Invoke with the sample payloads of
// events/aws, checks a function's main against template.yaml, builds
// bootstraps the way Makefile.aws does, and emulates the Lambda runtime API
// for start-time measurements.
package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/openapi/openapitest"
)

// Module is the main module's path.
const Module = "github.com/playplane/playplane"

// RepoRoot is the directory of the main module's go.mod, found upwards from
// the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module "+Module+"\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod of %s above the working directory", Module)
		}
		dir = parent
	}
}

// Sample reads events/aws/<name>.
func Sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(t), "events", "aws", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SampleVars returns the variables Lambda logicalID gets under `sam local
// invoke --env-vars events/aws/env.json`: its trigger variables as
// template.yaml sets them (awsfn.EnvTrigger, awsfn.EnvTopic), and env.json's
// "Parameters" section, overridden by the function's own, for the
// variables the template declares for it (SAM passes no others).
func SampleVars(t testing.TB, logicalID string) map[string]string {
	t.Helper()
	var sections map[string]map[string]string
	if err := json.Unmarshal(Sample(t, "env.json"), &sections); err != nil {
		t.Fatalf("events/aws/env.json: %v", err)
	}
	if _, ok := sections[logicalID]; !ok {
		t.Fatalf("events/aws/env.json has no section for %s", logicalID)
	}
	tm := LoadTemplate(t)
	declared := tm.Env(logicalID)
	vars := tm.triggerVars(logicalID)
	for _, section := range []map[string]string{sections["Parameters"], sections[logicalID]} {
		for name, v := range section {
			if _, ok := declared[name]; ok {
				vars[name] = v
			}
		}
	}
	return vars
}

// LocalAWS is an SDK configuration for the emulators: static credentials
// (they accept any) and one region.
func LocalAWS() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
}

// NewHandler builds a function the way its Lambda does, over vars instead
// of the process environment (which must name its trigger), and returns the
// handler Lambda would invoke. The build happens here rather than on the
// first invocation, so a bad configuration fails the test at once.
func NewHandler(t testing.TB, build awsfn.Builder, vars map[string]string, opts ...func(*awsfn.Options)) lambda.Handler {
	t.Helper()
	cfg := LocalAWS()
	o := awsfn.Options{Lookuper: envconfig.MapLookuper(vars), AWS: &cfg}
	for _, opt := range opts {
		opt(&o)
	}
	h, err := awsfn.New(context.Background(), build, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Build(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

// Invoke runs one invocation and fails the test on an invocation error.
func Invoke(t testing.TB, h lambda.Handler, payload []byte) []byte {
	t.Helper()
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	return out
}

// InvokeHTTP invokes with an HTTP API event, and checks the event and the
// answer against the OpenAPI document (shared/openapi).
func InvokeHTTP(t testing.TB, h lambda.Handler, payload []byte) lambdaevents.APIGatewayV2HTTPResponse {
	t.Helper()
	var resp lambdaevents.APIGatewayV2HTTPResponse
	decodeStrict(t, Invoke(t, h, payload), &resp)
	openapitest.CheckAPIGateway(t, payload, resp)
	return resp
}

// InvokeSQS invokes with an SQS event.
func InvokeSQS(t testing.TB, h lambda.Handler, payload []byte) lambdaevents.SQSEventResponse {
	t.Helper()
	var resp lambdaevents.SQSEventResponse
	decodeStrict(t, Invoke(t, h, payload), &resp)
	return resp
}

// Failures lists the message ids of an SQS response's batch item failures.
func Failures(resp lambdaevents.SQSEventResponse) []string {
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func decodeStrict(t testing.TB, b []byte, dst any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		t.Fatalf("response %s: %v", b, err)
	}
}

// WithHeader returns an HTTP API event sample with one header replaced.
func WithHeader(t testing.TB, payload []byte, name, value string) []byte {
	t.Helper()
	return editHTTP(t, payload, func(ev *lambdaevents.APIGatewayV2HTTPRequest) {
		for k := range ev.Headers {
			if strings.EqualFold(k, name) {
				delete(ev.Headers, k)
			}
		}
		if ev.Headers == nil {
			ev.Headers = map[string]string{}
		}
		ev.Headers[strings.ToLower(name)] = value
	})
}

// WithBody returns an HTTP API event sample with its body replaced.
func WithBody(t testing.TB, payload []byte, body []byte) []byte {
	t.Helper()
	return editHTTP(t, payload, func(ev *lambdaevents.APIGatewayV2HTTPRequest) {
		ev.Body, ev.IsBase64Encoded = string(body), false
	})
}

func editHTTP(t testing.TB, payload []byte, edit func(*lambdaevents.APIGatewayV2HTTPRequest)) []byte {
	t.Helper()
	var ev lambdaevents.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	edit(&ev)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Merge returns the union of variable sets, later ones winning.
func Merge(sets ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, s := range sets {
		maps.Copy(out, s)
	}
	return out
}

// InitError is the error building the function over vars fails with (nil
// when it builds): the error every invocation of its Lambda would report.
func InitError(build awsfn.Builder, vars map[string]string) error {
	cfg := LocalAWS()
	h, err := awsfn.New(context.Background(), build, awsfn.Options{Lookuper: envconfig.MapLookuper(vars), AWS: &cfg})
	if err != nil {
		return err
	}
	return h.Build(context.Background())
}

package awsfn_test

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/telemetry"
)

// TestTelemetryResourceIsTheLambdas: the spans of a Lambda name where they
// come from as the resource conventions say (cloud.provider aws,
// cloud.platform aws_lambda, cloud.region; faas.name, faas.version,
// faas.instance and faas.max_memory in bytes, from the variables the
// Lambda runtime sets), and OTEL_RESOURCE_ATTRIBUTES still overrides
// them. Not parallel: the environment and the Provider are process-wide.
func TestTelemetryResourceIsTheLambdas(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_REGION":                      "eu-west-1",
		"AWS_LAMBDA_FUNCTION_NAME":        "playplane-heartbeat",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_STREAM_NAME":      "2026/12/07/[$LATEST]abc",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
	} {
		t.Setenv(k, v)
	}
	exp := tracetest.NewInMemoryExporter()
	opts := awsfn.Telemetry("playplane-heartbeat", io.Discard)
	opts.SpanExporter = exp
	opts.Lookup = envconfig.MapLookuper(map[string]string{telemetry.EnvTracesSampler: "always_on",
		telemetry.EnvResourceAttributes: "faas.version=7"})
	p, err := telemetry.Setup(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	_, end := telemetry.StartPublish(context.Background(), telemetry.SystemSQS, "t", 1)
	end(nil)
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	got := map[string]string{}
	for _, kv := range spans[0].Resource.Attributes() {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	for k, want := range map[string]string{"cloud.provider": "aws", "cloud.platform": "aws_lambda", "cloud.region": "eu-west-1",
		"faas.name": "playplane-heartbeat", "faas.version": "7", "faas.instance": "2026/12/07/[$LATEST]abc",
		"faas.max_memory": "536870912", "service.name": "playplane-heartbeat"} {
		if got[k] != want {
			t.Errorf("resource %s = %q, want %q (resource %v)", k, got[k], want, got)
		}
	}
}

// TestInvocationSpansNameTheRequest: the span of each invocation, an HTTP
// request's server span or an SQS batch's consumer spans, carries the
// invocation's request id (the Lambda context's AwsRequestID) as
// faas.invocation_id, and faas.coldstart true on the execution
// environment's first invocation alone, as the FaaS span conventions for
// Lambda ask. Not parallel: the Provider is process-wide.
func TestInvocationSpansNameTheRequest(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	opts := awsfn.Telemetry("recorder", io.Discard)
	opts.SpanExporter = exp
	opts.Lookup = envconfig.MapLookuper(map[string]string{telemetry.EnvTracesSampler: "always_on"})
	p, err := telemetry.Setup(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	invocation := func(id string) context.Context {
		return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
	}
	_, web := newRecorder(t, httpVars, nil)
	payload, err := json.Marshal(httpEvent("GET", "/v1/things/t1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := web.Invoke(invocation("req-1"), payload); err != nil {
		t.Fatal(err)
	}
	_, queue := newRecorder(t, queueVars, nil)
	payload, err = json.Marshal(events.SQSEvent{Records: []events.SQSMessage{
		sqsRecord("m1", "arn:aws:sqs:eu-central-1:123456789012:q", "ok")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queue.Invoke(invocation("req-2"), payload); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // span name → id/coldstart
	for _, s := range exp.GetSpans() {
		id, cold := "", ""
		for _, kv := range s.Attributes {
			switch kv.Key {
			case "faas.invocation_id":
				id = kv.Value.Emit()
			case "faas.coldstart":
				cold = kv.Value.Emit()
			}
		}
		got[s.Name+" "+id] = id + "/" + cold
	}
	for k, want := range map[string]string{"GET /v1/things/{id} req-1": "req-1/true", "process q req-2": "req-2/false"} {
		if got[k] != want {
			t.Errorf("%s: invocation/coldstart %q, want %q (spans %v)", k, got[k], want, got)
		}
	}
}

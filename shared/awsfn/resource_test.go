package awsfn_test

import (
	"context"
	"io"
	"testing"

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

package telemetry_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// TestServiceNameFromTheLookup: the service.name of the spans is
// OTEL_SERVICE_NAME when Options.Lookup sets it, over Options.Service and
// over a service.name in OTEL_RESOURCE_ATTRIBUTES, as the specification
// orders them; the lookup is the one source of the OTEL_* variables.
// Without any, it is the SDK's default, unknown_service:<process>, never
// an empty name.
func TestServiceNameFromTheLookup(t *testing.T) {
	for _, tc := range []struct {
		name, service string
		env           map[string]string
		want          string
	}{
		{name: "none", service: "", want: "unknown_service:"},
		{name: "option", service: "opt", env: nil, want: "opt"},
		{name: "resource attributes", service: "opt", env: map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=attr"}, want: "attr"},
		{name: "service name", service: "opt", env: map[string]string{"OTEL_SERVICE_NAME": "env"}, want: "env"},
		{name: "service name over attributes", service: "opt", env: map[string]string{"OTEL_SERVICE_NAME": "env", "OTEL_RESOURCE_ATTRIBUTES": "service.name=attr"}, want: "env"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			p := setup(t, telemetry.Options{Service: tc.service, SpanExporter: exp, Metrics: telemetry.SinkNone}, tc.env)
			telemetry.Consume(context.Background(), telemetry.SystemLocal, "t", []playback.Message{{ID: "m"}},
				func(context.Context, []playback.Message) []string { return nil })
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			spans := exp.GetSpans()
			if len(spans) == 0 {
				t.Fatal("no spans")
			}
			got, ok := spans[0].Resource.Set().Value("service.name")
			if !ok || got.AsString() != tc.want && !(strings.HasSuffix(tc.want, ":") && strings.HasPrefix(got.AsString(), tc.want)) {
				t.Errorf("service.name %q (set: %v), want %q", got.AsString(), ok, tc.want)
			}
		})
	}
}

package telemetry_test

import (
	"context"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// TestConsumeEndsItsSpansWhenTheHandlerPanics: the membus, Pub/Sub pull
// and push consumers call Consume inside BatchHandler.Call, whose recover
// is outside it. A panic left the batch's spans unended, so nothing of the
// failed delivery was exported: the trace of a message whose consumer
// panicked stopped at its publisher.
func TestConsumeEndsItsSpansWhenTheHandlerPanics(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "test", SpanExporter: exp,
		Lookup: envconfig.MapLookuper(map[string]string{telemetry.EnvTracesSampler: "always_on"})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the handler's panic did not reach Consume's caller")
			}
		}()
		telemetry.Consume(context.Background(), telemetry.SystemLocal, "t", []playback.Message{{ID: "a"}, {ID: "b"}},
			func(context.Context, []playback.Message) []string { panic("consumer bug") })
	}()
	if err := telemetry.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	failed := 0
	for _, s := range spans {
		if s.Name == "process t" && s.Status.Code == codes.Error {
			failed++
		}
	}
	if len(spans) != 3 || failed != 3 {
		t.Fatalf("%d spans exported, %d of them failed; want the batch's and both messages', failed", len(spans), failed)
	}
}

package telemetry_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// TestFailedMessagingSpansCarryErrorType: the messaging semantic
// conventions make error.type conditionally required, "if and only if the
// messaging operation has failed" (attributes.messaging.common.minimal):
// a failed publish, a message handed back for redelivery and a batch whose
// handler panicked carry it ("_OTHER", the conventions' fallback: the bus
// reports no classification of its own); an operation that succeeded has
// none.
func TestFailedMessagingSpansCarryErrorType(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := setup(t, telemetry.Options{Service: "test", SpanExporter: exp}, map[string]string{telemetry.EnvTracesSampler: "always_on"})
	ctx := context.Background()
	_, end := telemetry.StartPublish(ctx, telemetry.SystemSQS, "failed", 1)
	end(errors.New("send: throttled"))
	_, end = telemetry.StartPublish(ctx, telemetry.SystemSQS, "sent", 1)
	end(nil)
	telemetry.Consume(ctx, telemetry.SystemSQS, "retried", []playback.Message{{ID: "ok"}, {ID: "back"}},
		func(context.Context, []playback.Message) []string { return []string{"back"} })
	func() {
		defer func() { _ = recover() }()
		telemetry.Consume(ctx, telemetry.SystemSQS, "panicked", []playback.Message{{ID: "p"}},
			func(context.Context, []playback.Message) []string { panic("consumer bug") })
	}()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // span (and message id) → error.type
	for _, s := range exp.GetSpans() {
		name, errType := s.Name, "(none)"
		for _, kv := range s.Attributes {
			switch kv.Key {
			case "messaging.message.id":
				name += " " + kv.Value.Emit()
			case "error.type":
				errType = kv.Value.Emit()
			}
		}
		got[name] = errType
	}
	for _, tc := range []struct{ name, span, want string }{
		{name: "failed publish", span: "send failed", want: "_OTHER"},
		{name: "publish", span: "send sent", want: "(none)"},
		{name: "batch with a message handed back", span: "process retried", want: "(none)"},
		{name: "message processed", span: "process retried ok", want: "(none)"},
		{name: "message handed back", span: "process retried back", want: "_OTHER"},
		{name: "batch whose handler panicked", span: "process panicked", want: "_OTHER"},
		{name: "message of a panicked batch", span: "process panicked p", want: "_OTHER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v, ok := got[tc.span]; !ok || v != tc.want {
				t.Errorf("span %q: error.type %s (exported %v), want %s; spans %v", tc.span, v, ok, tc.want, got)
			}
		})
	}
}

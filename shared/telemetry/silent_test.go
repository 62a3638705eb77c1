package telemetry_test

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/telemetry"
)

// The tracers Options.SilentTracers names (a client library's own, which
// it takes from the global provider) record nothing, and keep the trace
// context: a span started under one joins the caller's trace, and ending
// one ends nothing of the caller's.
func TestSilentTracersRecordNothing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := setup(t, telemetry.Options{Service: "test", SpanExporter: exp, SilentTracers: []string{"library"}}, nil)
	ctx, parent := otel.GetTracerProvider().Tracer("caller").Start(context.Background(), "request")
	lctx, span := otel.GetTracerProvider().Tracer("library").Start(ctx, "op")
	if span.IsRecording() || !trace.SpanContextFromContext(lctx).Equal(parent.SpanContext()) {
		t.Errorf("the silent tracer's span records %v, has the context %v, want none and the caller's %v",
			span.IsRecording(), trace.SpanContextFromContext(lctx), parent.SpanContext())
	}
	_, rpc := otel.GetTracerProvider().Tracer("transport").Start(lctx, "rpc")
	rpc.End()
	span.End()
	if !parent.IsRecording() {
		t.Error("ending the silent tracer's span ended the caller's")
	}
	parent.End()
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
		if s.Name == "rpc" && s.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("rpc's parent %v, want the caller's span %v", s.Parent.SpanID(), parent.SpanContext().SpanID())
		}
	}
	if !slices.Equal(names, []string{"rpc", "request"}) {
		t.Errorf("spans exported %q, want rpc and request", names)
	}
}

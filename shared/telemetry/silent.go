package telemetry

import (
	"context"
	"slices"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// globalTracers is the tracer provider Setup installs as the global one:
// tp, but for the tracers silent names (Options.SilentTracers).
func globalTracers(tp trace.TracerProvider, silent []string) trace.TracerProvider {
	if len(silent) == 0 {
		return tp
	}
	return &silencing{TracerProvider: tp, silent: slices.Clone(silent)}
}

type silencing struct {
	trace.TracerProvider
	silent []string
}

func (s *silencing) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	if slices.Contains(s.silent, name) {
		return silentTracer{}
	}
	return s.TracerProvider.Tracer(name, opts...)
}

type silentTracer struct{ embedded.Tracer }

// Start returns a span of its own, which records nothing, in the caller's
// trace context: the library ends it, and must not end the caller's.
func (silentTracer) Start(ctx context.Context, _ string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx = trace.ContextWithSpanContext(ctx, trace.SpanContextFromContext(ctx))
	return ctx, trace.SpanFromContext(ctx)
}

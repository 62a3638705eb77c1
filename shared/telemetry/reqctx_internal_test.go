package telemetry

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestRequestContextIsAContext: the context StartRequestIn makes in the
// caller's object (with a dropped span in it, and without) behaves as the
// context.WithValue it replaces: the parent's deadline, cancellation and
// cause come through, a context derived from it is cancelled with the
// parent, and values a handler adds on top shadow the ones it holds.
func TestRequestContextIsAContext(t *testing.T) {
	smp, _, _, err := sampler("always_off", "")
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(smp), sdktrace.WithIDGenerator(idGenerator{}))
	rt := &runtime{tracer: tp.Tracer(tracerName), tp: tp, sampler: smp}
	for _, tc := range []struct {
		name string
		make func(ctx context.Context, slot *RequestContext) (context.Context, trace.Span)
	}{
		{name: "dropped span", make: func(ctx context.Context, slot *RequestContext) (context.Context, trace.Span) {
			return rt.start(ctx, "POST", trace.SpanKindServer, ctxValue{key: callerKey{}, val: 1, slot: slot})
		}},
		{name: "no span", make: func(ctx context.Context, slot *RequestContext) (context.Context, trace.Span) {
			return ctxValue{key: callerKey{}, val: 1, slot: slot}.wrap(ctx), nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			deadline := time.Now().Add(time.Hour)
			parent, cancelDeadline := context.WithDeadline(context.Background(), deadline)
			defer cancelDeadline()
			parent, cancel := context.WithCancelCause(parent)
			var slot RequestContext
			ctx, span := tc.make(parent, &slot)
			if ctx != context.Context(&slot) {
				t.Fatal("the context is not made in the caller's object")
			}
			if d, ok := ctx.Deadline(); !ok || !d.Equal(deadline) {
				t.Fatalf("deadline %v %v, want %v", d, ok, deadline)
			}
			if span != nil && trace.SpanFromContext(ctx) != span {
				t.Fatal("the context lacks the dropped span")
			}
			inner := context.WithValue(ctx, callerKey{}, 2)
			if inner.Value(callerKey{}) != 2 || ctx.Value(callerKey{}) != 1 {
				t.Fatalf("values %v, %v: want the handler's 2 over the request's 1", inner.Value(callerKey{}), ctx.Value(callerKey{}))
			}
			other := trace.ContextWithSpan(ctx, trace.SpanFromContext(context.Background()))
			if span != nil && trace.SpanFromContext(other) == span {
				t.Fatal("a span put on top does not shadow the dropped one")
			}
			child, cancelChild := context.WithCancel(ctx)
			defer cancelChild()
			fired := make(chan struct{})
			context.AfterFunc(ctx, func() { close(fired) })
			cause := errors.New("client went away")
			cancel(cause)
			<-ctx.Done()
			<-child.Done()
			<-fired
			if !errors.Is(ctx.Err(), context.Canceled) || context.Cause(ctx) != cause || context.Cause(child) != cause {
				t.Fatalf("err %v, cause %v, child's cause %v", ctx.Err(), context.Cause(ctx), context.Cause(child))
			}
		})
	}
}

// TestSpanFromIsTheSDKs: spanFrom, which the bus's hooks read a request's
// span with, finds the span trace.SpanFromContext finds in every context a
// request's may be: a RequestContext with a dropped span or without one
// (telemetry off, a recorded span: the SDK's context is around it, or an
// unsampled parent the hooks started nothing under), each over a parent
// with a span of its own or none, and beneath a handler's own context.
func TestSpanFromIsTheSDKs(t *testing.T) {
	t.Parallel()
	smp, _, _, err := sampler("always_off", "")
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(smp), sdktrace.WithIDGenerator(idGenerator{}))
	rt := &runtime{tracer: tp.Tracer(tracerName), tp: tp, sampler: smp}
	recording := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	remote := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, Remote: true}))
	recorded, span := recording.Tracer("test").Start(context.Background(), "parent")
	defer span.End()
	parents := []struct {
		name string
		ctx  context.Context
	}{{"no span", context.Background()}, {"a remote parent", remote}, {"a recorded span", recorded}}
	for _, p := range parents {
		dropped, _ := rt.start(p.ctx, "POST", trace.SpanKindServer, ctxValue{key: callerKey{}, val: 1, slot: new(RequestContext)})
		noSpan := ctxValue{key: callerKey{}, val: 1, slot: new(RequestContext)}.wrap(p.ctx)
		sdkAround, _ := recording.Tracer("test").Start(ctxValue{key: callerKey{}, val: 1, slot: new(RequestContext)}.wrap(p.ctx), "POST")
		for _, c := range []struct {
			name string
			ctx  context.Context
		}{
			{"the parent itself", p.ctx},
			{"a RequestContext with a dropped span", dropped},
			{"a RequestContext without a span", noSpan},
			{"the SDK's context around a RequestContext", sdkAround},
			{"a handler's value over a RequestContext with a dropped span", context.WithValue(dropped, callerKey{}, 2)},
			{"a handler's span over a RequestContext with a dropped span", trace.ContextWithSpan(dropped, span)},
		} {
			t.Run(p.name+"/"+c.name, func(t *testing.T) {
				if got, want := spanFrom(c.ctx), trace.SpanFromContext(c.ctx); !sameSpan(got, want) {
					t.Fatalf("spanFrom: %#v, want %#v", got, want)
				}
			})
		}
	}
}

// sameSpan: a and b are the same span, the same object where spans are
// pointers (the SDK's, the dropped ones) and equal values otherwise
// (otel/trace's non-recording span of a remote parent, which holds a
// tracestate and so cannot be compared with ==).
func sameSpan(a, b trace.Span) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Type() != vb.Type() {
		return false
	}
	if va.Kind() == reflect.Pointer {
		return va.Pointer() == vb.Pointer()
	}
	return reflect.DeepEqual(a, b)
}

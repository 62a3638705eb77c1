package telemetry

import (
	"context"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// start is rt.tracer.Start(ctx, name, trace.WithSpanKind(kind)) with the
// sampler asked first. The kind is the only start option it takes: a span
// made here must lack nothing the SDK's Start would have read from its
// options (attributes and links for the sampler, WithNewRoot).
// A span the sampler drops is made here, as the SDK would make it (the
// same ids, flags and tracestate, so the trace context passed on is the
// same: TestStartIsTheSDKs), without the SDK's Start: at the heartbeat's
// 1%, that is nearly every request, and the SDK's Start of a dropped root
// costs about as much as the rest of the telemetry together
// (BenchmarkUnsampledParts), two allocations included; here it is one.
// A span the sampler records is the SDK's, started with the ids the
// sampler was asked about.
//
// v is a value the returned context also holds (httpx's request, on every
// request), and maybe the RequestContext to make that context in: the
// context of a dropped span carries it in the same object.
func (rt *runtime) start(ctx context.Context, name string, kind trace.SpanKind, v ctxValue) (context.Context, trace.Span) {
	return rt.startUnder(ctx, trace.SpanFromContext(ctx), name, kind, v)
}

// startUnder is start with parent, the span of ctx, already looked up
// (trace.SpanFromContext): the hooks look at it before they start a span,
// and the look-up walks the request's whole context chain for a root.
func (rt *runtime) startUnder(ctx context.Context, parent trace.Span, name string, kind trace.SpanKind, v ctxValue) (context.Context, trace.Span) {
	opts := kindStart[kind]
	// A recording parent counts its children (the SDK's Start does it),
	// and the standard samplers drop no child of one anyway.
	if rt.sampler == nil || parent.IsRecording() {
		return rt.tracer.Start(v.wrap(ctx), name, opts...)
	}
	psc := parent.SpanContext()
	var tid trace.TraceID
	var sid trace.SpanID
	var drop bool
	var state trace.TraceState
	switch {
	case psc.TraceID().IsValid():
		tid, sid = psc.TraceID(), rt.ids.newSpanID()
		res := rt.sampler.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: tid, Name: name, Kind: kind})
		drop, state = res.Decision == sdktrace.Drop, res.Tracestate
	case rt.root.known:
		// A root, as nearly every request is: the standard samplers
		// decide it by the trace id alone, with an empty tracestate
		// (rootSampling), so the sampler is not called.
		tid, sid = rt.ids.newIDs()
		drop = !rt.root.samples(tid)
	default:
		// No ids preset here (only start presets them, for the SDK): no
		// walk up the request's context to look for them. The standard
		// samplers read nothing of the parent context but its span: a
		// root's sampler is handed an empty one, sparing it two walks up
		// the request's context chain.
		tid, sid = rt.ids.newIDs()
		res := rt.sampler.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: tid, Name: name, Kind: kind})
		drop, state = res.Decision == sdktrace.Drop, res.Tracestate
	}
	if !drop {
		return rt.tracer.Start(withPresetIDs(v.wrap(ctx), tid, sid), name, opts...)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceState: state,
		TraceFlags: psc.TraceFlags() &^ trace.FlagsSampled})
	if spanKey == nil {
		s := &unsampledSpan{sc: sc, tp: rt.tp}
		return trace.ContextWithSpan(v.wrap(ctx), s), s
	}
	c := v.slot
	if c == nil {
		c = new(RequestContext)
	}
	*c = RequestContext{parent: ctx, key: v.key, val: v.val, hasSpan: true, span: unsampledSpan{sc: sc, tp: rt.tp}}
	return c, &c.span
}

// ctxValue is a value a request's context also holds, as
// context.WithValue would (no value when key is nil), and the
// RequestContext to make that context in, when the caller has one.
type ctxValue struct {
	key, val any
	slot     *RequestContext
}

// wrap returns ctx holding v: in v's slot, else by context.WithValue;
// ctx itself when there is no value and no slot.
func (v ctxValue) wrap(ctx context.Context) context.Context {
	switch {
	case v.slot != nil:
		*v.slot = RequestContext{parent: ctx, key: v.key, val: v.val}
		return v.slot
	case v.key == nil:
		return ctx
	}
	return context.WithValue(ctx, v.key, v.val)
}

// kindStart is each span kind's start options, made once (a variadic
// argument list would be made on every call), for runtime.start.
var kindStart = func() (k [trace.SpanKindConsumer + 1][]trace.SpanStartOption) {
	for kind := range k {
		k[kind] = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKind(kind))}
	}
	return k
}()

// askSamplerFirst reports whether runtime.start may make dropped spans
// itself: not when the SDK's experimental self-observability metrics are
// on (they count every span started, dropped ones included). It reads the
// process environment, as the SDK does, not Options.Lookup.
func askSamplerFirst() bool {
	for _, k := range []string{"OTEL_GO_X_OBSERVABILITY", "OTEL_GO_X_SELF_OBSERVABILITY"} {
		if strings.EqualFold(os.Getenv(k), "true") {
			return false
		}
	}
	return true
}

// unsampledSpan is a span the sampler dropped: it records nothing, as the
// SDK's non-recording span.
type unsampledSpan struct {
	embedded.Span
	sc trace.SpanContext
	tp *sdktrace.TracerProvider
}

var _ trace.Span = (*unsampledSpan)(nil)

func (s *unsampledSpan) SpanContext() trace.SpanContext        { return s.sc }
func (s *unsampledSpan) TracerProvider() trace.TracerProvider  { return s.tp }
func (*unsampledSpan) IsRecording() bool                       { return false }
func (*unsampledSpan) End(...trace.SpanEndOption)              {}
func (*unsampledSpan) AddEvent(string, ...trace.EventOption)   {}
func (*unsampledSpan) AddLink(trace.Link)                      {}
func (*unsampledSpan) RecordError(error, ...trace.EventOption) {}
func (*unsampledSpan) SetStatus(codes.Code, string)            {}
func (*unsampledSpan) SetName(string)                          {}
func (*unsampledSpan) SetAttributes(...attribute.KeyValue)     {}

// RequestContext is a request's context, made by StartRequestIn inside an
// object the caller allocates for the request anyway (httpx's request):
// it holds the caller's value, as context.WithValue would, and the span
// the sampler dropped (nearly every request at a ratio), answering the
// look-up of otel/trace's span key itself, where trace.ContextWithSpan
// would allocate a context and box the span. So the context costs no
// allocation of its own. The zero value is ready for one request; it must
// not be copied or reused while that request's context is in use.
type RequestContext struct {
	parent   context.Context
	key, val any
	hasSpan  bool
	span     unsampledSpan
}

var _ context.Context = (*RequestContext)(nil)

func (c *RequestContext) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *RequestContext) Done() <-chan struct{}       { return c.parent.Done() }
func (c *RequestContext) Err() error                  { return c.parent.Err() }

func (c *RequestContext) Value(key any) any {
	switch {
	case c.hasSpan && key == spanKey:
		return trace.Span(&c.span)
	case c.key != nil && key == c.key:
		return c.val
	}
	return c.parent.Value(key)
}

// spanFrom is trace.SpanFromContext(ctx), read without a look-up when
// ctx is a RequestContext holding a dropped span: the context a handler
// hands on, as the bus's hooks get it on nearly every heartbeat, where
// the look-up (an interface comparison with otel/trace's key) cost more
// than the rest of the hook (TestSpanFromIsTheSDKs).
func spanFrom(ctx context.Context) trace.Span {
	if c, ok := ctx.(*RequestContext); ok && c.hasSpan {
		return &c.span
	}
	return trace.SpanFromContext(ctx)
}

// spanKey is the key otel/trace keeps a context's span under (its own
// unexported value): learned once, by asking trace.SpanFromContext for
// the span of a context that notes what it is asked for. nil if that ever
// stops working (an otel release that looks spans up another way); start
// then falls back to trace.ContextWithSpan, correct but one allocation
// dearer, and TestDroppedSpanIsOneAllocation fails to say so.
var spanKey = func() any {
	var p keyProbe
	trace.SpanFromContext(&p)
	if len(p.keys) != 1 {
		return nil
	}
	return p.keys[0]
}()

// keyProbe is a context that records the keys it is asked for.
type keyProbe struct {
	context.Context
	keys []any
}

func (p *keyProbe) Value(key any) any {
	p.keys = append(p.keys, key)
	return nil
}

package telemetry

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestStartIsTheSDKs: runtime.start, which makes the spans the sampler
// drops itself, decides as the SDK's Start does and passes on the same
// trace context, under every standard sampler (OTEL_TRACES_SAMPLER), for
// roots and for remote parents sampled or not, with the random flag and a
// tracestate, and for children of what it made. Both draw their ids from
// generators seeded alike; every span either starts must be the same
// span, and the SDK must record the same ones from both.
func TestStartIsTheSDKs(t *testing.T) {
	t.Parallel()
	state, err := trace.ParseTraceState("vendor=x,other=y")
	if err != nil {
		t.Fatal(err)
	}
	samplers := []struct{ name, arg string }{
		{"always_on", ""}, {"always_off", ""}, {"parentbased_always_on", ""}, {"parentbased_always_off", ""},
		{"traceidratio", "0.5"}, {"traceidratio", "0.01"}, {"traceidratio", "0"},
		{"parentbased_traceidratio", "0.5"}, {"parentbased_traceidratio", "0.01"}, {"parentbased_traceidratio", "1"},
	}
	parents := []struct {
		name   string
		remote bool
		flags  trace.TraceFlags
		state  trace.TraceState
	}{
		{name: "root"},
		{name: "remote sampled", remote: true, flags: trace.FlagsSampled},
		{name: "remote unsampled", remote: true},
		{name: "remote unsampled random", remote: true, flags: trace.FlagsRandom},
		{name: "remote sampled random tracestate", remote: true, flags: trace.FlagsSampled | trace.FlagsRandom, state: state},
		{name: "remote unsampled tracestate", remote: true, state: state},
	}
	prop := propagation.TraceContext{}
	carrier := func(ctx context.Context) propagation.MapCarrier {
		c := propagation.MapCarrier{}
		prop.Inject(ctx, c)
		return c
	}
	for _, sm := range samplers {
		for _, pt := range parents {
			t.Run(fmt.Sprintf("%s=%s/%s", sm.name, sm.arg, pt.name), func(t *testing.T) {
				t.Parallel()
				smp, _, root, err := sampler(sm.name, sm.arg)
				if err != nil {
					t.Fatal(err)
				}
				sdkRec, ourRec := tracetest.NewSpanRecorder(), tracetest.NewSpanRecorder()
				sdkIDs := idGenerator{src: rand.New(rand.NewPCG(1, 2))}
				sdkTP := sdktrace.NewTracerProvider(sdktrace.WithSampler(smp), sdktrace.WithIDGenerator(sdkIDs), sdktrace.WithSpanProcessor(sdkRec))
				ourIDs := idGenerator{src: rand.New(rand.NewPCG(1, 2))}
				ourTP := sdktrace.NewTracerProvider(sdktrace.WithSampler(smp), sdktrace.WithIDGenerator(ourIDs), sdktrace.WithSpanProcessor(ourRec))
				rt := &runtime{tracer: ourTP.Tracer(tracerName), tp: ourTP, sampler: smp, root: root, ids: ourIDs}
				sdkTracer := sdkTP.Tracer(tracerName)
				parentIDs := rand.New(rand.NewPCG(3, 4))
				var sampled, dropped int
				var ends []trace.Span
				for i := range 400 {
					ctx := context.Background()
					if pt.remote {
						var tid trace.TraceID
						var sid trace.SpanID
						for !tid.IsValid() || !sid.IsValid() {
							tid, sid = idGenerator{src: parentIDs}.NewIDs(ctx)
						}
						ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
							TraceID: tid, SpanID: sid, TraceFlags: pt.flags, TraceState: pt.state, Remote: true}))
					}
					sdkCtx, sdkCtxOurs := ctx, ctx
					// A span, then a child in its context: the child's
					// parent is the first span, local.
					for depth, kind := range []trace.SpanKind{trace.SpanKindServer, trace.SpanKindProducer} {
						opts := []trace.SpanStartOption{trace.WithSpanKind(kind)}
						var want, got trace.Span
						sdkCtx, want = sdkTracer.Start(sdkCtx, "POST", opts...)
						// The server span's context also carries a value
						// of the caller's (httpx's request), dropped or not,
						// made in a RequestContext of the caller's every
						// other time.
						var v ctxValue
						if kind == trace.SpanKindServer {
							v = ctxValue{key: callerKey{}, val: i}
							if i%2 == 0 {
								v.slot = new(RequestContext)
							}
						}
						sdkCtxOurs, got = rt.start(sdkCtxOurs, "POST", kind, v)
						if v := sdkCtxOurs.Value(callerKey{}); v != i {
							t.Fatalf("span %d depth %d: the caller's value is %v, want %d", i, depth, v, i)
						}
						if !got.SpanContext().Equal(want.SpanContext()) || got.IsRecording() != want.IsRecording() {
							t.Fatalf("span %d depth %d: start made %+v recording %v, the SDK %+v recording %v", i, depth,
								got.SpanContext(), got.IsRecording(), want.SpanContext(), want.IsRecording())
						}
						if in := trace.SpanContextFromContext(sdkCtxOurs); !in.Equal(got.SpanContext()) || trace.SpanFromContext(sdkCtxOurs) != got {
							t.Fatalf("span %d depth %d: the context holds %+v, not the span started", i, depth, in)
						}
						if g, w := carrier(sdkCtxOurs), carrier(sdkCtx); !maps.Equal(g, w) {
							t.Fatalf("span %d depth %d: propagated %v, the SDK's %v", i, depth, g, w)
						}
						if got.TracerProvider() != trace.TracerProvider(ourTP) {
							t.Fatalf("span %d: TracerProvider is not the SDK's", i)
						}
						if want.IsRecording() {
							sampled++
						} else {
							dropped++
						}
						ends = append(ends, want, got)
					}
				}
				for _, s := range ends {
					s.End()
				}
				w, g := sdkRec.Ended(), ourRec.Ended()
				if len(w) != sampled || len(g) != len(w) {
					t.Fatalf("the SDK recorded %d spans from its own Start, %d from start; %d were sampled", len(w), len(g), sampled)
				}
				for i := range w {
					if !g[i].SpanContext().Equal(w[i].SpanContext()) || !g[i].Parent().Equal(w[i].Parent()) || g[i].SpanKind() != w[i].SpanKind() {
						t.Fatalf("recorded span %d: %+v (parent %+v), the SDK's %+v (parent %+v)", i,
							g[i].SpanContext(), g[i].Parent(), w[i].SpanContext(), w[i].Parent())
					}
				}
				// A ratio of one half must have met both decisions, or the
				// comparison above proved little.
				if sm.arg == "0.5" && (pt.name == "root" || sm.name == "traceidratio") && (sampled == 0 || dropped == 0) {
					t.Fatalf("%d sampled, %d dropped: want both", sampled, dropped)
				}
			})
		}
	}
}

type callerKey struct{}

// TestRootSamplingIsTheSDKs: the decision runtime.start takes on a root
// span without calling the sampler (rootSampling) is the sampler's own,
// with the empty tracestate the sampler gives a root, for every standard
// sampler and ratio, on random trace ids and on those either side of the
// ratio's bound, where a rounding of the bound would show.
func TestRootSamplingIsTheSDKs(t *testing.T) {
	t.Parallel()
	for _, sm := range []struct{ name, arg string }{
		{"always_on", ""}, {"always_off", ""}, {"parentbased_always_on", ""}, {"parentbased_always_off", ""},
		{"traceidratio", "0.5"}, {"traceidratio", "0"}, {"traceidratio", "1"},
		{"parentbased_traceidratio", "0.01"}, {"parentbased_traceidratio", "0.3"}, {"parentbased_traceidratio", "0.999999999"},
		{"parentbased_traceidratio", "1e-12"}, {"parentbased_traceidratio", "0"}, {"parentbased_traceidratio", "1"},
		{"parentbased_traceidratio", ""},
		// As Setup reads the environment: unset (the default), a ratio's
		// default, and spelling it leaves alone.
		{"", ""}, {"traceidratio", ""}, {" TraceIdRatio ", " 0.25 "}, {"traceidratio", "-0"}, {"traceidratio", "0x1p-3"},
		{"traceidratio", "4.9e-324"}, {"traceidratio", "0.99999999999999994"}, {"traceidratio", "1.0000000000000001"},
	} {
		t.Run(sm.name+"="+sm.arg, func(t *testing.T) {
			t.Parallel()
			smp, _, root, err := sampler(sm.name, sm.arg)
			if err != nil {
				t.Fatal(err)
			}
			if !root.known {
				t.Fatal("the root decision of a standard sampler is not known")
			}
			ids := rand.New(rand.NewPCG(5, 6))
			var tids []trace.TraceID
			add := func(low uint64) {
				var tid trace.TraceID
				binary.BigEndian.PutUint64(tid[:8], ids.Uint64()|1)
				binary.BigEndian.PutUint64(tid[8:], low)
				tids = append(tids, tid)
			}
			for range 2000 {
				add(ids.Uint64())
			}
			for _, x := range []uint64{root.bound - 1, root.bound, root.bound + 1} {
				add(x << 1)
				add(x<<1 | 1)
			}
			add(0)
			add(math.MaxUint64)
			var sampled, dropped int
			for _, tid := range tids {
				res := smp.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: tid, Name: "POST", Kind: trace.SpanKindServer})
				want := res.Decision == sdktrace.RecordAndSample
				if res.Decision == sdktrace.RecordOnly || res.Tracestate.Len() != 0 {
					t.Fatalf("trace id %s: the sampler decided %v with tracestate %q, which rootSampling cannot give", tid, res.Decision, res.Tracestate)
				}
				if got := root.samples(tid); got != want {
					t.Fatalf("trace id %s: rootSampling samples %v, the sampler %v (bound %#x)", tid, got, want, root.bound)
				}
				if want {
					sampled++
				} else {
					dropped++
				}
			}
			if sm.arg == "0.5" && (sampled == 0 || dropped == 0) {
				t.Fatalf("%d sampled, %d dropped: want both", sampled, dropped)
			}
		})
	}
}

// TestDroppedSpanIsOneAllocation: the span the sampler drops and the
// context holding it are one object (the SDK's Start makes two), which
// also holds a value of the caller's; none when the caller has room for
// it (StartRequestIn).
func TestDroppedSpanIsOneAllocation(t *testing.T) {
	smp, _, _, err := sampler("always_off", "")
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(smp), sdktrace.WithIDGenerator(idGenerator{}))
	rt := &runtime{tracer: tp.Tracer(tracerName), tp: tp, sampler: smp}
	ctx := context.Background()
	if spanKey == nil {
		t.Fatal("otel/trace's span key was not learned")
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, s := rt.start(ctx, "POST", trace.SpanKindServer, ctxValue{}); s.IsRecording() {
			t.Fatal("always_off recorded a span")
		}
	}); n != 1 {
		t.Fatalf("%v allocations per dropped span, want 1", n)
	}
	val := new(int)
	if n := testing.AllocsPerRun(100, func() {
		c, s := rt.start(ctx, "POST", trace.SpanKindServer, ctxValue{key: callerKey{}, val: val})
		if s.IsRecording() || c.Value(callerKey{}) != val || trace.SpanFromContext(c) != s {
			t.Fatal("the dropped span's context lacks the span or the caller's value")
		}
	}); n != 1 {
		t.Fatalf("%v allocations per dropped span, want 1", n)
	}
	// In a RequestContext of the caller's, none.
	slot := new(RequestContext)
	if n := testing.AllocsPerRun(100, func() {
		c, s := rt.start(ctx, "POST", trace.SpanKindServer, ctxValue{key: callerKey{}, val: val, slot: slot})
		if s.IsRecording() || c != slot || c.Value(callerKey{}) != val || trace.SpanFromContext(c) != s {
			t.Fatal("the dropped span's context is not the caller's, or lacks the span or the caller's value")
		}
	}); n != 0 {
		t.Fatalf("%v allocations per dropped span in the caller's RequestContext, want 0", n)
	}
}

// TestWhenTheSamplerIsAskedFirst: Setup leaves the dropped spans to the
// SDK where making them itself would change what the SDK reports
// (self-observability counts every span) or could only add a call
// (always_on drops nothing).
func TestWhenTheSamplerIsAskedFirst(t *testing.T) {
	for _, tc := range []struct {
		name, sampler, observability string
		want                         bool
	}{
		{name: "a ratio", sampler: "parentbased_traceidratio", want: true},
		{name: "always_off", sampler: "always_off", want: true},
		{name: "always_on drops nothing", sampler: "always_on"},
		{name: "self-observability counts dropped spans", sampler: "parentbased_traceidratio", observability: "true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OTEL_GO_X_OBSERVABILITY", tc.observability)
			p, err := Setup(context.Background(), Options{Service: "test", Metrics: SinkNone, SpanExporter: tracetest.NewInMemoryExporter(),
				Lookup: envconfig.MapLookuper(map[string]string{EnvTracesSampler: tc.sampler, EnvTracesSamplerArg: "0.5"})})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
			rt := current()
			if rt == nil || rt.tracer == nil {
				t.Fatal("Setup left tracing off")
			}
			if got := rt.sampler != nil; got != tc.want {
				t.Fatalf("sampler asked first: %v, want %v", got, tc.want)
			}
		})
	}
}

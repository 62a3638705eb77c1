package telemetry

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/playback"
)

// TestCarrierIsThePropagators: the trace context Carrier and TraceParent put on a message
// is what the propagator writes, for sampled and unsampled spans, with a
// tracestate and with baggage (which take the propagator's own path).
func TestCarrierIsThePropagators(t *testing.T) {
	p, err := Setup(context.Background(), Options{Service: "test", SpanExporter: tracetest.NewInMemoryExporter(),
		Lookup: envconfig.MapLookuper(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	ts, err := trace.ParseTraceState("vendor=x")
	if err != nil {
		t.Fatal(err)
	}
	member, err := baggage.NewMember("tenant", "a")
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(member)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		flags   trace.TraceFlags
		state   trace.TraceState
		baggage bool
		keys    int
	}{
		{name: "sampled", flags: trace.FlagsSampled, keys: 1},
		{name: "unsampled", keys: 1},
		{name: "random flag kept, unknown ones dropped", flags: 0xfe, keys: 1},
		{name: "tracestate", flags: trace.FlagsSampled, state: ts, keys: 2},
		{name: "baggage", baggage: true, keys: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tid, sid := idGenerator{}.NewIDs(context.Background())
			sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: tc.flags, TraceState: tc.state})
			ctx := trace.ContextWithSpanContext(context.Background(), sc)
			if tc.baggage {
				ctx = baggage.ContextWithBaggage(ctx, bag)
			}
			want := propagation.MapCarrier{}
			propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}).Inject(ctx, want)
			got := Carrier(ctx)
			if !maps.Equal(got, map[string]string(want)) || len(got) != tc.keys {
				t.Fatalf("Carrier: %v, the propagator writes %v", got, want)
			}
			// TraceParent: the same, the traceparent apart for the
			// message's field.
			tp, more := TraceParent(ctx)
			rest := maps.Clone(map[string]string(want))
			delete(rest, traceparentKey)
			if tp == "" || tp != want[traceparentKey] || !maps.Equal(more, rest) || (len(rest) == 0) != (more == nil) {
				t.Fatalf("TraceParent: %q and %v, the propagator writes %v", tp, more, want)
			}
			// AppendTraceParent: the same after what dst holds, which
			// it leaves as it was (the bus puts the message id there).
			dst := append(make([]byte, 0, 8), "msg_abc"...)
			b, more := AppendTraceParent(dst, ctx)
			if string(b) != "msg_abc"+tp || !maps.Equal(more, rest) || string(dst) != "msg_abc" {
				t.Fatalf("AppendTraceParent: %q and %v, want %q and %v", b, more, "msg_abc"+tp, rest)
			}
		})
	}
	if c := Carrier(context.Background()); c != nil {
		t.Fatalf("Carrier of a context without a span: %v, want nil", c)
	}
	if tp, more := TraceParent(context.Background()); tp != "" || more != nil {
		t.Fatalf("TraceParent of a context without a span: %q, %v", tp, more)
	}
	if b, more := AppendTraceParent([]byte("msg_abc"), context.Background()); string(b) != "msg_abc" || more != nil {
		t.Fatalf("AppendTraceParent of a context without a span: %q, %v", b, more)
	}
}

// TestIDsAreValidAndDistinct: the lock-free generator never makes the
// all-zero ids the specification reserves as invalid, nor repeats itself.
func TestIDsAreValidAndDistinct(t *testing.T) {
	seen := map[trace.TraceID]bool{}
	spans := map[trace.SpanID]bool{}
	for range 10000 {
		tid, sid := idGenerator{}.NewIDs(context.Background())
		child := idGenerator{}.NewSpanID(context.Background(), tid)
		if !tid.IsValid() || !sid.IsValid() || !child.IsValid() || seen[tid] || spans[sid] || spans[child] || sid == child {
			t.Fatalf("ids %s %s %s: invalid or repeated", tid, sid, child)
		}
		seen[tid], spans[sid], spans[child] = true, true, true
	}
}

// TestMessageCarrier: a delivered message's trace context is its
// TraceParent, unless the publisher set a traceparent attribute of its
// own (which the adapters keep, and which wins, as it did when the trace
// context was an attribute); its other attributes (tracestate, baggage)
// read as they are.
func TestMessageCarrier(t *testing.T) {
	t.Parallel()
	const field, own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "00-11111111111111111111111111111111-2222222222222222-00"
	for _, tc := range []struct {
		name string
		msg  playback.Message
		want string
		keys []string
	}{
		{name: "none", msg: playback.Message{}, want: "", keys: nil},
		{name: "field", msg: playback.Message{TraceParent: field, Attributes: map[string]string{"tracestate": "v=1"}}, want: field,
			keys: []string{"traceparent", "tracestate"}},
		{name: "own attribute wins", msg: playback.Message{TraceParent: field, Attributes: map[string]string{"traceparent": own}}, want: own,
			keys: []string{"traceparent"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := messageCarrier{&tc.msg}
			keys := c.Keys()
			slices.Sort(keys)
			if got := c.Get(traceparentKey); got != tc.want || !slices.Equal(keys, tc.keys) || c.Get("tracestate") != tc.msg.Attributes["tracestate"] {
				t.Fatalf("traceparent %q keys %v, want %q %v", got, keys, tc.want, tc.keys)
			}
		})
	}
}

package telemetry

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/playback"
)

// TestCarrierIsThePropagators: the trace context Carrier and MessageTrace put on a message
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
			// MessageTrace: the same, the traceparent apart, in
			// binary for the message's field.
			mt, more := MessageTrace(ctx)
			rest := maps.Clone(map[string]string(want))
			delete(rest, traceparentKey)
			if tp := mt.TraceParent(); tp == "" || tp != want[traceparentKey] || !maps.Equal(more, rest) || (len(rest) == 0) != (more == nil) {
				t.Fatalf("MessageTrace: %q and %v, the propagator writes %v", tp, more, want)
			}
		})
	}
	if c := Carrier(context.Background()); c != nil {
		t.Fatalf("Carrier of a context without a span: %v, want nil", c)
	}
	if mt, more := MessageTrace(context.Background()); mt != (playback.TraceContext{}) || more != nil {
		t.Fatalf("MessageTrace of a context without a span: %v, %v", mt, more)
	}
}

// TestParseTraceParentIsThePropagators: playback.ParseTraceParent, which
// the adapters read a delivered traceparent attribute with, takes what
// the W3C propagator takes and reads the same trace context from it, and
// formats it back as the propagator writes it.
func TestParseTraceParentIsThePropagators(t *testing.T) {
	t.Parallel()
	const tid, sid = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	prop := propagation.TraceContext{}
	for _, h := range []string{
		"00-" + tid + "-" + sid + "-01",
		"00-" + tid + "-" + sid + "-00",
		"00-" + tid + "-" + sid + "-02",
		"00-" + tid + "-" + sid + "-03",
		"00-" + tid + "-" + sid + "-04",   // a flag version 00 does not define
		"00-" + tid + "-" + sid + "-01-",  // version 00 has nothing after its flags
		"00-" + tid + "-" + sid + "-01-x", // nor anything else
		"01-" + tid + "-" + sid + "-01",
		"01-" + tid + "-" + sid + "-ff",      // a later version's flags: the defined ones kept
		"cc-" + tid + "-" + sid + "-01-what", // a later version may say more
		"fe-" + tid + "-" + sid + "-01",
		"ff-" + tid + "-" + sid + "-01", // forbidden
		"00-" + strings.ToUpper(tid) + "-" + sid + "-01",
		"0A-" + tid + "-" + sid + "-01",
		"00-00000000000000000000000000000000-" + sid + "-01",
		"00-" + tid + "-0000000000000000-01",
		"00-" + tid[1:] + "-" + sid + "-01",
		"00-" + tid + "-" + sid + "0-01",
		"00-" + tid + "-" + sid + "-1",
		"00-" + tid + "-" + sid,
		"00_" + tid + "_" + sid + "_01",
		"00-" + tid[:31] + "g-" + sid + "-01",
		"0-" + tid + "-" + sid + "-01",
		"",
		"-",
	} {
		got, ok := playback.ParseTraceParent(h)
		want := trace.SpanContextFromContext(prop.Extract(context.Background(), propagation.MapCarrier{traceparentKey: h}))
		if ok != want.IsValid() {
			t.Errorf("%q: parsed %v, the propagator takes it: %v", h, ok, want.IsValid())
			continue
		}
		if !ok {
			if got != (playback.TraceContext{}) {
				t.Errorf("%q: refused, yet read as %v", h, got)
			}
			continue
		}
		if got.TraceID != want.TraceID() || got.SpanID != want.SpanID() || got.Flags != byte(want.TraceFlags()) {
			t.Errorf("%q: read %v, the propagator %v", h, got, want)
		}
		written := propagation.MapCarrier{}
		prop.Inject(trace.ContextWithRemoteSpanContext(context.Background(), want), written)
		if tp := got.TraceParent(); tp != written[traceparentKey] {
			t.Errorf("%q: formatted %q, the propagator writes %q", h, tp, written[traceparentKey])
		}
	}
}

// TestMessageParentIsThePropagators: the consumer's parent context read
// from a message's binary trace context directly is the propagator's
// reading of that message, for messages with and without the attributes
// that send it the propagator's way.
func TestMessageParentIsThePropagators(t *testing.T) {
	p, err := Setup(context.Background(), Options{Service: "test", SpanExporter: tracetest.NewInMemoryExporter(),
		Lookup: envconfig.MapLookuper(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	rt := current()
	tc, _ := playback.ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	for _, m := range []playback.Message{
		{},
		{Trace: tc},
		{Trace: playback.TraceContext{TraceID: tc.TraceID, SpanID: tc.SpanID}},
		{Trace: playback.TraceContext{TraceID: tc.TraceID, SpanID: tc.SpanID, Flags: 0xff}},
		{Trace: playback.TraceContext{TraceID: tc.TraceID}},
		{Trace: tc, Attributes: map[string]string{"tracestate": "vendor=x"}},
		{Trace: tc, Attributes: map[string]string{"baggage": "tenant=a"}},
		{Trace: tc, Attributes: map[string]string{"k": "v"}},
	} {
		got := rt.messageParent(&m)
		want := rt.prop.Extract(context.Background(), messageCarrier{&m})
		gsc, wsc := trace.SpanContextFromContext(got), trace.SpanContextFromContext(want)
		if !gsc.Equal(wsc) || gsc.IsRemote() != wsc.IsRemote() || baggage.FromContext(got).String() != baggage.FromContext(want).String() {
			t.Errorf("message %+v: parent %v (baggage %q), the propagator reads %v (%q)", m, gsc, baggage.FromContext(got), wsc, baggage.FromContext(want))
		}
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
// Trace, unless the publisher set a traceparent attribute of its
// own (which the adapters keep, and which wins, as it did when the trace
// context was an attribute); its other attributes (tracestate, baggage)
// read as they are.
func TestMessageCarrier(t *testing.T) {
	t.Parallel()
	const field, own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "00-11111111111111111111111111111111-2222222222222222-00"
	fieldTrace, _ := playback.ParseTraceParent(field)
	for _, tc := range []struct {
		name string
		msg  playback.Message
		want string
		keys []string
	}{
		{name: "none", msg: playback.Message{}, want: "", keys: nil},
		{name: "field", msg: playback.Message{Trace: fieldTrace, Attributes: map[string]string{"tracestate": "v=1"}}, want: field,
			keys: []string{"traceparent", "tracestate"}},
		{name: "own attribute wins", msg: playback.Message{Trace: fieldTrace, Attributes: map[string]string{"traceparent": own}}, want: own,
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

// TestMessageTraceKeepsDefinedFlags: the trace context a published
// message gets holds only the flags version 00 defines, as
// playback.TraceContext promises and as every bus delivers it once it
// went through its attribute (SQS, Pub/Sub, a walbus journal replayed):
// a span whose flags have other bits set (a parent context made with
// them) gives the same Message.Trace on membus as after a round trip.
func TestMessageTraceKeepsDefinedFlags(t *testing.T) {
	p, err := Setup(context.Background(), Options{Service: "test", SpanExporter: tracetest.NewInMemoryExporter(),
		Lookup: envconfig.MapLookuper(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	for _, flags := range []trace.TraceFlags{0x00, 0x01, 0x02, 0x03, 0x05, 0xfc, 0xff} {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: flags})
		mt, _ := MessageTrace(trace.ContextWithSpanContext(context.Background(), sc))
		replayed, ok := playback.ParseTraceParent(mt.TraceParent())
		if !ok || mt != replayed || mt.Flags != byte(flags)&(playback.TraceFlagSampled|playback.TraceFlagRandom) {
			t.Errorf("span flags %#02x: message trace context %+v, after its attribute %+v", byte(flags), mt, replayed)
		}
	}
}

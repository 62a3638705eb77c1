package telemetry

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
)

// idGenerator makes trace and span ids from math/rand/v2's global
// generator: ChaCha8 per thread, seeded by the runtime from the operating
// system's randomness, so it takes no lock. The SDK's default generator
// serialises every span start of the process on one mutex around a
// math/rand source; every request starts a root span (most of them
// unsampled ones at the heartbeat's 1%), so that is on every request's
// path.
//
// src, when not nil, replaces the global generator: the tests that
// compare runtime.start with the SDK's Start draw the same ids in both.
// It is not safe for concurrent use.
type idGenerator struct{ src *rand.Rand }

func (g idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if p := presetFrom(ctx); p != nil {
		return p.tid, p.sid
	}
	return g.newIDs()
}

func (g idGenerator) newIDs() (trace.TraceID, trace.SpanID) {
	var tid trace.TraceID
	for !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], g.uint64())
		binary.NativeEndian.PutUint64(tid[8:], g.uint64())
	}
	return tid, g.newSpanID()
}

func (g idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if p := presetFrom(ctx); p != nil {
		return p.sid
	}
	return g.newSpanID()
}

func (g idGenerator) newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], g.uint64())
	}
	return sid
}

func (g idGenerator) uint64() uint64 {
	if g.src != nil {
		return g.src.Uint64()
	}
	return rand.Uint64()
}

// presetIDs are ids runtime.start drew and asked the sampler about before
// handing a span it records to the SDK's Start: the SDK must make the span
// with those ids, not draw new ones (with a ratio sampler, a second draw
// would sample the square of the ratio). Start asks the generator exactly
// once, so the first ask takes them; the span's children, whose context
// still holds them, get ids of their own.
type presetIDs struct {
	tid   trace.TraceID
	sid   trace.SpanID
	taken atomic.Bool
}

type presetKey struct{}

func withPresetIDs(ctx context.Context, tid trace.TraceID, sid trace.SpanID) context.Context {
	return context.WithValue(ctx, presetKey{}, &presetIDs{tid: tid, sid: sid})
}

func presetFrom(ctx context.Context) *presetIDs {
	if p, ok := ctx.Value(presetKey{}).(*presetIDs); ok && p.taken.CompareAndSwap(false, true) {
		return p
	}
	return nil
}

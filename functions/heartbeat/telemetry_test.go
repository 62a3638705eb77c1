package heartbeat_test

import (
	"context"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// TestDroppedTraceAllocatesAsOff: a heartbeat whose trace the sampler
// drops (nearly every one at the deployed 1%), with spans, the trace
// context in the message and the request metric on, makes no allocation
// more than the same heartbeat with telemetry off: the dropped span and
// its context live in httpx's request object, the message holds the trace
// context in binary, the request histogram allocates nothing. Not
// parallel: allocations are counted process-wide.
func TestDroppedTraceAllocatesAsOff(t *testing.T) {
	h := newHarness(t, harnessOptions{noConsume: true, busCfg: membus.Config{MaxPending: 1 << 20}})
	id, tok := h.play("acct_alloc", "title_1", 1)
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "heartbeat", SpanExporter: tracetest.NewInMemoryExporter(),
		Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New,
		Lookup: envconfig.MapLookuper(map[string]string{telemetry.EnvTracesSampler: "parentbased_always_off"})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	if !p.Tracing() || !p.Metrics() {
		t.Fatalf("tracing %v, metrics %v: want both", p.Tracing(), p.Metrics())
	}
	// Bodies of one length, made beforehand: only the request is counted.
	const runs = 400
	const rounds = 3
	bodies := make([]string, 2*rounds*runs)
	t0 := h.clock().Add(-time.Minute)
	for k := range bodies {
		bodies[k] = `{"event":"progress","position_ms":1000,"duration_ms":5400000,"device_time":"` +
			t0.Add(time.Duration(k+1)*time.Millisecond).Format("2006-01-02T15:04:05.000000000Z07:00") +
			`","qoe":{"br":5800,"bl":21000,"mtp":48000,"rc":1,"rd":900,"pd":1000,"cdn":"local","edge":"fra-1"}}`
	}
	k := 0
	beat := func() {
		if rec := h.beat(id, tok, bodies[k]); rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		k++
	}
	// Each mode warms up and starts on a drained queue (whose slice
	// keeps its capacity), so neither pays for the queue's growth. The
	// mean is kept unrounded (testing.AllocsPerRun floors it): growth
	// amortized over many requests (a slice, a map) is a fraction either
	// side, where one allocation more per request is a whole one.
	count := func() float64 {
		for range runs / 2 {
			beat()
		}
		drain(t, h.bus)
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs / 2 {
			beat()
		}
		runtime.ReadMemStats(&after)
		return float64(after.Mallocs-before.Mallocs) / (runs / 2)
	}
	// The fewest of a few rounds each, alternating: an allocation made
	// meanwhile by another goroutine of the process (the bus, a reader)
	// only ever adds to a round's count.
	off, on := math.Inf(1), math.Inf(1)
	for range rounds {
		p.Pause()
		off = min(off, count())
		p.Resume()
		on = min(on, count())
	}
	if on-off >= 0.5 {
		t.Fatalf("a heartbeat whose trace is dropped makes %.2f allocations with telemetry on, %.2f off", on, off)
	}
	t.Logf("%.2f allocations a heartbeat on, %.2f off", on, off)
}

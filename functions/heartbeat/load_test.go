package heartbeat_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/httpload"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

type loadSpec struct {
	heartbeats int
	sessions   int
	clients    int  // keep-alive connections
	pipeline   int  // requests in flight per connection (1: one at a time)
	drainAfter bool // start the consumer only once every request is answered
	opts       harnessOptions
	limit      time.Duration // the whole run must finish within this
}

type loadResult struct {
	ingest, total time.Duration
	cpu           time.Duration // of the whole process, load generator included
	batches       int64         // consumer calls
	stats         string
}

// runLoad starts the function on a real loopback listener with the bolt
// store, the in-process bus and the consumer, fires spec.heartbeats
// heartbeats from spec.clients keep-alive connections, waits for the bus to
// drain and checks that every heartbeat is accounted for: answered 200,
// enqueued, consumed, applied to its session, and each session's resume
// position is its last heartbeat's.
//
// The clients are shared/httpload's raw keep-alive connections, so the 2
// shared cores go to the server rather than to net/http's client.
func runLoad(tb testing.TB, spec loadSpec) loadResult {
	tb.Helper()
	spec.sessions = max(1, min(spec.sessions, spec.heartbeats))
	spec.clients = max(1, min(spec.clients, spec.sessions))
	spec.pipeline = max(1, spec.pipeline)
	spec.opts.noConsume = spec.drainAfter
	h := newHarness(tb, spec.opts)
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	type sess struct{ id, token string }
	sessions := make([]sess, spec.sessions)
	for i := range sessions {
		sessions[i].id, sessions[i].token = h.play(fmt.Sprintf("acct_%d", i), "title_1", 1)
	}
	// Heartbeat k goes to session k%S at device time t0+k×100µs: every
	// session's heartbeats leave in device-time order from one connection.
	t0 := h.clock().Add(-time.Minute)
	requests := make([][][]byte, spec.clients)
	lastPosition := make([]int64, spec.sessions)
	for k := range spec.heartbeats {
		s := k % spec.sessions
		lastPosition[s] = int64(k)
		body := fmt.Sprintf(`{"event":"progress","position_ms":%d,"duration_ms":5400000,"device_time":"%s",`+
			`"qoe":{"br":5800,"bl":21000,"mtp":48000,"rebuffer_count":1,"rebuffer_ms":900,"played_ms":%d,"cdn":"local","edge":"fra-1"}}`,
			k, t0.Add(time.Duration(k)*100*time.Microsecond).Format(time.RFC3339Nano), k)
		c := s % spec.clients
		requests[c] = append(requests[c], httpload.PostJSON(addr, "/v1/playback/"+sessions[s].id+"/heartbeat", sessions[s].token, []byte(body)))
	}

	b, isBenchmark := tb.(*testing.B)
	if isBenchmark {
		b.ResetTimer()
	}
	deadline := time.Now().Add(spec.limit)
	cpu := httpload.ProcessCPU(tb)
	start := time.Now()
	ingest, err := httpload.Run(addr, requests, spec.pipeline, http.StatusOK, deadline)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(time.Minute))
	defer cancel()
	if spec.drainAfter {
		if err := h.bus.Subscribe(ctx, events.TopicHeartbeats, h.srv.Consumers()[events.TopicHeartbeats]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := h.bus.Idle(ctx); err != nil {
		tb.Fatal(err)
	}
	total := time.Since(start)
	cpu = httpload.ProcessCPU(tb) - cpu
	if isBenchmark {
		b.StopTimer()
	}

	n := int64(spec.heartbeats)
	st := h.srv.Stats()
	if st.Accepted != n || st.Consumed != n || st.Applied != n || st.Stale != 0 || st.Malformed != 0 || st.Retried != 0 {
		tb.Fatalf("heartbeats in %d, stats %+v", n, st)
	}
	counted := 0
	for i, s := range sessions {
		counted += h.qoe(s.id).Heartbeats
		p, err := h.bolt.GetProgress(context.Background(), fmt.Sprintf("acct_%d", i), "title_1")
		if err != nil || p.PositionMS != lastPosition[i] {
			tb.Fatalf("session %d: progress %+v, %v; want position %d", i, p, err, lastPosition[i])
		}
	}
	if counted != spec.heartbeats {
		tb.Fatalf("sessions counted %d heartbeats, %d sent", counted, spec.heartbeats)
	}
	return loadResult{ingest: ingest, total: total, cpu: cpu, batches: st.Batches, stats: fmt.Sprintf("%+v", st)}
}

// TestHeartbeatLoadSmall is the always-on version of the load test.
func TestHeartbeatLoadSmall(t *testing.T) {
	t.Parallel()
	res := runLoad(t, loadSpec{heartbeats: 1000, sessions: 40, clients: 4, pipeline: 2, limit: time.Minute,
		opts: harnessOptions{busCfg: membus.Config{MaxBatch: events.SQSMaxBatchMessages}, boltOpts: []bolt.Option{bolt.WithoutSync()}}})
	t.Logf("1000 heartbeats: ingest %s, drained %s; %s", res.ingest, res.total, res.stats)
}

// BenchmarkHeartbeatLoad sends b.N heartbeats through the local runner's
// stack per run (go test -run X -bench HeartbeatLoad -benchtime=200000x).
// ns/op is wall time per heartbeat; req/s is the HTTP ingest rate, e2e/s
// the rate until the consumer has written everything, msgs/batch what the
// consumer got per call. The cases name the bolt durability, the bus
// batching (size, window) and the clients' shape; "keepalive" clients wait
// for each answer, "pipelined" ones keep 16 requests in flight.
func BenchmarkHeartbeatLoad(b *testing.B) {
	bus := func(maxBatch int, window time.Duration) membus.Config {
		return membus.Config{MaxBatch: maxBatch, MaxPending: 1 << 22,
			Topics: map[string]membus.TopicConfig{events.TopicHeartbeats: {BatchWindow: window}}}
	}
	noSync := []bolt.Option{bolt.WithoutSync()}
	everyBeatWrites := defaultConfig()
	everyBeatWrites.LeaseRenewSlack = 0
	for _, bc := range []struct {
		name       string
		sessions   int
		clients    int
		pipeline   int
		drainAfter bool
		opts       harnessOptions
	}{
		// The local runner's settings (cmd/playplane): durable commits,
		// Pub/Sub-sized batches gathered for up to 50 ms.
		{"fsync/1000-per-50ms/pipelined", 256, 8, 16, false, harnessOptions{busCfg: bus(1000, 50*time.Millisecond)}},
		{"fsync/1000-per-50ms/keepalive", 256, 32, 1, false, harnessOptions{busCfg: bus(1000, 50*time.Millisecond)}},
		{"nosync/1000-per-50ms/pipelined", 256, 8, 16, false, harnessOptions{busCfg: bus(1000, 50*time.Millisecond), boltOpts: noSync}},
		// So many sessions that a batch holds about one heartbeat of each:
		// nothing to coalesce, and a commit rewrites a B-tree page per
		// session. (nosync only because admitting 50k sessions durably
		// takes ~40 s per run; fsync costs these cases about a third.)
		{"nosync/1000-per-50ms/pipelined/50k-sessions", 50_000, 8, 16, false, harnessOptions{busCfg: bus(1000, 50*time.Millisecond), boltOpts: noSync}},
		{"nosync/ingest-then-drain/pipelined/50k-sessions", 50_000, 8, 16, true, harnessOptions{busCfg: bus(1000, 50*time.Millisecond), boltOpts: noSync}},
		// SQS-sized batches, as on AWS: a commit per 10 heartbeats.
		{"fsync/10-per-50ms/pipelined", 256, 8, 16, false, harnessOptions{busCfg: bus(10, 50*time.Millisecond)}},
		// No window: the consumer takes whatever is queued, so under load it
		// commits every few messages.
		{"fsync/1000-no-window/pipelined", 256, 8, 16, false, harnessOptions{busCfg: bus(1000, 0)}},
		{"nosync/1000-per-50ms/lease-write-every-beat", 256, 8, 16, false, harnessOptions{cfg: everyBeatWrites, busCfg: bus(1000, 50*time.Millisecond), boltOpts: noSync}},
		{"fsync/ingest-then-drain/pipelined", 256, 8, 16, true, harnessOptions{busCfg: bus(1000, 50*time.Millisecond)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			res := runLoad(b, loadSpec{heartbeats: b.N, sessions: bc.sessions, clients: bc.clients, pipeline: bc.pipeline,
				drainAfter: bc.drainAfter, opts: bc.opts, limit: 5 * time.Minute})
			b.ReportMetric(float64(b.N)/res.ingest.Seconds(), "req/s")
			b.ReportMetric(float64(b.N)/res.total.Seconds(), "e2e/s")
			b.ReportMetric(float64(res.cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.N)/float64(res.batches), "msgs/batch")
		})
	}
}

// BenchmarkHandler is the request path without the network: middleware,
// token check, decode, validation, lease read and enqueue, per heartbeat.
// The consumer is not running, so the bus only queues.
func BenchmarkHandler(b *testing.B) {
	h := newHarness(b, harnessOptions{noConsume: true, busCfg: membus.Config{MaxPending: 1 << 24}})
	id, tok := h.play("acct_bench", "title_1", 1)
	t0 := h.clock().Add(-time.Minute)
	cpu := httpload.ProcessCPU(b)
	k := 0
	for b.Loop() {
		k++
		body := `{"event":"progress","position_ms":1000,"duration_ms":5400000,"device_time":"` +
			t0.Add(time.Duration(k)*time.Microsecond).Format(time.RFC3339Nano) +
			`","qoe":{"br":5800,"bl":21000,"mtp":48000,"rebuffer_count":1,"rebuffer_ms":900,"played_ms":1000,"cdn":"local","edge":"fra-1"}}`
		if rec := h.beat(id, tok, body); rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(httpload.ProcessCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkHandlerTelemetry is BenchmarkHandler's request path with
// telemetry off and on in the same run (otlptest.Overhead): "on/off" (wall)
// and "cpu-on/off" (process CPU) are the cost of the server and producer
// spans with their export, the trace context in the message and the
// request metric, under each of otlptest.BenchSamplers. The queue is emptied
// between chunks (untimed), so that each chunk publishes to a queue of the
// same size.
//
// "none_recorded" is the deployed sampler at a ratio of 0: every request
// pays the hooks of a trace the sampler drops and none records a span, so
// set beside parentbased_traceidratio=0.01 in the same build it splits the
// overhead into the hooks every request pays and the share of the 1 in 100
// requests recorded (their SDK spans, processor and export). It is named
// so that -bench 'HandlerTelemetry/parentbased' does not run it.
func BenchmarkHandlerTelemetry(b *testing.B) {
	samplers := append(otlptest.BenchSamplers(), otlptest.DeployedRatio("none_recorded", "0"))
	for _, s := range samplers {
		b.Run(s.Name, func(b *testing.B) {
			h := newHarness(b, harnessOptions{noConsume: true, busCfg: membus.Config{MaxPending: 1 << 24}})
			id, tok := h.play("acct_bench", "title_1", 1)
			t0 := h.clock().Add(-time.Minute)
			k := 0
			otlptest.OverheadReset(b, s.Env, func() {
				k++
				body := `{"event":"progress","position_ms":1000,"duration_ms":5400000,"device_time":"` +
					t0.Add(time.Duration(k)*time.Microsecond).Format(time.RFC3339Nano) +
					`","qoe":{"br":5800,"bl":21000,"mtp":48000,"rc":1,"rd":900,"pd":1000,"cdn":"local","edge":"fra-1"}}`
				if rec := h.beat(id, tok, body); rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}, func() { drain(b, h.bus) })
		})
	}
}

// drain acknowledges every message queued on bus, with a consumer that
// stops once the bus is idle.
func drain(b testing.TB, bus *membus.Bus) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := bus.Subscribe(ctx, events.TopicHeartbeats, func(context.Context, []playback.Message) []string { return nil }); err != nil {
		b.Fatal(err)
	}
	if err := bus.Idle(ctx); err != nil {
		b.Fatal(err)
	}
}

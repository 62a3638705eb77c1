package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

type offKey struct{}

// TestOffAddsNoAllocations: with no Provider every hook on the request
// and bus paths, and around a scheduled job, allocates nothing beyond what
// the wrapped code does.
func TestOffAddsNoAllocations(t *testing.T) {
	ctx := context.Background()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/play", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	req := httptest.NewRequest("POST", "/v1/play", nil)
	w := httptest.NewRecorder()
	msgs := []playback.Message{{ID: "a"}}
	h := playback.BatchHandler(func(context.Context, []playback.Message) []string { return nil })
	attrs := map[string]string{"k": "v"}
	var slot telemetry.RequestContext
	job := playback.Job(func(context.Context) (any, error) { return nil, nil })
	for _, tc := range []struct {
		name      string
		bare, off func()
	}{
		{name: "ServeHTTP", bare: func() { mux.ServeHTTP(w, req) }, off: func() { telemetry.ServeHTTP(w, req, mux) }},
		{name: "StartRequest and End", bare: func() { mux.ServeHTTP(w, req) }, off: func() {
			_, tel := telemetry.StartRequest(ctx, req)
			mux.ServeHTTP(w, req)
			tel.End(statusRecorder{w}, req, nil)
		}},
		{name: "StartRequestWithValue and End", bare: func() {
			_ = context.WithValue(ctx, offKey{}, w)
			mux.ServeHTTP(w, req)
		}, off: func() {
			_, tel := telemetry.StartRequestWithValue(ctx, req, offKey{}, w)
			mux.ServeHTTP(w, req)
			tel.End(statusRecorder{w}, req, nil)
		}},
		{name: "StartRequestIn and End", bare: func() { mux.ServeHTTP(w, req) }, off: func() {
			c, tel := telemetry.StartRequestIn(&slot, ctx, req, offKey{}, w)
			if c.Value(offKey{}) != w {
				t.Fatal("the context lacks the value")
			}
			mux.ServeHTTP(w, req)
			tel.End(statusRecorder{w}, req, nil)
		}},
		{name: "Consume", bare: func() { h(ctx, msgs) }, off: func() { telemetry.Consume(ctx, telemetry.SystemLocal, "t", msgs, h) }},
		{name: "publish hooks", bare: func() {}, off: func() {
			c, end := telemetry.StartPublish(ctx, telemetry.SystemLocal, "t", 1)
			_ = telemetry.WithCarrier(attrs, telemetry.Carrier(c))
			tc, more := telemetry.MessageTrace(c)
			_ = playback.Message{Trace: tc, Attributes: telemetry.WithCarrier(attrs, more)}
			end(nil)
		}},
		{name: "metrics", bare: func() {}, off: func() {
			telemetry.PlayAdmitted(ctx)
			telemetry.PlayRefused(ctx, "r")
			telemetry.GrantSigned(ctx, "cdn")
			telemetry.DeadLettered(ctx, telemetry.SystemLocal, "t", 1)
		}},
		{name: "Flush", bare: func() {}, off: func() { _ = telemetry.Flush(ctx) }},
		{name: "RunJob", bare: func() { _, _ = job(ctx) }, off: func() { _, _ = telemetry.RunJob(ctx, "sweep", job) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bare, off := testing.AllocsPerRun(100, tc.bare), testing.AllocsPerRun(100, tc.off)
			if off != bare {
				t.Fatalf("off: %v allocs, bare: %v", off, bare)
			}
		})
	}
}

// TestMetricsAddNoAllocations: with metrics on, a measurement of an
// attribute set seen before allocates nothing: the options are made once
// per route, reason, CDN and topic, not per call.
func TestMetricsAddNoAllocations(t *testing.T) {
	p := setup(t, telemetry.Options{Service: "test", Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New}, nil)
	if p.Tracing() || !p.Metrics() {
		t.Fatalf("tracing %v metrics %v, want metrics only", p.Tracing(), p.Metrics())
	}
	ctx := context.Background()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/play", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	req := httptest.NewRequest("POST", "/v1/play", nil)
	// httpx's recorder knows the status; ServeHTTP wraps any other writer.
	w := statusRecorder{httptest.NewRecorder()}
	msgs := []playback.Message{{ID: "a"}}
	h := playback.BatchHandler(func(context.Context, []playback.Message) []string { return nil })
	for _, tc := range []struct {
		name      string
		bare, run func()
	}{
		{name: "request duration", bare: func() { mux.ServeHTTP(w, req) }, run: func() { telemetry.ServeHTTP(w, req, mux) }},
		{name: "request duration, StartRequest and End", bare: func() { mux.ServeHTTP(w, req) }, run: func() {
			_, tel := telemetry.StartRequest(ctx, req)
			mux.ServeHTTP(w, req)
			tel.End(w, req, nil)
		}},
		{name: "batch size", bare: func() { h(ctx, msgs) }, run: func() { telemetry.Consume(ctx, telemetry.SystemLocal, "t", msgs, h) }},
		{name: "counters", bare: func() {}, run: func() {
			telemetry.PlayAdmitted(ctx)
			telemetry.PlayRefused(ctx, "stream_limit")
			telemetry.GrantSigned(ctx, "cdn")
			telemetry.DeadLettered(ctx, telemetry.SystemLocal, "t", 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run() // the first measurement of a set makes its options
			bare, run := testing.AllocsPerRun(100, tc.bare), testing.AllocsPerRun(100, tc.run)
			if run != bare {
				t.Fatalf("metrics on: %v allocs, bare: %v", run, bare)
			}
		})
	}
}

type statusRecorder struct{ *httptest.ResponseRecorder }

func (s statusRecorder) Status() int { return s.Code }

package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// beat is a heartbeat-shaped request through ServeHTTP: a server span, a
// producer span and the trace context in the message, which Consume then
// processes. traceparent is the caller's ("" for none).
func beat(t *testing.T, traceparent string) playback.Message {
	t.Helper()
	var published playback.Message
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/playback/{id}/heartbeat", func(w http.ResponseWriter, r *http.Request) {
		ctx, end := telemetry.StartPublish(r.Context(), telemetry.SystemLocal, "heartbeats", 1)
		tc, more := telemetry.MessageTrace(ctx)
		published = playback.Message{ID: playback.NewID("msg"), Trace: tc, Attributes: more}
		end(nil)
		w.WriteHeader(http.StatusOK)
	})
	req := httptest.NewRequest("POST", "/v1/playback/ses_1/heartbeat", nil)
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	rec := httptest.NewRecorder()
	telemetry.ServeHTTP(rec, req, mux)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	telemetry.Consume(context.Background(), telemetry.SystemLocal, "heartbeats", []playback.Message{published},
		func(context.Context, []playback.Message) []string { return nil })
	return published
}

// counts scrapes p and returns the request duration histogram's count for
// the heartbeat route and the consumer batch size histogram's count.
func counts(t *testing.T, p *telemetry.Provider) (requests, batches uint64) {
	t.Helper()
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range families["http_server_request_duration_seconds"].GetMetric() {
		requests += m.GetHistogram().GetSampleCount()
	}
	for _, m := range families["playplane_queue_batch_size"].GetMetric() {
		batches += m.GetHistogram().GetSampleCount()
	}
	return requests, batches
}

// TestSamplerFromTheEnvironment: OTEL_TRACES_SAMPLER and its argument,
// read through Options.Lookup (not the process environment the SDK would
// read), decide which traces are exported to a real OTLP receiver: a
// sampled caller's trace is whole from HTTP through the bus to the
// consumer, an unsampled one's trace context still travels (flag 00) so
// the consumer records nothing of it either, and the metrics count every
// request whatever was sampled.
func TestSamplerFromTheEnvironment(t *testing.T) {
	// The SDK alone would read this and record nothing; Setup's sampler
	// comes from the lookup.
	t.Setenv(telemetry.EnvTracesSampler, "always_off")
	const (
		sampledTrace   = "4bf92f3577b34da6a3ce929d0e0e4736"
		unsampledTrace = "5bf92f3577b34da6a3ce929d0e0e4737"
		lowTrace       = "6bf92f3577b34da60000000000000001" // traceidratio 0.5 keeps it
		highTrace      = "7bf92f3577b34da6ffffffffffffffff" // and drops this one
	)
	for _, tc := range []struct {
		name, sampler, arg string
		// traceparents sent, with whether each trace must reach the receiver
		sent map[string]bool
		// roots: requests without a traceparent, and how many of their
		// traces must reach the receiver
		roots, rootTraces int
	}{
		{name: "parent-based, ratio 0: only sampled callers", sampler: "parentbased_traceidratio", arg: "0",
			sent: map[string]bool{sampledTrace: true, unsampledTrace: false}, roots: 20, rootTraces: 0},
		{name: "parent-based, ratio 1", sampler: "parentbased_traceidratio", arg: "1",
			sent: map[string]bool{sampledTrace: true, unsampledTrace: false}, roots: 3, rootTraces: 3},
		{name: "always_on ignores the caller's flag", sampler: "always_on",
			sent: map[string]bool{sampledTrace: true, unsampledTrace: true}, roots: 2, rootTraces: 2},
		{name: "traceidratio 0.5 decides by trace id", sampler: "traceidratio", arg: "0.5",
			sent: map[string]bool{lowTrace: true, highTrace: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := otlptest.Start(t)
			env := recv.Env()
			env[telemetry.EnvTracesSampler] = tc.sampler
			if tc.arg != "" {
				env[telemetry.EnvTracesSamplerArg] = tc.arg
			}
			p := setup(t, telemetry.Options{Service: "test", Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New}, env)
			flags := map[string]string{sampledTrace: "01", unsampledTrace: "00", lowTrace: "00", highTrace: "01"}
			for id := range tc.sent {
				msg := beat(t, "00-"+id+"-00f067aa0ba902b7-"+flags[id])
				tp := msg.Trace.TraceParent()
				if !strings.Contains(tp, id) {
					t.Errorf("trace %s: message carries traceparent %q, want the caller's trace", id, tp)
				}
				// The consumer follows the decision the message carries.
				if sampled := strings.HasSuffix(tp, "-01"); sampled != tc.sent[id] {
					t.Errorf("trace %s: message carries traceparent %q, want sampled %v", id, tp, tc.sent[id])
				}
			}
			roots := map[string]bool{}
			for range tc.roots {
				tp := beat(t, "").Trace.TraceParent()
				if len(tp) != 55 {
					t.Fatalf("a root request's message carries traceparent %q: even unsampled, the trace context travels", tp)
				}
				roots[tp[3:35]] = true
			}
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			for id, want := range tc.sent {
				spans := recv.Trace(id)
				if !want {
					if len(spans) > 0 {
						t.Errorf("trace %s (flag %s) exported %d spans, want none:%s", id, flags[id], len(spans), otlptest.Describe(spans))
					}
					continue
				}
				if err := otlptest.Chain(spans, "/v1/playback/{id}/heartbeat", "heartbeats"); err != nil {
					t.Errorf("trace %s: %v", id, err)
				}
			}
			exported := 0
			for id := range roots {
				spans := recv.Trace(id)
				if len(spans) == 0 {
					continue
				}
				exported++
				if err := otlptest.Chain(spans, "/v1/playback/{id}/heartbeat", "heartbeats"); err != nil {
					t.Errorf("root trace %s: %v", id, err)
				}
			}
			if exported != tc.rootTraces {
				t.Errorf("%d of %d root traces exported, want %d", exported, len(roots), tc.rootTraces)
			}
			n := uint64(len(tc.sent) + tc.roots)
			if requests, batches := counts(t, p); requests != n || batches != n {
				t.Errorf("metrics count %d requests and %d batches, want %d of each whatever was sampled", requests, batches, n)
			}
		})
	}
}

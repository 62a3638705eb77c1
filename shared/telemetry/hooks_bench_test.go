package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// BenchmarkHooks is what telemetry adds to one heartbeat-shaped request,
// without the request's own work: the server span, the producer span,
// the trace context for the message and the request metric, around a
// handler that does nothing else. Sub-benchmarks: off (no Provider), and
// on under each of otlptest.Samplers; "on" exports to a real OTLP
// receiver, flushed inside the timed loop every 1,000 requests.
func BenchmarkHooks(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/playback/{id}/heartbeat", func(w http.ResponseWriter, r *http.Request) {
		ctx, end := telemetry.StartPublish(r.Context(), telemetry.SystemLocal, "heartbeats", 1)
		_ = playback.Message{Attributes: telemetry.Carrier(ctx)}
		end(nil)
	})
	run := func(b *testing.B, p *telemetry.Provider) {
		req := httptest.NewRequest("POST", "/v1/playback/ses_1/heartbeat", nil)
		w := httptest.NewRecorder()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			telemetry.ServeHTTP(w, req, mux)
			if i++; p != nil && i%1000 == 0 {
				_ = p.Flush(context.Background())
			}
		}
		_ = p.Flush(context.Background())
	}
	b.Run("off", func(b *testing.B) { run(b, nil) })
	for _, s := range otlptest.Samplers {
		b.Run(s.Name, func(b *testing.B) {
			recv := otlptest.Start(b)
			recv.Discard()
			env := recv.Env()
			for k, v := range s.Env {
				env[k] = v
			}
			p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "bench", Metrics: telemetry.SinkPrometheus,
				Prometheus: promsink.New, Lookup: envconfig.MapLookuper(env)})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = p.Shutdown(context.Background()) }()
			run(b, p)
		})
	}
}

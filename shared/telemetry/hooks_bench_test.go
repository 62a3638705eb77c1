package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sethvargo/go-envconfig"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/playplane/playplane/shared/httpload"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// BenchmarkHooks is what telemetry adds to one heartbeat-shaped request,
// without the request's own work: the server span, the producer span,
// the trace context for the message and the request metric, around a
// handler that does nothing else, in a middleware shaped as httpx's. Sub-benchmarks: off (no Provider), and
// on under each of otlptest.BenchSamplers; "on" exports to a real OTLP
// receiver, flushed inside the timed loop every 1,000 requests.
// "cpu-ns/op" is the process's CPU time (the exporter's goroutines and
// the receiver's reading included), steadier than wall time on a shared
// machine.
func BenchmarkHooks(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/playback/{id}/heartbeat", func(w http.ResponseWriter, r *http.Request) {
		ctx, end := telemetry.StartPublish(r.Context(), telemetry.SystemLocal, "heartbeats", 1)
		tc, more := telemetry.MessageTrace(ctx)
		_ = playback.Message{Trace: tc, Attributes: more}
		end(nil)
	})
	run := func(b *testing.B, p *telemetry.Provider) {
		req := httptest.NewRequest("POST", "/v1/playback/ses_1/heartbeat", nil)
		w := statusRecorder{httptest.NewRecorder()}
		b.ReportAllocs()
		cpu := httpload.ProcessCPU(b)
		i := 0
		for b.Loop() {
			// As httpx.Middleware serves a request: an object of its own
			// per request, which the request's context is made in and
			// holds as a value, and a copy of the request to carry it (so
			// "off" pays for both as well).
			mr := &middlewareRequest{i: i}
			ctx, tel := telemetry.StartRequestIn(&mr.ctx, req.Context(), req, middlewareKey{}, mr)
			r := req.WithContext(ctx)
			mux.ServeHTTP(w, r)
			tel.End(w, r, nil)
			if i++; p != nil && i%1000 == 0 {
				_ = p.Flush(context.Background())
			}
		}
		_ = p.Flush(context.Background())
		b.ReportMetric(float64((httpload.ProcessCPU(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	b.Run("off", func(b *testing.B) { run(b, nil) })
	// Every span recorded and handed to an exporter that drops it: beside
	// always_on, the share of the OTLP exporter (transform, marshal, POST).
	b.Run("always_on, exporter drops", func(b *testing.B) {
		p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "bench", Metrics: telemetry.SinkPrometheus,
			Prometheus: promsink.New, SpanExporter: dropSpans{}, Lookup: envconfig.MapLookuper(map[string]string{telemetry.EnvTracesSampler: "always_on"})})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = p.Shutdown(context.Background()) }()
		run(b, p)
	})
	for _, s := range otlptest.BenchSamplers() {
		// ", invocation": as a function's process (awsfn, gcpfn), whose
		// invocation spans carry faas.invocation_id and faas.coldstart.
		for _, invocation := range []func(context.Context) string{nil, func(context.Context) string { return "inv-1" }} {
			name := s.Name
			if invocation != nil {
				name += ", invocation"
			}
			b.Run(name, func(b *testing.B) {
				recv := otlptest.Start(b)
				recv.Discard()
				env := recv.Env()
				for k, v := range s.Env {
					env[k] = v
				}
				p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "bench", Metrics: telemetry.SinkPrometheus,
					Prometheus: promsink.New, Lookup: envconfig.MapLookuper(env), Invocation: invocation})
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = p.Shutdown(context.Background()) }()
				run(b, p)
			})
		}
	}
}

type middlewareKey struct{}

// middlewareRequest is the middleware's own per-request object, as
// httpx's request.
type middlewareRequest struct {
	ctx telemetry.RequestContext
	i   int
}

type dropSpans struct{}

func (dropSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (dropSpans) Shutdown(context.Context) error                             { return nil }

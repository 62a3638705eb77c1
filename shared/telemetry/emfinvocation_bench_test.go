package telemetry_test

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/httpload"
	"github.com/playplane/playplane/shared/telemetry"
)

// BenchmarkEMFInvocation is the metrics part of one authorize play as its
// Lambda runs it, without the play's own work: the request recorded
// under the default sampler (the span handed to an exporter that drops
// it), the admission counted, the request duration, and the
// per-invocation flush (telemetry.Flush) writing the EMF lines (to
// io.Discard). BenchmarkAuthorizePlayTelemetryDeployed measures the whole
// play; this is the share of it that EMF and the SDK's instruments pay.
func BenchmarkEMFInvocation(b *testing.B) {
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "bench", Metrics: telemetry.SinkEMF,
		EMFOut: io.Discard, SpanExporter: dropSpans{}, Lookup: envconfig.MapLookuper(map[string]string{})})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()
	req := httptest.NewRequest("POST", "/v1/play", nil)
	req.Pattern = "POST /v1/play"
	w := statusRecorder{httptest.NewRecorder()}
	w.WriteHeader(201)
	b.ReportAllocs()
	cpu := httpload.ProcessCPU(b)
	for b.Loop() {
		mr := &middlewareRequest{}
		ctx, tel := telemetry.StartRequestIn(&mr.ctx, req.Context(), req, middlewareKey{}, mr)
		telemetry.PlayAdmitted(ctx)
		r := req.WithContext(ctx)
		tel.End(w, r, nil)
		if err := telemetry.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((httpload.ProcessCPU(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

package telemetry

import (
	"bytes"
	"context"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestEMFGathersNoExemplars: an EMF line has no place for an exemplar, so
// a Provider writing EMF lines keeps none, neither in the SDK's
// instruments nor in the request histogram, under every exemplar filter:
// a measurement made in a sampled span (every play, as authorize play is
// deployed) otherwise filled a reservoir per series and interval that
// the line never read. TestRequestHistogramIsTheSDKs holds the lines to
// the SDK's, exemplars gathered.
func TestEMFGathersNoExemplars(t *testing.T) {
	for _, filter := range []string{"", "trace_based", "always_on"} {
		t.Run("exemplars="+filter, func(t *testing.T) {
			t.Setenv("OTEL_METRICS_EXEMPLAR_FILTER", filter)
			p, err := Setup(context.Background(), Options{Service: "test", Metrics: SinkEMF, EMFOut: &bytes.Buffer{},
				SpanExporter: tracetest.NewInMemoryExporter(), Lookup: envconfig.MapLookuper(map[string]string{})})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
			if p.rt.inst.reqHist == nil {
				t.Fatal("no request histogram of the package's own")
			}
			ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled}))
			PlayAdmitted(ctx)
			GrantSigned(ctx, "cdn-a")
			current().recordDuration(ctx, "POST", "https", "/v1/play", 201, 0.002)
			if p.rt.inst.unsampledExemplars {
				t.Error("Request.End would hand an unsampled request's context to an exemplar filter")
			}

			var rm metricdata.ResourceMetrics
			if err := p.emf.reader.Collect(context.Background(), &rm); err != nil {
				t.Fatal(err)
			}
			points := 0
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					sum, ok := m.Data.(metricdata.Sum[int64])
					if !ok {
						t.Fatalf("%s: %T, want a sum", m.Name, m.Data)
					}
					for _, pt := range sum.DataPoints {
						points++
						if len(pt.Exemplars) != 0 {
							t.Errorf("%s: %d exemplars kept for EMF lines", m.Name, len(pt.Exemplars))
						}
					}
				}
			}
			if points != 2 {
				t.Fatalf("%d data points of the SDK's instruments, want 2 (admitted, grants)", points)
			}
			h, ok := p.emf.hist.collect()
			if !ok {
				t.Fatal("no request duration collected")
			}
			for _, pt := range h.Data.(metricdata.Histogram[float64]).DataPoints {
				if len(pt.Exemplars) != 0 {
					t.Errorf("request duration: %d exemplars kept for EMF lines", len(pt.Exemplars))
				}
			}
		})
	}
}

package telemetry

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/httpload"
)

// BenchmarkUnsampledParts is the price of each part of an unsampled
// request's telemetry, apart: what the SDK does per Start of a root span
// that parentbased_traceidratio(0.01) drops, per histogram Record of a
// precomputed attribute set (and the package's own histogram's record
// that replaces it), and what the trace context on the message
// costs.
func BenchmarkUnsampledParts(b *testing.B) {
	smp, _, root, err := sampler("parentbased_traceidratio", "0.01")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), struct{}{}, 1)
	for _, g := range []struct {
		name string
		opts []sdktrace.TracerProviderOption
	}{{"sdk ids", nil}, {"lock-free ids", []sdktrace.TracerProviderOption{sdktrace.WithIDGenerator(idGenerator{})}}} {
		tp := sdktrace.NewTracerProvider(append(g.opts, sdktrace.WithSampler(smp))...)
		tr := tp.Tracer("bench")
		b.Run("Start, dropped root/"+g.name, func(b *testing.B) {
			defer cpuPerOp(b)()
			for b.Loop() {
				_, s := tr.Start(ctx, "POST", kindStart[trace.SpanKindServer]...)
				if s.IsRecording() {
					s.End()
				}
			}
		})
	}
	// What the hooks call instead: the sampler asked first, the dropped
	// span made without the SDK's Start (runtime.start).
	tp0 := sdktrace.NewTracerProvider(sdktrace.WithSampler(smp), sdktrace.WithIDGenerator(idGenerator{}))
	rt0 := &runtime{tracer: tp0.Tracer("bench"), tp: tp0, sampler: smp}
	b.Run("start, dropped root, sampler first", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			_, s := rt0.start(ctx, "POST", trace.SpanKindServer, ctxValue{})
			if s.IsRecording() {
				s.End()
			}
		}
	})
	// As Setup makes it: a root decided by its trace id (rootSampling),
	// the sampler not called.
	rt1 := &runtime{tracer: tp0.Tracer("bench"), tp: tp0, sampler: smp, root: root}
	b.Run("start, dropped root, root decision", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			_, s := rt1.start(ctx, "POST", trace.SpanKindServer, ctxValue{})
			if s.IsRecording() {
				s.End()
			}
		}
	})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()), sdktrace.WithIDGenerator(idGenerator{}))
	sctx, _ := tp.Tracer("bench").Start(ctx, "POST")
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()), sdkmetric.WithView(views()...))
	inst := newInstruments(mp.Meter("bench"))
	rt := &runtime{inst: inst}
	b.Run("Record, cached set", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			inst.requestDuration.get(inst.meter, newRequestDuration).Record(sctx, 0.001, rt.routeOptions("POST", "https", "/v1/playback/{id}/heartbeat", 200)...)
		}
	})
	b.Run("Record, cached set, no context", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			inst.requestDuration.get(inst.meter, newRequestDuration).Record(context.Background(), 0.001, rt.routeOptions("POST", "https", "/v1/playback/{id}/heartbeat", 200)...)
		}
	})
	// What Request.End calls instead (requestHistogram), with one reader.
	h := newRequestHistogram()
	h.reader(metricdata.CumulativeTemporality)
	k := routeKey{"POST", "https", "/v1/playback/{id}/heartbeat", 200}
	b.Run("own histogram record", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			h.record(context.Background(), k, 0.001)
		}
	})
	b.Run("routeOptions", func(b *testing.B) {
		defer cpuPerOp(b)()
		var o []metric.RecordOption
		for b.Loop() {
			o = rt.routeOptions("POST", "https", "/v1/playback/{id}/heartbeat", 200)
		}
		_ = o
	})
	sc := trace.SpanContextFromContext(sctx)
	// Both kept, as the bus keeps them: a map that does not escape is
	// made on the stack, which priced the old per-message attributes map
	// at one allocation of 64 bytes, not the three of ~370 it was.
	b.Run("traceparent map", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			keptAttrs = map[string]string{traceparentKey: messageTrace(sc).TraceParent()}
		}
	})
	b.Run("traceparent", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			keptTraceParent = messageTrace(sc).TraceParent()
		}
	})
	b.Run("time.Now, Since", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			_ = time.Since(time.Now())
		}
	})
	b.Run("monotonicNow twice", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			_ = monotonicNow() - monotonicNow()
		}
	})
}

var (
	keptAttrs       map[string]string
	keptTraceParent string
)

// cpuPerOp reports allocations and the process's CPU time per operation
// (steadier than wall time on a shared machine) when the returned
// function is called.
func cpuPerOp(b *testing.B) func() {
	b.ReportAllocs()
	cpu := httpload.ProcessCPU(b)
	return func() {
		b.ReportMetric(float64((httpload.ProcessCPU(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

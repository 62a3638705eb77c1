package telemetry_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// flushCounter counts the ForceFlush calls a TracerProvider hands its
// span processors.
type flushCounter struct{ n atomic.Int32 }

func (*flushCounter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (*flushCounter) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (*flushCounter) Shutdown(context.Context) error                  { return nil }
func (c *flushCounter) ForceFlush(context.Context) error              { c.n.Add(1); return nil }

// spanCounter is an exporter that counts the spans it is given.
type spanCounter struct{ n atomic.Int64 }

func (c *spanCounter) ExportSpans(_ context.Context, s []sdktrace.ReadOnlySpan) error {
	c.n.Add(int64(len(s)))
	return nil
}
func (*spanCounter) Shutdown(context.Context) error { return nil }

// sdkProvider is the TracerProvider Setup installed.
func sdkProvider(t *testing.T) *sdktrace.TracerProvider {
	t.Helper()
	tp, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider)
	if !ok {
		t.Fatalf("global tracer provider is %T", otel.GetTracerProvider())
	}
	return tp
}

// TestIdleInvocationFlushDoesNothing: an invocation that recorded no span
// and measured nothing (a heartbeat sampled out, on an instance whose
// earlier invocations measured and flushed) asks the span processor for
// nothing, collects no metric and writes no EMF line: its flush
// allocates nothing. One that ended a span or measured does flush both.
func TestIdleInvocationFlushDoesNothing(t *testing.T) {
	var emf bytes.Buffer
	exp := &spanCounter{}
	setup(t, telemetry.Options{Service: "heartbeat", Metrics: telemetry.SinkEMF, EMFOut: &emf, SpanExporter: exp}, nil)
	flushes := &flushCounter{}
	sdkProvider(t).RegisterSpanProcessor(flushes)
	ctx := context.Background()

	serve(t, "PUT", "PUT /v1/playback/{id}/heartbeat", "/v1/playback/x/heartbeat", 204)
	telemetry.InboxBacklog(ctx, "stripe", 2, map[string]int{"retry": 1})
	if err := telemetry.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if flushes.n.Load() != 1 || exp.n.Load() != 1 {
		t.Fatalf("after a request: %d span flushes, %d spans exported; want 1 and 1", flushes.n.Load(), exp.n.Load())
	}
	if emf.Len() == 0 {
		t.Fatal("after a request: no EMF line")
	}

	emf.Reset()
	flushes.n.Store(0)
	if err := telemetry.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := flushes.n.Load(); n != 0 {
		t.Errorf("an idle invocation's flush asked the span processors to flush %d times, want 0", n)
	}
	if emf.Len() != 0 {
		t.Errorf("an idle invocation's flush wrote EMF lines:\n%s", emf.String())
	}
	if !raceEnabled {
		if a := testing.AllocsPerRun(100, func() { _ = telemetry.Flush(ctx) }); a != 0 {
			t.Errorf("an idle invocation's flush allocates %v times (a collection or a span processor flush), want 0", a)
		}
	}
}

// TestInvocationFlushWritesWhatEachHookMeasured: after an idle flush,
// each measurement alone makes the next invocation's flush write it.
func TestInvocationFlushWritesWhatEachHookMeasured(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		measure func(t *testing.T)
		metric  string
	}{
		{name: "request", metric: telemetry.MetricRequestDuration, measure: func(t *testing.T) {
			serve(t, "POST", "POST /v1/play", "/v1/play", 201)
		}},
		{name: "admitted", metric: telemetry.MetricPlayAdmitted, measure: func(*testing.T) { telemetry.PlayAdmitted(ctx) }},
		{name: "refused", metric: telemetry.MetricPlayRefused, measure: func(*testing.T) { telemetry.PlayRefused(ctx, "x") }},
		{name: "webhook lag", metric: telemetry.MetricWebhookLag, measure: func(*testing.T) { telemetry.WebhookLag(ctx, time.Second) }},
		{name: "inbox", metric: telemetry.MetricInboxParked, measure: func(*testing.T) { telemetry.InboxBacklog(ctx, "stripe", 1, map[string]int{"retry": 1}) }},
		{name: "leases", metric: telemetry.MetricLeasesActive, measure: func(t *testing.T) {
			if err := telemetry.LeasesActive(ctx, 4); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "grant", metric: telemetry.MetricGrantsSigned, measure: func(*testing.T) { telemetry.GrantSigned(ctx, "cloudfront") }},
		{name: "dead letters", metric: telemetry.MetricQueueDead, measure: func(*testing.T) {
			telemetry.DeadLettered(ctx, telemetry.SystemLocal, "heartbeats", 1)
		}},
		{name: "batch", metric: telemetry.MetricQueueBatchSize, measure: func(*testing.T) {
			telemetry.Consume(ctx, telemetry.SystemLocal, "heartbeats", []playback.Message{{ID: "a"}},
				func(context.Context, []playback.Message) []string { return nil })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var emf bytes.Buffer
			setup(t, telemetry.Options{Service: "test", Metrics: telemetry.SinkEMF, EMFOut: &emf}, nil)
			if err := telemetry.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			tc.measure(t)
			if err := telemetry.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, line := range bytes.Split(bytes.TrimSpace(emf.Bytes()), []byte("\n")) {
				if len(line) == 0 {
					continue
				}
				values, _ := checkEMF(t, line)
				_, ok := values[tc.metric]
				found = found || ok
			}
			if !found {
				t.Errorf("no %s in the invocation's EMF lines:\n%s", tc.metric, emf.String())
			}
		})
	}
}

// TestInvocationFlushLosesNoSpanEndingBesideIt: spans end while
// invocations flush (the runtime does not serialise them with a span a
// goroutine of the handler ends late); each is exported by a flush, at
// the latest the one after the last span ended.
func TestInvocationFlushLosesNoSpanEndingBesideIt(t *testing.T) {
	exp := &spanCounter{}
	setup(t, telemetry.Options{Service: "test", SpanExporter: exp}, nil)
	tracer := sdkProvider(t).Tracer("test")
	const workers, spans = 4, 200 // fewer than the batcher's queue holds
	var ended sync.WaitGroup
	done := make(chan struct{})
	var flushing sync.WaitGroup
	flushing.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := telemetry.Flush(context.Background()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range workers {
		ended.Go(func() {
			for range spans {
				_, s := tracer.Start(context.Background(), "s")
				s.End()
			}
		})
	}
	ended.Wait()
	close(done)
	flushing.Wait()
	if err := telemetry.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := exp.n.Load(); n != workers*spans {
		t.Errorf("%d spans exported after the last flush, want %d", n, workers*spans)
	}
}

package deployedtest

import (
	"context"
	"testing"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/playplane/playplane/shared/emulators/gcpemu"
)

// The gRPC transport of a deployed client takes the OpenTelemetry globals
// once, when the client is made: a client NewGCP makes before
// telemetry.Setup, and one made after it (the bus, on the first publish),
// each record their RPCs' spans and durations under Setup's providers
// while telemetry is on and nothing while it is off, as a deployed unit
// with telemetry off records nothing. Not parallel: it sets the globals.
func TestModeSwitchesWhatClientsTookFromTheGlobals(t *testing.T) {
	tp0, mp0, prop0 := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() { otel.SetTracerProvider(tp0); otel.SetMeterProvider(mp0); otel.SetTextMapPropagator(prop0) })
	addr := gcpemu.PubSub(t)
	var g GCP
	g.takeGlobals()
	early := topicClient(t, addr)

	// What telemetry.Setup installs.
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.TraceContext{})

	g.Mode(true)
	late := topicClient(t, addr)
	var rpcs uint64
	for i, on := range []bool{false, true, true, false, true, false} {
		g.Mode(on)
		// The transport puts the trace context in the RPC's metadata with
		// the propagator it took.
		if got := len(otel.GetTextMapPropagator().Fields()) > 0; got != on {
			t.Errorf("switch %d to on=%v: the propagator propagates %v", i, on, got)
		}
		for j, c := range []*vkit.TopicAdminClient{early, late} {
			n := len(spans.Ended())
			if _, err := c.ListTopics(t.Context(), &pubsubpb.ListTopicsRequest{Project: "projects/p"}).Next(); err != nil && err.Error() != "no more items in iterator" {
				t.Fatal(err)
			}
			if on {
				rpcs++
			}
			if got := len(spans.Ended()) - n; got != map[bool]int{true: 1}[on] {
				t.Errorf("switch %d to on=%v, client %d: %d spans", i, on, j, got)
			}
			if got := durations(t, reader); got != rpcs {
				t.Errorf("switch %d to on=%v, client %d: %d durations recorded, want %d", i, on, j, got, rpcs)
			}
		}
	}
}

func topicClient(t *testing.T, addr string) *vkit.TopicAdminClient {
	c, err := vkit.NewTopicAdminClient(t.Context(), gcpemu.DeployedClientOptions(addr)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// durations is how many RPC durations reader's provider has recorded.
func durations(t *testing.T, reader *sdkmetric.ManualReader) uint64 {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "rpc.client.call.duration" {
				for _, dp := range h.DataPoints {
					n += dp.Count
				}
			}
		}
	}
	return n
}

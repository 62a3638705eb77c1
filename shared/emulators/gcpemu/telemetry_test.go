package gcpemu_test

import (
	"context"
	"testing"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/api/option"

	"github.com/playplane/playplane/shared/emulators/gcpemu"
)

// A deployed Firestore or Pub/Sub client records a span and the duration
// of every RPC through the OpenTelemetry globals (google.golang.org/api's
// gRPC transport adds otelgrpc's stats handler unless
// option.WithTelemetryDisabled): DeployedClientOptions keep that, the
// options of the other tests leave it out. Not parallel: it sets the
// globals.
func TestDeployedClientOptionsKeepTheTransportsTelemetry(t *testing.T) {
	addr := gcpemu.PubSub(t)
	before, beforeMeter := otel.GetTracerProvider(), otel.GetMeterProvider()
	t.Cleanup(func() { otel.SetTracerProvider(before); otel.SetMeterProvider(beforeMeter) })
	for _, tc := range []struct {
		name string
		opts []option.ClientOption
		want bool
	}{
		{name: "deployed", opts: gcpemu.DeployedClientOptions(addr), want: true},
		{name: "tests", opts: gcpemu.PubSubClientOptions(addr), want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spans := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
			otel.SetTracerProvider(tp)
			otel.SetMeterProvider(mp)
			c, err := vkit.NewTopicAdminClient(t.Context(), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.CreateTopic(t.Context(), &pubsubpb.Topic{Name: "projects/p/topics/" + tc.name}); err != nil {
				t.Fatal(err)
			}
			var named []string
			for _, s := range spans.Ended() {
				named = append(named, s.Name())
			}
			var rm metricdata.ResourceMetrics
			if err := reader.Collect(t.Context(), &rm); err != nil {
				t.Fatal(err)
			}
			var metrics []string
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					metrics = append(metrics, m.Name)
				}
			}
			got := len(named) == 1 && named[0] == "google.pubsub.v1.Publisher/CreateTopic" &&
				len(metrics) == 1 && metrics[0] == "rpc.client.call.duration"
			if got != tc.want || (!tc.want && len(named)+len(metrics) > 0) {
				t.Fatalf("spans %q, metrics %q: want the RPC's span and duration: %v", named, metrics, tc.want)
			}
		})
	}
}

package otlpmetrics_test

import (
	"context"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlpmetrics"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// TestMetricsArriveOverOTLP: SinkOTLP with this package's exporter pushes
// what was recorded to the OTLP endpoint on Flush, decoded there with the
// protocol's official types; without it, Setup refuses rather than
// dropping the metrics.
func TestMetricsArriveOverOTLP(t *testing.T) {
	recv := otlptest.Start(t)
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "test", Metrics: telemetry.SinkOTLP,
		Lookup: envconfig.MapLookuper(recv.Env()), OTLPMetrics: otlpmetrics.New})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	if !p.Metrics() {
		t.Fatal("metrics are off")
	}
	telemetry.PlayAdmitted(context.Background())
	if err := telemetry.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ms := recv.Metrics(telemetry.MetricPlayAdmitted)
	if len(ms) == 0 {
		t.Fatalf("no %s received", telemetry.MetricPlayAdmitted)
	}
	if v := ms[len(ms)-1].GetSum().GetDataPoints()[0].GetAsInt(); v != 1 {
		t.Errorf("%s = %d, want 1", telemetry.MetricPlayAdmitted, v)
	}

	if p, err := telemetry.Setup(context.Background(), telemetry.Options{Metrics: telemetry.SinkOTLP,
		Lookup: envconfig.MapLookuper(recv.Env())}); err == nil {
		_ = p.Shutdown(context.Background())
		t.Fatal("Setup made OTLP metrics without Options.OTLPMetrics")
	}
}

// TestResourceAttributesAreReadThroughLookup: OTEL_RESOURCE_ATTRIBUTES
// (how the stack gives a Cloud Function its cloud.region) is read through
// Options.Lookup, percent-decoded, and a later service.name there wins
// over Options.Service, as the specification orders them.
func TestResourceAttributesAreReadThroughLookup(t *testing.T) {
	recv := otlptest.Start(t)
	env := recv.Env()
	env[telemetry.EnvResourceAttributes] = "cloud.region=europe-west1, deployment.environment.name=a%20b,service.name=fromenv"
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "test", Metrics: telemetry.SinkOTLP,
		Lookup: envconfig.MapLookuper(env), OTLPMetrics: otlpmetrics.New})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	telemetry.PlayAdmitted(context.Background())
	if err := telemetry.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	exports := recv.MetricExports()
	if len(exports) == 0 {
		t.Fatal("nothing exported")
	}
	attrs := exports[0].Data.GetResourceMetrics()[0].GetResource().GetAttributes()
	for key, want := range map[string]string{"cloud.region": "europe-west1", "deployment.environment.name": "a b", "service.name": "fromenv"} {
		if got := otlptest.Attr(attrs, key); got != want {
			t.Errorf("resource %s = %q, want %q", key, got, want)
		}
	}
}

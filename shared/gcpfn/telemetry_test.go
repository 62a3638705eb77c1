package gcpfn_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/cloudmonitoring/monitoringtest"
)

// TestInvocationMetricsReachCloudMonitoring: configured as the stack
// configures a function (OTEL_METRICS_EXPORTER=googlecloud,
// GOOGLE_CLOUD_PROJECT), the metrics of one HTTP invocation are written to
// the MetricService before the entry point returns, which is all Cloud
// Functions guarantees CPU for. The MetricService is the loopback one
// (monitoringtest); the real Cloud Monitoring is not reachable here.
//
// Not parallel: the telemetry Provider is process-wide, and this test runs
// before the parallel ones start.
func TestInvocationMetricsReachCloudMonitoring(t *testing.T) {
	const project = "playplane-fn"
	mon := monitoringtest.Start(t, project)
	res := gcpfn.NewResources(gcpfn.Options{
		Lookuper: envconfig.MapLookuper(map[string]string{
			telemetry.EnvMetricsExporter: telemetry.ExporterGoogleCloud, telemetry.EnvGoogleCloudProject: project}),
		Log:               slog.New(slog.DiscardHandler),
		MonitoringOptions: mon.ClientOptions(),
	})
	p, err := telemetry.Setup(context.Background(), res.Telemetry("recorder"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	if !p.Metrics() {
		t.Fatal("metrics are off")
	}
	var builds atomic.Int32
	set, err := gcpfn.NewSet(res, recorderSpec(&recorder{consumed: map[string][]string{}}, &builds))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := set.HTTPHandler("Recorder")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/things/missing", nil))
	if w.Code != 404 {
		t.Fatalf("status %d", w.Code)
	}
	if bad := mon.Refused(); len(bad) > 0 {
		t.Fatalf("the service refused: %v", bad)
	}
	ts := mon.Find(t, telemetry.CloudMonitoringPrefix+telemetry.MetricRequestDuration,
		map[string]string{"http_route": "/v1/things/{id}", "http_response_status_code": "404", "service_name": "recorder"})
	if n := ts.GetPoints()[0].GetValue().GetDistributionValue().GetCount(); n != 1 {
		t.Fatalf("%d requests counted, want 1", n)
	}
	if r := ts.GetResource(); r.GetType() != "generic_task" || r.GetLabels()["job"] != "recorder" {
		t.Fatalf("monitored resource %v", r)
	}
}

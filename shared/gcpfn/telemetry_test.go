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
	"github.com/playplane/playplane/shared/telemetry/googlecloud"
	"github.com/playplane/playplane/shared/telemetry/googlecloud/tokentest"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// TestInvocationMetricsReachCloudMonitoring: configured as the stack
// configures a function (OTEL_METRICS_EXPORTER=googlecloud,
// GOOGLE_CLOUD_PROJECT, OTEL_RESOURCE_ATTRIBUTES with the region), the
// metrics of one HTTP invocation are sent over OTLP to the Telemetry API
// before the entry point returns, which is all Cloud Functions guarantees
// CPU for, with a bearer token of the function's default credentials and
// the project on the resource. The API is a loopback OTLP receiver
// (otlptest) and the token endpoint tokentest's: neither
// telemetry.googleapis.com nor Google's token endpoint is reachable here.
//
// Not parallel: the telemetry Provider is process-wide, the default
// credentials come from the process environment, and this test runs
// before the parallel ones start.
func TestInvocationMetricsReachCloudMonitoring(t *testing.T) {
	const project = "playplane-fn"
	tokens := tokentest.Start(t)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", tokens.CredentialsFile(t, project))
	recv := otlptest.Start(t)
	res := gcpfn.NewResources(gcpfn.Options{
		Lookuper: envconfig.MapLookuper(map[string]string{
			telemetry.EnvMetricsExporter: telemetry.ExporterGoogleCloud, telemetry.EnvGoogleCloudProject: project,
			telemetry.EnvResourceAttributes:       "cloud.region=europe-west1",
			"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": recv.Endpoint() + "/v1/metrics"}),
		Log: slog.New(slog.DiscardHandler),
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
	if bad := tokens.Refused(); len(bad) > 0 {
		t.Fatalf("the token endpoint refused: %v", bad)
	}
	exports, issued := recv.MetricExports(), tokens.Issued()
	if len(exports) != 1 || len(issued) != 1 {
		t.Fatalf("%d exports and %d tokens by the time the entry point returned, want 1 and 1", len(exports), len(issued))
	}
	if got := exports[0].Header.Get("Authorization"); got != "Bearer "+issued[0] {
		t.Errorf("Authorization %q, want the default credentials' token %q", got, issued[0])
	}
	rm := exports[0].Data.GetResourceMetrics()[0]
	for key, want := range map[string]string{googlecloud.ProjectAttribute: project, "cloud.region": "europe-west1", "service.name": "recorder"} {
		if got := otlptest.Attr(rm.GetResource().GetAttributes(), key); got != want {
			t.Errorf("resource %s = %q, want %q", key, got, want)
		}
	}
	var counted uint64
	for _, m := range recv.Metrics(telemetry.MetricRequestDuration) {
		for _, dp := range m.GetHistogram().GetDataPoints() {
			if otlptest.Attr(dp.GetAttributes(), "http.route") == "/v1/things/{id}" && otlptest.Attr(dp.GetAttributes(), "http.response.status_code") == "404" {
				counted += dp.GetCount()
			}
		}
	}
	if counted != 1 {
		t.Fatalf("%d requests counted, want 1", counted)
	}
}

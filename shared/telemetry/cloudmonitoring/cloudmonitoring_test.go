package cloudmonitoring_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"google.golang.org/api/option"
	metricpb "google.golang.org/genproto/googleapis/api/metric"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/cloudmonitoring"
	"github.com/playplane/playplane/shared/telemetry/cloudmonitoring/monitoringtest"
)

func setup(t *testing.T, env map[string]string, clientOpts []option.ClientOption) *telemetry.Provider {
	t.Helper()
	p, err := telemetry.Setup(context.Background(), telemetry.Options{
		Service: "heartbeat", Metrics: telemetry.SinkOTLP, Lookup: envconfig.MapLookuper(env),
		MetricExporters: map[string]telemetry.MetricExporterFunc{telemetry.ExporterGoogleCloud: cloudmonitoring.Exporter(clientOpts...)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

func serve(t *testing.T, pattern, path string, status int) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
	telemetry.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", path, nil), mux)
}

// TestMetricsArriveAsCloudMonitoringTimeSeries: the metrics the functions
// record, flushed as the Cloud Functions glue does after an invocation,
// reach the MetricService as time series of workload.googleapis.com/<name>
// with their attributes as labels, the values recorded, and descriptors
// created first; nothing connects before the flush. The real Cloud
// Monitoring is not reachable from here.
func TestMetricsArriveAsCloudMonitoringTimeSeries(t *testing.T) {
	const project = "playplane-test"
	m := monitoringtest.Start(t, project)
	p := setup(t, map[string]string{telemetry.EnvMetricsExporter: telemetry.ExporterGoogleCloud,
		telemetry.EnvGoogleCloudProject: project}, m.ClientOptions())
	if !p.Metrics() || p.Tracing() {
		t.Fatalf("metrics %v tracing %v, want metrics only", p.Metrics(), p.Tracing())
	}

	ctx := context.Background()
	serve(t, "POST /v1/play", "/v1/play", 201)
	serve(t, "POST /v1/play", "/v1/play", 201)
	serve(t, "POST /v1/play", "/v1/play", 409)
	telemetry.PlayAdmitted(ctx)
	telemetry.PlayAdmitted(ctx)
	telemetry.PlayRefused(ctx, "concurrent_stream_limit")
	telemetry.WebhookLag(ctx, 3*time.Second)
	telemetry.WebhookLag(ctx, 5*time.Second)
	telemetry.InboxBacklog(ctx, "stripe", 4, 1)
	if err := telemetry.LeasesActive(ctx, 7); err != nil {
		t.Fatal(err)
	}
	telemetry.GrantSigned(ctx, "cloudcdn")
	telemetry.Consume(ctx, telemetry.SystemPubSub, "heartbeats", []playback.Message{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		func(context.Context, []playback.Message) []string { return []string{"b"} })
	if n := m.Connections(); n != 0 {
		t.Fatalf("%d connections before the first flush: the exporter is not lazy", n)
	}

	if err := telemetry.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if bad := m.Refused(); len(bad) > 0 {
		t.Fatalf("the service refused: %v", bad)
	}
	typ := func(name string) string { return telemetry.CloudMonitoringPrefix + name }

	cumulative := metricpb.MetricDescriptor_CUMULATIVE
	for _, tc := range []struct {
		name   string
		labels map[string]string
		kind   metricpb.MetricDescriptor_MetricKind
		int64  int64
		count  int64   // distributions
		mean   float64 // distributions
	}{
		{name: telemetry.MetricPlayAdmitted, kind: cumulative, int64: 2},
		{name: telemetry.MetricPlayRefused, labels: map[string]string{"playplane_reason": "concurrent_stream_limit"}, kind: cumulative, int64: 1},
		{name: telemetry.MetricGrantsSigned, labels: map[string]string{"playplane_cdn": "cloudcdn"}, kind: cumulative, int64: 1},
		{name: telemetry.MetricInboxPending, labels: map[string]string{"playplane_source": "stripe"}, kind: metricpb.MetricDescriptor_GAUGE, int64: 4},
		{name: telemetry.MetricInboxParked, labels: map[string]string{"playplane_source": "stripe"}, kind: metricpb.MetricDescriptor_GAUGE, int64: 1},
		{name: telemetry.MetricLeasesActive, kind: metricpb.MetricDescriptor_GAUGE, int64: 7},
		{name: telemetry.MetricQueueRetries, labels: map[string]string{"messaging_system": "gcp_pubsub", "messaging_destination_name": "heartbeats"}, kind: cumulative, int64: 1},
		{name: telemetry.MetricWebhookLag, kind: cumulative, count: 2, mean: 4},
		{name: telemetry.MetricQueueBatchSize, labels: map[string]string{"messaging_destination_name": "heartbeats"}, kind: cumulative, count: 1, mean: 3},
		{name: telemetry.MetricRequestDuration, labels: map[string]string{"http_request_method": "POST", "http_route": "/v1/play", "http_response_status_code": "201"},
			kind: cumulative, count: 2},
		{name: telemetry.MetricRequestDuration, labels: map[string]string{"http_route": "/v1/play", "http_response_status_code": "409"}, kind: cumulative, count: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := m.Find(t, typ(tc.name), tc.labels)
			if ts.GetMetricKind() != tc.kind {
				t.Errorf("kind %v, want %v", ts.GetMetricKind(), tc.kind)
			}
			if ts.GetMetric().GetLabels()["service_name"] != "heartbeat" || ts.GetMetric().GetLabels()["service_instance_id"] == "" {
				t.Errorf("labels %v lack the service and its instance", ts.GetMetric().GetLabels())
			}
			r := ts.GetResource()
			if r.GetType() != "generic_task" || r.GetLabels()["job"] != "heartbeat" || r.GetLabels()["task_id"] != ts.GetMetric().GetLabels()["service_instance_id"] {
				t.Errorf("resource %v: want generic_task, job heartbeat, task_id the instance", r)
			}
			v := ts.GetPoints()[0].GetValue()
			if tc.count > 0 {
				d := v.GetDistributionValue()
				if d.GetCount() != tc.count || (tc.mean > 0 && d.GetMean() != tc.mean) {
					t.Errorf("distribution count %d mean %v, want %d and %v", d.GetCount(), d.GetMean(), tc.count, tc.mean)
				}
			} else if v.GetInt64Value() != tc.int64 {
				t.Errorf("value %v, want %d", v, tc.int64)
			}
			if d, ok := m.Descriptor(typ(tc.name)); !ok || d.GetMetricKind() != tc.kind {
				t.Errorf("descriptor %v, want one of kind %v", d, tc.kind)
			}
		})
	}
	// No dead letters were recorded: a counter never touched has no series.
	for _, ts := range m.Series() {
		if ts.GetMetric().GetType() == typ(telemetry.MetricQueueDead) {
			t.Errorf("a dead-letter series without dead letters: %v", ts)
		}
	}
}

func TestGoogleCloudExporterIsChosenByName(t *testing.T) {
	clientOpts := monitoringtest.Start(t, "p").ClientOptions()
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
		metrics bool
	}{
		{name: "without a project", env: map[string]string{telemetry.EnvMetricsExporter: "googlecloud"}, wantErr: telemetry.EnvGoogleCloudProject},
		{name: "project alone is off", env: map[string]string{telemetry.EnvGoogleCloudProject: "p"}},
		{name: "none", env: map[string]string{telemetry.EnvMetricsExporter: "none", telemetry.EnvGoogleCloudProject: "p"}},
		{name: "googlecloud", env: map[string]string{telemetry.EnvMetricsExporter: " googlecloud ", telemetry.EnvGoogleCloudProject: "p"}, metrics: true},
		{name: "unknown name", env: map[string]string{telemetry.EnvMetricsExporter: "stackdriver", telemetry.EnvGoogleCloudProject: "p"}, wantErr: "googlecloud"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := telemetry.Setup(context.Background(), telemetry.Options{Metrics: telemetry.SinkOTLP, Lookup: envconfig.MapLookuper(tc.env),
				MetricExporters: map[string]telemetry.MetricExporterFunc{telemetry.ExporterGoogleCloud: cloudmonitoring.Exporter(clientOpts...)}})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					_ = p.Shutdown(context.Background())
					t.Fatalf("err %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			if p.Metrics() != tc.metrics {
				t.Fatalf("metrics %v, want %v", p.Metrics(), tc.metrics)
			}
		})
	}
	// A process that does not link the exporter refuses the name.
	if p, err := telemetry.Setup(context.Background(), telemetry.Options{Metrics: telemetry.SinkOTLP,
		Lookup: envconfig.MapLookuper(map[string]string{telemetry.EnvMetricsExporter: "googlecloud", telemetry.EnvGoogleCloudProject: "p"})}); err == nil {
		_ = p.Shutdown(context.Background())
		t.Fatal("Setup without the exporter accepted googlecloud")
	}
}

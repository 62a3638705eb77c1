package cloudmonitoring_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/sethvargo/go-envconfig"
	"google.golang.org/api/option"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/cloudmonitoring"
)

// monitoring is Cloud Monitoring's MetricService as far as the exporter
// uses it, served over gRPC with the API's own protobuf types
// (cloud.google.com/go/monitoring/apiv3/v2/monitoringpb) on loopback. It
// checks what the real service checks on the way in: the project
// resource name, 200 series per request, one point per series, a
// descriptor's type matching its series.
type monitoring struct {
	monitoringpb.UnimplementedMetricServiceServer
	project string

	mu          sync.Mutex
	descriptors map[string]*metricpb.MetricDescriptor // by type
	series      []*monitoringpb.TimeSeries
	requests    int
	bad         []string
}

func (m *monitoring) refuse(format string) error {
	m.bad = append(m.bad, format)
	return status.Error(codes.InvalidArgument, format)
}

func (m *monitoring) GetMetricDescriptor(_ context.Context, req *monitoringpb.GetMetricDescriptorRequest) (*metricpb.MetricDescriptor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	typ, ok := strings.CutPrefix(req.GetName(), "projects/"+m.project+"/metricDescriptors/")
	if !ok {
		return nil, m.refuse("descriptor name " + req.GetName())
	}
	if d, ok := m.descriptors[typ]; ok {
		return d, nil
	}
	return nil, status.Error(codes.NotFound, typ)
}

func (m *monitoring) CreateMetricDescriptor(_ context.Context, req *monitoringpb.CreateMetricDescriptorRequest) (*metricpb.MetricDescriptor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := req.GetMetricDescriptor()
	if req.GetName() != "projects/"+m.project || d.GetType() == "" || d.GetMetricKind() == metricpb.MetricDescriptor_METRIC_KIND_UNSPECIFIED {
		return nil, m.refuse("descriptor " + d.String())
	}
	m.descriptors[d.GetType()] = d
	return d, nil
}

func (m *monitoring) CreateTimeSeries(_ context.Context, req *monitoringpb.CreateTimeSeriesRequest) (*emptypb.Empty, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if req.GetName() != "projects/"+m.project || len(req.GetTimeSeries()) == 0 || len(req.GetTimeSeries()) > 200 {
		return nil, m.refuse("time series request for " + req.GetName())
	}
	for _, ts := range req.GetTimeSeries() {
		if len(ts.GetPoints()) != 1 || ts.GetResource().GetType() == "" {
			return nil, m.refuse("series " + ts.String())
		}
		if d, ok := m.descriptors[ts.GetMetric().GetType()]; ok && d.GetMetricKind() != ts.GetMetricKind() {
			return nil, m.refuse("series kind differs from its descriptor: " + ts.String())
		}
	}
	m.series = append(m.series, req.GetTimeSeries()...)
	return &emptypb.Empty{}, nil
}

// find returns the series of one metric type whose labels include want.
func (m *monitoring) find(t *testing.T, typ string, want map[string]string) *monitoringpb.TimeSeries {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var types []string
	for _, ts := range m.series {
		types = append(types, ts.GetMetric().GetType())
		if ts.GetMetric().GetType() != typ {
			continue
		}
		match := true
		for k, v := range want {
			if ts.GetMetric().GetLabels()[k] != v {
				match = false
			}
		}
		if match {
			return ts
		}
	}
	slices.Sort(types)
	t.Fatalf("no series %s with labels %v; got %v", typ, want, slices.Compact(types))
	return nil
}

// start serves the MetricService on loopback until the test ends and
// returns the client options that point the exporter at it, and a count
// of the connections the server accepted.
func start(t *testing.T, project string) (*monitoring, []option.ClientOption, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := &atomic.Int32{}
	srv := grpc.NewServer()
	m := &monitoring{project: project, descriptors: map[string]*metricpb.MetricDescriptor{}}
	monitoringpb.RegisterMetricServiceServer(srv, m)
	go func() { _ = srv.Serve(countingListener{l, accepted}) }()
	t.Cleanup(srv.Stop)
	return m, []option.ClientOption{
		option.WithEndpoint(l.Addr().String()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}, accepted
}

type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

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
	m, clientOpts, accepted := start(t, project)
	p := setup(t, map[string]string{telemetry.EnvMetricsExporter: telemetry.ExporterGoogleCloud,
		telemetry.EnvGoogleCloudProject: project}, clientOpts)
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
	telemetry.GrantSigned(ctx, "cloudcdn")
	telemetry.Consume(ctx, telemetry.SystemPubSub, "heartbeats", []playback.Message{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		func(context.Context, []playback.Message) []string { return []string{"b"} })
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections before the first flush: the exporter is not lazy", n)
	}

	if err := telemetry.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(m.bad) > 0 {
		t.Fatalf("the service refused: %v", m.bad)
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
		{name: telemetry.MetricQueueRetries, labels: map[string]string{"messaging_system": "gcp_pubsub", "messaging_destination_name": "heartbeats"}, kind: cumulative, int64: 1},
		{name: telemetry.MetricWebhookLag, kind: cumulative, count: 2, mean: 4},
		{name: telemetry.MetricQueueBatchSize, labels: map[string]string{"messaging_destination_name": "heartbeats"}, kind: cumulative, count: 1, mean: 3},
		{name: telemetry.MetricRequestDuration, labels: map[string]string{"http_request_method": "POST", "http_route": "/v1/play", "http_response_status_code": "201"},
			kind: cumulative, count: 2},
		{name: telemetry.MetricRequestDuration, labels: map[string]string{"http_route": "/v1/play", "http_response_status_code": "409"}, kind: cumulative, count: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := m.find(t, typ(tc.name), tc.labels)
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
			m.mu.Lock()
			d, ok := m.descriptors[typ(tc.name)]
			m.mu.Unlock()
			if !ok || d.GetMetricKind() != tc.kind {
				t.Errorf("descriptor %v, want one of kind %v", d, tc.kind)
			}
		})
	}
	// No dead letters were recorded: a counter never touched has no series.
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ts := range m.series {
		if ts.GetMetric().GetType() == typ(telemetry.MetricQueueDead) {
			t.Errorf("a dead-letter series without dead letters: %v", ts)
		}
	}
}

func TestGoogleCloudExporterIsChosenByName(t *testing.T) {
	_, clientOpts, _ := start(t, "p")
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

package googlecloud_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/auth"
	"github.com/sethvargo/go-envconfig"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/googlecloud"
	"github.com/playplane/playplane/shared/telemetry/googlecloud/tokentest"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

const project = "playplane-test"

// env is the environment the stack gives a function, with the metrics
// endpoint pointed at recv.
func env(recv *otlptest.Receiver) map[string]string {
	return map[string]string{
		telemetry.EnvMetricsExporter:          telemetry.ExporterGoogleCloud,
		telemetry.EnvGoogleCloudProject:       project,
		telemetry.EnvResourceAttributes:       "cloud.region=europe-west1",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": recv.Endpoint() + "/v1/metrics",
	}
}

func setup(t *testing.T, env map[string]string, creds googlecloud.Credentials) *telemetry.Provider {
	t.Helper()
	p, err := telemetry.Setup(context.Background(), telemetry.Options{
		Service: "heartbeat", Metrics: telemetry.SinkOTLP, Lookup: envconfig.MapLookuper(env),
		MetricExporters: map[string]telemetry.MetricExporterFunc{telemetry.ExporterGoogleCloud: googlecloud.Exporter(creds)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

// Names the Telemetry API takes; it refuses the others
// (https://docs.cloud.google.com/stackdriver/docs/otlp-metrics/overview).
var (
	metricName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_:./]*$`)
	labelKey   = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.]*$`)
)

// TestMetricsReachTheTelemetryAPI: configured as the stack configures a
// function, the metrics recorded are sent on the first flush as OTLP/HTTP
// protobuf (decoded by the receiver with the protocol's official types)
// with the bearer token Google's auth library fetched with the
// application default credentials (a service account key file whose
// token endpoint is tokentest's: the library signs the grant, the
// endpoint checks it) for the cloud-platform scope, on a resource naming
// the project, the region, the job and the instance. Nothing is fetched
// or sent before the flush. Neither telemetry.googleapis.com nor Google's
// token endpoint is reachable here.
//
// Not parallel: the default credentials are found through the process
// environment (GOOGLE_APPLICATION_CREDENTIALS), as on a developer's
// machine.
func TestMetricsReachTheTelemetryAPI(t *testing.T) {
	tokens := tokentest.Start(t)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", tokens.CredentialsFile(t, project))
	recv := otlptest.Start(t)
	p := setup(t, env(recv), nil)
	if !p.Metrics() || p.Tracing() {
		t.Fatalf("metrics %v tracing %v, want metrics only", p.Metrics(), p.Tracing())
	}

	ctx := context.Background()
	serve(201)
	serve(409)
	telemetry.PlayAdmitted(ctx)
	telemetry.PlayAdmitted(ctx)
	telemetry.PlayRefused(ctx, "concurrent_stream_limit")
	telemetry.WebhookLag(ctx, 3*time.Second)
	telemetry.WebhookLag(ctx, 5*time.Second)
	telemetry.InboxBacklog(ctx, "stripe", 4, map[string]int{"retry": 1})
	if err := telemetry.LeasesActive(ctx, 7); err != nil {
		t.Fatal(err)
	}
	telemetry.GrantSigned(ctx, "cloudcdn")
	telemetry.Consume(ctx, telemetry.SystemPubSub, "heartbeats", []playback.Message{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		func(context.Context, []playback.Message) []string { return []string{"b"} })
	if n, m := len(tokens.Issued()), len(recv.MetricExports()); n != 0 || m != 0 {
		t.Fatalf("%d tokens fetched and %d exports before the first flush: the exporter is not lazy", n, m)
	}

	if err := telemetry.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if bad := tokens.Refused(); len(bad) > 0 {
		t.Fatalf("the token endpoint refused: %v", bad)
	}
	issued := tokens.Issued()
	exports := recv.MetricExports()
	if len(issued) != 1 || len(exports) != 1 {
		t.Fatalf("%d tokens, %d exports; want 1 and 1", len(issued), len(exports))
	}
	if !strings.HasSuffix(issued[0], "-"+googlecloud.Scope) {
		t.Errorf("token %q was granted for another scope than %s", issued[0], googlecloud.Scope)
	}
	if got := exports[0].Header.Get("Authorization"); got != "Bearer "+issued[0] {
		t.Errorf("Authorization %q, want the bearer token the endpoint issued (%q)", got, issued[0])
	}
	if got := exports[0].Header.Get("Content-Type"); got != "application/x-protobuf" {
		t.Errorf("Content-Type %q", got)
	}
	rms := exports[0].Data.GetResourceMetrics()
	if len(rms) != 1 {
		t.Fatalf("%d resources", len(rms))
	}
	attrs := rms[0].GetResource().GetAttributes()
	for key, want := range map[string]string{googlecloud.ProjectAttribute: project, "cloud.region": "europe-west1", "service.name": "heartbeat"} {
		if got := otlptest.Attr(attrs, key); got != want {
			t.Errorf("resource %s = %q, want %q", key, got, want)
		}
	}
	if otlptest.Attr(attrs, "service.instance.id") == "" {
		t.Error("no service.instance.id: the Telemetry API refuses a point without an instance")
	}

	for _, sm := range rms[0].GetScopeMetrics() {
		for _, m := range sm.GetMetrics() {
			if !metricName.MatchString(m.GetName()) {
				t.Errorf("metric name %q: the Telemetry API refuses it", m.GetName())
			}
			for _, kv := range pointAttrs(m) {
				if !labelKey.MatchString(kv.GetKey()) {
					t.Errorf("%s: attribute %q: the Telemetry API refuses it", m.GetName(), kv.GetKey())
				}
			}
		}
	}
	last := func(name string) *metricpb.Metric {
		ms := recv.Metrics(name)
		if len(ms) == 0 {
			t.Fatalf("no %s received", name)
		}
		return ms[len(ms)-1]
	}
	if v := last(telemetry.MetricPlayAdmitted).GetSum().GetDataPoints()[0].GetAsInt(); v != 2 {
		t.Errorf("%s = %d, want 2", telemetry.MetricPlayAdmitted, v)
	}
	if s := last(telemetry.MetricPlayAdmitted).GetSum(); !s.GetIsMonotonic() || s.GetAggregationTemporality() != metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
		t.Errorf("%s: monotonic %v, temporality %v: want a cumulative counter", telemetry.MetricPlayAdmitted, s.GetIsMonotonic(), s.GetAggregationTemporality())
	}
	if h := last(telemetry.MetricWebhookLag).GetHistogram().GetDataPoints()[0]; h.GetCount() != 2 || h.GetSum() != 8 {
		t.Errorf("%s: count %d sum %v, want 2 and 8", telemetry.MetricWebhookLag, h.GetCount(), h.GetSum())
	}
	if v := last(telemetry.MetricLeasesActive).GetGauge().GetDataPoints()[0].GetAsInt(); v != 7 {
		t.Errorf("%s = %d, want 7", telemetry.MetricLeasesActive, v)
	}
	if n := len(recv.Metrics(telemetry.MetricRequestDuration)); n == 0 {
		t.Errorf("no %s", telemetry.MetricRequestDuration)
	}

	// The glue flushes after every invocation: the next ones inside
	// MinInterval send nothing and fetch no token.
	telemetry.PlayAdmitted(ctx)
	if err := telemetry.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, m := len(tokens.Issued()), len(recv.MetricExports()); n != 1 || m != 1 {
		t.Fatalf("after a second flush: %d tokens, %d exports; want 1 and 1", n, m)
	}
}

// serve answers one POST /v1/play with status through telemetry's
// middleware.
func serve(status int) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/play", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })
	telemetry.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/play", nil), mux)
}

func pointAttrs(m *metricpb.Metric) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for _, p := range m.GetSum().GetDataPoints() {
		out = append(out, p.GetAttributes()...)
	}
	for _, p := range m.GetGauge().GetDataPoints() {
		out = append(out, p.GetAttributes()...)
	}
	for _, p := range m.GetHistogram().GetDataPoints() {
		out = append(out, p.GetAttributes()...)
	}
	return out
}

// TestCredentialsFailureIsTriedAgainLater: the credentials are looked up
// on the first flush, not before; without them the flush fails and sends
// nothing, and the flushes of the next invocations inside MinInterval
// neither look them up again nor fail
// (TestFailedExportWaitsMinInterval: the first flush after it does).
func TestCredentialsFailureIsTriedAgainLater(t *testing.T) {
	recv := otlptest.Start(t)
	var calls atomic.Int32
	p := setup(t, env(recv), func(context.Context) (*auth.Credentials, error) {
		calls.Add(1)
		return nil, errors.New("no credentials here")
	})
	telemetry.PlayAdmitted(context.Background())
	if n := calls.Load(); n != 0 {
		t.Fatalf("credentials looked up %d times before the first flush", n)
	}
	if err := p.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "no credentials here") {
		t.Fatalf("first flush: err %v, want the credentials' error", err)
	}
	if err := p.Flush(context.Background()); err != nil || calls.Load() != 1 {
		t.Fatalf("second flush: err %v, credentials looked up %d times; want nil and 1", err, calls.Load())
	}
	if n := len(recv.MetricExports()); n != 0 {
		t.Fatalf("%d exports without credentials", n)
	}
}

func TestGoogleCloudExporterIsChosenByName(t *testing.T) {
	creds := func(context.Context) (*auth.Credentials, error) { return nil, errors.New("not asked") }
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
				MetricExporters: map[string]telemetry.MetricExporterFunc{telemetry.ExporterGoogleCloud: googlecloud.Exporter(creds)}})
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
			defer func() { _ = p.Shutdown(context.Background()) }() // its flush fails: no credentials
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

// TestOnlyTheCloudFunctionsUnitsLinkIt: the Lambda mains write EMF lines
// and must not carry Google's credentials code; every Cloud Functions
// deploy unit must, or googlecloud would be refused there. A unit's
// generated root file imports its function and functions/gcp/unit
// (functions/gcp/source), so unit is what every deployed function links.
func TestOnlyTheCloudFunctionsUnitsLinkIt(t *testing.T) {
	t.Parallel()
	const module = "github.com/playplane/playplane/"
	const this = module + "shared/telemetry/googlecloud"
	mains := map[string]bool{module + "functions/gcp/unit": true}
	for _, fn := range catalog.Functions {
		for _, store := range []string{catalog.StoreDynamo, catalog.StoreFirestore} {
			main := catalog.LambdaMain(fn.Name, store)
			if _, err := os.Stat(filepath.Join("..", "..", "..", main)); err == nil {
				mains[module+main] = false
			}
		}
	}
	args := []string{"list", "-f", `{{.ImportPath}} {{join .Deps " "}}`}
	for m := range mains {
		args = append(args, m)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(mains) || len(mains) < 3 {
		t.Fatalf("go list answered %d packages for %d mains", len(lines), len(mains))
	}
	for _, line := range lines {
		pkg, deps, _ := strings.Cut(line, " ")
		links := strings.Contains(" "+deps+" ", " "+this+" ")
		if links != mains[pkg] {
			t.Errorf("%s links %s: %v, want %v", pkg, this, links, mains[pkg])
		}
	}
}

// TestShutdownSendsWhatTheIntervalHeldBack: what invocations record after
// an export, inside MinInterval, is held back for a later export; when
// the Provider shuts down nothing comes later, so its flush goes
// regardless and the API gets the totals.
//
// Not parallel: default credentials through the process environment.
func TestShutdownSendsWhatTheIntervalHeldBack(t *testing.T) {
	tokens := tokentest.Start(t)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", tokens.CredentialsFile(t, project))
	recv := otlptest.Start(t)
	p := setup(t, env(recv), nil)
	ctx := context.Background()
	telemetry.PlayAdmitted(ctx)
	if err := telemetry.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	telemetry.PlayAdmitted(ctx)
	telemetry.PlayAdmitted(ctx)
	if err := telemetry.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(recv.MetricExports()); n != 1 {
		t.Fatalf("%d exports before shutdown, want 1 (the second flush is inside MinInterval)", n)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ms := recv.Metrics(telemetry.MetricPlayAdmitted)
	if len(recv.MetricExports()) != 2 || len(ms) == 0 {
		t.Fatalf("%d exports after shutdown, want 2", len(recv.MetricExports()))
	}
	if v := ms[len(ms)-1].GetSum().GetDataPoints()[0].GetAsInt(); v != 3 {
		t.Fatalf("%s = %d in the last export, want 3", telemetry.MetricPlayAdmitted, v)
	}
}

// TestCollectorHeadersStayWithTheCollector: OTEL_EXPORTER_OTLP_HEADERS
// (and its _METRICS_ form) carry what the spans' collector needs, often
// its API key; the SDK's OTLP exporter reads them from the process
// environment itself, and they must not travel to Google's API.
//
// Not parallel: the process environment.
func TestCollectorHeadersStayWithTheCollector(t *testing.T) {
	for _, tc := range []struct {
		name, env, header string
	}{
		{name: "general", env: "OTEL_EXPORTER_OTLP_HEADERS", header: "X-Collector-Key"},
		{name: "metrics", env: "OTEL_EXPORTER_OTLP_METRICS_HEADERS", header: "X-Metrics-Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokens := tokentest.Start(t)
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", tokens.CredentialsFile(t, project))
			t.Setenv(tc.env, tc.header+"=secret")
			recv := otlptest.Start(t)
			p := setup(t, env(recv), nil)
			telemetry.PlayAdmitted(context.Background())
			if err := telemetry.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			_ = p.Shutdown(context.Background())
			exports := recv.MetricExports()
			if len(exports) == 0 {
				t.Fatal("nothing exported")
			}
			if v := exports[0].Header.Get(tc.header); v != "" {
				t.Errorf("the request to the Telemetry API carries the collector's %s (%s): %q", tc.header, tc.env, v)
			}
		})
	}
}

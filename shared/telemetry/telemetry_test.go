package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// The tests of this package are sequential: a Provider is process-wide
// (the hooks read one atomic pointer), as OpenTelemetry's globals are.

func setup(t *testing.T, opts telemetry.Options, env map[string]string) *telemetry.Provider {
	t.Helper()
	opts.Lookup = envconfig.MapLookuper(env)
	p, err := telemetry.Setup(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

// serve sends one request through ServeHTTP to a mux route, as
// httpx.Middleware does.
func serve(t *testing.T, method, pattern, path string, status int) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
	rec := httptest.NewRecorder()
	telemetry.ServeHTTP(rec, httptest.NewRequest(method, path, nil), mux)
	if rec.Code != status {
		t.Fatalf("%s %s: %d", method, path, rec.Code)
	}
}

func record(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	serve(t, "POST", "POST /v1/play", "/v1/play", 201)
	serve(t, "POST", "POST /v1/play", "/v1/play", 409)
	telemetry.PlayAdmitted(ctx)
	telemetry.PlayRefused(ctx, "concurrent_stream_limit")
	telemetry.WebhookLag(ctx, 3*time.Second)
	telemetry.InboxBacklog(ctx, "stripe", 2, map[string]int{"retry": 1, "customer": 4})
	if err := telemetry.LeasesActive(ctx, 3); err != nil {
		t.Fatal(err)
	}
	telemetry.GrantSigned(ctx, "cloudfront")
	telemetry.DeadLettered(ctx, telemetry.SystemLocal, "heartbeats", 1)
	retry := telemetry.Consume(ctx, telemetry.SystemLocal, "heartbeats",
		[]playback.Message{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		func(context.Context, []playback.Message) []string { return []string{"b"} })
	if !slices.Equal(retry, []string{"b"}) {
		t.Fatalf("Consume returned %v, the handler's [b]", retry)
	}
}

// cloudWatchUnits are the units the EMF specification allows.
var cloudWatchUnits = map[string]bool{"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true,
	"Kilobytes": true, "Megabytes": true, "Gigabytes": true, "Terabytes": true, "Bits": true, "Kilobits": true,
	"Megabits": true, "Gigabits": true, "Terabits": true, "Percent": true, "Count": true, "Bytes/Second": true,
	"Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true, "Terabytes/Second": true,
	"Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true, "Gigabits/Second": true,
	"Terabits/Second": true, "Count/Second": true, "None": true}

// checkEMF holds one line to the Embedded Metric Format specification
// (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
// a JSON object whose _aws member has an integer Timestamp (ms) and
// CloudWatchMetrics, directives of Namespace, Dimensions (arrays of at most
// 30 member names, each a string member of the root) and 1-100 Metrics
// (Name, optional Unit from the list) whose values are root members: a
// number or an array of at most 100 numbers. It returns the values by
// metric name and the dimensions.
func checkEMF(t *testing.T, line []byte) (map[string]any, map[string]string) {
	t.Helper()
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		t.Fatalf("EMF line is not a JSON object: %v\n%s", err, line)
	}
	var meta struct {
		Timestamp         *json.Number `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  *string    `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name *string `json:"Name"`
				Unit *string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	dec := json.NewDecoder(bytes.NewReader(root["_aws"]))
	dec.UseNumber()
	if err := dec.Decode(&meta); err != nil {
		t.Fatalf("_aws: %v\n%s", err, line)
	}
	if meta.Timestamp == nil {
		t.Fatalf("_aws.Timestamp missing\n%s", line)
	}
	if ms, err := meta.Timestamp.Int64(); err != nil || ms < time.Now().Add(-time.Hour).UnixMilli() {
		t.Fatalf("_aws.Timestamp %s is not epoch milliseconds\n%s", meta.Timestamp, line)
	}
	if len(meta.CloudWatchMetrics) == 0 {
		t.Fatalf("no CloudWatchMetrics directive\n%s", line)
	}
	values := map[string]any{}
	dims := map[string]string{}
	for _, d := range meta.CloudWatchMetrics {
		if d.Namespace == nil || *d.Namespace != telemetry.Namespace {
			t.Fatalf("Namespace %v, want %q\n%s", d.Namespace, telemetry.Namespace, line)
		}
		if d.Dimensions == nil {
			t.Fatalf("Dimensions missing\n%s", line)
		}
		for _, set := range d.Dimensions {
			if len(set) > 30 {
				t.Fatalf("a dimension set of %d names, EMF allows 30\n%s", len(set), line)
			}
			for _, name := range set {
				var v string
				if err := json.Unmarshal(root[name], &v); err != nil {
					t.Fatalf("dimension %q is not a string member of the root: %v\n%s", name, err, line)
				}
				dims[name] = v
			}
		}
		if len(d.Metrics) == 0 || len(d.Metrics) > 100 {
			t.Fatalf("%d metrics in a directive, EMF allows 1-100\n%s", len(d.Metrics), line)
		}
		for _, m := range d.Metrics {
			if m.Name == nil || *m.Name == "" {
				t.Fatalf("a metric without Name\n%s", line)
			}
			if m.Unit != nil && !cloudWatchUnits[*m.Unit] {
				t.Fatalf("metric %s has unit %q, not a CloudWatch unit\n%s", *m.Name, *m.Unit, line)
			}
			raw, ok := root[*m.Name]
			if !ok {
				t.Fatalf("metric %s has no member holding its value\n%s", *m.Name, line)
			}
			var num float64
			var arr []float64
			switch {
			case json.Unmarshal(raw, &num) == nil:
				values[*m.Name] = num
			case json.Unmarshal(raw, &arr) == nil && len(arr) > 0 && len(arr) <= 100:
				values[*m.Name] = arr
			default:
				t.Fatalf("metric %s value %s is neither a number nor 1-100 numbers\n%s", *m.Name, raw, line)
			}
		}
	}
	return values, dims
}

func TestEMFLinesFollowTheSpecification(t *testing.T) {
	var out bytes.Buffer
	p := setup(t, telemetry.Options{Service: "test", Metrics: telemetry.SinkEMF, EMFOut: &out}, nil)
	if p.Tracing() {
		t.Fatal("tracing on without an exporter configured")
	}
	record(t)
	if err := telemetry.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	found := map[string]any{}
	var routes []string
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		values, dims := checkEMF(t, line)
		for name, v := range values {
			key := name
			if r, ok := dims["http.route"]; ok {
				key += " " + r + " " + dims["http.response.status_code"]
				routes = append(routes, key)
			}
			if reason, ok := dims["playplane.reason"]; ok {
				key += " " + reason
			}
			found[key] = v
		}
	}
	want := map[string]any{
		telemetry.MetricPlayAdmitted:                             1.0,
		telemetry.MetricPlayRefused + " concurrent_stream_limit": 1.0,
		telemetry.MetricWebhookLag:                               []float64{3}, // one observation: exact
		telemetry.MetricInboxPending:                             2.0,
		telemetry.MetricInboxParked + " retry":                   1.0,
		telemetry.MetricInboxParked + " customer":                4.0,
		telemetry.MetricLeasesActive:                             3.0,
		telemetry.MetricGrantsSigned:                             1.0,
		telemetry.MetricQueueDead:                                1.0,
		telemetry.MetricQueueRetries:                             1.0,
		telemetry.MetricQueueBatchSize:                           []float64{3},
	}
	for name, v := range want {
		if got := fmt.Sprint(found[name]); got != fmt.Sprint(v) {
			t.Errorf("%s = %s, want %v (lines:\n%s)", name, got, v, out.String())
		}
	}
	slices.Sort(routes)
	if !slices.Equal(routes, []string{telemetry.MetricRequestDuration + " /v1/play 201", telemetry.MetricRequestDuration + " /v1/play 409"}) {
		t.Errorf("request durations by route: %q", routes)
	}

	// Each line holds what happened since the last flush: counters,
	// histograms and gauges that saw nothing are left out. CloudWatch
	// takes every line as samples of its period (SampleCount, Sum,
	// Average): a gauge written again would be a count nobody made.
	out.Reset()
	if err := telemetry.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		values, _ := checkEMF(t, line)
		for name := range values {
			t.Errorf("a flush with nothing measured since the last writes %s: %s", name, line)
		}
	}
}

func TestPrometheusExpositionParses(t *testing.T) {
	p := setup(t, telemetry.Options{Service: "test", Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New}, nil)
	record(t)
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, rec.Body)
	}
	for _, name := range []string{"http_server_request_duration_seconds", "playplane_play_admitted_total", "playplane_play_refused_total",
		"playplane_webhook_lag_seconds", "playplane_inbox_pending", "playplane_inbox_parked", "playplane_leases_active", "playplane_queue_batch_size",
		"playplane_queue_retries_total", "playplane_queue_dead_letters_total", "playplane_grants_signed_total"} {
		if families[name] == nil {
			t.Errorf("no family %s in\n%s", name, rec.Body)
		}
	}
	if f := families["playplane_webhook_lag_seconds"]; f != nil {
		if h := f.GetMetric()[0].GetHistogram(); h.GetSampleCount() != 1 || h.GetSampleSum() != 3 {
			t.Errorf("webhook lag: count %d sum %v, want 1 and 3", h.GetSampleCount(), h.GetSampleSum())
		}
	}
	if f := families["playplane_inbox_parked"]; f != nil {
		// One series per kind of wait, by playplane.reason.
		parked := map[string]float64{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "playplane_reason" {
					parked[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
		if len(parked) != 2 || parked["retry"] != 1 || parked["customer"] != 4 {
			t.Errorf("parked series by playplane_reason %v, want retry 1 and customer 4", parked)
		}
	}
	if f := families["http_server_request_duration_seconds"]; f != nil {
		var labels []string
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				if strings.HasPrefix(l.GetName(), "http_") {
					ls = append(ls, l.GetName()+"="+l.GetValue())
				}
			}
			labels = append(labels, strings.Join(ls, ","))
		}
		slices.Sort(labels)
		want := []string{"http_request_method=POST,http_response_status_code=201,http_route=/v1/play",
			"http_request_method=POST,http_response_status_code=409,http_route=/v1/play"}
		if !slices.Equal(labels, want) {
			t.Errorf("request duration series %q, want %q", labels, want)
		}
	}
}

// TestServerSpansJoinTheCallersTrace exports over OTLP/HTTP to a receiver
// decoding the wire protocol, and finds the request's span in the trace
// of the caller's traceparent, named after its route, and a publish and a
// consume in the same trace.
func TestServerSpansJoinTheCallersTrace(t *testing.T) {
	recv := otlptest.Start(t)
	p := setup(t, telemetry.Options{Service: "test", Metrics: telemetry.SinkNone}, recv.Env())
	if !p.Tracing() || p.Metrics() {
		t.Fatalf("tracing %v metrics %v, want spans only", p.Tracing(), p.Metrics())
	}
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	var published playback.Message
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/playback/{id}/heartbeat", func(w http.ResponseWriter, r *http.Request) {
		ctx, end := telemetry.StartPublish(r.Context(), telemetry.SystemLocal, "heartbeats", 1)
		tc, more := telemetry.MessageTrace(ctx)
		published = playback.Message{ID: "m1", Trace: tc, Attributes: telemetry.WithCarrier(map[string]string{"k": "v"}, more)}
		end(nil)
		w.WriteHeader(http.StatusAccepted)
	})
	req := httptest.NewRequest("POST", "/v1/playback/ses_1/heartbeat", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	telemetry.ServeHTTP(httptest.NewRecorder(), req, mux)
	if published.Attributes["k"] != "v" || !strings.Contains(published.Trace.TraceParent(), traceID) {
		t.Fatalf("published %+v: want the message's own attributes and the trace's traceparent", published)
	}
	telemetry.Consume(context.Background(), telemetry.SystemLocal, "heartbeats", []playback.Message{published},
		func(context.Context, []playback.Message) []string { return nil })
	if err := telemetry.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := recv.Trace(traceID)
	if err := otlptest.Chain(spans, "/v1/playback/{id}/heartbeat", "heartbeats"); err != nil {
		t.Fatal(err)
	}
	for _, s := range spans {
		if s.GetName() == "POST /v1/playback/{id}/heartbeat" && fmt.Sprintf("%x", s.GetParentSpanId()) != "00f067aa0ba902b7" {
			t.Errorf("server span's parent %x, want the caller's 00f067aa0ba902b7", s.GetParentSpanId())
		}
	}
}

// TestNothingConfiguredIsOff: no OTEL_* variables, no metrics sink: no
// provider, and the hooks pass straight through.
func TestNothingConfiguredIsOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		sink telemetry.Sink
	}{
		{name: "empty", env: nil, sink: telemetry.SinkOTLP},
		{name: "exporters none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",
			"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}, sink: telemetry.SinkOTLP},
		{name: "sdk disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
			sink: telemetry.SinkPrometheus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := setup(t, telemetry.Options{Metrics: tc.sink}, tc.env)
			if p.Tracing() || p.Metrics() {
				t.Fatalf("tracing %v metrics %v with %v", p.Tracing(), p.Metrics(), tc.env)
			}
			if c := telemetry.Carrier(context.Background()); c != nil {
				t.Fatalf("carrier %v while off", c)
			}
		})
	}
}

func TestUnsupportedConfigurationIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		sink telemetry.Sink
	}{
		{name: "zipkin exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}},
		{name: "grpc protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}},
		// The sink's reader is linked only where asked for (promsink.New).
		{name: "prometheus sink without its reader", sink: telemetry.SinkPrometheus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := telemetry.Options{Metrics: tc.sink, Lookup: envconfig.MapLookuper(tc.env)}
			if p, err := telemetry.Setup(context.Background(), opts); err == nil {
				_ = p.Shutdown(context.Background())
				t.Fatalf("Setup accepted %v", tc.env)
			}
		})
	}
}

// TestBadSamplerTurnsOnlyTracingOff: a sampler Setup cannot use costs the
// traces, not the metrics (Lambda's EMF lines, the leases gauge), which a
// Setup error would turn off with them; CheckSampler, which infra/stack
// runs on the configured values, refuses the same values.
func TestBadSamplerTurnsOnlyTracingOff(t *testing.T) {
	for _, tc := range []struct{ name, sampler, arg string }{
		{name: "unknown sampler", sampler: "sometimes"},
		{name: "ratio above 1", sampler: "parentbased_traceidratio", arg: "2"},
		{name: "ratio not a number", sampler: "traceidratio", arg: "1%"},
		{name: "negative ratio", sampler: "traceidratio", arg: "-0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := telemetry.CheckSampler(tc.sampler, tc.arg); err == nil {
				t.Errorf("CheckSampler(%q, %q) accepted it", tc.sampler, tc.arg)
			}
			var emf bytes.Buffer
			p := setup(t, telemetry.Options{Metrics: telemetry.SinkEMF, EMFOut: &emf}, map[string]string{
				"OTEL_TRACES_EXPORTER": "otlp", telemetry.EnvTracesSampler: tc.sampler, telemetry.EnvTracesSamplerArg: tc.arg})
			if p.Tracing() || !p.Metrics() {
				t.Fatalf("tracing %v metrics %v, want metrics only", p.Tracing(), p.Metrics())
			}
			telemetry.PlayRefused(context.Background(), "stream_limit")
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(emf.String(), telemetry.MetricPlayRefused) {
				t.Errorf("EMF output %q lacks %s", emf.String(), telemetry.MetricPlayRefused)
			}
		})
	}
	for _, tc := range []struct{ sampler, arg string }{{"", ""}, {"parentbased_traceidratio", "0.01"}, {"always_off", ""}, {"TraceIdRatio", " 1 "}} {
		if err := telemetry.CheckSampler(tc.sampler, tc.arg); err != nil {
			t.Errorf("CheckSampler(%q, %q): %v", tc.sampler, tc.arg, err)
		}
	}
}

// TestEnvNamesAreConfigTags: the names the stacks set (infra/stack takes
// them from the constants) are the ones Setup reads.
func TestEnvNamesAreConfigTags(t *testing.T) {
	tags := map[string]bool{}
	typ := reflect.TypeFor[telemetry.Config]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("env"), ",")
		tags[name] = true
	}
	// The catalogue (stdlib only, so it spells them itself) sets the
	// heartbeat function's sampler by these names.
	for _, name := range []string{telemetry.EnvMetricsExporter, telemetry.EnvGoogleCloudProject, telemetry.EnvResourceAttributes, telemetry.EnvTracesSampler, telemetry.EnvTracesSamplerArg,
		catalog.SettingTracesSampler, catalog.SettingTracesSamplerArg} {
		if !tags[name] {
			t.Errorf("%s is no env tag of telemetry.Config", name)
		}
	}
}

// TestSDKDisabledIsTrueOnlyForTrue: OTEL_SDK_DISABLED is a boolean
// variable, which the specification makes true only for the
// case-insensitive "true"; any other value (1, yes, a typo) is false,
// with a warning, never an error that turns every signal off.
func TestSDKDisabledIsTrueOnlyForTrue(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		off         bool
	}{
		{name: "true", value: "true", off: true},
		{name: "TRUE", value: "TRUE", off: true},
		{name: "false", value: "false"},
		{name: "one", value: "1"},
		{name: "t", value: "t"},
		{name: "yes", value: "yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := telemetry.Options{Metrics: telemetry.SinkEMF, Lookup: envconfig.MapLookuper(map[string]string{"OTEL_SDK_DISABLED": tc.value})}
			p, err := telemetry.Setup(context.Background(), opts)
			if err != nil {
				t.Fatalf("OTEL_SDK_DISABLED=%q: %v", tc.value, err)
			}
			defer func() { _ = p.Shutdown(context.Background()) }()
			if p.Metrics() == tc.off {
				t.Fatalf("OTEL_SDK_DISABLED=%q: metrics on %v, want %v", tc.value, p.Metrics(), !tc.off)
			}
		})
	}
}

package gcpfn_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sethvargo/go-envconfig"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
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
// the project and the platform on the resource (cloud.*, faas.name and
// faas.version from the variables Cloud Run sets). The API is a loopback OTLP receiver
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
			"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": recv.Endpoint() + "/v1/metrics",
			// What Cloud Run sets on a 2nd gen function's service, and
			// the buildpack on a function.
			"K_SERVICE": "recorder", "K_REVISION": "recorder-00007-abc", "K_CONFIGURATION": "recorder", "FUNCTION_TARGET": "Recorder"}),
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
	// cloud.platform gcp_cloud_functions, not gcp_cloud_run: the Telemetry
	// API files only the latter under prometheus_target cluster "__run__",
	// so the series keep the labels they had before the platform was set.
	for key, want := range map[string]string{googlecloud.ProjectAttribute: project, "cloud.region": "europe-west1", "service.name": "recorder",
		"cloud.provider": "gcp", "cloud.platform": "gcp_cloud_functions", "faas.name": "recorder", "faas.version": "recorder-00007-abc"} {
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

// TestRequestLogsLinkToTheExportedSpan: configured as the stack configures
// a function (GOOGLE_CLOUD_PROJECT, spans over OTLP) and logging as Cloud
// Functions has it (the default logger, on stdout), a request that came
// through Google's load balancer, with both traceparent and
// X-Cloud-Trace-Context, logs lines that Cloud Logging links to the span
// exported for it: logging.googleapis.com/trace names the trace of the
// traceparent (Google's advice: traceparent first) in the project,
// logging.googleapis.com/spanId the exported server span, and trace_sampled
// its sampling; trace_id, the field every platform's lines carry, names
// the same trace. With X-Cloud-Trace-Context alone that header's trace is
// the span's and the lines'.
//
// Not parallel: the telemetry Provider is process-wide, and stdout is
// swapped while the resources make their logger.
func TestRequestLogsLinkToTheExportedSpan(t *testing.T) {
	const project = "playplane-fn"
	const w3cTrace, googleTrace = "4bf92f3577b34da6a3ce929d0e0e4736", "105445aa7843bc8bf206b12000100000"
	for _, tc := range []struct {
		name      string
		headers   map[string]string
		wantTrace string
	}{
		{name: "traceparent and X-Cloud-Trace-Context", wantTrace: w3cTrace, headers: map[string]string{
			"traceparent": "00-" + w3cTrace + "-00f067aa0ba902b7-01", "X-Cloud-Trace-Context": googleTrace + "/11803532876627986230;o=1"}},
		{name: "X-Cloud-Trace-Context alone", wantTrace: googleTrace, headers: map[string]string{
			"X-Cloud-Trace-Context": googleTrace + "/11803532876627986230;o=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := otlptest.Start(t)
			env := recv.Env()
			env[telemetry.EnvGoogleCloudProject] = project
			res, logged := stdoutResources(t, env)
			p, err := telemetry.Setup(context.Background(), res.Telemetry("recorder"))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			if !p.Tracing() {
				t.Fatal("tracing is off")
			}
			set, err := gcpfn.NewSet(res, recorderSpec(&recorder{consumed: map[string][]string{}}, new(atomic.Int32)))
			if err != nil {
				t.Fatal(err)
			}
			h, _ := set.HTTPHandler("Recorder")
			req := httptest.NewRequest("GET", "/v1/things/missing", nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			out := logged()
			var server *tracepb.Span
			for _, s := range recv.Spans() {
				if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
					server = s
				}
			}
			if server == nil || hex.EncodeToString(server.GetTraceId()) != tc.wantTrace {
				t.Fatalf("no server span exported in trace %s: %s", tc.wantTrace, otlptest.Describe(recv.Spans()))
			}
			want := map[string]any{
				"logging.googleapis.com/trace":         "projects/" + project + "/traces/" + hex.EncodeToString(server.GetTraceId()),
				"logging.googleapis.com/spanId":        hex.EncodeToString(server.GetSpanId()),
				"logging.googleapis.com/trace_sampled": true,
				"trace_id":                             tc.wantTrace,
			}
			var linked []string
			for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
				var entry map[string]any
				if err := json.Unmarshal([]byte(line), &entry); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				if entry["message"] != "request" && entry["message"] != "request rejected" {
					continue
				}
				for k, v := range want {
					if entry[k] != v {
						t.Errorf("%s = %v, want %v: %s", k, entry[k], v, line)
					}
				}
				linked = append(linked, entry["message"].(string))
			}
			if !slices.Equal(linked, []string{"request rejected", "request"}) {
				t.Fatalf("request lines %v, want the rejection and the access line:\n%s", linked, out)
			}
		})
	}
}

// stdoutResources are the resources of a function configured by env with
// the logger Cloud Functions has, on stdout; logged ends the logging and
// returns what it wrote.
func stdoutResources(t *testing.T, env map[string]string) (res *gcpfn.Resources, logged func() []byte) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	res = gcpfn.NewResources(gcpfn.Options{Lookuper: envconfig.MapLookuper(env)})
	os.Stdout = stdout
	return res, func() []byte {
		w.Close()
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// chattyConsumer consumes heartbeats and logs each message with the
// logger of its context.
type chattyConsumer struct{}

func (chattyConsumer) Register(*http.ServeMux) {}

func (chattyConsumer) Consumers() map[string]playback.BatchHandler {
	return map[string]playback.BatchHandler{"heartbeats": func(ctx context.Context, msgs []playback.Message) []string {
		for _, m := range msgs {
			httpx.Logger(ctx).InfoContext(ctx, "consumed", "id", m.ID)
		}
		return nil
	}}
}

// TestConsumerLogsLinkToTheExportedSpan: a consumer's lines, configured
// as on Cloud Functions, carry Cloud Logging's trace fields of the
// consumer batch span exported for the delivery. Not parallel, as
// TestRequestLogsLinkToTheExportedSpan.
func TestConsumerLogsLinkToTheExportedSpan(t *testing.T) {
	const project = "playplane-fn"
	recv := otlptest.Start(t)
	env := recv.Env()
	env[telemetry.EnvGoogleCloudProject] = project
	res, logged := stdoutResources(t, env)
	p, err := telemetry.Setup(context.Background(), res.Telemetry("chatty"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	set, err := gcpfn.NewSet(res, gcpfn.Spec{Name: "chatty", Consumers: map[string]string{"heartbeats": "ChattyHeartbeats"},
		Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) { return chattyConsumer{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	consume, _ := set.CloudEventHandler("ChattyHeartbeats")
	if err := consume(context.Background(), pubsubEvent(t, "m1", "{}")); err != nil {
		t.Fatal(err)
	}
	out := logged()
	var batch *tracepb.Span
	for _, s := range recv.Spans() {
		if s.GetKind() == tracepb.Span_SPAN_KIND_CONSUMER && len(s.GetParentSpanId()) == 0 {
			batch = s
		}
	}
	if batch == nil {
		t.Fatalf("no consumer batch span exported: %s", otlptest.Describe(recv.Spans()))
	}
	var found bool
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if entry["message"] != "consumed" {
			continue
		}
		found = true
		for k, v := range map[string]any{
			"logging.googleapis.com/trace":         "projects/" + project + "/traces/" + hex.EncodeToString(batch.GetTraceId()),
			"logging.googleapis.com/spanId":        hex.EncodeToString(batch.GetSpanId()),
			"logging.googleapis.com/trace_sampled": true,
		} {
			if entry[k] != v {
				t.Errorf("%s = %v, want %v: %s", k, entry[k], v, line)
			}
		}
	}
	if !found {
		t.Fatalf("the consumer logged nothing:\n%s", out)
	}
}

// TestJobSpanIsExported: a job Cloud Scheduler starts through the jobs
// entry point runs in a span of its own, named after the job, faas.trigger
// timer, under the request's server span, failed when the job fails, and
// the collector has it by the time the entry point returns. Not parallel:
// the telemetry Provider is process-wide.
func TestJobSpanIsExported(t *testing.T) {
	recv := otlptest.Start(t)
	res := quietResources(recv.Env())
	p, err := telemetry.Setup(context.Background(), res.Telemetry("jobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	set, err := gcpfn.NewSet(res, gcpfn.Spec{Name: "jobs", Jobs: "Jobs", Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) {
		return gcpfn.WithJobs(routeOnly{pattern: "GET /v1/x"}, map[string]gcpfn.Job{
			"sweep": playback.JobOf(func(context.Context) (int, error) { return 3, nil }),
			"fail":  playback.JobOf(func(context.Context) (int, error) { return 0, errors.New("stripe down") }),
		}), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := set.HTTPHandler("Jobs")
	for _, tc := range []struct {
		job        string
		wantCode   int
		wantStatus tracepb.Status_StatusCode
	}{
		{job: "sweep", wantCode: 200, wantStatus: tracepb.Status_STATUS_CODE_UNSET},
		{job: "fail", wantCode: 500, wantStatus: tracepb.Status_STATUS_CODE_ERROR},
	} {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/", strings.NewReader(`{"job":"`+tc.job+`"}`))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, req)
		if w.Code != tc.wantCode {
			t.Fatalf("%s: status %d, want %d", tc.job, w.Code, tc.wantCode)
		}
		// No flush here: the entry point's own must have exported them.
		spans := recv.Spans()
		var job, server *tracepb.Span
		for _, s := range spans {
			if s.GetName() == tc.job {
				job = s
			}
		}
		if job == nil {
			t.Fatalf("no span for the %s invocation:%s", tc.job, otlptest.Describe(spans))
		}
		for _, s := range spans {
			if bytes.Equal(s.GetSpanId(), job.GetParentSpanId()) && s.GetKind() == tracepb.Span_SPAN_KIND_SERVER &&
				otlptest.Attr(s.GetAttributes(), "faas.trigger") == "http" {
				server = s
			}
		}
		if got := otlptest.Attr(job.GetAttributes(), "faas.trigger"); got != "timer" {
			t.Errorf("%s: faas.trigger %q, want timer", tc.job, got)
		}
		if server == nil {
			t.Errorf("%s: the job's span is not the request's child:%s", tc.job, otlptest.Describe(spans))
		}
		if got := job.GetStatus().GetCode(); got != tc.wantStatus {
			t.Errorf("%s: status %s, want %s", tc.job, got, tc.wantStatus)
		}
	}
}

// TestJobLogsLinkToTheJobSpan: the jobs entry point's own lines about a
// job ("job done", "job failed"), configured as on Cloud Functions, carry
// Cloud Logging's trace fields of the job's exported span, so that Logs
// Explorer shows them with it. Under a sampled request the job's span is
// the request's child (same trace, its own span id); under an unsampled
// one it is a root of its own (telemetry.RunJob), and the request's trace
// is exported nowhere. Not parallel, as TestRequestLogsLinkToTheExportedSpan.
func TestJobLogsLinkToTheJobSpan(t *testing.T) {
	const project = "playplane-fn"
	const requestTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tc := range []struct {
		name, job, flags, message string
	}{
		{name: "sampled request, job done", job: "sweep", flags: "01", message: "job done"},
		{name: "unsampled request, job done", job: "sweep", flags: "00", message: "job done"},
		{name: "unsampled request, job failed", job: "fail", flags: "00", message: "job failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := otlptest.Start(t)
			env := recv.Env()
			env[telemetry.EnvGoogleCloudProject] = project
			// The deployed sampler: a request follows its caller's flag.
			env[telemetry.EnvTracesSampler], env[telemetry.EnvTracesSamplerArg] = "parentbased_traceidratio", "0.5"
			res, logged := stdoutResources(t, env)
			p, err := telemetry.Setup(context.Background(), res.Telemetry("jobs"))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			set, err := gcpfn.NewSet(res, gcpfn.Spec{Name: "jobs", Jobs: "Jobs", Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) {
				return gcpfn.WithJobs(routeOnly{pattern: "GET /v1/x"}, map[string]gcpfn.Job{
					"sweep": playback.JobOf(func(context.Context) (int, error) { return 3, nil }),
					"fail":  playback.JobOf(func(context.Context) (int, error) { return 0, errors.New("stripe down") }),
				}), nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			h, _ := set.HTTPHandler("Jobs")
			req := httptest.NewRequest("POST", "/", strings.NewReader(`{"job":"`+tc.job+`"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("traceparent", "00-"+requestTrace+"-00f067aa0ba902b7-"+tc.flags)
			h.ServeHTTP(httptest.NewRecorder(), req)
			out := logged()
			var job *tracepb.Span
			for _, s := range recv.Spans() {
				if s.GetName() == tc.job {
					job = s
				}
			}
			if job == nil {
				t.Fatalf("no %s span exported:%s", tc.job, otlptest.Describe(recv.Spans()))
			}
			want := map[string]any{
				"logging.googleapis.com/trace":         "projects/" + project + "/traces/" + hex.EncodeToString(job.GetTraceId()),
				"logging.googleapis.com/spanId":        hex.EncodeToString(job.GetSpanId()),
				"logging.googleapis.com/trace_sampled": true,
			}
			found := false
			for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
				var entry map[string]any
				if err := json.Unmarshal([]byte(line), &entry); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				if entry["message"] != tc.message {
					continue
				}
				found = true
				for k, v := range want {
					if entry[k] != v {
						t.Errorf("%q line: %s = %v, want the job span's %v", tc.message, k, entry[k], v)
					}
				}
			}
			if !found {
				t.Fatalf("no %q line:\n%s", tc.message, out)
			}
		})
	}
}

package telemetry_test

import (
	"context"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// TestServerSpanFollowsHTTPSemconv holds a server span and the request
// metric to the HTTP semantic conventions (v1.40, the SDK's): a method
// outside the known set is "_OTHER", with the original beside it on the
// span, so a request line cannot mint a series; a request no route
// matched has no http.route and its span is named by the method alone
// ("HTTP" for _OTHER); url.scheme is on every server span; a 5xx carries
// error.type, the status code.
func TestServerSpanFollowsHTTPSemconv(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := setup(t, telemetry.Options{Service: "test", SpanExporter: exp, Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New},
		map[string]string{telemetry.EnvTracesSampler: "always_on"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/titles/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "broken" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	for _, tc := range []struct {
		name, method, path string
		wantName           string
		want               map[string]string // "" = attribute absent
	}{
		{name: "matched", method: "GET", path: "/v1/titles/a", wantName: "GET /v1/titles/{id}",
			want: map[string]string{"http.request.method": "GET", "http.route": "/v1/titles/{id}", "url.scheme": "http",
				"http.request.method_original": "", "error.type": ""}},
		{name: "5xx", method: "GET", path: "/v1/titles/broken", wantName: "GET /v1/titles/{id}",
			want: map[string]string{"http.response.status_code": "500", "error.type": "500"}},
		{name: "unmatched", method: "GET", path: "/nowhere", wantName: "GET",
			want: map[string]string{"http.route": "", "http.response.status_code": "404", "error.type": ""}},
		{name: "unknown method", method: "XYZZY", path: "/v1/titles/a", wantName: "HTTP",
			want: map[string]string{"http.request.method": "_OTHER", "http.request.method_original": "XYZZY", "http.route": ""}},
		// v1.40 knows QUERY (httpbis-safe-method-w-body) beside RFC 9110's
		// methods and PATCH.
		{name: "QUERY", method: "QUERY", path: "/v1/titles/a", wantName: "QUERY",
			want: map[string]string{"http.request.method": "QUERY", "http.request.method_original": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			telemetry.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.path, nil), mux)
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			s := spans[0]
			if s.Name != tc.wantName {
				t.Errorf("span name %q, want %q", s.Name, tc.wantName)
			}
			got := map[string]string{}
			for _, kv := range s.Attributes {
				got[string(kv.Key)] = kv.Value.Emit()
			}
			for k, want := range tc.want {
				if v, ok := got[k]; want == "" && ok || want != "" && v != want {
					t.Errorf("%s = %q (set %v), want %q; attributes %v", k, v, ok, want, got)
				}
			}
		})
	}
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	for _, want := range []string{`http_request_method="_OTHER"`, `error_type="500"`} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{"XYZZY", `http_route="unmatched"`} {
		if strings.Contains(text, unwanted) {
			t.Errorf("/metrics has %s:\n%s", unwanted, text)
		}
	}
}

// TestRecordedServerSpan holds a recorded server span's attributes, in
// the order its exporters write them (the order they were set in:
// method, scheme, path, trigger, the original method, then route, status
// code and error type), and its status, without a description on a 5xx
// (the HTTP span conventions: "don't set the span status description if
// the reason can be inferred from http.response.status_code"); a panic's
// span has the first four
// and error.type, "_OTHER" (no status was sent: the HTTP conventions
// require error.type of a request that ended in an error all the same). It also holds a recorded request (StartRequest and End, nothing
// exported yet) to five allocations: the SDK's span, its context, the one
// attribute list End hands it (an interface call's argument list is on
// the heap), the span's copy of it, and the snapshot End queues. Set in
// two calls, at the start and at the end, the attributes cost four.
func TestRecordedServerSpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := setup(t, telemetry.Options{Service: "test", SpanExporter: exp}, map[string]string{telemetry.EnvTracesSampler: "always_on"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/titles/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "broken":
			w.WriteHeader(http.StatusInternalServerError)
		case "panic":
			panic("handler")
		}
	})
	for _, tc := range []struct {
		name, method, path string
		want               string // attributes in order, then the status
	}{
		{name: "matched", method: "GET", path: "/v1/titles/a",
			want: "http.request.method=GET url.scheme=http url.path=/v1/titles/a faas.trigger=http http.route=/v1/titles/{id} http.response.status_code=200 | Unset"},
		{name: "5xx", method: "GET", path: "/v1/titles/broken",
			want: "http.request.method=GET url.scheme=http url.path=/v1/titles/broken faas.trigger=http http.route=/v1/titles/{id} http.response.status_code=500 error.type=500 | Error"},
		{name: "unmatched", method: "GET", path: "/nowhere",
			want: "http.request.method=GET url.scheme=http url.path=/nowhere faas.trigger=http http.response.status_code=404 | Unset"},
		{name: "unknown method", method: "XYZZY", path: "/v1/titles/a",
			want: "http.request.method=_OTHER url.scheme=http url.path=/v1/titles/a faas.trigger=http http.request.method_original=XYZZY http.response.status_code=405 | Unset"},
		{name: "panic", method: "GET", path: "/v1/titles/panic",
			want: "http.request.method=GET url.scheme=http url.path=/v1/titles/panic faas.trigger=http error.type=_OTHER | Error panic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			func() {
				defer func() { _ = recover() }()
				telemetry.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.path, nil), mux)
			}()
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			var got []string
			for _, kv := range spans[0].Attributes {
				got = append(got, string(kv.Key)+"="+kv.Value.Emit())
			}
			got = append(got, "|", spans[0].Status.Code.String())
			if d := spans[0].Status.Description; d != "" {
				got = append(got, d)
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("span:\n got %s\nwant %s", s, tc.want)
			}
		})
	}
	t.Run("allocations", func(t *testing.T) {
		req := httptest.NewRequest("GET", "/v1/titles/a", nil)
		req.Pattern = "GET /v1/titles/{id}"
		w := httptest.NewRecorder()
		if n := testing.AllocsPerRun(100, func() {
			ctx, q := telemetry.StartRequest(context.Background(), req)
			if !trace.SpanFromContext(ctx).IsRecording() {
				t.Fatal("the span does not record")
			}
			q.End(statusRecorder{w}, req, nil)
		}); n != 5 {
			// The race detector's instrumentation adds allocations of
			// its own; the count is compared where they are not.
			if !raceEnabled {
				t.Fatalf("a recorded request allocates %v times, want 5", n)
			}
		}
	})
}

// TestServerSpanSchemeBehindProxies: url.scheme is the scheme of the
// original client request when it was forwarded (the HTTP semantic
// conventions name X-Forwarded-Proto), read as playurl.Scheme reads it for
// the URLs handed back: the first entry of the comma-separated list each
// appending proxy adds to, in any case.
func TestServerSpanSchemeBehindProxies(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := setup(t, telemetry.Options{Service: "test", SpanExporter: exp}, map[string]string{telemetry.EnvTracesSampler: "always_on"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/titles/{id}", func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct {
		name  string
		proto []string // header lines
		want  string
	}{
		{name: "no proxy", want: "http"},
		{name: "https", proto: []string{"https"}, want: "https"},
		{name: "upper case", proto: []string{"HTTPS"}, want: "https"},
		{name: "https at the front, http inside", proto: []string{"https, http"}, want: "https"},
		{name: "one line per proxy", proto: []string{"https", "http"}, want: "https"},
		{name: "http at the front, https inside", proto: []string{"http, https"}, want: "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			r := httptest.NewRequest("GET", "/v1/titles/a", nil)
			for _, v := range tc.proto {
				r.Header.Add("X-Forwarded-Proto", v)
			}
			telemetry.ServeHTTP(httptest.NewRecorder(), r, mux)
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			got := ""
			for _, kv := range spans[0].Attributes {
				if kv.Key == "url.scheme" {
					got = kv.Value.Emit()
				}
			}
			if got != tc.want {
				t.Errorf("X-Forwarded-Proto %q: url.scheme %q, want %q", tc.proto, got, tc.want)
			}
		})
	}
}

// TestRequestMetricHasURLScheme: http.server.request.duration requires
// url.scheme (semantic conventions, metric_attributes.http.server), the
// original client request's as the span has it, so one series per scheme.
func TestRequestMetricHasURLScheme(t *testing.T) {
	p := setup(t, telemetry.Options{Service: "test", Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New}, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/titles/{id}", func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct {
		name, proto string
	}{
		{name: "direct"},
		{name: "forwarded https", proto: "https"},
	} {
		r := httptest.NewRequest("GET", "/v1/titles/a", nil)
		if tc.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		telemetry.ServeHTTP(httptest.NewRecorder(), r, mux)
	}
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, m := range families["http_server_request_duration_seconds"].GetMetric() {
		scheme := "(none)"
		for _, l := range m.GetLabel() {
			if l.GetName() == "url_scheme" {
				scheme = l.GetValue()
			}
		}
		got[scheme] += m.GetHistogram().GetSampleCount()
	}
	if want := map[string]uint64{"http": 1, "https": 1}; !maps.Equal(got, want) {
		t.Errorf("requests by url.scheme %v, want %v", got, want)
	}
}

// TestPanicAfterASuccessStatusHasErrorType: a handler that panics after
// sending a status below 500 (httpx recovers and can no longer change it)
// ends a request in an error all the same: its span is failed, and the
// HTTP conventions then require error.type ("_OTHER", the fallback).
func TestPanicAfterASuccessStatusHasErrorType(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := setup(t, telemetry.Options{Service: "test", SpanExporter: exp}, map[string]string{telemetry.EnvTracesSampler: "always_on"})
	req := httptest.NewRequest("GET", "/v1/titles/a", nil)
	req.Pattern = "GET /v1/titles/{id}"
	_, q := telemetry.StartRequest(context.Background(), req)
	q.End(statusRecorder{httptest.NewRecorder()}, req, "handler")
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	got := "(none)"
	for _, kv := range spans[0].Attributes {
		if kv.Key == "error.type" {
			got = kv.Value.Emit()
		}
	}
	if got != "_OTHER" || spans[0].Status.Description != "panic" {
		t.Errorf("error.type %s, status %v; want _OTHER on a span failed by a panic", got, spans[0].Status)
	}
}

// TestRequestDurationHasTheSemconvBuckets: http.server.request.duration
// "SHOULD be specified with ExplicitBucketBoundaries of [0.005, 0.01,
// 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]" (the HTTP
// metrics conventions), so that its percentiles compare with every other
// instrumented server's; playplane.webhook.lag keeps its own, to an hour.
func TestRequestDurationHasTheSemconvBuckets(t *testing.T) {
	p := setup(t, telemetry.Options{Service: "test", Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New}, nil)
	serve(t, "GET", "GET /v1/titles/{id}", "/v1/titles/a", 200)
	telemetry.WebhookLag(context.Background(), 2*time.Minute)
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, family string
		want         []float64
	}{
		{name: "request duration", family: "http_server_request_duration_seconds",
			want: []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}},
		{name: "webhook lag", family: "playplane_webhook_lag_seconds",
			want: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := families[tc.family].GetMetric()
			if len(ms) != 1 {
				t.Fatalf("%d series of %s", len(ms), tc.family)
			}
			var got []float64
			for _, b := range ms[0].GetHistogram().GetBucket() {
				if !math.IsInf(b.GetUpperBound(), 1) { // the exposition's own last bucket
					got = append(got, b.GetUpperBound())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s buckets %v, want %v", tc.family, got, tc.want)
			}
		})
	}
}

// TestServerSpanHasTheRedactedQuery: url.query is conditionally required
// on a server span, "if and only if one was received" (the HTTP span
// conventions), with the values of the keys the URL conventions list as
// sensitive replaced by "REDACTED", case-sensitively; playplane's own
// credential parameter (a manifest or steering URL's session token) is
// one of them.
func TestServerSpanHasTheRedactedQuery(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := setup(t, telemetry.Options{Service: "test", SpanExporter: exp}, map[string]string{telemetry.EnvTracesSampler: "always_on"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/manifests/{id}/hls", func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct {
		name, target, want string // want "" = no url.query
	}{
		{name: "none", target: "/v1/manifests/s/hls"},
		{name: "empty", target: "/v1/manifests/s/hls?"},
		{name: "plain", target: "/v1/manifests/s/hls?cdn=b&grant=cookie", want: "cdn=b&grant=cookie"},
		{name: "session token", target: "/v1/manifests/s/hls?cdn=b&token=eyJ.secret.sig", want: "cdn=b&token=REDACTED"},
		{name: "the conventions' list", target: "/v1/manifests/s/hls?X-Amz-Signature=a&X-Amz-Credential=b&X-Amz-Security-Token=c&AWSAccessKeyId=d&Signature=e&sig=f&X-Goog-Signature=g&q=1",
			want: "X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED&q=1"},
		{name: "case-sensitive", target: "/v1/manifests/s/hls?Token=a&SIG=b", want: "Token=a&SIG=b"},
		{name: "a key without a value", target: "/v1/manifests/s/hls?token&a=", want: "token&a="},
		{name: "repeated, empty pairs", target: "/v1/manifests/s/hls?token=a&&token=b;x", want: "token=REDACTED&&token=REDACTED"},
		// The handlers read the key decoded (url.Values): so must this.
		{name: "an escaped key", target: "/v1/manifests/s/hls?tok%65n=a&Sig%6Eature=b&to+ken=c", want: "tok%65n=REDACTED&Sig%6Eature=REDACTED&to+ken=c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			telemetry.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tc.target, nil), mux)
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			got, ok := "", false
			for _, kv := range spans[0].Attributes {
				if kv.Key == "url.query" {
					got, ok = kv.Value.Emit(), true
				}
			}
			if ok != (tc.want != "") || got != tc.want {
				t.Errorf("url.query %q (set %v), want %q", got, ok, tc.want)
			}
		})
	}
}

// TestKnownMethodsOverride: an instrumentation that can turn a valid
// method into _OTHER "MUST provide a way to override the list of known
// HTTP methods", by environment as OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS,
// "a comma-separated list of case-sensitive known HTTP methods" (the
// http.request.method convention): the list replaces the conventions' own,
// on the span and on the request metric.
func TestKnownMethodsOverride(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := setup(t, telemetry.Options{Service: "test", SpanExporter: exp, Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New},
		map[string]string{telemetry.EnvTracesSampler: "always_on", "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS": "GET, PROPFIND"})
	mux := http.NewServeMux()
	mux.HandleFunc("/dav/", func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct{ method, want string }{
		{method: "PROPFIND", want: "PROPFIND"},
		{method: "GET", want: "GET"},
		{method: "POST", want: "_OTHER"},     // known to the conventions, not to the list
		{method: "propfind", want: "_OTHER"}, // case-sensitive
	} {
		t.Run(tc.method, func(t *testing.T) {
			exp.Reset()
			telemetry.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, "/dav/x", nil), mux)
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			got := ""
			for _, kv := range spans[0].Attributes {
				if kv.Key == "http.request.method" {
					got = kv.Value.Emit()
				}
			}
			if got != tc.want {
				t.Errorf("http.request.method %q, want %q", got, tc.want)
			}
		})
	}
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if text := rec.Body.String(); !strings.Contains(text, `http_request_method="PROPFIND"`) {
		t.Errorf("/metrics lacks PROPFIND:\n%s", text)
	}
}

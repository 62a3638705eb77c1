package httpx_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// TestMiddlewareTelemetry: the middleware's one request copy carries both
// its own values and the server span (a child of the caller's
// traceparent, named after the route); a panic ends the span failed and
// is counted with the 500 it became. Not parallel: a Provider is global.
func TestMiddlewareTelemetry(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "test", SpanExporter: spans,
		Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New, Lookup: envconfig.MapLookuper(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	mux := http.NewServeMux()
	var seen trace.SpanContext
	var requestID string
	mux.Handle("GET /v1/things/{id}", httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		seen, requestID = trace.SpanContextFromContext(r.Context()), httpx.RequestID(r.Context())
		return nil
	}))
	mux.Handle("GET /v1/boom", httpx.HandlerFunc(func(http.ResponseWriter, *http.Request) error { panic("boom") }))
	h := httpx.Middleware(slog.New(slog.NewJSONHandler(io.Discard, nil)), mux)
	for _, path := range []string{"/v1/things/a", "/v1/boom"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
		req.Header.Set("X-Request-Id", "req-telemetry")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if seen.TraceID().String() != traceID || requestID != "req-telemetry" {
		t.Fatalf("the handler's context: trace %s, request id %q; want the caller's trace and the middleware's id", seen.TraceID(), requestID)
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]tracetest.SpanStub{}
	for _, s := range spans.GetSpans() {
		got[s.Name] = s
	}
	ok, boom := got["GET /v1/things/{id}"], got["GET /v1/boom"]
	if ok.SpanContext.SpanID() != seen.SpanID() || ok.Parent.SpanID().String() != "00f067aa0ba902b7" || ok.Status.Code == codes.Error {
		t.Fatalf("server span %+v: want the handler's span, a child of the caller's, not failed", ok)
	}
	if boom.Status.Code != codes.Error || boom.Status.Description != "panic" {
		t.Fatalf("span of a panic: status %+v, want an error saying panic", boom.Status)
	}
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	counts := map[string]uint64{}
	for _, m := range families["http_server_request_duration_seconds"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		counts[labels["http_route"]+" "+labels["http_response_status_code"]] += m.GetHistogram().GetSampleCount()
	}
	if counts["/v1/things/{id} 200"] != 1 || counts["/v1/boom 500"] != 1 {
		t.Fatalf("request counts %v: want one 200 and the panic's 500", counts)
	}
}

// TestNoRouteHasNoHTTPRoute: a request NewServeMux answers itself (404
// route_not_found, 405 method_not_allowed) matched no route, so its span
// and its http.server.request.duration series carry no http.route, as the
// HTTP conventions and the README's metrics table say, rather than the
// fallback's "/" lumping every stray path under a route no client calls.
// Not parallel: a Provider is global.
func TestNoRouteHasNoHTTPRoute(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "test", SpanExporter: spans,
		Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New, Lookup: envconfig.MapLookuper(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	mux := httpx.NewServeMux()
	mux.HandleFunc("POST /v1/play", func(http.ResponseWriter, *http.Request) {})
	h := httpx.Middleware(slog.New(slog.DiscardHandler), mux)
	cases := []struct {
		name, method, path string
		status             int
		route, span        string // route "": no http_route label
	}{
		{name: "route", method: http.MethodPost, path: "/v1/play", status: 200, route: "/v1/play", span: "POST /v1/play"},
		{name: "unknown path", method: http.MethodGet, path: "/v1/nothing", status: 404, span: "GET"},
		{name: "root", method: http.MethodGet, path: "/", status: 404, span: "GET"},
		{name: "another method", method: http.MethodPut, path: "/v1/play", status: 405, span: "PUT"},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Fatalf("%s: %s %s answered %d, want %d", tc.name, tc.method, tc.path, rec.Code, tc.status)
		}
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spanNames := map[string]map[string]bool{} // method -> span names
	for _, s := range spans.GetSpans() {
		for _, a := range s.Attributes {
			if a.Key == "http.request.method" {
				if spanNames[a.Value.AsString()] == nil {
					spanNames[a.Value.AsString()] = map[string]bool{}
				}
				spanNames[a.Value.AsString()][s.Name] = true
			}
		}
	}
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	routes := map[string]map[string]bool{} // method+status -> http_route values, "(none)" without the label
	for _, m := range families["http_server_request_duration_seconds"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		route, ok := labels["http_route"]
		if !ok {
			route = "(none)"
		}
		key := labels["http_request_method"] + " " + labels["http_response_status_code"]
		if routes[key] == nil {
			routes[key] = map[string]bool{}
		}
		routes[key][route] = true
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.route
			if want == "" {
				want = "(none)"
			}
			key := tc.method + " " + strconv.Itoa(tc.status)
			if got := routes[key]; len(got) != 1 || !got[want] {
				t.Errorf("http.server.request.duration of %s %s (%s): http_route %v, want %s", tc.method, tc.path, key, keys(got), want)
			}
			if !spanNames[tc.method][tc.span] {
				t.Errorf("server spans of %s: %v, want %q", tc.method, keys(spanNames[tc.method]), tc.span)
			}
		})
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

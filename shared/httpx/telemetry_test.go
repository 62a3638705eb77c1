package httpx_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

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

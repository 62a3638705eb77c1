package gcpfn_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/gcpfn"
)

// BenchmarkHTTPEntry is a request through an HTTP entry point with
// telemetry off, as Google's load balancer sends it (traceparent and
// X-Cloud-Trace-Context), logging its access line with the Cloud Logging
// logger of a project: the path every heartbeat takes on Cloud Functions.
func BenchmarkHTTPEntry(b *testing.B) {
	res := gcpfn.NewResources(gcpfn.Options{Lookuper: envconfig.MapLookuper(nil),
		Log: gcpfn.NewLogger(io.Discard, slog.LevelInfo, "playplane-fn")})
	set, err := gcpfn.NewSet(res, recorderSpec(&recorder{consumed: map[string][]string{}}, new(atomic.Int32)))
	if err != nil {
		b.Fatal(err)
	}
	h, _ := set.HTTPHandler("Recorder")
	req := httptest.NewRequest("GET", "/v1/things/a", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("X-Cloud-Trace-Context", "4bf92f3577b34da6a3ce929d0e0e4736/67667974448284343;o=1")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

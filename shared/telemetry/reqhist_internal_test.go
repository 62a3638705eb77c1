package telemetry

import (
	"context"
	"strings"
	"testing"
	"unsafe"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestRequestHistogramKeepsNoRequestLine: net/http's r.Method is a slice
// of the request line, URI included (up to MaxHeaderBytes), and on an
// unmatched route any token is a method: a series kept the whole line
// alive for as long as the reader kept the series (a cumulative one:
// for good), up to the series limit of them. A series copies its method.
func TestRequestHistogramKeepsNoRequestLine(t *testing.T) {
	line := "PURGE1 /" + strings.Repeat("x", 1<<16) + " HTTP/1.1"
	method, _, _ := strings.Cut(line, " ")
	h := newRequestHistogram()
	r := h.reader(metricdata.CumulativeTemporality)
	h.record(context.Background(), routeKey{method, "unmatched", 404}, 0.01)
	if len(r.gen.Load().series) != 1 {
		t.Fatalf("%d series, want 1", len(r.gen.Load().series))
	}
	inLine := func(s string) bool {
		p, start := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(line)))
		return p >= start && p < start+uintptr(len(line))
	}
	for k, s := range r.gen.Load().series {
		if k.method != method {
			t.Fatalf("series of method %q, want %q", k.method, method)
		}
		if inLine(k.method) {
			t.Error("the series' key holds the request line")
		}
		for _, kv := range s.attrs.ToSlice() {
			if v := kv.Value.AsString(); v == method && inLine(v) {
				t.Errorf("the series' attribute %s holds the request line", kv.Key)
			}
		}
	}
}

package telemetry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
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
	h.record(context.Background(), routeKey{method, "http", "unmatched", 404}, 0.01)
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

// TestRequestHistogramCollectsInAttributeOrder: a collect's data points
// come in the order of their attribute sets' encodings, the overflow
// series among them, whatever order the series were made in.
func TestRequestHistogramCollectsInAttributeOrder(t *testing.T) {
	h := newRequestHistogram()
	h.limit = 6
	r := h.reader(metricdata.CumulativeTemporality)
	for _, i := range []int{7, 3, 11, 0, 5, 9, 1} {
		h.record(context.Background(), routeKey{[]string{"GET", "POST"}[i%2], "http", fmt.Sprintf("/r/%d", i), 200 + i}, 0.01)
	}
	m, ok := r.collect()
	if !ok {
		t.Fatal("no data points")
	}
	var got []string
	for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		got = append(got, p.Attributes.Encoded(attribute.DefaultEncoder()))
	}
	if len(got) != 6 || !slices.Contains(got, overflowSet.Encoded(attribute.DefaultEncoder())) {
		t.Fatalf("points %q, want 5 series and the overflow", got)
	}
	if !slices.IsSorted(got) {
		t.Fatalf("points in the order %q, want their encodings sorted", got)
	}
}

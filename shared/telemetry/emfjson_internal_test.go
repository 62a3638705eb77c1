package telemetry

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

// marshalEMFDoc is what emfLines wrote before appendEMFDoc: json.Marshal
// of the document as a map.
func marshalEMFDoc(dims []attribute.KeyValue, chunk []emfMetric, values map[string]any, meta emfMetadata) ([]byte, error) {
	doc := map[string]any{}
	for _, kv := range dims {
		doc[string(kv.Key)] = kv.Value.Emit()
	}
	for _, m := range chunk {
		doc[m.Name] = values[m.Name]
	}
	doc["_aws"] = meta
	return json.Marshal(doc)
}

// TestEMFDocIsJSONMarshals: appendEMFDoc writes the bytes json.Marshal
// writes for the document's map, for the values emfLines makes and the
// strings and numbers JSON escapes or formats specially, and fails where
// it fails (NaN, infinities).
func TestEMFDocIsJSONMarshals(t *testing.T) {
	t.Parallel()
	odd := "a\"b\\c<d>e&f\x00\x1f\x7f\b\f\n\r\t\u2028\u2029é\xff\xfe日本"
	meta := func(dims []string, metrics []emfMetric) emfMetadata {
		return emfMetadata{Timestamp: 1796500036805, CloudWatchMetrics: []emfDirective{{Namespace: Namespace,
			Dimensions: [][]string{dims}, Metrics: metrics}}}
	}
	tests := []struct {
		name   string
		dims   []attribute.KeyValue
		chunk  []emfMetric
		values map[string]any
		meta   emfMetadata
	}{
		{name: "request duration",
			dims:   []attribute.KeyValue{attribute.String("http.request.method", "GET"), attribute.String("http.route", "/v1/x/{id}"), attribute.Int("http.response.status_code", 401)},
			chunk:  []emfMetric{{Name: MetricRequestDuration, Unit: "Seconds"}},
			values: map[string]any{MetricRequestDuration: []float64{0.003080209}},
			meta:   meta([]string{"http.request.method", "http.route", "http.response.status_code"}, []emfMetric{{Name: MetricRequestDuration, Unit: "Seconds"}})},
		{name: "no dimensions, counters and gauges",
			chunk:  []emfMetric{{Name: "a", Unit: "Count"}, {Name: "b"}, {Name: "c", Unit: "None"}},
			values: map[string]any{"a": int64(-7), "b": float64(2.5), "c": int64(math.MaxInt64)},
			meta:   meta([]string{}, []emfMetric{{Name: "a", Unit: "Count"}, {Name: "b"}, {Name: "c", Unit: "None"}})},
		{name: "floats json formats specially",
			chunk: []emfMetric{{Name: "f"}},
			values: map[string]any{"f": []float64{0, math.Copysign(0, -1), 1e-6, 9.99e-7, 1e-7, 1.5e-9, 1e20, 1e21, 123456789e15,
				-1e-7, 0.1, 1.0 / 3, math.MaxFloat64, math.SmallestNonzeroFloat64, 100}},
			meta: meta(nil, []emfMetric{{Name: "f"}})},
		{name: "strings json escapes",
			dims:   []attribute.KeyValue{attribute.String(odd, odd), attribute.String("route", "<script>&amp;")},
			chunk:  []emfMetric{{Name: odd + "m", Unit: odd}},
			values: map[string]any{odd + "m": int64(1)},
			meta:   emfMetadata{Timestamp: -1, CloudWatchMetrics: []emfDirective{{Namespace: odd, Dimensions: [][]string{{odd}, nil}, Metrics: []emfMetric{{Name: odd + "m", Unit: odd}}}}}},
		{name: "each character json escapes, alone in a printable string",
			dims: func() []attribute.KeyValue {
				var kvs []attribute.KeyValue
				for i, c := range []string{"<", ">", "&", "\"", "\\", "\x00", "\x1f", "\x7f", "\u2028", "\u2029", "é", "\xff"} {
					kvs = append(kvs, attribute.String(string(rune('a'+i))+c, "v"+c+"v"))
				}
				return kvs
			}(),
			chunk:  []emfMetric{{Name: "m<"}},
			values: map[string]any{"m<": int64(1)},
			meta:   meta([]string{"a<"}, []emfMetric{{Name: "m<"}})},
		{name: "a dimension named like a metric and like _aws: the last member wins, as in the map",
			dims:   []attribute.KeyValue{attribute.String("m", "dim"), attribute.String("_aws", "dim"), attribute.Bool("b", true)},
			chunk:  []emfMetric{{Name: "m"}},
			values: map[string]any{"m": float64(3)},
			meta:   meta([]string{"m", "_aws", "b"}, []emfMetric{{Name: "m"}})},
		{name: "a value emfLines does not make, a nil histogram, no directives",
			chunk:  []emfMetric{{Name: "x"}, {Name: "y"}, {Name: "z"}},
			values: map[string]any{"x": map[string]int{"k": 1}, "y": []float64(nil), "z": "s"},
			meta:   emfMetadata{Timestamp: 5}},
		{name: "NaN fails", chunk: []emfMetric{{Name: "n"}}, values: map[string]any{"n": math.NaN()}, meta: meta(nil, nil)},
		{name: "an infinity in a histogram fails", chunk: []emfMetric{{Name: "i"}}, values: map[string]any{"i": []float64{1, math.Inf(-1)}}, meta: meta(nil, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, wantErr := marshalEMFDoc(tc.dims, tc.chunk, tc.values, tc.meta)
			got, err := appendEMFDoc(nil, tc.dims, tc.chunk, tc.values, tc.meta)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("error %v, json.Marshal's %v", err, wantErr)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("appendEMFDoc:\n%s\njson.Marshal:\n%s", got, want)
			}
		})
	}
}

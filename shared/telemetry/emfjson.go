package telemetry

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
)

// emfMember is one member of an EMF document's root object.
type emfMember struct {
	key   string
	value any // string (a dimension), int64, float64, []float64 or emfMetadata
}

// appendEMFDoc appends the JSON of the EMF document of one attribute set
// and chunk of metrics: the bytes json.Marshal gives for the map of its
// members (TestEMFDocIsJSONMarshals), written without reflection, whose
// first use (the struct types' field lists, the map and interface
// encoders) cost each cold start ~0.1 M instructions on its first flush.
// A member set twice keeps its last value, as in the map (a dimension
// named like a metric, or "_aws"); members are in key order, as
// json.Marshal sorts a map's keys.
func appendEMFDoc(b []byte, dims []attribute.KeyValue, chunk []emfMetric, values map[string]any, meta emfMetadata) ([]byte, error) {
	members := make([]emfMember, 0, len(dims)+len(chunk)+1)
	set := func(k string, v any) {
		for i := range members {
			if members[i].key == k {
				members[i].value = v
				return
			}
		}
		members = append(members, emfMember{k, v})
	}
	for _, kv := range dims {
		set(string(kv.Key), kv.Value.Emit())
	}
	for _, m := range chunk {
		set(m.Name, values[m.Name])
	}
	set("_aws", meta)
	slices.SortFunc(members, func(a, b emfMember) int { return strings.Compare(a.key, b.key) })
	b = append(b, '{')
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, m.key)
		b = append(b, ':')
		var err error
		if b, err = appendEMFValue(b, m.value); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendEMFValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendJSONString(b, v), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case float64:
		return appendJSONFloat(b, v)
	case []float64:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, f := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSONFloat(b, f); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case emfMetadata:
		b = append(b, `{"Timestamp":`...)
		b = strconv.AppendInt(b, v.Timestamp, 10)
		b = append(b, `,"CloudWatchMetrics":`...)
		if v.CloudWatchMetrics == nil {
			return append(b, "null}"...), nil
		}
		b = append(b, '[')
		for i, d := range v.CloudWatchMetrics {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"Namespace":`...)
			b = appendJSONString(b, d.Namespace)
			b = append(b, `,"Dimensions":`...)
			b = appendStringLists(b, d.Dimensions)
			b = append(b, `,"Metrics":`...)
			if d.Metrics == nil {
				b = append(b, "null"...)
			} else {
				b = append(b, '[')
				for j, m := range d.Metrics {
					if j > 0 {
						b = append(b, ',')
					}
					b = append(b, `{"Name":`...)
					b = appendJSONString(b, m.Name)
					if m.Unit != "" {
						b = append(b, `,"Unit":`...)
						b = appendJSONString(b, m.Unit)
					}
					b = append(b, '}')
				}
				b = append(b, ']')
			}
			b = append(b, '}')
		}
		return append(b, "]}"...), nil
	}
	// Not a value emfLines makes; encoding/json as before.
	j, err := json.Marshal(v)
	return append(b, j...), err
}

func appendStringLists(b []byte, lists [][]string) []byte {
	if lists == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, l := range lists {
		if i > 0 {
			b = append(b, ',')
		}
		if l == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, s := range l {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

// appendJSONFloat writes f as encoding/json does (ES6 number formatting),
// and refuses NaN and the infinities as it does.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendJSONString appends s quoted as json.Marshal writes it: as is when
// it is printable ASCII JSON leaves alone (every metric, dimension and
// unit name playplane writes), else by json.Marshal, whose escaping
// (control characters, HTML characters, U+2028 and U+2029, invalid
// UTF-8) is not written twice.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

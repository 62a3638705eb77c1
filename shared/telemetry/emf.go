package telemetry

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// EMF limits (CloudWatch Embedded Metric Format specification): at most
// 100 metrics per directive, 30 dimensions per dimension set, 100 values
// in a value array.
const (
	emfMaxMetrics    = 100
	emfMaxDimensions = 30
	emfMaxValues     = 100
)

// emfSink reads the meter provider on Flush, with delta temporality so
// that each line holds what happened since the previous one, and writes
// one EMF line per attribute set.
type emfSink struct {
	reader *sdkmetric.ManualReader
	// hist is the request histogram's reader, when not the SDK's.
	hist *histReader
	// inst says whether the SDK's instruments hold anything to collect.
	inst *instruments
	mu   sync.Mutex
	out  io.Writer
	now  func() time.Time
}

func newEMFSink(out io.Writer) *emfSink {
	return &emfSink{
		reader: sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector((*emfSink)(nil).temporality)),
		out:    out,
		now:    time.Now,
	}
}

// temporality is the sink's reader's: delta, gauges too. Each EMF line
// is a sample CloudWatch adds to the period it falls in (SampleCount,
// Sum, Average): a cumulative gauge would repeat its last value in every
// later flush of the instance, a sample of a count nobody made. A delta
// gauge reports the values recorded since the last collection only.
func (*emfSink) temporality(sdkmetric.InstrumentKind) metricdata.Temporality {
	return metricdata.DeltaTemporality
}

// emfMetric is one entry of a directive's Metrics.
type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit,omitempty"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetadata struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

// emfGroup is the metrics of one attribute set: one log line.
type emfGroup struct {
	dims    []attribute.KeyValue
	metrics []emfMetric
	values  map[string]any
}

// flush writes a line per attribute set with something new since the
// last flush. Unless all, it collects the SDK's instruments only when one
// was measured since (or one is observable): an invocation that measured
// nothing but its request duration (requestHistogram) skips the
// collection of every other instrument, and one that measured nothing
// writes nothing.
func (e *emfSink) flush(ctx context.Context, all bool) error {
	collect := all || e.inst == nil || e.inst.observes.Load()
	if e.inst != nil && e.inst.measured.take() {
		collect = true
	}
	if !collect && (e.hist == nil || e.hist.empty()) {
		return nil
	}
	var rm metricdata.ResourceMetrics
	if collect {
		if err := e.reader.Collect(ctx, &rm); err != nil {
			if e.inst != nil {
				e.inst.mark() // what the failed collection held is for the next
			}
			return err
		}
	}
	out := &rm
	if e.hist != nil {
		out = e.hist.inject(out)
	}
	lines, err := emfLines(out, e.now())
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range lines {
		if _, err := e.out.Write(append(l, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// emfLines renders rm as EMF documents, one per attribute set (and per
// hundred metrics). Data points with nothing new (a zero delta, an empty
// histogram) are left out.
func emfLines(rm *metricdata.ResourceMetrics, now time.Time) ([][]byte, error) {
	groups := map[attribute.Distinct]*emfGroup{}
	var order []attribute.Distinct
	add := func(set attribute.Set, name, unit string, v any) {
		k := set.Equivalent()
		g, ok := groups[k]
		if !ok {
			g = &emfGroup{dims: set.ToSlice(), values: map[string]any{}}
			groups[k] = g
			order = append(order, k)
		}
		g.metrics = append(g.metrics, emfMetric{Name: name, Unit: emfUnit(unit)})
		g.values[name] = v
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if p.Value != 0 || !d.IsMonotonic {
						add(p.Attributes, m.Name, m.Unit, p.Value)
					}
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					if p.Value != 0 || !d.IsMonotonic {
						add(p.Attributes, m.Name, m.Unit, p.Value)
					}
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, m.Name, m.Unit, p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, m.Name, m.Unit, p.Value)
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					if p.Count > 0 {
						min, _ := p.Min.Value()
						max, _ := p.Max.Value()
						add(p.Attributes, m.Name, m.Unit, histogramValues(p.Bounds, p.BucketCounts, float64(min), float64(max)))
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if p.Count > 0 {
						min, _ := p.Min.Value()
						max, _ := p.Max.Value()
						add(p.Attributes, m.Name, m.Unit, histogramValues(p.Bounds, p.BucketCounts, min, max))
					}
				}
			}
		}
	}
	var lines [][]byte
	for _, k := range order {
		g := groups[k]
		if len(g.dims) > emfMaxDimensions {
			return nil, fmt.Errorf("telemetry: EMF allows %d dimensions, a metric has %d", emfMaxDimensions, len(g.dims))
		}
		dims := make([]string, 0, len(g.dims))
		for _, kv := range g.dims {
			dims = append(dims, string(kv.Key))
		}
		for chunk := range slices.Chunk(g.metrics, emfMaxMetrics) {
			b, err := appendEMFDoc(nil, g.dims, chunk, g.values, emfMetadata{Timestamp: now.UnixMilli(),
				CloudWatchMetrics: []emfDirective{{Namespace: Namespace, Dimensions: [][]string{dims}, Metrics: chunk}}})
			if err != nil {
				return nil, err
			}
			lines = append(lines, b)
		}
	}
	return lines, nil
}

// histogramValues turns a histogram back into values CloudWatch can take
// percentiles of: each bucket's observations at the bucket's upper bound,
// clamped to the observed min and max (exact for a single observation, a
// Lambda's usual request), at most 100 values: each value then stands for
// the same share of the observations.
func histogramValues(bounds []float64, counts []uint64, min, max float64) []float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	scale := 1.0
	if total > emfMaxValues {
		scale = float64(emfMaxValues) / float64(total)
	}
	// Every bucket observed keeps a value (the one holding max among
	// them, so the line's Maximum is max); what rounding up puts past
	// emfMaxValues comes off the buckets holding the most values.
	ns := make([]int, len(counts))
	sum := 0
	for i, c := range counts {
		n := int(math.Round(float64(c) * scale))
		if c > 0 && n == 0 {
			n = 1
		}
		ns[i], sum = n, sum+n
	}
	for ; sum > emfMaxValues; sum-- {
		ns[slices.Index(ns, slices.Max(ns))]--
	}
	out := make([]float64, 0, sum)
	for i, n := range ns {
		v := max
		if i < len(bounds) {
			v = bounds[i]
		}
		v = math.Min(math.Max(v, min), max)
		for range n {
			out = append(out, v)
		}
	}
	return out
}

// emfUnit maps UCUM units to CloudWatch's; annotations ({message}) count.
func emfUnit(u string) string {
	switch {
	case u == "s":
		return "Seconds"
	case u == "ms":
		return "Milliseconds"
	case u == "By":
		return "Bytes"
	case u == "1" || u == "" || strings.HasPrefix(u, "{"):
		return "Count"
	default:
		return "None"
	}
}

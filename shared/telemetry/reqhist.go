package telemetry

import (
	"context"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// requestHistogram aggregates http.server.request.duration, the one
// measurement every request makes, itself instead of through the SDK's
// instrument: the SDK's Record normalises the attribute set on every call
// (attrnorm.SetDedup, by reflection) and looks the series up by its
// hash, about a quarter of a microsecond, the largest single part of the
// telemetry of an unsampled request. Here a measurement is a map look-up
// by route and status under a read lock and a few additions under the
// series' lock.
//
// Each reader gets what the SDK would have given it: the same metric
// (name, description, unit, scope), the reader's own temporality
// (cumulative or delta), the view's bucket boundaries, count, sum (added
// as the SDK adds it), min and max, the SDK's exemplar reservoir under the
// exemplar filter the SDK reads from the environment, and its cardinality
// limit with the overflow series. TestRequestHistogramIsTheSDKs records
// one sequence both ways and compares what every sink writes (Prometheus
// text, EMF lines, OTLP, Cloud Monitoring). Where the SDK would behave
// otherwise (ownRequestHistogram), Setup leaves the metric to the SDK.
type requestHistogram struct {
	// bounds are the view's bucket boundaries, as reported and as the
	// exemplar reservoir buckets by; search is what a measurement's
	// bucket is looked up in: bounds itself, except where a test shifts
	// it to break the aggregate on purpose (DriftRequestHistogram), which
	// costs a measurement nothing.
	bounds, search []float64
	filter         exemplar.Filter // nil: no exemplars (always_off)
	limit          int
	readers        []*histReader
}

// histReader is one reader's aggregate: a reader reads with its own
// temporality, and a delta reader resets what it read.
type histReader struct {
	h     *requestHistogram
	delta bool
	mu    sync.RWMutex
	// series and overflow are replaced, under mu, when a delta reader
	// collects; a measurement holds mu's read lock while it adds.
	series   map[routeKey]*histSeries
	overflow *histSeries
	start    time.Time
}

// histSeries is one attribute set's histogram point.
type histSeries struct {
	attrs    attribute.Set
	mu       sync.Mutex
	counts   []uint64
	total    sdkSum
	set      bool
	min, max float64
	res      *exemplar.HistogramReservoir
}

// sdkSum adds as the SDK's atomicCounter[float64] does: integral values
// apart, as integers, the others in a float; read as their sum. Keeping
// the same split gives the same rounding, so the same sum to the last bit.
type sdkSum struct {
	f float64
	i int64
}

func (s *sdkSum) add(v float64) {
	if iv := int64(v); float64(iv) == v {
		s.i += iv
		return
	}
	s.f += v
}

func (s *sdkSum) load() float64 { return s.f + float64(s.i) }

// ownRequestHistogram reports whether the process environment leaves the
// request histogram's output as this file makes it: not under the SDK's
// experimental switches that change it (a cardinality limit of its own,
// start times per series, self-observability metrics that count
// measurements). The SDK reads them from the process environment; so
// does this.
func ownRequestHistogram() bool {
	for _, k := range []string{"OTEL_GO_X_CARDINALITY_LIMIT", "OTEL_GO_X_PER_SERIES_START_TIMESTAMPS"} {
		if strings.TrimSpace(os.Getenv(k)) != "" {
			return false
		}
	}
	return askSamplerFirst() // false under OTEL_GO_X_OBSERVABILITY
}

// sdkCardinalityLimit is the SDK's default limit of attribute sets per
// instrument and reader (sdk/metric's defaultCardinalityLimit), which
// applies while OTEL_GO_X_CARDINALITY_LIMIT is unset.
const sdkCardinalityLimit = 2000

// meterScope is the instrumentation scope of playplane's instruments, as
// the SDK reports it for p.mp.Meter(meterName).
var meterScope = instrumentation.Scope{Name: meterName}

// overflowSet is the SDK's attribute set of measurements past the limit.
var overflowSet = attribute.NewSet(attribute.Bool("otel.metric.overflow", true))

func newRequestHistogram() *requestHistogram {
	h := &requestHistogram{bounds: slices.Sorted(slices.Values(secondsBuckets)), limit: sdkCardinalityLimit}
	h.search = h.bounds
	// As the SDK reads OTEL_METRICS_EXEMPLAR_FILTER (sdk/metric config.go):
	// unknown values leave its default, trace_based.
	switch strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_METRICS_EXEMPLAR_FILTER"))) {
	case "always_on":
		h.filter = exemplar.AlwaysOnFilter
	case "always_off":
	default:
		h.filter = exemplar.TraceBasedFilter
	}
	return h
}

// reader adds a reader of the given temporality; Setup calls it before
// any measurement.
func (h *requestHistogram) reader(t metricdata.Temporality) *histReader {
	r := &histReader{h: h, delta: t == metricdata.DeltaTemporality, series: map[routeKey]*histSeries{}, start: time.Now()}
	h.readers = append(h.readers, r)
	return r
}

// record adds a request's duration v to the series of k.
func (h *requestHistogram) record(ctx context.Context, k routeKey, v float64) {
	offer := h.filter != nil && h.filter(ctx)
	var ts time.Time
	if offer {
		ts = time.Now()
	}
	for _, r := range h.readers {
		r.record(ctx, k, v, offer, ts)
	}
}

func (r *histReader) record(ctx context.Context, k routeKey, v float64, offer bool, ts time.Time) {
	r.mu.RLock()
	s := r.series[k]
	if s == nil {
		s = r.overflow
	}
	if s == nil {
		// A new series: made, and measured, under the write lock, which
		// a delta collect also takes.
		r.mu.RUnlock()
		r.mu.Lock()
		defer r.mu.Unlock()
		r.add(ctx, r.newSeries(k), v, offer, ts)
		return
	}
	r.add(ctx, s, v, offer, ts)
	r.mu.RUnlock()
}

// bucket is the index of the first bound at or above v, as
// sort.SearchFloat64s finds it in the SDK's histogram (len(bounds) for NaN),
// looked for from the first: a request's duration is nearly always in the
// first few buckets, where a binary search makes five calls of its
// predicate. TestBucketIsTheSDKs holds the two equal.
func bucket(bounds []float64, v float64) int {
	idx := 0
	for idx < len(bounds) && !(bounds[idx] >= v) {
		idx++
	}
	return idx
}

// add adds v to s as the SDK's histogram point does.
func (r *histReader) add(ctx context.Context, s *histSeries, v float64, offer bool, ts time.Time) {
	idx := bucket(r.h.search, v)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[idx]++
	s.total.add(v)
	if !s.set {
		s.min, s.max, s.set = v, v, true
	} else {
		if v < s.min {
			s.min = v
		}
		if v > s.max {
			s.max = v
		}
	}
	if offer {
		if s.res == nil {
			s.res = exemplar.NewHistogramReservoir(r.h.bounds)
		}
		s.res.Offer(ctx, ts, exemplar.NewValue(v), nil)
	}
}

// newSeries returns k's series, made if there is none, or the overflow
// series past the limit, as the SDK's limitedSyncMap decides. r.mu is
// held.
func (r *histReader) newSeries(k routeKey) *histSeries {
	if s := r.series[k]; s != nil {
		return s
	}
	if r.overflow != nil {
		return r.overflow
	}
	if len(r.series) >= r.h.limit-1 {
		r.overflow = &histSeries{attrs: overflowSet, counts: make([]uint64, len(r.h.bounds)+1)}
		return r.overflow
	}
	// r.Method is a slice of the request line, URI included, and on an
	// unmatched route any token is a method: the series keeps a copy, not
	// the line (TestRequestHistogramKeepsNoRequestLine).
	k.method = strings.Clone(k.method)
	s := &histSeries{attrs: attribute.NewSet(semconv.HTTPRequestMethodKey.String(k.method), semconv.HTTPRoute(k.route),
		semconv.HTTPResponseStatusCode(k.status)), counts: make([]uint64, len(r.h.bounds)+1)}
	r.series[k] = s
	return s
}

// collect returns the reader's metric as the SDK's histogram aggregate
// would report it, and false when it has no data point (the SDK then
// leaves the metric out).
func (r *histReader) collect() (metricdata.Metrics, bool) {
	var series []*histSeries
	var start, t time.Time
	if r.delta {
		// Flushes may run at once (an invocation's beside Shutdown's):
		// the interval is read and moved on under the lock, so that each
		// starts where the one before it ended.
		r.mu.Lock()
		start, t = r.start, time.Now()
		series = slices.Collect(maps.Values(r.series))
		if r.overflow != nil {
			series = append(series, r.overflow)
		}
		r.series, r.overflow, r.start = map[routeKey]*histSeries{}, nil, t
		r.mu.Unlock()
	} else {
		start, t = r.start, time.Now()
		r.mu.RLock()
		series = slices.Collect(maps.Values(r.series))
		if r.overflow != nil {
			series = append(series, r.overflow)
		}
		r.mu.RUnlock()
	}
	if len(series) == 0 {
		return metricdata.Metrics{}, false
	}
	// The SDK's order is its sync.Map's, which varies; this one does not.
	slices.SortFunc(series, func(a, b *histSeries) int {
		return strings.Compare(a.attrs.Encoded(attribute.DefaultEncoder()), b.attrs.Encoded(attribute.DefaultEncoder()))
	})
	temporality := metricdata.CumulativeTemporality
	if r.delta {
		temporality = metricdata.DeltaTemporality
	}
	bounds := slices.Clone(r.h.bounds)
	pts := make([]metricdata.HistogramDataPoint[float64], len(series))
	for i, s := range series {
		p := &pts[i]
		s.mu.Lock()
		p.Attributes, p.StartTime, p.Time, p.Bounds = s.attrs, start, t, bounds
		p.BucketCounts = slices.Clone(s.counts)
		for _, c := range s.counts {
			p.Count += c
		}
		p.Sum = s.total.load()
		if s.set {
			p.Min, p.Max = metricdata.NewExtrema(s.min), metricdata.NewExtrema(s.max)
		}
		if s.res != nil {
			var ex []exemplar.Exemplar
			s.res.Collect(&ex)
			p.Exemplars = make([]metricdata.Exemplar[float64], len(ex))
			for j, e := range ex {
				p.Exemplars[j] = metricdata.Exemplar[float64]{FilteredAttributes: e.FilteredAttributes, Time: e.Time,
					Value: e.Value.Float64(), SpanID: e.SpanID, TraceID: e.TraceID}
			}
		}
		if !r.delta {
			// The SDK's cumulative point keeps its sum by adding what it
			// read back into a reset counter: the same here, for the same
			// rounding afterwards.
			sum := s.total.load()
			s.total = sdkSum{}
			s.total.add(sum)
		}
		s.mu.Unlock()
	}
	return metricdata.Metrics{Name: MetricRequestDuration, Description: requestDurationDescription, Unit: "s",
		Data: metricdata.Histogram[float64]{Temporality: temporality, DataPoints: pts}}, true
}

// inject returns rm with the reader's metric where the SDK puts its own
// instrument's: first among the metrics of playplane's scope (the first
// instrument made). rm itself is left as it is (a reader reuses it).
func (r *histReader) inject(rm *metricdata.ResourceMetrics) *metricdata.ResourceMetrics {
	m, ok := r.collect()
	if !ok {
		return rm
	}
	out := *rm
	out.ScopeMetrics = slices.Clone(rm.ScopeMetrics)
	for i := range out.ScopeMetrics {
		if out.ScopeMetrics[i].Scope == meterScope {
			out.ScopeMetrics[i].Metrics = append([]metricdata.Metrics{m}, out.ScopeMetrics[i].Metrics...)
			return &out
		}
	}
	out.ScopeMetrics = append(out.ScopeMetrics, metricdata.ScopeMetrics{Scope: meterScope, Metrics: []metricdata.Metrics{m}})
	return &out
}

// Produce is the reader's metric as a Producer's (the Prometheus
// exporter takes it so; it sorts what it writes, so a scope of its own
// writes the same text).
func (r *histReader) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	m, ok := r.collect()
	if !ok {
		return nil, nil
	}
	return []metricdata.ScopeMetrics{{Scope: meterScope, Metrics: []metricdata.Metrics{m}}}, nil
}

var _ sdkmetric.Producer = (*histReader)(nil)

// histExporter puts the reader's metric into what a periodic reader
// exports.
type histExporter struct {
	sdkmetric.Exporter
	r *histReader
}

func (e histExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	return e.Exporter.Export(ctx, e.r.inject(rm))
}

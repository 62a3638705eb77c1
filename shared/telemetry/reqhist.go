package telemetry

import (
	"context"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// requestHistogram aggregates http.server.request.duration, the one
// measurement every request makes, itself instead of through the SDK's
// instrument: the SDK's Record normalises the attribute set on every call
// (attrnorm.SetDedup, by reflection) and looks the series up by its
// hash, about a quarter of a microsecond, the largest single part of the
// telemetry of an unsampled request. Here a measurement takes the series
// it measured last when the route, method and status are the same (nearly
// always: a function serves one route), else looks it up in a map read
// without a lock, and makes a few additions under the series' lock.
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
	// offersUnlinked is the filter's answer for context.Background(),
	// what Request.End passes for a request whose span is not recorded
	// (nearly every heartbeat): asked once here rather than per request,
	// where the trace-based filter's look-up of a span cost more than the
	// rest of the measurement.
	offersUnlinked bool
	limit          int
	readers        []*histReader
}

// histReader is one reader's aggregate: a reader reads with its own
// temporality, and a delta reader resets what it read.
type histReader struct {
	h     *requestHistogram
	delta bool
	// mu serialises the making of series and collects.
	mu sync.Mutex
	// gen is the reader's series, read by a measurement without a lock:
	// replaced, under mu, by a copy with one more series when one is
	// made, and by an empty one when a delta reader collects.
	gen atomic.Pointer[histGen]
	// hot is the series last measured, which the next measurement takes
	// if it has the same key, without the map look-up.
	hot   atomic.Pointer[histSeries]
	start time.Time // under mu
}

// histGen is a reader's series, never changed once published: a new
// series makes a new histGen.
type histGen struct {
	series   map[routeKey]*histSeries
	overflow *histSeries
}

// histSeries is one attribute set's histogram point.
type histSeries struct {
	key   routeKey // the zero key for the overflow series
	attrs attribute.Set
	mu    sync.Mutex
	// retired: a delta reader's collect read the series and left it, so
	// a measurement that finds it so (having taken it before the collect)
	// measures again in the reader's current series.
	retired  bool
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
	h := &requestHistogram{bounds: slices.Sorted(slices.Values(requestBuckets)), limit: sdkCardinalityLimit}
	h.search = h.bounds
	h.filter = exemplarFilter()
	h.offersUnlinked = offersUnlinked(h.filter)
	return h
}

// offersUnlinked is filter's answer for a measurement made without a
// sampled span (context.Background()): true only under always_on.
func offersUnlinked(filter exemplar.Filter) bool {
	return filter != nil && filter(context.Background())
}

// exemplarFilter is the exemplar filter the SDK's instruments measure
// under, nil for always_off: as the SDK reads OTEL_METRICS_EXEMPLAR_FILTER
// (sdk/metric config.go), unknown values leaving its default, trace_based.
func exemplarFilter() exemplar.Filter {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_METRICS_EXEMPLAR_FILTER"))) {
	case "always_on":
		return exemplar.AlwaysOnFilter
	case "always_off":
		return nil
	default:
		return exemplar.TraceBasedFilter
	}
}

// reader adds a reader of the given temporality; Setup calls it before
// any measurement.
func (h *requestHistogram) reader(t metricdata.Temporality) *histReader {
	r := &histReader{h: h, delta: t == metricdata.DeltaTemporality, start: time.Now()}
	r.gen.Store(&histGen{series: map[routeKey]*histSeries{}})
	h.readers = append(h.readers, r)
	return r
}

// record adds a request's duration v to the series of k.
func (h *requestHistogram) record(ctx context.Context, k routeKey, v float64) {
	var offer bool
	switch {
	case h.filter == nil:
	case ctx == unlinked:
		offer = h.offersUnlinked
	default:
		offer = h.filter(ctx)
	}
	var ts time.Time
	if offer {
		ts = time.Now()
	}
	for _, r := range h.readers {
		r.record(ctx, k, v, offer, ts)
	}
}

func (r *histReader) record(ctx context.Context, k routeKey, v float64, offer bool, ts time.Time) {
	if s := r.hot.Load(); s != nil && s.key == k && r.add(ctx, s, v, offer, ts) {
		return
	}
	for {
		g := r.gen.Load()
		s := g.series[k]
		if s == nil {
			s = g.overflow
		}
		if s == nil {
			// A new series: made, measured and only then published,
			// under mu, so that no collect ever reads it empty.
			r.addNew(ctx, k, v, offer, ts)
			return
		}
		r.hot.Store(s)
		if r.add(ctx, s, v, offer, ts) {
			return
		}
	}
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

// add adds v to s as the SDK's histogram point does, and reports false,
// adding nothing, if s is retired.
func (r *histReader) add(ctx context.Context, s *histSeries, v float64, offer bool, ts time.Time) bool {
	idx := bucket(r.h.search, v)
	s.mu.Lock()
	if s.retired {
		s.mu.Unlock()
		return false
	}
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
	s.mu.Unlock()
	return true
}

// addNew adds v to k's series, made if there is none, or to the overflow
// series past the limit, as the SDK's limitedSyncMap decides. A series of
// the current histGen is not retired while mu is held.
func (r *histReader) addNew(ctx context.Context, k routeKey, v float64, offer bool, ts time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.gen.Load()
	if s := g.series[k]; s != nil {
		r.add(ctx, s, v, offer, ts)
		return
	}
	if g.overflow != nil {
		r.add(ctx, g.overflow, v, offer, ts)
		return
	}
	if len(g.series) >= r.h.limit-1 {
		o := &histSeries{attrs: overflowSet, counts: make([]uint64, len(r.h.bounds)+1)}
		r.add(ctx, o, v, offer, ts)
		r.gen.Store(&histGen{series: g.series, overflow: o})
		return
	}
	// r.Method is a slice of the request line, URI included, and on an
	// unmatched route any token is a method: the series keeps a copy, not
	// the line (TestRequestHistogramKeepsNoRequestLine).
	k.method = strings.Clone(k.method)
	s := &histSeries{key: k, attrs: attribute.NewSet(k.attrs()...), counts: make([]uint64, len(r.h.bounds)+1)}
	r.add(ctx, s, v, offer, ts)
	series := make(map[routeKey]*histSeries, len(g.series)+1)
	maps.Copy(series, g.series)
	series[k] = s
	r.gen.Store(&histGen{series: series})
}

// empty reports that the reader has no series: for a delta reader,
// nothing was measured since its last collect. A measurement racing with
// it is in the next collect.
func (r *histReader) empty() bool {
	g := r.gen.Load()
	return len(g.series) == 0 && g.overflow == nil
}

// collect returns the reader's metric as the SDK's histogram aggregate
// would report it, and false when it has no data point (the SDK then
// leaves the metric out).
func (r *histReader) collect() (metricdata.Metrics, bool) {
	// Flushes may run at once (an invocation's beside Shutdown's): a
	// delta reader's interval is read and moved on under the lock, so
	// that each starts where the one before it ended, and its series are
	// left to the measurements that took them before (retired as read).
	r.mu.Lock()
	start, t := r.start, time.Now()
	g := r.gen.Load()
	if r.delta {
		r.gen.Store(&histGen{series: map[routeKey]*histSeries{}})
		r.start = t
	}
	r.mu.Unlock()
	series := slices.Collect(maps.Values(g.series))
	if g.overflow != nil {
		series = append(series, g.overflow)
	}
	if len(series) == 0 {
		return metricdata.Metrics{}, false
	}
	// The SDK's order is its sync.Map's, which varies; this one does not:
	// the attribute sets' encodings in order, each set encoded once (a
	// comparison that encoded both of its sets spent most of a collect of
	// many series encoding: ~2 log2(n) encodings per series).
	type keyed struct {
		enc string
		s   *histSeries
	}
	byEnc := make([]keyed, len(series))
	for i, s := range series {
		byEnc[i] = keyed{s.attrs.Encoded(attribute.DefaultEncoder()), s}
	}
	slices.SortFunc(byEnc, func(a, b keyed) int { return strings.Compare(a.enc, b.enc) })
	for i := range byEnc {
		series[i] = byEnc[i].s
	}
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
		if r.delta {
			s.retired = true
		} else {
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

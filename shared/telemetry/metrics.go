package telemetry

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Metric names. The Prometheus exposition turns dots into underscores and
// adds the unit ("playplane_webhook_lag_seconds"); EMF and Cloud
// Monitoring keep them as written. Alarms (infra) name them from here.
const (
	MetricRequestDuration = "http.server.request.duration"
	MetricPlayAdmitted    = "playplane.play.admitted"
	MetricPlayRefused     = "playplane.play.refused"
	MetricWebhookLag      = "playplane.webhook.lag"
	MetricInboxPending    = "playplane.inbox.pending"
	MetricInboxParked     = "playplane.inbox.parked"
	MetricQueueBatchSize  = "playplane.queue.batch.size"
	MetricQueueRetries    = "playplane.queue.retries"
	MetricQueueDead       = "playplane.queue.dead_letters"
	MetricGrantsSigned    = "playplane.grants.signed"
	MetricLeasesActive    = "playplane.leases.active"
)

// Attribute keys of playplane's own metrics.
const (
	AttrReason = attribute.Key("playplane.reason")
	AttrCDN    = attribute.Key("playplane.cdn")
)

// meterName names the meter of playplane's instruments.
const meterName = "github.com/playplane/playplane"

const requestDurationDescription = "Duration of HTTP server requests, per route and status."

// instruments are playplane's SDK instruments, each made on its first
// measurement: a process measures a few of them (a Lambda's first request
// only its request duration, which requestHistogram aggregates without
// one), and making all ten at start cost every cold start ~0.2 M
// instructions and ~20 page faults (~4% of authorizeplay's start CPU), and
// each flush a collection of the instruments it never used. An
// instrument never measured exports nothing either way.
type instruments struct {
	meter metric.Meter
	// requestDuration is the SDK's instrument, measured only when
	// reqHist is nil (requestHistogram).
	requestDuration lazy[metric.Float64Histogram]
	reqHist         *requestHistogram
	admitted        lazy[metric.Int64Counter]
	refused         lazy[metric.Int64Counter]
	webhookLag      lazy[metric.Float64Histogram]
	pending         lazy[metric.Int64Gauge]
	parked          lazy[metric.Int64Gauge]
	batchSize       lazy[metric.Int64Histogram]
	retries         lazy[metric.Int64Counter]
	dead            lazy[metric.Int64Counter]
	grants          lazy[metric.Int64Counter]
	// leases is made on the first LeasesActive: the local runner observes
	// the same metric at each scrape instead (ObserveActiveLeases), and an
	// instrument of each kind under one name would be exported twice.
	leases lazy[metric.Int64Gauge]

	// unsampledExemplars: the exemplar filter offers a measurement made
	// without a sampled span (always_on), and the SDK's reservoir then
	// stores the trace and span id of whatever span the context holds,
	// so Request.End measures a request it records no span of in the
	// request's context too.
	unsampledExemplars bool

	// measured: an SDK instrument was measured since the EMF sink last
	// collected (mark), so that an invocation measuring nothing but the
	// request duration, or nothing at all, skips the SDK's collection.
	measured flag
	// observes: an observable instrument is registered, whose value only
	// a collection reads.
	observes atomic.Bool
}

// mark notes a measurement of an SDK instrument, after it is made: a
// flush that finds the mark then collects it (emfSink.flush).
func (i *instruments) mark() { i.measured.mark() }

// flag notes that something happened since a flush last took the note
// (an instrument measured, a span ended). Marking writes only when the
// flag is down, so the requests that find it up leave its cache line
// unwritten.
type flag struct{ up atomic.Bool }

func (f *flag) mark() {
	if !f.up.Load() {
		f.up.Store(true)
	}
}

// take reports whether the flag was up, and lowers it.
func (f *flag) take() bool { return f.up.Swap(false) }

// lazy is an instrument made on first use by its constructor (a package
// function, so that the hot path makes no closure).
type lazy[T any] struct {
	once sync.Once
	v    T
	err  error
}

// get returns the instrument, making it with make(meter) the first time.
// The SDK returns a working instrument beside a validation error (our
// names and units are constants, checked by TestInstrumentsAreValid);
// the error goes to the OpenTelemetry error handler, as the SDK's own.
func (l *lazy[T]) get(m metric.Meter, make func(metric.Meter) (T, error)) T {
	l.once.Do(func() {
		if l.v, l.err = make(m); l.err != nil {
			otel.Handle(l.err)
		}
	})
	return l.v
}

func newInstruments(m metric.Meter) *instruments { return &instruments{meter: m} }

// The constructors of the instruments, one each.
func newRequestDuration(m metric.Meter) (metric.Float64Histogram, error) {
	return m.Float64Histogram(MetricRequestDuration, metric.WithUnit("s"),
		metric.WithDescription(requestDurationDescription))
}

func newAdmitted(m metric.Meter) (metric.Int64Counter, error) {
	return m.Int64Counter(MetricPlayAdmitted, metric.WithUnit("{play}"),
		metric.WithDescription("Plays admitted with a lease."))
}

func newRefused(m metric.Meter) (metric.Int64Counter, error) {
	return m.Int64Counter(MetricPlayRefused, metric.WithUnit("{play}"),
		metric.WithDescription("Plays refused, by reason."))
}

func newWebhookLag(m metric.Meter) (metric.Float64Histogram, error) {
	return m.Float64Histogram(MetricWebhookLag, metric.WithUnit("s"),
		metric.WithDescription("Time from a Stripe event's creation to its application."))
}

func newPending(m metric.Meter) (metric.Int64Gauge, error) {
	return m.Int64Gauge(MetricInboxPending, metric.WithUnit("{event}"),
		metric.WithDescription("Unprocessed, unparked inbox events older than the sweep age, as the sweeper found them (capped by its batch)."))
}

func newParked(m metric.Meter) (metric.Int64Gauge, error) {
	return m.Int64Gauge(MetricInboxParked, metric.WithUnit("{event}"),
		metric.WithDescription("Parked inbox events by what they wait for (playplane.reason: retry, customer, account, held), as the sweeper counted them (each capped by its budget)."))
}

func newBatchSize(m metric.Meter) (metric.Int64Histogram, error) {
	return m.Int64Histogram(MetricQueueBatchSize, metric.WithUnit("{message}"),
		metric.WithDescription("Messages per consumer batch."),
		metric.WithExplicitBucketBoundaries(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000))
}

func newRetries(m metric.Meter) (metric.Int64Counter, error) {
	return m.Int64Counter(MetricQueueRetries, metric.WithUnit("{message}"),
		metric.WithDescription("Messages a consumer handed back for redelivery."))
}

func newDead(m metric.Meter) (metric.Int64Counter, error) {
	return m.Int64Counter(MetricQueueDead, metric.WithUnit("{message}"),
		metric.WithDescription("Messages dead-lettered after their last attempt (local bus; the clouds count their dead-letter queues)."))
}

func newGrants(m metric.Meter) (metric.Int64Counter, error) {
	return m.Int64Counter(MetricGrantsSigned, metric.WithUnit("{grant}"),
		metric.WithDescription("Signed CDN grants (URLs and cookies), per CDN."))
}

func newLeases(m metric.Meter) (metric.Int64Gauge, error) {
	return m.Int64Gauge(MetricLeasesActive, metric.WithUnit("{lease}"),
		metric.WithDescription(leasesDescription))
}

// LeasesActive records n, the leases the store held when a scheduled count
// read it, as the playplane.leases.active gauge: the clouds' way to the
// metric (a job counts once a minute; no request pays for it, and a count
// cannot drift). The local runner observes the same metric at each scrape
// instead (Provider.ObserveActiveLeases) and never calls this.
func LeasesActive(ctx context.Context, n int) error {
	i := current().metrics()
	if i == nil {
		return nil
	}
	g := i.leases.get(i.meter, newLeases)
	if i.leases.err != nil {
		return i.leases.err
	}
	g.Record(ctx, int64(n))
	i.mark()
	return nil
}

const leasesDescription = "Playback sessions holding a stream lease, as the store holds them when counted."

func (rt *runtime) metrics() *instruments {
	if rt == nil {
		return nil
	}
	return rt.inst
}

// PlayAdmitted counts an admitted play.
func PlayAdmitted(ctx context.Context) {
	if i := current().metrics(); i != nil {
		i.admitted.get(i.meter, newAdmitted).Add(ctx, 1)
		i.mark()
	}
}

// PlayRefused counts a refused play by its machine-readable reason.
func PlayRefused(ctx context.Context, reason string) {
	if rt := current(); rt.metrics() != nil {
		rt.inst.refused.get(rt.inst.meter, newRefused).Add(ctx, 1, rt.reasons.get(reason, func() []attribute.KeyValue {
			return []attribute.KeyValue{AttrReason.String(reason)}
		}).add...)
		rt.inst.mark()
	}
}

// WebhookLag records a Stripe event's time from creation (by Stripe) to
// its application. It has no dimension, so that an alarm on it (infra)
// names the metric alone.
func WebhookLag(ctx context.Context, lag time.Duration) {
	if i := current().metrics(); i != nil {
		i.webhookLag.get(i.meter, newWebhookLag).Record(ctx, lag.Seconds())
		i.mark()
	}
}

// InboxBacklog records the sweeper's view of the inbox: its pending
// events, and its parked ones by what they wait for (AttrReason: the
// caller's names, such as retry and customer), one series each.
func InboxBacklog(ctx context.Context, source string, pending int, parked map[string]int) {
	if i := current().metrics(); i != nil {
		src := attribute.String("playplane.source", source)
		i.pending.get(i.meter, newPending).Record(ctx, int64(pending), metric.WithAttributes(src))
		g := i.parked.get(i.meter, newParked)
		for reason, n := range parked {
			g.Record(ctx, int64(n), metric.WithAttributes(src, AttrReason.String(reason)))
		}
		i.mark()
	}
}

// DeadLettered counts messages a bus gave up on.
func DeadLettered(ctx context.Context, system, topic string, n int) {
	if rt := current(); rt.metrics() != nil && n > 0 {
		rt.inst.dead.get(rt.inst.meter, newDead).Add(ctx, int64(n), rt.messagingOptions(system, topic).add...)
		rt.inst.mark()
	}
}

// GrantSigned counts a signed grant for cdn.
func GrantSigned(ctx context.Context, cdn string) {
	if rt := current(); rt.metrics() != nil {
		rt.inst.grants.get(rt.inst.meter, newGrants).Add(ctx, 1, rt.cdns.get(cdn, func() []attribute.KeyValue {
			return []attribute.KeyValue{AttrCDN.String(cdn)}
		}).add...)
		rt.inst.mark()
	}
}

// routeKey names the cached attribute set of a route and status.
type routeKey struct {
	method, scheme, route string
	status                int
}

// routeOptions are the record options of the request duration of a route
// and status.
func (rt *runtime) routeOptions(method, scheme, route string, status int) []metric.RecordOption {
	k := routeKey{method, scheme, route, status}
	return rt.routes.get(k, k.attrs).rec
}

// attrs are the request duration's attributes of k, as the HTTP semantic
// conventions give them: url.scheme (required), no http.route without a
// route, error.type on a server error.
func (k routeKey) attrs() []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(k.method), semconv.URLScheme(k.scheme),
		semconv.HTTPResponseStatusCode(k.status))
	if k.route != "" {
		attrs = append(attrs, semconv.HTTPRoute(k.route))
	}
	if k.status >= 500 {
		attrs = append(attrs, errorType(k.status))
	}
	return attrs
}

// recordDuration records a request's duration in seconds.
func (rt *runtime) recordDuration(ctx context.Context, method, scheme, route string, status int, seconds float64) {
	if h := rt.inst.reqHist; h != nil {
		h.record(ctx, routeKey{method, scheme, route, status}, seconds)
		return
	}
	rt.inst.requestDuration.get(rt.inst.meter, newRequestDuration).Record(ctx, seconds, rt.routeOptions(method, scheme, route, status)...)
	rt.inst.mark()
}

// measureOpts are the options of a measurement with one attribute set,
// made once and passed as slices (a variadic argument list would be made
// on every call, and the set sorted and hashed).
type measureOpts struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

// optCacheCap bounds an optCache: its keys are routes, reasons, CDNs and
// topics, a few dozen; past the cap (a bug making keys from input) the
// options are made per call, as without the cache.
const optCacheCap = 512

// optCache keeps measureOpts by key. A map behind a lock, not a sync.Map,
// whose key, boxed in an interface, would be allocated on every look-up.
type optCache[K comparable] struct {
	mu sync.RWMutex
	m  map[K]measureOpts
}

func (c *optCache[K]) get(k K, attrs func() []attribute.KeyValue) measureOpts {
	c.mu.RLock()
	o, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return o
	}
	set := metric.WithAttributeSet(attribute.NewSet(attrs()...))
	o = measureOpts{add: []metric.AddOption{set}, rec: []metric.RecordOption{set}}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached, ok := c.m[k]; ok {
		return cached
	}
	if len(c.m) < optCacheCap {
		if c.m == nil {
			c.m = map[K]measureOpts{}
		}
		c.m[k] = o
	}
	return o
}

// messagingOptions are the options of the queue metrics of a topic.
func (rt *runtime) messagingOptions(system, topic string) measureOpts {
	return rt.topics.get(producerKey{system, topic}, func() []attribute.KeyValue {
		return []attribute.KeyValue{semconv.MessagingSystemKey.String(system), semconv.MessagingDestinationName(topic)}
	})
}

// ObserveActiveLeases reports count as the playplane.leases.active gauge,
// calling it when metrics are collected (a Prometheus scrape, an EMF or
// OTLP export), never on a request path. The figure is whatever count
// reads, so it cannot drift; a failed count skips that collection. Call
// the returned function to stop (before what count reads is closed). With
// metrics off it does nothing.
func (p *Provider) ObserveActiveLeases(count func(context.Context) (int64, error)) (stop func() error, err error) {
	if p == nil || p.mp == nil {
		return func() error { return nil }, nil
	}
	m := p.mp.Meter(meterName)
	g, err := m.Int64ObservableGauge(MetricLeasesActive, metric.WithUnit("{lease}"),
		metric.WithDescription(leasesDescription))
	if err != nil {
		return nil, err
	}
	reg, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		n, err := count(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(g, n)
		return nil
	}, g)
	if err != nil {
		return nil, err
	}
	if p.rt != nil && p.rt.inst != nil {
		p.rt.inst.observes.Store(true)
	}
	return reg.Unregister, nil
}

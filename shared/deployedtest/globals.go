package deployedtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	metricembedded "go.opentelemetry.io/otel/metric/embedded"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	traceembedded "go.opentelemetry.io/otel/trace/embedded"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// otelSwitch stands in for the OpenTelemetry globals while a GCP deploy
// unit is benchmarked with telemetry off and on in turn. Google's client
// libraries take them from the globals: the Firestore library its tracer
// at every operation (a span of its own), the gRPC transport's otelgrpc
// handler its tracer, meter and propagator once, when a client connects
// (a span and the rpc.client.call.duration histogram of every RPC, the
// trace context in its metadata). A deployed unit sets telemetry up before
// it makes a client, so with telemetry off the libraries hold the no-op
// globals and with it on Setup's. The benchmark makes its clients once
// and switches, so what they hold is this, which hands each call on to
// Setup's providers in "on" chunks and to the no-op ones in "off" chunks.
type otelSwitch struct {
	on  atomic.Bool
	sdk atomic.Pointer[sdkGlobals]

	tracers *switchTracers
	meters  *switchMeters
	prop    *switchPropagator

	mu sync.Mutex
	// unswitched names the instruments of kinds the switch does not hand
	// on (they record nothing in either mode); NewGCP fails on any.
	unswitched []string
}

// sdkGlobals are the globals telemetry.Setup installed.
type sdkGlobals struct {
	tp   trace.TracerProvider
	mp   metric.MeterProvider
	prop propagation.TextMapPropagator
}

var (
	offTracer = tracenoop.NewTracerProvider().Tracer("")
	offProp   = propagation.NewCompositeTextMapPropagator()
)

func newOtelSwitch() *otelSwitch {
	s := &otelSwitch{}
	s.tracers = &switchTracers{s: s, byName: map[string]*switchTracer{}}
	s.meters = &switchMeters{s: s}
	s.prop = &switchPropagator{s: s}
	return s
}

// install makes s the globals.
func (s *otelSwitch) install() {
	otel.SetTracerProvider(s.tracers)
	otel.SetMeterProvider(s.meters)
	otel.SetTextMapPropagator(s.prop)
}

// set switches to on. Its first call takes the globals as Setup's and
// installs s in their place.
func (s *otelSwitch) set(on bool) {
	if s.sdk.Load() == nil {
		sdk := &sdkGlobals{tp: otel.GetTracerProvider(), mp: otel.GetMeterProvider(), prop: otel.GetTextMapPropagator()}
		if sdk.tp == trace.TracerProvider(s.tracers) {
			panic("deployedtest: Mode before telemetry.Setup: the globals are still the switch")
		}
		s.sdk.Store(sdk)
		s.install()
	}
	s.on.Store(on)
}

func (s *otelSwitch) unswitchedKind(kind, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unswitched = append(s.unswitched, fmt.Sprintf("%s %s", kind, name))
}

// unswitchedNames names the instruments made through the switch that it
// does not hand on.
func (s *otelSwitch) unswitchedNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unswitched...)
}

// switchTracers keeps one tracer per name, as the SDK does: the Firestore
// library asks for its tracer at every operation.
type switchTracers struct {
	traceembedded.TracerProvider
	s      *otelSwitch
	mu     sync.RWMutex
	byName map[string]*switchTracer
}

func (p *switchTracers) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	p.mu.RLock()
	t := p.byName[name]
	p.mu.RUnlock()
	if t != nil {
		return t
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t = p.byName[name]; t == nil {
		t = &switchTracer{s: p.s, sdk: sync.OnceValue(func() trace.Tracer { return p.s.sdk.Load().tp.Tracer(name, opts...) })}
		p.byName[name] = t
	}
	return t
}

type switchTracer struct {
	traceembedded.Tracer
	s   *otelSwitch
	sdk func() trace.Tracer // made on the first span started on
}

func (t *switchTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if t.s.on.Load() {
		return t.sdk().Start(ctx, name, opts...)
	}
	return offTracer.Start(ctx, name, opts...)
}

type switchMeters struct {
	metricembedded.MeterProvider
	s *otelSwitch
}

func (p *switchMeters) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return &switchMeter{Meter: metricnoop.Meter{}, s: p.s, name: name, opts: opts}
}

// switchMeter hands on float64 histograms, the one kind of instrument
// Google's client libraries make by default (otelgrpc's
// rpc.client.call.duration; their client metrics are opt-in,
// GOOGLE_SDK_GO_EXPERIMENTAL_METRICS). Any other kind is the no-op
// instrument, reported by unswitchedNames.
type switchMeter struct {
	metric.Meter
	s    *otelSwitch
	name string
	opts []metric.MeterOption
}

func (m *switchMeter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return &switchHistogram{s: m.s, sdk: sync.OnceValue(func() metric.Float64Histogram {
		h, err := m.s.sdk.Load().mp.Meter(m.name, m.opts...).Float64Histogram(name, opts...)
		if err != nil {
			otel.Handle(err)
		}
		return h
	})}, nil
}

func (m *switchMeter) Int64Counter(name string, _ ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	m.s.unswitchedKind("Int64Counter", name)
	return metricnoop.Int64Counter{}, nil
}

func (m *switchMeter) Int64UpDownCounter(name string, _ ...metric.Int64UpDownCounterOption) (metric.Int64UpDownCounter, error) {
	m.s.unswitchedKind("Int64UpDownCounter", name)
	return metricnoop.Int64UpDownCounter{}, nil
}

func (m *switchMeter) Int64Histogram(name string, _ ...metric.Int64HistogramOption) (metric.Int64Histogram, error) {
	m.s.unswitchedKind("Int64Histogram", name)
	return metricnoop.Int64Histogram{}, nil
}

func (m *switchMeter) Int64Gauge(name string, _ ...metric.Int64GaugeOption) (metric.Int64Gauge, error) {
	m.s.unswitchedKind("Int64Gauge", name)
	return metricnoop.Int64Gauge{}, nil
}

func (m *switchMeter) Int64ObservableCounter(name string, _ ...metric.Int64ObservableCounterOption) (metric.Int64ObservableCounter, error) {
	m.s.unswitchedKind("Int64ObservableCounter", name)
	return metricnoop.Int64ObservableCounter{}, nil
}

func (m *switchMeter) Int64ObservableUpDownCounter(name string, _ ...metric.Int64ObservableUpDownCounterOption) (metric.Int64ObservableUpDownCounter, error) {
	m.s.unswitchedKind("Int64ObservableUpDownCounter", name)
	return metricnoop.Int64ObservableUpDownCounter{}, nil
}

func (m *switchMeter) Int64ObservableGauge(name string, _ ...metric.Int64ObservableGaugeOption) (metric.Int64ObservableGauge, error) {
	m.s.unswitchedKind("Int64ObservableGauge", name)
	return metricnoop.Int64ObservableGauge{}, nil
}

func (m *switchMeter) Float64Counter(name string, _ ...metric.Float64CounterOption) (metric.Float64Counter, error) {
	m.s.unswitchedKind("Float64Counter", name)
	return metricnoop.Float64Counter{}, nil
}

func (m *switchMeter) Float64UpDownCounter(name string, _ ...metric.Float64UpDownCounterOption) (metric.Float64UpDownCounter, error) {
	m.s.unswitchedKind("Float64UpDownCounter", name)
	return metricnoop.Float64UpDownCounter{}, nil
}

func (m *switchMeter) Float64Gauge(name string, _ ...metric.Float64GaugeOption) (metric.Float64Gauge, error) {
	m.s.unswitchedKind("Float64Gauge", name)
	return metricnoop.Float64Gauge{}, nil
}

func (m *switchMeter) Float64ObservableCounter(name string, _ ...metric.Float64ObservableCounterOption) (metric.Float64ObservableCounter, error) {
	m.s.unswitchedKind("Float64ObservableCounter", name)
	return metricnoop.Float64ObservableCounter{}, nil
}

func (m *switchMeter) Float64ObservableUpDownCounter(name string, _ ...metric.Float64ObservableUpDownCounterOption) (metric.Float64ObservableUpDownCounter, error) {
	m.s.unswitchedKind("Float64ObservableUpDownCounter", name)
	return metricnoop.Float64ObservableUpDownCounter{}, nil
}

func (m *switchMeter) Float64ObservableGauge(name string, _ ...metric.Float64ObservableGaugeOption) (metric.Float64ObservableGauge, error) {
	m.s.unswitchedKind("Float64ObservableGauge", name)
	return metricnoop.Float64ObservableGauge{}, nil
}

type switchHistogram struct {
	metricembedded.Float64Histogram
	s   *otelSwitch
	sdk func() metric.Float64Histogram // made on the first value recorded on
}

func (h *switchHistogram) Record(ctx context.Context, v float64, opts ...metric.RecordOption) {
	if h.s.on.Load() {
		h.sdk().Record(ctx, v, opts...)
	}
}

func (h *switchHistogram) Enabled(ctx context.Context) bool {
	return h.s.on.Load() && h.sdk().Enabled(ctx)
}

type switchPropagator struct{ s *otelSwitch }

func (p *switchPropagator) current() propagation.TextMapPropagator {
	if p.s.on.Load() {
		return p.s.sdk.Load().prop
	}
	return offProp
}

func (p *switchPropagator) Inject(ctx context.Context, c propagation.TextMapCarrier) {
	p.current().Inject(ctx, c)
}

func (p *switchPropagator) Extract(ctx context.Context, c propagation.TextMapCarrier) context.Context {
	return p.current().Extract(ctx, c)
}

func (p *switchPropagator) Fields() []string { return p.current().Fields() }

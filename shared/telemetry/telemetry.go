// Package telemetry is playplane's OpenTelemetry wiring: traces exported
// over OTLP as the standard OTEL_* variables say, and one set of metric
// instruments read out where each platform looks for them (a Prometheus
// scrape locally, CloudWatch Embedded Metric Format log lines on Lambda,
// on GCP either Cloud Monitoring, over OTLP through Google's Telemetry API
// with Google's credentials, the exporter the process links by name
// (OTEL_METRICS_EXPORTER=googlecloud; shared/gcpfn), or OTLP to a
// collector).
//
// Everything is off until Setup installs a Provider. Off, the hooks the
// HTTP middleware, the bus adapters and the functions call return after
// one atomic load: no allocation, so a deployment without a collector
// pays nothing per request (TestOffAddsNoAllocations; on against off:
// BenchmarkAuthorizePlayTelemetry, BenchmarkHandlerTelemetry, and the hooks
// alone per sampler, BenchmarkHooks).
package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/functions/catalog"
)

// Sink is where metrics go.
type Sink string

const (
	// SinkNone records no metrics.
	SinkNone Sink = "none"
	// SinkPrometheus keeps metrics for a scrape of Provider.MetricsHandler
	// (the local runner's /metrics); Options.Prometheus makes the reader.
	SinkPrometheus Sink = "prometheus"
	// SinkEMF writes CloudWatch Embedded Metric Format lines to
	// Options.EMFOut on every Flush (Lambda: stdout, which CloudWatch Logs
	// turns into metrics without an API call).
	SinkEMF Sink = "emf"
	// SinkOTLP pushes metrics to the exporter OTEL_METRICS_EXPORTER names:
	// otlp (OTEL_EXPORTER_OTLP_* variables, e.g. a collector), or one of
	// Options.MetricExporters (on GCP, googlecloud: Cloud Monitoring
	// through Google's Telemetry API). Without an exporter or an OTLP endpoint (or with
	// OTEL_METRICS_EXPORTER=none) it records nothing.
	SinkOTLP Sink = "otlp"
)

// Variables the stacks set for telemetry, spelled once, in the catalogue:
// Config's tags are these names (TestEnvNamesAreConfigTags).
const (
	EnvMetricsExporter = catalog.EnvMetricsExporter
	// EnvTracesSampler and EnvTracesSamplerArg choose which traces are
	// recorded (the specification's names and values, e.g.
	// parentbased_traceidratio with 0.01): the heartbeat functions, the
	// high-volume path, are deployed with a ratio (infra/stack).
	EnvTracesSampler    = catalog.SettingTracesSampler
	EnvTracesSamplerArg = catalog.SettingTracesSamplerArg
	// EnvGoogleCloudProject is the project Cloud Monitoring writes to
	// (Google's client libraries read the same variable).
	EnvGoogleCloudProject = catalog.EnvGoogleCloudProject
	// EnvResourceAttributes adds resource attributes, "k1=v1,k2=v2" (the
	// specification's variable): on Cloud Functions the stack sets
	// cloud.region, the location Cloud Monitoring files the series under.
	EnvResourceAttributes = catalog.EnvResourceAttributes
)

// ExporterGoogleCloud is OTEL_METRICS_EXPORTER's value for Cloud
// Monitoring, reached over OTLP through Google's Telemetry API with
// Google's credentials (shared/telemetry/googlecloud). Only a process that
// links the exporter offers it (Cloud Functions, shared/gcpfn); elsewhere
// Setup refuses it.
const ExporterGoogleCloud = "googlecloud"

// CloudMonitoringPrefix is the metric type prefix Cloud Monitoring gives
// the OTLP metrics the Telemetry API takes: they are stored as Google
// Cloud Managed Service for Prometheus series, named as sent
// (https://docs.cloud.google.com/stackdriver/docs/reference/telemetry/v1.metrics).
const CloudMonitoringPrefix = "prometheus.googleapis.com/"

// MetricExporterFunc makes a push metric exporter from the configuration,
// when OTEL_METRICS_EXPORTER names it (Options.MetricExporters). It runs in
// Setup, so it must not call the network: connect on the first Export.
type MetricExporterFunc func(ctx context.Context, cfg Config) (sdkmetric.Exporter, error)

// Namespace is the EMF namespace and the metric name prefix.
const Namespace = "playplane"

// Config is the standard OpenTelemetry environment, the part this package
// decides on; the OTLP exporters read the rest (headers, timeouts,
// per-signal endpoints, compression) themselves.
type Config struct {
	// SDKDisabled is a boolean as the specification defines one: true
	// only for the case-insensitive "true", any other value false
	// (sdkDisabled).
	SDKDisabled     string `env:"OTEL_SDK_DISABLED"`
	TracesExporter  string `env:"OTEL_TRACES_EXPORTER"`
	MetricsExporter string `env:"OTEL_METRICS_EXPORTER"`
	Endpoint        string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	TracesEndpoint  string `env:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	MetricsEndpoint string `env:"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"`
	Protocol        string `env:"OTEL_EXPORTER_OTLP_PROTOCOL"`
	TracesProtocol  string `env:"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"`
	MetricsProtocol string `env:"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"`
	// TracesSampler and TracesSamplerArg are read here, not by the SDK
	// (which reads only the process environment), so that Options.Lookup
	// stays the one source.
	TracesSampler    string `env:"OTEL_TRACES_SAMPLER"`
	TracesSamplerArg string `env:"OTEL_TRACES_SAMPLER_ARG"`
	// GoogleCloudProject is read by the googlecloud metric exporter.
	GoogleCloudProject string `env:"GOOGLE_CLOUD_PROJECT"`
	// ResourceAttributes are read here as well as by the SDK's resource
	// detector (which reads only the process environment), so that
	// Options.Lookup stays the one source.
	ResourceAttributes string `env:"OTEL_RESOURCE_ATTRIBUTES"`
	// ServiceName is read here for the same reason: it sets service.name
	// over Options.Service and over OTEL_RESOURCE_ATTRIBUTES.
	ServiceName string `env:"OTEL_SERVICE_NAME"`
	// KnownMethods replaces the HTTP methods the conventions know
	// (knownMethod), comma-separated, case-sensitive, as they name the
	// override.
	KnownMethods string `env:"OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS"`
}

// exporterOn decides one signal: an explicit OTEL_*_EXPORTER wins; without
// one a signal is on only when an endpoint names where to send it. (The
// specification defaults to otlp at localhost; defaulting to off instead
// keeps a deployment without a collector from paying for spans nobody
// receives.)
// named lists the exporters a process links beyond otlp (Options).
func exporterOn(exporter, endpoint, signalEndpoint string, named ...string) (bool, error) {
	switch e := strings.TrimSpace(exporter); e {
	case "":
		return endpoint != "" || signalEndpoint != "", nil
	case "none":
		return false, nil
	case "otlp":
		return true, nil
	default:
		if slices.Contains(named, e) {
			return true, nil
		}
		return false, fmt.Errorf("telemetry: exporter %q is not supported (%s)", exporter,
			strings.Join(append([]string{"otlp", "none"}, named...), ", "))
	}
}

// sampler is the sampler OTEL_TRACES_SAMPLER names, with
// OTEL_TRACES_SAMPLER_ARG as its ratio, as the specification defines them;
// unset, parentbased_always_on (the specification's default). Unlike the
// SDK, which logs a bad value and samples everything, Setup logs it and
// records no spans: a ratio meant to cut the cost of a high-volume path
// must not silently become 1.
//
// followsParent reports a sampler that records no child of an unsampled
// span (the parentbased_* ones): the hooks then skip the SDK for such a
// child, which it would only make into a span that records nothing.
//
// root is the decision s takes on a root span (no parent) from its trace
// id alone, so that runtime.start need not call s for one (on nearly every
// request): the standard samplers decide a root by the trace id only, with
// an empty tracestate. TestRootSamplingIsTheSDKs holds it to s.
func sampler(name, arg string) (s sdktrace.Sampler, followsParent bool, root rootSampling, err error) {
	ratio := func() (float64, error) {
		arg = strings.TrimSpace(arg)
		if arg == "" {
			return 1, nil
		}
		v, err := strconv.ParseFloat(arg, 64)
		if err != nil || v < 0 || v > 1 || math.IsNaN(v) {
			return 0, fmt.Errorf("telemetry: %s=%q is no ratio in [0, 1]", EnvTracesSamplerArg, arg)
		}
		return v, nil
	}
	switch n := strings.ToLower(strings.TrimSpace(name)); n {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), true, rootRatio(1), nil
	case "always_on":
		return sdktrace.AlwaysSample(), false, rootRatio(1), nil
	case "always_off":
		return sdktrace.NeverSample(), false, rootRatio(0), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), true, rootRatio(0), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, false, rootSampling{}, err
		}
		if n == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), false, rootRatio(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), true, rootRatio(r), nil
	default:
		return nil, false, rootSampling{}, fmt.Errorf("telemetry: %s=%q is not supported (always_on, always_off, traceidratio, "+
			"parentbased_always_on, parentbased_always_off, parentbased_traceidratio)", EnvTracesSampler, name)
	}
}

// CheckSampler reports whether Setup accepts the sampler name and arg
// (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG): infra/stack checks the
// stack's configured values with it before deploying them.
func CheckSampler(name, arg string) error {
	_, _, _, err := sampler(name, arg)
	return err
}

// rootSampling is a sampler's decision on a root span by its trace id
// (sampler): sampled when the trace id's last 8 bytes, big-endian,
// shifted right by one, are below bound, as the SDK's TraceIDRatioBased
// decides (its upper bound is the ratio times 2^63; ratios of 1 and more
// sample every trace, 0 and less none). known is false for a sampler
// whose root decision runtime.start must ask it for.
type rootSampling struct {
	known bool
	bound uint64
}

// rootRatio is the root decision of a ratio r in [0, 1]: 1 samples every
// trace id (a shifted id is below 2^63), 0 none.
func rootRatio(r float64) rootSampling {
	switch {
	case r >= 1:
		return rootSampling{known: true, bound: 1 << 63}
	case r <= 0:
		return rootSampling{known: true}
	}
	return rootSampling{known: true, bound: uint64(r * (1 << 63))}
}

// samples reports whether a root span of trace id tid is sampled.
func (s rootSampling) samples(tid trace.TraceID) bool {
	return binary.BigEndian.Uint64(tid[8:16])>>1 < s.bound
}

func checkProtocol(p string) error {
	if p == "" || p == "http/protobuf" {
		return nil
	}
	return fmt.Errorf("telemetry: OTLP protocol %q is not supported (http/protobuf)", p)
}

// Options are what the process decides, not the environment.
type Options struct {
	// Service is service.name unless OTEL_SERVICE_NAME sets it.
	Service string
	// Resource are resource attributes of the platform the process runs
	// on (cloud.*, faas.*), which OTEL_RESOURCE_ATTRIBUTES overrides.
	Resource []attribute.KeyValue
	Metrics  Sink
	// EMFOut receives the EMF lines (SinkEMF); nil is io.Discard.
	EMFOut io.Writer
	// Lookup reads the environment; nil is the process's.
	Lookup envconfig.Lookuper
	// SpanExporter replaces the OTLP trace exporter (tests that read spans
	// in process); it turns tracing on.
	SpanExporter sdktrace.SpanExporter
	// Prometheus makes SinkPrometheus's reader and scrape handler
	// (promsink.New). Passed in so that binaries without a scrape do not
	// link, nor initialise at every cold start, the Prometheus client.
	// Its reader must also read the producers it is given.
	Prometheus func(producers ...sdkmetric.Producer) (sdkmetric.Reader, http.Handler, error)
	// MetricExporters are the exporters beyond otlp that
	// OTEL_METRICS_EXPORTER may name for SinkOTLP, by name. A package
	// linking one only for some processes keeps it out of the others
	// (the Lambda binaries do not carry Cloud Monitoring's client).
	MetricExporters map[string]MetricExporterFunc
	// OTLPMetrics makes SinkOTLP's otlp exporter (otlpmetrics.New).
	// Passed in for the same reason: the SDK's OTLP metric exporter links
	// gRPC, whose package init a Lambda, which sends metrics as EMF,
	// would pay at every cold start.
	OTLPMetrics MetricExporterFunc
	// SilentTracers name the tracers, by instrumentation scope, whose spans
	// are not recorded: a client library's own, taken from the global
	// provider, that an operator turned off (shared/gcpclient). Their spans
	// keep the caller's trace context, so that what is started under
	// them still joins the caller's trace.
	SilentTracers []string
	// Invocation returns the platform's id of the invocation ctx serves
	// (Lambda's request id, the Functions Framework's execution id), ""
	// when it serves none. A recorded server or consumer span of an
	// invocation then carries faas.invocation_id and faas.coldstart, as
	// the FaaS span conventions ask; it is not called for a span that is
	// not recorded. nil: the process is no function.
	Invocation func(ctx context.Context) string
	// sdkRequestHistogram leaves the request histogram to the SDK's
	// instrument, and the exemplars to the SDK's filter under every sink
	// (the tests that compare requestHistogram and the EMF lines with
	// the SDK's).
	sdkRequestHistogram bool
}

// Provider is the installed telemetry.
type Provider struct {
	tp *sdktrace.TracerProvider
	// spans is tp's span processor.
	spans   *endMarker
	mp      *sdkmetric.MeterProvider
	emf     *emfSink
	handler http.Handler
	// paced is the push exporter's, when it holds exports back
	// (PacedExporter); nil, every push sends.
	paced PacedExporter
	rt    *runtime
}

// runtime is what the hooks read, nil while telemetry is off.
type runtime struct {
	tracer trace.Tracer // nil: tracing off
	// tp made tracer; sampler is its sampler, nil when start must leave
	// every span to the SDK (askSamplerFirst); ids its id generator.
	tp      *sdktrace.TracerProvider
	sampler sdktrace.Sampler
	// root is sampler's decision on a root span, when known (sampler).
	root rootSampling
	ids  idGenerator
	inst *instruments // nil: metrics off
	prop propagation.TextMapPropagator
	// followsParent: the sampler records no child of an unsampled span
	// (sampler), so unsampledChild skips it.
	followsParent bool
	// jobRoots: a job's span is recorded whatever the sampler's ratio
	// (RunJob): the SDK's sampler is jobRoots, or always_on, which
	// records every span as it is.
	jobRoots bool
	// Metric options per attribute values (optCache).
	routes  optCache[routeKey]
	reasons optCache[string]
	cdns    optCache[string]
	topics  optCache[producerKey]
	// producers caches producer span names and options per destination.
	producers sync.Map
	provider  *Provider
	// knownMethods replaces knownMethod's list when not nil
	// (Config.KnownMethods).
	knownMethods []string
	// invocation is Options.Invocation; warm is set by the process's
	// first invocation (firstInvocation).
	invocation func(context.Context) string
	warm       atomic.Bool
}

// firstInvocation reports whether the span about to start serves the
// process's first invocation, and from then on says it does not. Every
// invocation asks, its span recorded or not, so that a recorded one after
// a dropped first is warm; without Options.Invocation none does.
func (rt *runtime) firstInvocation() bool {
	return rt.invocation != nil && !rt.warm.Load() && !rt.warm.Swap(true)
}

// invocationRoom is how many attributes invocationAttrs may add.
func (rt *runtime) invocationRoom() int {
	if rt.invocation == nil {
		return 0
	}
	return 2
}

// invocationAttrs is attrs with the FaaS attributes of the invocation ctx
// serves, if it serves one: its id and whether it was the process's first
// (cold, from firstInvocation). Only a recorded span's attributes are
// made: it reads ctx's values.
func (rt *runtime) invocationAttrs(ctx context.Context, cold bool, attrs []attribute.KeyValue) []attribute.KeyValue {
	if rt.invocation == nil {
		return attrs
	}
	if id := rt.invocation(ctx); id != "" {
		attrs = append(attrs, semconv.FaaSInvocationID(id), semconv.FaaSColdstart(cold))
	}
	return attrs
}

var active atomic.Pointer[runtime]

var setupMu sync.Mutex

// Setup reads the OTEL_* environment and installs the providers it asks
// for. With nothing configured it installs nothing and returns a Provider
// whose methods do nothing. Only one Provider is active at a time: a
// second Setup replaces the first (tests shut theirs down).
func Setup(ctx context.Context, opts Options) (*Provider, error) {
	var cfg Config
	lookup := opts.Lookup
	if lookup == nil {
		lookup = envconfig.OsLookuper()
	}
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &cfg, Lookuper: lookup}); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	p := &Provider{}
	if sdkDisabled(ctx, cfg.SDKDisabled) {
		return p, nil
	}
	tracesOn, err := exporterOn(cfg.TracesExporter, cfg.Endpoint, cfg.TracesEndpoint)
	if err != nil {
		return nil, err
	}
	tracesOn = tracesOn || opts.SpanExporter != nil
	var smp sdktrace.Sampler
	var followsParent bool
	var root rootSampling
	if tracesOn {
		if smp, followsParent, root, err = sampler(cfg.TracesSampler, cfg.TracesSamplerArg); err != nil {
			// Tracing off, not everything off: the caller would otherwise
			// run without metrics (Lambda's EMF, the leases gauge) for a
			// sampler typo. infra/stack refuses the value before deploying
			// (CheckSampler); this covers the rest.
			slog.ErrorContext(ctx, "telemetry: tracing is off: bad sampler configuration", "err", err)
			tracesOn = false
		}
	}
	metricsOn := opts.Metrics == SinkPrometheus || opts.Metrics == SinkEMF
	if opts.Metrics == SinkOTLP {
		named := slices.Sorted(maps.Keys(opts.MetricExporters))
		if metricsOn, err = exporterOn(cfg.MetricsExporter, cfg.Endpoint, cfg.MetricsEndpoint, named...); err != nil {
			return nil, err
		}
	}
	if !tracesOn && !metricsOn {
		return p, nil
	}
	// Without a name of the process's own, service.name is the SDK's
	// default (unknown_service:<executable>), never an empty one.
	attrs := slices.Clone(opts.Resource)
	detect := []resource.Option{resource.WithService()}
	if opts.Service != "" {
		attrs, detect = append(attrs, semconv.ServiceName(opts.Service)), nil
	}
	// The variable's grammar is the OTLP headers' (percent-encoded
	// key=value pairs); a later attribute wins over an earlier one, and
	// the SDK's detector (the process environment) over both.
	for k, v := range parseOTLPHeaders(cfg.ResourceAttributes) {
		attrs = append(attrs, attribute.String(k, v))
	}
	if name := strings.TrimSpace(cfg.ServiceName); name != "" {
		attrs = append(attrs, semconv.ServiceName(name))
	}
	if metricsOn && opts.Metrics == SinkOTLP {
		// Every instance pushes its own cumulative series: without an
		// instance id two instances of a function would write the same
		// series (Cloud Monitoring's generic_task needs it, and refuses
		// points written to one series too often).
		attrs = append(attrs, semconv.ServiceInstanceID(rand.Text()))
	}
	res, err := resource.New(ctx, append(detect, resource.WithAttributes(attrs...),
		resource.WithTelemetrySDK(), resource.WithFromEnv())...)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	rt := &runtime{prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		followsParent: followsParent, invocation: opts.Invocation}
	if strings.TrimSpace(cfg.KnownMethods) != "" {
		rt.knownMethods = []string{}
		for m := range strings.SplitSeq(cfg.KnownMethods, ",") {
			if m = strings.TrimSpace(m); m != "" {
				rt.knownMethods = append(rt.knownMethods, m)
			}
		}
	}
	if tracesOn {
		exp := opts.SpanExporter
		if exp == nil {
			if err := checkProtocol(firstNonEmpty(cfg.TracesProtocol, cfg.Protocol)); err != nil {
				return nil, err
			}
			client, err := newTraceClient(ctx, lookup, signalURL(cfg.TracesEndpoint, cfg.Endpoint, "/v1/traces"))
			if err != nil {
				return nil, fmt.Errorf("telemetry: OTLP trace exporter: %w", err)
			}
			exp = &spanExporter{client: client}
		}
		p.spans = &endMarker{SpanProcessor: sdktrace.NewBatchSpanProcessor(exp)}
		sdkSampler := smp
		// A sampler that records no root records no job either: tracing
		// was turned off. always_on records every job as it is.
		if rt.jobRoots = root.bound > 0; rt.jobRoots && smp.Description() != sdktrace.AlwaysSample().Description() {
			sdkSampler = jobRoots{Sampler: smp, orphans: !followsParent}
		}
		p.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p.spans), sdktrace.WithResource(res), sdktrace.WithSampler(sdkSampler),
			sdktrace.WithIDGenerator(rt.ids))
		rt.tracer, rt.tp = p.tp.Tracer(tracerName), p.tp
		// always_on drops nothing: asking it first would only add a call.
		if askSamplerFirst() && smp.Description() != sdktrace.AlwaysSample().Description() {
			rt.sampler, rt.root = smp, root
		}
	}
	if metricsOn {
		mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithView(views()...)}
		filter := exemplarFilter()
		if opts.Metrics == SinkEMF && !opts.sdkRequestHistogram {
			// An EMF line has no place for an exemplar, and the EMF sink
			// is the only reader: gathering them wrote nothing, yet under
			// trace_based every measurement in a sampled span (every
			// play, as authorize play is deployed) filled a reservoir
			// made for each series of each interval
			// (TestEMFGathersNoExemplars; the lines are the SDK's:
			// TestRequestHistogramIsTheSDKs).
			filter = nil
			mopts = append(mopts, sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
		}
		// The request histogram is aggregated here, not by the SDK
		// (requestHistogram), and handed to each reader as the SDK would.
		var hist *requestHistogram
		if !opts.sdkRequestHistogram && ownRequestHistogram() {
			hist = newRequestHistogram()
			hist.filter, hist.offersUnlinked = filter, offersUnlinked(filter)
		}
		periodic := func(exp sdkmetric.Exporter) sdkmetric.Reader {
			if hist != nil {
				exp = histExporter{Exporter: exp, r: hist.reader(exp.Temporality(sdkmetric.InstrumentKindHistogram))}
			}
			return sdkmetric.NewPeriodicReader(exp)
		}
		switch opts.Metrics {
		case SinkPrometheus:
			if opts.Prometheus == nil {
				return nil, errors.New("telemetry: the Prometheus sink needs Options.Prometheus (promsink.New)")
			}
			var producers []sdkmetric.Producer
			if hist != nil {
				// The Prometheus exporter reads cumulative sums.
				producers = append(producers, hist.reader(metricdata.CumulativeTemporality))
			}
			reader, handler, err := opts.Prometheus(producers...)
			if err != nil {
				return nil, err
			}
			mopts = append(mopts, sdkmetric.WithReader(reader))
			p.handler = handler
		case SinkEMF:
			out := opts.EMFOut
			if out == nil {
				out = io.Discard
			}
			p.emf = newEMFSink(out)
			if hist != nil {
				p.emf.hist = hist.reader(p.emf.temporality(sdkmetric.InstrumentKindHistogram))
			}
			mopts = append(mopts, sdkmetric.WithReader(p.emf.reader))
		case SinkOTLP:
			if newExp, ok := opts.MetricExporters[strings.TrimSpace(cfg.MetricsExporter)]; ok {
				exp, err := newExp(ctx, cfg)
				if err != nil {
					return nil, fmt.Errorf("telemetry: %s metric exporter: %w", strings.TrimSpace(cfg.MetricsExporter), err)
				}
				p.paced, _ = exp.(PacedExporter)
				mopts = append(mopts, sdkmetric.WithReader(periodic(exp)))
				break
			}
			if err := checkProtocol(firstNonEmpty(cfg.MetricsProtocol, cfg.Protocol)); err != nil {
				return nil, err
			}
			if opts.OTLPMetrics == nil {
				return nil, errors.New("telemetry: OTLP metrics need Options.OTLPMetrics (otlpmetrics.New)")
			}
			exp, err := opts.OTLPMetrics(ctx, cfg)
			if err != nil {
				return nil, fmt.Errorf("telemetry: OTLP metric exporter: %w", err)
			}
			mopts = append(mopts, sdkmetric.WithReader(periodic(exp)))
		}
		p.mp = sdkmetric.NewMeterProvider(mopts...)
		rt.inst = newInstruments(p.mp.Meter(meterName))
		rt.inst.reqHist = hist
		rt.inst.unsampledExemplars = offersUnlinked(filter)
		if p.emf != nil {
			p.emf.inst = rt.inst
		}
	}
	p.rt, rt.provider = rt, p
	setupMu.Lock()
	defer setupMu.Unlock()
	otel.SetTextMapPropagator(rt.prop)
	if p.tp != nil {
		otel.SetTracerProvider(globalTracers(p.tp, opts.SilentTracers))
	}
	if p.mp != nil {
		otel.SetMeterProvider(p.mp)
	}
	active.Store(rt)
	return p, nil
}

// sdkDisabled reads OTEL_SDK_DISABLED as the specification reads a
// boolean variable: true only for the case-insensitive "true"; any other
// value is false, with a warning unless it is "false".
func sdkDisabled(ctx context.Context, v string) bool {
	switch {
	case strings.EqualFold(v, "true"):
		return true
	case v != "" && !strings.EqualFold(v, "false"):
		slog.WarnContext(ctx, "telemetry: OTEL_SDK_DISABLED is neither true nor false: read as false", "value", v)
	}
	return false
}

// MetricsURL is where OTLP metrics go: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
// else the base endpoint's /v1/metrics; "" when neither is set (the
// exporter's default).
func (c Config) MetricsURL() string { return signalURL(c.MetricsEndpoint, c.Endpoint, "/v1/metrics") }

// signalURL is where a signal goes: its own endpoint as given, or the
// base endpoint with the signal's path, as the OTLP exporter specification
// says. The exporters read the same variables from the process
// environment themselves; passing the URL keeps Options.Lookup the one
// source (tests, and secrets resolved into the lookup on Lambda).
func signalURL(signal, base, path string) string {
	if signal != "" {
		return signal
	}
	if base == "" {
		return ""
	}
	return strings.TrimSuffix(base, "/") + path
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// tracerName is the instrumentation scope of playplane's spans.
const tracerName = "github.com/playplane/playplane"

// Tracing reports whether spans are recorded.
func (p *Provider) Tracing() bool { return p != nil && p.tp != nil }

// Metrics reports whether metrics are recorded.
func (p *Provider) Metrics() bool { return p != nil && p.mp != nil }

// MetricsHandler serves the Prometheus text format (SinkPrometheus), or
// nil.
func (p *Provider) MetricsHandler() http.Handler {
	if p == nil {
		return nil
	}
	return p.handler
}

// Flush exports what was recorded: the spans ended so far and, for the
// EMF and OTLP sinks, the metrics. Lambda and Cloud Functions may freeze
// the instance once an invocation returns, so their glue calls it before
// returning.
func (p *Provider) Flush(ctx context.Context) error {
	if p == nil {
		return nil
	}
	var err error
	if p.tp != nil {
		err = p.tp.ForceFlush(ctx)
	}
	return errors.Join(err, p.flushMetrics(ctx))
}

// flushMetrics writes the EMF lines or pushes the OTLP metrics; a
// Prometheus scrape reads them itself.
func (p *Provider) flushMetrics(ctx context.Context) error {
	switch {
	case p.emf != nil:
		return p.emf.flush(ctx, true)
	case p.pushesMetricsNow(ctx):
		return p.mp.ForceFlush(ctx)
	}
	return nil
}

// PacedExporter is a push exporter that sends only some of the exports it
// is handed (googlecloud's: at most every MinInterval). A push collects
// every instrument, and copies the request histogram, before the exporter
// sees the export: a flush asks Sends first and collects only when the
// export would go. Series held back so lose nothing: cumulative ones are
// read whole by the next collection, and delta ones keep adding up until
// it.
type PacedExporter interface {
	sdkmetric.Exporter
	// Sends reports whether an export handed over now would be sent (for
	// ctx of a final flush, FinalFlush, always).
	Sends(ctx context.Context) bool
}

// pushesMetricsNow reports whether a flush now pushes the metrics: it
// pushes them (pushesMetrics), and the exporter would send them.
func (p *Provider) pushesMetricsNow(ctx context.Context) bool {
	return p.pushesMetrics() && (p.paced == nil || p.paced.Sends(ctx))
}

// pushesMetrics reports whether a flush sends the metrics to an exporter
// (SinkOTLP): not EMF lines, not a scrape.
func (p *Provider) pushesMetrics() bool { return p.emf == nil && p.mp != nil && p.handler == nil }

// Shutdown flushes and stops the providers and turns the hooks off if
// this Provider is the active one.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.rt == nil {
		return nil
	}
	active.CompareAndSwap(p.rt, nil)
	// The periodic reader's last export (in mp.Shutdown) runs with ctx;
	// its ForceFlush exports with a context of its own.
	ctx = context.WithValue(ctx, finalFlushKey{}, true)
	err := p.Flush(ctx)
	if p.tp != nil {
		err = errors.Join(err, p.tp.Shutdown(ctx))
	}
	if p.mp != nil {
		err = errors.Join(err, p.mp.Shutdown(ctx))
	}
	return err
}

// finalFlushKey marks the context of Shutdown's last export.
type finalFlushKey struct{}

// FinalFlush reports whether ctx is the last export of a Provider
// shutting down: an exporter that holds exports back (googlecloud's
// MinInterval) sends this one, as nothing comes after it.
func FinalFlush(ctx context.Context) bool {
	final, _ := ctx.Value(finalFlushKey{}).(bool)
	return final
}

// Pause turns the hooks off, as if no Provider were installed, without
// shutting p down; Resume turns them back on (not after Shutdown). The
// overhead benchmarks (otlptest.Overhead) switch between off and on this
// way many times a second, so that both run on the same machine state.
func (p *Provider) Pause() {
	if p != nil && p.rt != nil {
		active.CompareAndSwap(p.rt, nil)
	}
}

// Resume makes p active again after Pause.
func (p *Provider) Resume() {
	if p != nil && p.rt != nil {
		active.Store(p.rt)
	}
}

// unsampledChild reports that a span started under parent would record
// nothing: the hooks then start none, and the trace context they pass on
// is parent's own, carrying the same "not sampled" decision downstream.
func (rt *runtime) unsampledChild(parent trace.SpanContext) bool {
	return rt.followsParent && parent.IsValid() && !parent.IsSampled()
}

// current is the process's active telemetry, nil when off.
func current() *runtime { return active.Load() }

// Flush flushes the active Provider at the end of an invocation; the
// Lambda and Cloud Functions glue calls it before the invocation returns.
// Off, it does nothing.
//
// Unlike Provider.Flush it must not hold the response up: EMF lines
// (written locally) go first; then the spans' export and the metrics' push
// (Cloud Functions), side by side, get one attempt within
// invocationBudget, ending invocationMargin before ctx's deadline, with no
// retry. A collector that is slow or answers 429/503 costs the invocation
// that budget, not its deadline (a timed-out invocation is a 5xx the
// player retries for nothing). The batch that attempt carried is dropped
// (the batcher keeps no failed batch); spans still queued when the budget
// runs out wait for the next flush. A push cut short loses nothing: the
// series are cumulative, and the next push carries them whole.
// Long-running processes (the runner) export in the background and at
// Shutdown, with the client's retries.
func Flush(ctx context.Context) error {
	rt := current()
	if rt == nil {
		return nil
	}
	return rt.provider.flushInvocation(ctx)
}

const (
	invocationBudget = time.Second
	invocationMargin = 200 * time.Millisecond
)

func (p *Provider) flushInvocation(ctx context.Context) error {
	var err error
	if p.emf != nil {
		err = p.emf.flush(ctx, false)
	}
	pushMetrics := p.pushesMetricsNow(ctx)
	flushSpans := p.spans.takeEnded()
	if !flushSpans && !pushMetrics {
		return err
	}
	budget := invocationBudget
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)-invocationMargin)
	}
	if budget <= 0 {
		p.spans.endedAgain(flushSpans)
		return errors.Join(err, errors.New("telemetry: no time left before the deadline to export; spans and metrics wait for the next flush"))
	}
	bctx, cancel := context.WithTimeout(context.WithValue(ctx, singleAttemptKey{}, true), budget)
	defer cancel()
	var pushErr error
	var pushed sync.WaitGroup
	if pushMetrics {
		pushed.Go(func() { pushErr = p.mp.ForceFlush(bctx) })
	}
	if flushSpans {
		ferr := p.tp.ForceFlush(bctx)
		// Spans left queued wait for the next invocation's flush.
		p.spans.endedAgain(ferr != nil)
		err = errors.Join(err, ferr)
	}
	pushed.Wait()
	return errors.Join(err, pushErr)
}

// endMarker is the batch span processor, noting that a span ended since
// the last invocation's flush: the processor's ForceFlush hands off to
// its goroutine and back, and starts another, even with nothing queued,
// and most invocations of a sampled-down function record no span.
type endMarker struct {
	sdktrace.SpanProcessor
	ended flag
}

// OnEnd marks the span after handing it to the processor, so that a
// flush that takes the mark (takeEnded) finds the span queued before its
// ForceFlush; a span ending during that flush marks again, for the next.
func (m *endMarker) OnEnd(s sdktrace.ReadOnlySpan) {
	m.SpanProcessor.OnEnd(s)
	m.ended.mark()
}

// takeEnded reports whether a span ended since it last did; false
// without tracing.
func (m *endMarker) takeEnded() bool { return m != nil && m.ended.take() }

// endedAgain puts the mark back when a flush that took it did not finish.
func (m *endMarker) endedAgain(unflushed bool) {
	if m != nil && unflushed {
		m.ended.mark()
	}
}

// histogram bucket boundaries, in seconds, of every duration but the
// request's: lags are milliseconds to minutes.
var secondsBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// requestBuckets are http.server.request.duration's bucket boundaries,
// the ones the HTTP metrics conventions give it, so that its percentiles
// compare with those of any other instrumented server.
var requestBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

func views() []sdkmetric.View {
	request := sdkmetric.Instrument{Name: MetricRequestDuration, Scope: meterScope}
	seconds := sdkmetric.NewView(sdkmetric.Instrument{Unit: "s"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: secondsBuckets}})
	return []sdkmetric.View{
		sdkmetric.NewView(request,
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: requestBuckets}}),
		// Every view that matches an instrument makes a stream of it:
		// the request duration is left to its own.
		func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
			if i.Name == request.Name && i.Scope.Name == request.Scope.Name {
				return sdkmetric.Stream{}, false
			}
			return seconds(i)
		},
	}
}

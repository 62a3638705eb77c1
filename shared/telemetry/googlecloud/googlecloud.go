// Package googlecloud sends playplane's metrics to Google Cloud Monitoring
// through Google's Telemetry (OTLP) API, for Cloud Functions:
// OTEL_METRICS_EXPORTER=googlecloud and GOOGLE_CLOUD_PROJECT, set by the
// stack (infra/stack), with roles/telemetry.metricsWriter on the
// function's service account and telemetry.googleapis.com enabled.
//
// The metrics leave as OTLP/HTTP protobuf (the SDK's otlpmetrichttp
// exporter, which every unit links for OTEL_METRICS_EXPORTER=otlp anyway)
// to MetricsURL, authorized by Google's default credentials
// (cloud.google.com/go/auth, which the Firestore client links already):
// an OAuth2 bearer token with the cloud-platform scope, from the metadata
// server on Cloud Functions. Google's own Cloud Monitoring exporter
// (opentelemetry-operations-go/exporter/metric), which this replaces, is
// deprecated in favour of this API, and its generated Monitoring client
// was ~0.76 ms of every unit's package init.
//
// Cloud Monitoring stores what the Telemetry API takes as Google Cloud
// Managed Service for Prometheus data: monitored resource
// prometheus_target (location from cloud.region, job from service.name,
// instance from service.instance.id), metric types
// prometheus.googleapis.com/<name>/<kind> (telemetry.CloudMonitoringPrefix)
// with the OTLP name kept as it is and kind histogram, counter (a
// monotonic sum) or gauge (a gauge or a non-monotonic sum). See
// https://docs.cloud.google.com/stackdriver/docs/reference/telemetry/v1.metrics
// and https://docs.cloud.google.com/stackdriver/docs/otlp-metrics/overview.
//
// Only the Cloud Functions deploy unit links it (shared/gcpfn passes it to
// telemetry.Setup by name): the Lambda binaries, which write EMF lines,
// carry no Google credentials code.
package googlecloud

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/playplane/playplane/shared/telemetry"
)

// MetricsURL is the Telemetry API's OTLP/HTTP metrics endpoint.
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT replaces it (tests: a loopback
// receiver); the general OTEL_EXPORTER_OTLP_ENDPOINT does not, as it names
// the collector the spans go to.
const MetricsURL = "https://telemetry.googleapis.com/v1/metrics"

// Scope is the OAuth2 scope of the token the exporter sends.
const Scope = "https://www.googleapis.com/auth/cloud-platform"

// ProjectAttribute is the resource attribute naming the project the
// Telemetry API writes the metrics to; it requires one.
const ProjectAttribute = "gcp.project_id"

// MaxPoints is the most data points the Telemetry API takes in one
// request ("Use SDKs to send metrics from applications": batches of at
// most 200 metric data points); a larger export is sent in several.
const MaxPoints = 200

// MinInterval is the least time between two exports of an instance.
// Cloud Monitoring takes one point per series every 5 s at most, and the
// Cloud Functions glue flushes after every invocation (telemetry.Flush):
// a flush sooner than this exports nothing, and the cumulative series
// lose nothing by it if another export follows (the next export carries
// the totals): Provider.Shutdown's flush always goes
// (telemetry.FinalFlush). It also keeps a busy instance from making a
// request to the API per invocation.
const MinInterval = 10 * time.Second

// Credentials finds the credentials the exporter authorizes its requests
// with. It is called on the first export, not before, and again on the
// first export MinInterval after a failure.
type Credentials func(ctx context.Context) (*auth.Credentials, error)

// DefaultCredentials are Google's application default credentials
// (GOOGLE_APPLICATION_CREDENTIALS, gcloud's, or the metadata server's:
// the function's service account) with Scope.
func DefaultCredentials(context.Context) (*auth.Credentials, error) {
	return credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{Scope}})
}

// Exporter returns the googlecloud metric exporter for telemetry.Setup;
// creds nil is DefaultCredentials. It makes nothing and reads no
// credentials until the first export.
func Exporter(creds Credentials) telemetry.MetricExporterFunc {
	if creds == nil {
		creds = DefaultCredentials
	}
	return func(_ context.Context, cfg telemetry.Config) (sdkmetric.Exporter, error) {
		project := strings.TrimSpace(cfg.GoogleCloudProject)
		if project == "" {
			// The Telemetry API refuses metrics without gcp.project_id;
			// a function without it is a deploy mistake, said at start.
			return nil, errors.New(telemetry.EnvGoogleCloudProject + " is not set")
		}
		url := strings.TrimSpace(cfg.MetricsEndpoint)
		if url == "" {
			url = MetricsURL
		}
		return &exporter{
			url:      url,
			project:  attribute.String(ProjectAttribute, project),
			auth:     &bearer{find: creds},
			interval: MinInterval,
			max:      MaxPoints,
			now:      time.Now,
		}, nil
	}
}

// exporter sends through the SDK's OTLP/HTTP exporter, made on the first
// export, at most every interval, in requests of at most max points,
// with the project on the resource.
type exporter struct {
	url      string
	project  attribute.KeyValue
	auth     *bearer
	interval time.Duration
	max      int
	now      func() time.Time

	mu  sync.Mutex
	exp sdkmetric.Exporter
	// next is when the next export may go: interval after the last one
	// tried, whether the API took it or not, so that an API refusing
	// (a missing role, the API not enabled) or credentials not found cost
	// an invocation's flush a round trip once per interval, not each time.
	next time.Time
	done bool
	// res is the resource last exported and withProject it with the
	// project (the SDK hands the same resource to every export).
	res, withProject *resource.Resource
}

var _ telemetry.PacedExporter = (*exporter)(nil)

// Temporality is cumulative for every instrument (the SDK's default), as
// Cloud Monitoring's Prometheus series are; the inner exporter is made
// with the same selector, whatever OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE
// says.
func (e *exporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (e *exporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (e *exporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return errors.New("googlecloud: exporter is shut down")
	}
	now := e.now()
	if !e.sends(ctx, now) {
		return nil
	}
	e.next = now.Add(e.interval)
	if e.exp == nil {
		exp, err := otlpmetrichttp.New(ctx,
			otlpmetrichttp.WithEndpointURL(e.url),
			otlpmetrichttp.WithHTTPClient(&http.Client{Transport: e.auth, Timeout: 10 * time.Second}),
			otlpmetrichttp.WithTemporalitySelector(sdkmetric.DefaultTemporalitySelector),
			// The SDK's exporter reads OTEL_EXPORTER_OTLP_HEADERS (and
			// _METRICS_HEADERS) from the process environment itself:
			// what a collector needs, often its API key, is not sent to
			// Google. The bearer token is bearer's.
			otlpmetrichttp.WithHeaders(map[string]string{}),
			// No retry: the export runs in the invocation's flush, and
			// the next one carries the cumulative totals anyway.
			otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}))
		if err != nil {
			return err // tried again on the first export after interval
		}
		e.exp = exp
	}
	if rm.Resource != e.res || e.withProject == nil {
		res, err := resource.Merge(rm.Resource, resource.NewSchemaless(e.project))
		if err != nil {
			return err
		}
		e.res, e.withProject = rm.Resource, res
	}
	out := *rm
	out.Resource = e.withProject
	for _, part := range split(&out, e.max) {
		if err := e.exp.Export(ctx, part); err != nil {
			return err
		}
	}
	return nil
}

// Sends reports whether Export would send now: the invocation's flush
// asks it first, so that a flush inside the interval collects nothing.
// Once shut down it says yes, so that the flush meets Export's error.
func (e *exporter) Sends(ctx context.Context) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.done || e.sends(ctx, e.now())
}

// sends is Export's decision at now, under mu.
func (e *exporter) sends(ctx context.Context, now time.Time) bool {
	return !now.Before(e.next) || telemetry.FinalFlush(ctx)
}

func (e *exporter) ForceFlush(ctx context.Context) error { return ctx.Err() }

func (e *exporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done = true
	if e.exp == nil {
		return nil
	}
	return e.exp.Shutdown(ctx)
}

// bearer authorizes each request with a token of the credentials it
// finds on the first request (and again after failing to).
type bearer struct {
	find Credentials
	// base sends the authorized requests; nil is a clone of
	// http.DefaultTransport made with the credentials.
	base http.RoundTripper

	mu    sync.Mutex
	creds *auth.Credentials
}

func (b *bearer) credentials(ctx context.Context) (*auth.Credentials, http.RoundTripper, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.creds == nil {
		creds, err := b.find(ctx)
		if err != nil {
			return nil, nil, err
		}
		b.creds = creds
	}
	if b.base == nil {
		b.base = http.DefaultTransport.(*http.Transport).Clone()
	}
	return b.creds, b.base, nil
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	fail := func(err error) (*http.Response, error) {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, err
	}
	ctx := req.Context()
	creds, base, err := b.credentials(ctx)
	if err != nil {
		return fail(errors.Join(errors.New("googlecloud: credentials"), err))
	}
	tok, err := creds.Token(ctx)
	if err != nil {
		return fail(errors.Join(errors.New("googlecloud: token"), err))
	}
	typ := tok.Type
	if typ == "" {
		typ = "Bearer"
	}
	r := req.Clone(ctx)
	r.Header.Set("Authorization", typ+" "+tok.Value)
	// A quota project the credentials name (a user's gcloud login) is
	// billed for the request, as Google's client libraries do; a service
	// account's own project needs no header.
	if qp, _ := creds.QuotaProjectID(ctx); qp != "" {
		r.Header.Set("X-Goog-User-Project", qp)
	}
	return base.RoundTrip(r)
}

// split cuts rm into exports of at most max data points each, a metric's
// points across several when it has more; rm itself when it has no more.
func split(rm *metricdata.ResourceMetrics, max int) []*metricdata.ResourceMetrics {
	total := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			total += points(m.Data)
		}
	}
	if total <= max {
		return []*metricdata.ResourceMetrics{rm}
	}
	var parts []*metricdata.ResourceMetrics
	cur, n := &metricdata.ResourceMetrics{Resource: rm.Resource}, 0
	add := func(scope metricdata.ScopeMetrics, m metricdata.Metrics, k int) {
		last := len(cur.ScopeMetrics) - 1
		if last < 0 || cur.ScopeMetrics[last].Scope != scope.Scope {
			cur.ScopeMetrics = append(cur.ScopeMetrics, metricdata.ScopeMetrics{Scope: scope.Scope})
			last++
		}
		cur.ScopeMetrics[last].Metrics = append(cur.ScopeMetrics[last].Metrics, m)
		n += k
		if n == max {
			parts = append(parts, cur)
			cur, n = &metricdata.ResourceMetrics{Resource: rm.Resource}, 0
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			k := points(m.Data)
			if k == 0 {
				add(sm, m, 0)
				continue
			}
			for from := 0; from < k; {
				take := min(k-from, max-n)
				part := m
				part.Data = slicePoints(m.Data, from, from+take)
				add(sm, part, take)
				from += take
			}
		}
	}
	if len(cur.ScopeMetrics) > 0 {
		parts = append(parts, cur)
	}
	return parts
}

// points is the number of data points of a metric's data.
func points(data metricdata.Aggregation) int {
	switch d := data.(type) {
	case metricdata.Gauge[int64]:
		return len(d.DataPoints)
	case metricdata.Gauge[float64]:
		return len(d.DataPoints)
	case metricdata.Sum[int64]:
		return len(d.DataPoints)
	case metricdata.Sum[float64]:
		return len(d.DataPoints)
	case metricdata.Histogram[int64]:
		return len(d.DataPoints)
	case metricdata.Histogram[float64]:
		return len(d.DataPoints)
	case metricdata.ExponentialHistogram[int64]:
		return len(d.DataPoints)
	case metricdata.ExponentialHistogram[float64]:
		return len(d.DataPoints)
	case metricdata.Summary:
		return len(d.DataPoints)
	}
	return 0
}

// slicePoints is data with its points [from, to) only.
func slicePoints(data metricdata.Aggregation, from, to int) metricdata.Aggregation {
	switch d := data.(type) {
	case metricdata.Gauge[int64]:
		d.DataPoints = d.DataPoints[from:to:to]
		return d
	case metricdata.Gauge[float64]:
		d.DataPoints = d.DataPoints[from:to:to]
		return d
	case metricdata.Sum[int64]:
		d.DataPoints = d.DataPoints[from:to:to]
		return d
	case metricdata.Sum[float64]:
		d.DataPoints = d.DataPoints[from:to:to]
		return d
	case metricdata.Histogram[int64]:
		d.DataPoints = d.DataPoints[from:to:to]
		return d
	case metricdata.Histogram[float64]:
		d.DataPoints = d.DataPoints[from:to:to]
		return d
	case metricdata.ExponentialHistogram[int64]:
		d.DataPoints = d.DataPoints[from:to:to]
		return d
	case metricdata.ExponentialHistogram[float64]:
		d.DataPoints = d.DataPoints[from:to:to]
		return d
	case metricdata.Summary:
		d.DataPoints = d.DataPoints[from:to:to]
		return d
	}
	return data
}

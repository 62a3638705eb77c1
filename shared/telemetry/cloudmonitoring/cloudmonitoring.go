// Package cloudmonitoring exports playplane's metrics to Google Cloud
// Monitoring's API (projects.timeSeries.create over gRPC) with Google's
// OpenTelemetry exporter, for Cloud Functions: OTEL_METRICS_EXPORTER=
// googlecloud and GOOGLE_CLOUD_PROJECT, set by the stack (infra/stack),
// with roles/monitoring.metricWriter on the function's service account.
//
// Only the Cloud Functions deploy unit links it (shared/gcpfn passes it to
// telemetry.Setup by name): the Lambda binaries, which write EMF lines,
// carry no Monitoring client.
//
// Google has deprecated its Go exporter in favour of OTLP to
// telemetry.googleapis.com (archived after 2027-01-01); moving means
// OTEL_METRICS_EXPORTER=otlp with Google credentials on the OTLP client,
// and this package goes.
package cloudmonitoring

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	mexporter "github.com/GoogleCloudPlatform/opentelemetry-operations-go/exporter/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/api/option"

	"github.com/playplane/playplane/shared/telemetry"
)

// MinInterval is the least time between two exports of an instance.
// Cloud Monitoring refuses a point written to a series less than 5 s after
// the previous one, and the Cloud Functions glue flushes after every
// invocation (telemetry.Flush): a flush sooner than this exports nothing,
// and the cumulative series lose nothing by it (the next export carries
// the totals).
const MinInterval = 10 * time.Second

// Exporter returns the googlecloud metric exporter for telemetry.Setup.
// clientOpts go to the Monitoring client after the defaults (tests: a
// loopback endpoint without authentication).
func Exporter(clientOpts ...option.ClientOption) telemetry.MetricExporterFunc {
	return func(_ context.Context, cfg telemetry.Config) (sdkmetric.Exporter, error) {
		project := strings.TrimSpace(cfg.GoogleCloudProject)
		if project == "" {
			// The exporter would otherwise look the project up from the
			// credentials on first use; a function without it is a
			// deploy mistake, said at start.
			return nil, errors.New(telemetry.EnvGoogleCloudProject + " is not set")
		}
		return &lazy{
			project:  project,
			opts:     clientOpts,
			interval: MinInterval,
			now:      time.Now,
		}, nil
	}
}

// lazy makes Google's exporter, and with it the gRPC client and the
// credentials lookup, on the first export instead of in Setup: Setup runs
// in the deploy unit's init, before Cloud Functions sends the first
// request, and a cold start should not wait on it.
type lazy struct {
	project  string
	opts     []option.ClientOption
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	exp  sdkmetric.Exporter
	last time.Time // last export Cloud Monitoring took
	done bool
}

var _ sdkmetric.Exporter = (*lazy)(nil)

// Temporality and Aggregation are Google's exporter's (the SDK's
// defaults: cumulative), answered without making it.
func (l *lazy) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (l *lazy) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (l *lazy) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return errors.New("cloudmonitoring: exporter is shut down")
	}
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		return nil
	}
	if l.exp == nil {
		exp, err := mexporter.New(
			mexporter.WithProjectID(l.project),
			mexporter.WithMonitoringClientOptions(l.opts...),
			mexporter.WithMetricDescriptorTypeFormatter(func(m metricdata.Metrics) string {
				return telemetry.CloudMonitoringPrefix + m.Name
			}),
		)
		if err != nil {
			return err // tried again on the next export
		}
		l.exp = exp
	}
	if err := l.exp.Export(ctx, rm); err != nil {
		return err
	}
	l.last = now
	return nil
}

func (l *lazy) ForceFlush(ctx context.Context) error { return ctx.Err() }

func (l *lazy) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
	if l.exp == nil {
		return nil
	}
	return l.exp.Shutdown(ctx)
}

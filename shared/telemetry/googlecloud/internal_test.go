package googlecloud

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/auth"
	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/playplane/playplane/shared/telemetry"
)

// counting stands in for the SDK's exporter behind exporter.
type counting struct {
	sdkmetric.Exporter
	exports   []*metricdata.ResourceMetrics
	shutdowns int
}

func (c *counting) Export(_ context.Context, rm *metricdata.ResourceMetrics) error {
	c.exports = append(c.exports, rm)
	return nil
}
func (c *counting) Shutdown(context.Context) error { c.shutdowns++; return nil }

func newExporter(t *testing.T) *exporter {
	t.Helper()
	exp, err := Exporter(nil)(context.Background(), telemetry.Config{GoogleCloudProject: "p"})
	if err != nil {
		t.Fatal(err)
	}
	e := exp.(*exporter)
	if e.exp != nil || e.auth.creds != nil {
		t.Fatal("the OTLP exporter or the credentials were made before the first export")
	}
	if e.url != MetricsURL {
		t.Fatalf("url %s, want %s", e.url, MetricsURL)
	}
	return e
}

// TestFlushesCloserThanMinIntervalExportNothing: the glue flushes after
// every invocation; Cloud Monitoring takes one point per series per 5 s.
func TestFlushesCloserThanMinIntervalExportNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newExporter(t)
	now := time.Unix(1000, 0)
	e.now = func() time.Time { return now }
	inner := &counting{}
	e.exp = inner
	rm := &metricdata.ResourceMetrics{}
	for _, step := range []struct {
		after time.Duration
		want  int
	}{
		{after: 0, want: 1},                           // the first export goes
		{after: time.Second, want: 1},                 // 1 s later: skipped
		{after: MinInterval - 2*time.Second, want: 1}, // still inside the interval
		{after: time.Second, want: 2},                 // MinInterval after the first
		{after: MinInterval, want: 3},
	} {
		now = now.Add(step.after)
		if err := e.Export(ctx, rm); err != nil {
			t.Fatal(err)
		}
		if len(inner.exports) != step.want {
			t.Fatalf("after +%v: %d exports, want %d", step.after, len(inner.exports), step.want)
		}
	}
	if v, ok := inner.exports[0].Resource.Set().Value(ProjectAttribute); !ok || v.AsString() != "p" {
		t.Fatalf("resource %v lacks %s=p", inner.exports[0].Resource, ProjectAttribute)
	}
	if err := e.Shutdown(ctx); err != nil || inner.shutdowns != 1 {
		t.Fatalf("shutdown: %v, %d", err, inner.shutdowns)
	}
	if err := e.Export(ctx, rm); err == nil {
		t.Fatal("export after shutdown accepted")
	}
}

// TestSplitKeepsEveryPointOnceInOrder: an export of more than max points
// leaves as requests of at most max, every point in one of them, in
// order, a metric's points cut across requests when it has more than
// fits; one of max or fewer leaves whole.
func TestSplitKeepsEveryPointOnceInOrder(t *testing.T) {
	t.Parallel()
	sum := func(name string, n int) metricdata.Metrics {
		d := metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}
		for i := range n {
			d.DataPoints = append(d.DataPoints, metricdata.DataPoint[int64]{Value: int64(i)})
		}
		return metricdata.Metrics{Name: name, Data: d}
	}
	hist := func(name string, n int) metricdata.Metrics {
		d := metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}
		for i := range n {
			d.DataPoints = append(d.DataPoints, metricdata.HistogramDataPoint[float64]{Count: uint64(i)})
		}
		return metricdata.Metrics{Name: name, Data: d}
	}
	a, b := instrumentation.Scope{Name: "a"}, instrumentation.Scope{Name: "b"}
	for _, tc := range []struct {
		name   string
		scopes []metricdata.ScopeMetrics
		max    int
		parts  int
	}{
		{name: "fits", max: 10, parts: 1, scopes: []metricdata.ScopeMetrics{{Scope: a, Metrics: []metricdata.Metrics{sum("x", 4), hist("y", 6)}}}},
		{name: "cut between metrics", max: 5, parts: 2, scopes: []metricdata.ScopeMetrics{{Scope: a, Metrics: []metricdata.Metrics{sum("x", 5), hist("y", 3)}}}},
		{name: "one metric over max", max: 3, parts: 4, scopes: []metricdata.ScopeMetrics{{Scope: a, Metrics: []metricdata.Metrics{sum("x", 2), hist("y", 8), sum("z", 0)}}}},
		{name: "across scopes", max: 4, parts: 3, scopes: []metricdata.ScopeMetrics{
			{Scope: a, Metrics: []metricdata.Metrics{sum("x", 3)}}, {Scope: b, Metrics: []metricdata.Metrics{hist("y", 7)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rm := &metricdata.ResourceMetrics{ScopeMetrics: tc.scopes}
			parts := split(rm, tc.max)
			if len(parts) != tc.parts {
				t.Fatalf("%d parts, want %d", len(parts), tc.parts)
			}
			var want, got []string
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					want = append(want, flat(sm.Scope, m)...)
				}
			}
			for i, p := range parts {
				n := 0
				for _, sm := range p.ScopeMetrics {
					for _, m := range sm.Metrics {
						n += points(m.Data)
						got = append(got, flat(sm.Scope, m)...)
					}
				}
				if n > tc.max {
					t.Errorf("part %d has %d points, more than %d", i, n, tc.max)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("points\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// flat names each point of m: scope, metric, value.
func flat(s instrumentation.Scope, m metricdata.Metrics) []string {
	var out []string
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out = append(out, fmt.Sprintf("%s/%s/%d", s.Name, m.Name, p.Value))
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, fmt.Sprintf("%s/%s/%d", s.Name, m.Name, p.Count))
		}
	}
	if len(out) == 0 {
		out = append(out, s.Name+"/"+m.Name+"/none")
	}
	return out
}

// TestFailedExportWaitsMinInterval: an export that fails (here the
// credentials are not found; an API refusing every request is the same)
// is tried again on the first flush MinInterval later, not on every
// invocation's flush, each of which would pay the look-up or the round
// trip before its response.
func TestFailedExportWaitsMinInterval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lookups := 0
	exp, err := Exporter(func(context.Context) (*auth.Credentials, error) {
		lookups++
		return nil, errors.New("no credentials here")
	})(ctx, telemetry.Config{GoogleCloudProject: "p"})
	if err != nil {
		t.Fatal(err)
	}
	e := exp.(*exporter)
	now := time.Unix(1000, 0)
	e.now = func() time.Time { return now }
	rm := &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{{Name: "x",
		Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Value: 1}}}}}}}}
	for _, step := range []struct {
		name    string
		after   time.Duration
		lookups int
		fails   bool
	}{
		{name: "first flush looks up and fails", lookups: 1, fails: true},
		{name: "next invocation", after: time.Second, lookups: 1},
		{name: "still inside the interval", after: MinInterval - 2*time.Second, lookups: 1},
		{name: "MinInterval after the failure", after: time.Second, lookups: 2, fails: true},
	} {
		now = now.Add(step.after)
		err := e.Export(ctx, rm)
		if (err != nil) != step.fails || lookups != step.lookups {
			t.Fatalf("%s: err %v, %d look-ups; want failure %v, %d look-ups", step.name, err, lookups, step.fails, step.lookups)
		}
	}
}

// TestInvocationInsideTheIntervalCollectsNothing: the glue flushes after
// every invocation (telemetry.Flush), and an export inside MinInterval is
// not sent; the flush must not pay for collecting it (every instrument
// read, the request histogram copied) either. One MinInterval after the
// last export a flush collects and sends, and Shutdown's always does. A
// callback of an observable instrument counts the collections (the SDK
// calls it in each).
//
// Not parallel: Setup installs the process's telemetry.
func TestInvocationInsideTheIntervalCollectsNothing(t *testing.T) {
	ctx := context.Background()
	var clock atomic.Int64 // the exporter's now, read on the reader's goroutine
	clock.Store(time.Unix(1000, 0).UnixNano())
	inner := &counting{}
	newExp := Exporter(nil)
	p, err := telemetry.Setup(ctx, telemetry.Options{Service: "heartbeat", Metrics: telemetry.SinkOTLP,
		Lookup: envconfig.MapLookuper(map[string]string{
			telemetry.EnvMetricsExporter: telemetry.ExporterGoogleCloud, telemetry.EnvGoogleCloudProject: "p"}),
		MetricExporters: map[string]telemetry.MetricExporterFunc{
			telemetry.ExporterGoogleCloud: func(ctx context.Context, cfg telemetry.Config) (sdkmetric.Exporter, error) {
				exp, err := newExp(ctx, cfg)
				if err != nil {
					return nil, err
				}
				e := exp.(*exporter)
				e.now = func() time.Time { return time.Unix(0, clock.Load()) }
				e.exp = inner
				return e, nil
			}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown(ctx) }()
	var collections atomic.Int64
	if _, err := otel.GetMeterProvider().Meter("test").Int64ObservableGauge("collections",
		metric.WithInt64Callback(func(context.Context, metric.Int64Observer) error {
			collections.Add(1)
			return nil
		})); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name               string
		after              time.Duration
		collections, sends int64
	}{
		{name: "first invocation", collections: 1, sends: 1},
		{name: "1 s later", after: time.Second, collections: 1, sends: 1},
		{name: "still inside the interval", after: MinInterval - 2*time.Second, collections: 1, sends: 1},
		{name: "MinInterval after the first", after: time.Second, collections: 2, sends: 2},
		{name: "1 s after that", after: time.Second, collections: 2, sends: 2},
	} {
		clock.Add(int64(step.after))
		telemetry.PlayAdmitted(ctx)
		if err := telemetry.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if c, s := collections.Load(), int64(len(inner.exports)); c != step.collections || s != step.sends {
			t.Fatalf("%s: %d collections, %d exports sent; want %d, %d", step.name, c, s, step.collections, step.sends)
		}
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := len(inner.exports); s != 3 {
		t.Fatalf("%d exports sent after Shutdown inside the interval, want 3", s)
	}
	last := inner.exports[len(inner.exports)-1]
	var admitted int64
	for _, sm := range last.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == telemetry.MetricPlayAdmitted {
				admitted = m.Data.(metricdata.Sum[int64]).DataPoints[0].Value
			}
		}
	}
	if admitted != 5 {
		t.Fatalf("%s = %d in Shutdown's export, want 5 (cumulative: none lost)", telemetry.MetricPlayAdmitted, admitted)
	}
}

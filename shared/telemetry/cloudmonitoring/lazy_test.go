package cloudmonitoring

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/playplane/playplane/shared/telemetry"
)

// counting stands in for Google's exporter behind lazy.
type counting struct {
	sdkmetric.Exporter
	exports, shutdowns int
}

func (c *counting) Export(context.Context, *metricdata.ResourceMetrics) error {
	c.exports++
	return nil
}
func (c *counting) Shutdown(context.Context) error { c.shutdowns++; return nil }

// TestFlushesCloserThanMinIntervalExportNothing: the glue flushes after
// every invocation; Cloud Monitoring takes one point per series per 5 s.
func TestFlushesCloserThanMinIntervalExportNothing(t *testing.T) {
	ctx := context.Background()
	exp, err := Exporter()(ctx, telemetry.Config{GoogleCloudProject: "p"})
	if err != nil {
		t.Fatal(err)
	}
	l := exp.(*lazy)
	if l.exp != nil {
		t.Fatal("the Monitoring client was made before the first export")
	}
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	inner := &counting{}
	l.exp = inner
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
		if err := l.Export(ctx, rm); err != nil {
			t.Fatal(err)
		}
		if inner.exports != step.want {
			t.Fatalf("after +%v: %d exports, want %d", step.after, inner.exports, step.want)
		}
	}
	if err := l.Shutdown(ctx); err != nil || inner.shutdowns != 1 {
		t.Fatalf("shutdown: %v, %d", err, inner.shutdowns)
	}
	if err := l.Export(ctx, rm); err == nil {
		t.Fatal("export after shutdown accepted")
	}
}

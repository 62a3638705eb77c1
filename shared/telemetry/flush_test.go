package telemetry_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlpmetrics"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// TestInvocationFlushDoesNotWaitForTheCollector: at the end of an
// invocation (telemetry.Flush, called by the Lambda and Cloud Functions
// glue) a collector that hangs or answers 503 gets one attempt within the
// span budget, not the client's retries and timeout, and the EMF lines
// are written all the same. Where metrics are pushed over OTLP (Cloud
// Functions) their push shares that budget: one attempt too. The clients'
// own timeouts are an hour here and the invocation's deadline too: only
// the budget can end the flush.
func TestInvocationFlushDoesNotWaitForTheCollector(t *testing.T) {
	for _, tc := range []struct {
		name        string
		hang        bool
		pushMetrics bool
	}{
		{name: "503", hang: false},
		{name: "hangs", hang: true},
		{name: "503, metrics pushed", hang: false, pushMetrics: true},
		{name: "hangs, metrics pushed", hang: true, pushMetrics: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := otlptest.StartBusy(t, tc.hang)
			var emf bytes.Buffer
			opts := telemetry.Options{Service: "heartbeat", Metrics: telemetry.SinkEMF, EMFOut: &emf}
			env := map[string]string{
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": srv.URL + "/v1/traces",
				"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT":  "3600000",
			}
			wantExports := int32(1)
			if tc.pushMetrics {
				opts = telemetry.Options{Service: "heartbeat", Metrics: telemetry.SinkOTLP, OTLPMetrics: otlpmetrics.New}
				env["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = srv.URL + "/v1/metrics"
				env["OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"] = "3600000"
				wantExports = 2 // the spans' and the metrics'
			}
			p := setup(t, opts, env)
			t.Cleanup(func() {
				// Before setup's own Shutdown: the metric reader's last
				// push would retry against the busy collector for a minute.
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				_ = p.Shutdown(ctx)
			})
			serve(t, "PUT", "PUT /v1/playback/{id}/heartbeat", "/v1/playback/x/heartbeat", 204)
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- telemetry.Flush(ctx) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				// Not a timing assertion: without the budget the flush
				// waits for the hour-long timeout or retries for a minute.
				t.Fatal("Flush still waits for the collector")
			}
			if err == nil {
				t.Error("Flush reported no error for spans the collector did not take")
			}
			if n := srv.Exports(); n != wantExports {
				t.Errorf("%d export attempts, want %d", n, wantExports)
			}
			if tc.pushMetrics {
				return
			}
			if out := emf.String(); !strings.Contains(out, "CloudWatchMetrics") || !strings.Contains(out, telemetry.MetricRequestDuration) {
				t.Errorf("EMF output %q lacks the request's %s", out, telemetry.MetricRequestDuration)
			}
		})
	}
}

package telemetry_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// TestInvocationFlushDoesNotWaitForTheCollector: at the end of an
// invocation (telemetry.Flush, called by the Lambda and Cloud Functions
// glue) a collector that hangs or answers 503 gets one attempt within the
// span budget, not the client's retries and timeout, and the EMF lines
// are written all the same. The client's own timeout is an hour here and
// the invocation's deadline too: only the budget can end the flush.
func TestInvocationFlushDoesNotWaitForTheCollector(t *testing.T) {
	for _, tc := range []struct {
		name string
		hang bool
	}{
		{name: "503", hang: false},
		{name: "hangs", hang: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := otlptest.StartBusy(t, tc.hang)
			var emf bytes.Buffer
			setup(t, telemetry.Options{Service: "heartbeat", Metrics: telemetry.SinkEMF, EMFOut: &emf}, map[string]string{
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": srv.URL + "/v1/traces",
				"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT":  "3600000",
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
			if n := srv.Exports(); n != 1 {
				t.Errorf("%d export attempts, want 1", n)
			}
			if out := emf.String(); !strings.Contains(out, "CloudWatchMetrics") || !strings.Contains(out, telemetry.MetricRequestDuration) {
				t.Errorf("EMF output %q lacks the request's %s", out, telemetry.MetricRequestDuration)
			}
		})
	}
}

package awsfn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// TestInvocationDoesNotWaitForASlowCollector: the flush deferred in the
// HTTP handler writes the EMF lines, then gives the spans one attempt
// within a small budget, so a collector that hangs (or answers 503) does
// not hold the response up to the invocation's deadline, which would
// answer the player 5xx after the work was done.
//
// Not parallel: the telemetry Provider is process-wide, and the parallel
// tests start only after this one has shut it down.
func TestInvocationDoesNotWaitForASlowCollector(t *testing.T) {
	for _, hang := range []bool{true, false} {
		t.Run(map[bool]string{true: "hangs", false: "503"}[hang], func(t *testing.T) {
			srv := otlptest.StartBusy(t, hang)
			var emf bytes.Buffer
			p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "recorder", Metrics: telemetry.SinkEMF, EMFOut: &emf,
				Lookup: envconfig.MapLookuper(map[string]string{
					"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": srv.URL + "/v1/traces",
					// The client alone would wait an hour.
					"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "3600000",
				})})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				defer cancel()
				_ = p.Shutdown(ctx)
			})
			_, h := newRecorder(t, httpVars, nil)
			payload, err := json.Marshal(httpEvent("GET", "/v1/things/t1", ""))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			type result struct {
				out []byte
				err error
			}
			done := make(chan result, 1)
			go func() {
				out, err := h.Invoke(ctx, payload)
				done <- result{out, err}
			}()
			var res result
			select {
			case res = <-done:
			case <-time.After(time.Minute):
				// Not a timing assertion: without the budget the flush
				// waits for the collector until the deadline.
				t.Fatal("the invocation still waits for the collector")
			}
			if res.err != nil {
				t.Fatal(res.err)
			}
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(res.out, &resp); err != nil || resp.StatusCode != 200 {
				t.Fatalf("response %s (%v), want 200", res.out, err)
			}
			if n := srv.Exports(); n != 1 {
				t.Errorf("%d export attempts, want 1", n)
			}
			if out := emf.String(); !strings.Contains(out, telemetry.MetricRequestDuration) {
				t.Errorf("EMF output %q lacks the request's %s", out, telemetry.MetricRequestDuration)
			}
		})
	}
}

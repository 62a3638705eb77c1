package awsfn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/sethvargo/go-envconfig"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/playback"
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

// TestJobInvocationSpanIsExported: a job Lambda's invocation, started by
// its EventBridge schedule, is a span the collector has by the time the
// invocation returns: named after the job, faas.trigger timer, the
// Lambda's request id and cold start, and failed when the job fails, so
// that a failing or slow job shows in the traces as a request does. Not
// parallel, as TestInvocationDoesNotWaitForASlowCollector.
func TestJobInvocationSpanIsExported(t *testing.T) {
	recv := otlptest.Start(t)
	opts := awsfn.Telemetry("recorder-jobs", io.Discard)
	opts.Lookup = envconfig.MapLookuper(recv.Env())
	p, err := telemetry.Setup(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	_, h := newRecorder(t, jobVars, map[string]awsfn.Job{
		"sweep": playback.JobOf(func(context.Context) (int, error) { return 3, nil }),
		"fail":  playback.JobOf(func(context.Context) (int, error) { return 0, errors.New("stripe down") }),
	})
	for _, inv := range []struct{ job, id string }{{"sweep", "req-1"}, {"fail", "req-2"}} {
		ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: inv.id})
		_, _ = h.Invoke(ctx, []byte(`{"job":"`+inv.job+`"}`))
	}
	// No flush here: the invocations' own must have exported the spans.
	spans := recv.Spans()
	for _, want := range []struct {
		name, id, cold string
		status         tracepb.Status_StatusCode
	}{
		{"sweep", "req-1", "true", tracepb.Status_STATUS_CODE_UNSET},
		{"fail", "req-2", "false", tracepb.Status_STATUS_CODE_ERROR},
	} {
		var span *tracepb.Span
		for _, s := range spans {
			if s.GetName() == want.name {
				span = s
			}
		}
		if span == nil {
			t.Errorf("no span for the %s invocation:%s", want.name, otlptest.Describe(spans))
			continue
		}
		for key, v := range map[string]string{"faas.trigger": "timer", "faas.invocation_id": want.id, "faas.coldstart": want.cold} {
			if got := otlptest.Attr(span.GetAttributes(), key); got != v {
				t.Errorf("%s: %s = %q, want %q", want.name, key, got, v)
			}
		}
		if got := span.GetStatus().GetCode(); got != want.status || span.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("%s: %s span, status %s, want a server span, status %s", want.name, span.GetKind(), got, want.status)
		}
	}
}

package telemetry_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// TestJobSpan: a scheduled job's invocation is a server span named after
// the job, as the FaaS span conventions describe a timer-triggered one
// (faas.trigger timer, faas.time the invocation's start in UTC, ISO 8601;
// the invocation's id and cold start), with what the job does (here a
// publish) as its children; a failed or panicking job ends it failed
// (status error, error.type). Under the server span of an HTTP request
// (Cloud Scheduler calling a Cloud Function) it is that span's child and
// leaves faas.coldstart to it. faas.cron is the job's schedule as the
// catalogue declares it (the stacks deploy it from there). Exported over OTLP to a receiver by the
// invocation's flush. Not parallel: telemetry is process-wide.
func TestJobSpan(t *testing.T) {
	sweep, ok := catalog.JobByName("sweep")
	if !ok {
		t.Fatal("the catalogue has no sweep job")
	}
	sweepCron, err := sweep.CronSchedule()
	if err != nil {
		t.Fatal(err)
	}
	done := func(ctx context.Context) (any, error) {
		_, end := telemetry.StartPublish(ctx, telemetry.SystemLocal, "entitlement-changed", 1)
		end(nil)
		return 3, nil
	}
	for _, tc := range []struct {
		name string
		job  playback.Job
		// viaHTTP runs the job inside a request's server span.
		viaHTTP    bool
		wantStatus tracepb.Status_StatusCode
		wantCold   string // faas.coldstart, "" for none
		wantParent bool   // the job's span has a parent: the server span
		wantChild  bool   // the publish is the job span's child
	}{
		{name: "done", job: done, wantStatus: tracepb.Status_STATUS_CODE_UNSET, wantCold: "true", wantChild: true},
		{name: "failed", job: func(context.Context) (any, error) { return nil, errors.New("store down") },
			wantStatus: tracepb.Status_STATUS_CODE_ERROR, wantCold: "true"},
		{name: "panicked", job: func(context.Context) (any, error) { panic("sweep bug") },
			wantStatus: tracepb.Status_STATUS_CODE_ERROR, wantCold: "true"},
		{name: "under a request's span", job: done, viaHTTP: true, wantStatus: tracepb.Status_STATUS_CODE_UNSET,
			wantParent: true, wantChild: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := otlptest.Start(t)
			setup(t, telemetry.Options{Service: "jobs", Invocation: func(ctx context.Context) string {
				id, _ := ctx.Value(invocationKey{}).(string)
				return id
			}}, recv.Env())
			ctx := context.WithValue(context.Background(), invocationKey{}, "inv-1")
			before := time.Now().UTC().Truncate(time.Second)
			run := func(ctx context.Context) {
				defer func() { _ = recover() }()
				_, _ = telemetry.RunJob(ctx, "sweep", tc.job)
			}
			if tc.viaHTTP {
				mux := http.NewServeMux()
				mux.HandleFunc("POST /", func(_ http.ResponseWriter, r *http.Request) { run(r.Context()) })
				telemetry.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, "POST", "/", nil), mux)
			} else {
				run(ctx)
			}
			after := time.Now().UTC()
			if err := telemetry.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			spans := recv.Spans()
			var job, server, publish *tracepb.Span
			for _, s := range spans {
				switch {
				case s.GetName() == "sweep":
					job = s
				case s.GetKind() == tracepb.Span_SPAN_KIND_SERVER:
					server = s
				case s.GetKind() == tracepb.Span_SPAN_KIND_PRODUCER:
					publish = s
				}
			}
			if job == nil {
				t.Fatalf("no span for the sweep invocation:%s", otlptest.Describe(spans))
			}
			attrs := job.GetAttributes()
			if job.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
				t.Errorf("kind %s, want server", job.GetKind())
			}
			for key, want := range map[string]string{"faas.trigger": "timer", "faas.invocation_id": "inv-1", "faas.coldstart": tc.wantCold,
				"faas.cron": sweepCron} {
				if got := otlptest.Attr(attrs, key); got != want {
					t.Errorf("%s = %q, want %q", key, got, want)
				}
			}
			at, err := time.Parse(time.RFC3339, otlptest.Attr(attrs, "faas.time"))
			if err != nil || at.Location() != time.UTC || at.Before(before) || at.After(after) {
				t.Errorf("faas.time %q (%v), want the invocation's start in UTC, ISO 8601", otlptest.Attr(attrs, "faas.time"), err)
			}
			if got := job.GetStatus().GetCode(); got != tc.wantStatus {
				t.Errorf("status %s, want %s", got, tc.wantStatus)
			}
			if failed := tc.wantStatus == tracepb.Status_STATUS_CODE_ERROR; failed != (otlptest.Attr(attrs, "error.type") == "_OTHER") {
				t.Errorf("error.type %q on a span with status %s", otlptest.Attr(attrs, "error.type"), job.GetStatus().GetCode())
			}
			switch {
			case tc.wantParent && (server == nil || !bytes.Equal(job.GetParentSpanId(), server.GetSpanId())):
				t.Errorf("the job's span is not the request's span's child:%s", otlptest.Describe(spans))
			case !tc.wantParent && len(job.GetParentSpanId()) != 0:
				t.Errorf("the job's span has a parent:%s", otlptest.Describe(spans))
			}
			if tc.wantChild && (publish == nil || !bytes.Equal(publish.GetParentSpanId(), job.GetSpanId())) {
				t.Errorf("the job's publish is not its span's child:%s", otlptest.Describe(spans))
			}
		})
	}
}

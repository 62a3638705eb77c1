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

// TestJobSpansAreRecordedWhateverTheRatio: a scheduled job runs a few
// times an hour, so its span is recorded whatever ratio its function
// samples requests at (the heartbeat's, with its leases job, is deployed
// at parentbased_traceidratio 0.01): run alone (a Lambda's schedule, the
// runner's ticker) it is a root; under a request's server span the
// sampler dropped (Cloud Scheduler calling a Cloud Function) it is a root
// of its own, linked to that span. A sampler that records no root
// (tracing turned off) records no job either. Not parallel: telemetry is
// process-wide.
func TestJobSpansAreRecordedWhateverTheRatio(t *testing.T) {
	const runs = 20
	for _, tc := range []struct {
		name, sampler, arg string
		want               int
	}{
		{name: "ratio 0.01", sampler: "parentbased_traceidratio", arg: "0.01", want: 2 * runs},
		{name: "traceidratio 0.01", sampler: "traceidratio", arg: "0.01", want: 2 * runs},
		{name: "always_on", sampler: "always_on", want: 2 * runs},
		{name: "always_off", sampler: "always_off", want: 0},
		{name: "ratio 0", sampler: "parentbased_traceidratio", arg: "0", want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := otlptest.Start(t)
			env := recv.Env()
			env[telemetry.EnvTracesSampler], env[telemetry.EnvTracesSamplerArg] = tc.sampler, tc.arg
			setup(t, telemetry.Options{Service: "heartbeat"}, env)
			// The job's publish is its child, recorded with it whether or
			// not the sampler follows its parent (traceidratio does not).
			leases := func(ctx context.Context) (any, error) {
				_, end := telemetry.StartPublish(ctx, telemetry.SystemLocal, "entitlement-changed", 1)
				end(nil)
				return 1, nil
			}
			for range runs {
				if _, err := telemetry.RunJob(context.Background(), "leases", leases); err != nil {
					t.Fatal(err)
				}
				mux := http.NewServeMux()
				mux.HandleFunc("POST /", func(_ http.ResponseWriter, r *http.Request) { _, _ = telemetry.RunJob(r.Context(), "leases", leases) })
				telemetry.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil), mux)
			}
			if err := telemetry.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			spans := recv.Spans()
			var jobs, publishes []*tracepb.Span
			servers, jobIDs := map[string]bool{}, map[string]bool{}
			for _, s := range spans {
				switch {
				case s.GetName() == "leases":
					jobs = append(jobs, s)
					jobIDs[string(s.GetSpanId())] = true
				case s.GetKind() == tracepb.Span_SPAN_KIND_PRODUCER:
					publishes = append(publishes, s)
				default:
					servers[string(s.GetSpanId())] = true
				}
			}
			if len(jobs) != tc.want {
				t.Fatalf("%d job spans of %d runs under %s %s, want %d", len(jobs), 2*runs, tc.sampler, tc.arg, tc.want)
			}
			if len(publishes) != tc.want {
				t.Fatalf("%d publish spans of %d job spans under %s %s, want %d", len(publishes), len(jobs), tc.sampler, tc.arg, tc.want)
			}
			for _, p := range publishes {
				if !jobIDs[string(p.GetParentSpanId())] {
					t.Errorf("a publish span's parent %x is no job span:%s", p.GetParentSpanId(), otlptest.Describe(spans))
				}
			}
			// Run alone, a job's span is a root with no link; under a
			// request, the request's child or, the request unsampled, a
			// root with exactly one link, to it.
			alone := 0
			for _, j := range jobs {
				parent := j.GetParentSpanId()
				switch links := j.GetLinks(); {
				case len(parent) != 0 && !servers[string(parent)]:
					t.Errorf("a job span's parent %x was not recorded:%s", parent, otlptest.Describe(spans))
				case len(parent) != 0:
				case len(links) == 0:
					alone++
				case len(links) != 1:
					t.Errorf("a job span under an unsampled request has %d links, want 1", len(links))
				case servers[string(links[0].GetSpanId())]:
					t.Errorf("a job span is linked to a recorded request span instead of being its child")
				}
			}
			if tc.want != 0 && alone != runs {
				t.Errorf("%d job spans have neither parent nor link, want the %d run alone:%s", alone, runs, otlptest.Describe(spans))
			}
		})
	}
}

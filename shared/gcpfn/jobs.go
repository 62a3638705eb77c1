package gcpfn

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// Job is the domain's scheduled task; functions declare theirs with Jobs().
// Cloud Scheduler POSTs {"job":"<name>"} to the function's jobs entry point
// (internal ingress, OIDC-authenticated by the platform).
type Job = playback.Job

// WithJobs adds scheduled jobs to fn, for functions that do not declare
// their own.
func WithJobs(fn Function, jobs map[string]Job) Function {
	return withJobs{Function: fn, jobs: jobs}
}

type withJobs struct {
	Function
	jobs map[string]Job
}

func (w withJobs) Jobs() map[string]Job { return w.jobs }

// jobRequest is the body Cloud Scheduler sends.
type jobRequest struct {
	Job string `json:"job"`
}

// JobResult is a job's answer.
type JobResult struct {
	Job    string `json:"job"`
	Result any    `json:"result"`
}

// maxJobBody bounds a job request: it names a job, nothing more.
const maxJobBody = 1 << 10

// serveJobs is the jobs entry point. A failed job answers 500, so Cloud
// Scheduler's retry policy and the error metrics see it; jobs are
// idempotent sweeps, so a retry never double-applies. The job runs in its
// own span (telemetry.RunJob), under the request's.
func (f *lazyFunction) serveJobs(w http.ResponseWriter, r *http.Request) {
	defer f.flush(r.Context())
	b, err := f.get(r.Context())
	if err != nil {
		f.unavailable(w, r, err)
		return
	}
	httpx.Middleware(b.log, httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			return playback.Errorf(playback.CodeMethodNotAllowed, "method_not_allowed", "jobs are started with POST {\"job\":\"<name>\"}")
		}
		var req jobRequest
		if err := httpx.DecodeJSON(r, &req, maxJobBody); err != nil {
			return err
		}
		job, ok := b.jobs[req.Job]
		if !ok {
			return playback.Errorf(playback.CodeNotFound, "job_not_found", "no job %q; this function runs %s",
				req.Job, strings.Join(slices.Sorted(maps.Keys(b.jobs)), ", "))
		}
		log := httpx.Logger(r.Context()).With("job", req.Job)
		// The lines are logged in the job's context, so that they name
		// its span: under an unsampled request the job's span is a root
		// of its own (telemetry.RunJob), and the request's trace is
		// exported nowhere.
		result, err := telemetry.RunJob(r.Context(), req.Job, func(ctx context.Context) (any, error) {
			result, err := job(ctx)
			if err != nil {
				log.ErrorContext(ctx, "job failed", "result", result, "err", err)
			} else {
				log.InfoContext(ctx, "job done", "result", result)
			}
			return result, err
		})
		if err != nil {
			if !playback.AsError(err).Code.Retryable() {
				// A job takes no input from its caller: whatever code its
				// error carries (a store's conflict, a not found), the
				// failure is ours, and a 5xx is what the alert policy on
				// the jobs service counts.
				return &playback.Error{Code: playback.CodeInternal, Reason: "job_failed", Err: err}
			}
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, JobResult{Job: req.Job, Result: result})
		return nil
	})).ServeHTTP(w, r)
}

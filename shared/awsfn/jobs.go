package awsfn

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// Job is the domain's scheduled task; functions declare theirs with Jobs().
// An EventBridge rule whose input is {"job":"<name>"} invokes the function's
// job Lambda (EnvTrigger=job) with it.
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

// JobEvent is what a schedule sends.
type JobEvent struct {
	Job string `json:"job"`
}

// JobResult is a job invocation's response.
type JobResult struct {
	Job    string `json:"job"`
	Result any    `json:"result"`
}

// Job runs the job ev names, inside its invocation's span
// (telemetry.RunJob), which the deferred flush exports before the
// invocation returns. An error, including a function that cannot be
// built, fails the invocation, so EventBridge's retry policy and the
// Lambda error metrics see it, and the span.
func (h *Handler) Job(ctx context.Context, ev JobEvent) (JobResult, error) {
	log := h.log.With("job", ev.Job)
	defer h.flush(ctx)
	result, err := telemetry.RunJob(ctx, ev.Job, func(ctx context.Context) (any, error) {
		b, err := h.get(ctx)
		if err != nil {
			log.ErrorContext(ctx, "jobs cannot be built", "err", err)
			return nil, err
		}
		job, ok := b.jobs[ev.Job]
		if !ok {
			return nil, fmt.Errorf("awsfn: unknown job %q (this function runs %v)", ev.Job, slices.Sorted(maps.Keys(b.jobs)))
		}
		result, err := job(ctx)
		if err != nil {
			log.ErrorContext(ctx, "job failed", "result", result, "err", err)
			return nil, fmt.Errorf("awsfn: job %s: %w", ev.Job, err)
		}
		return result, nil
	})
	if err != nil {
		return JobResult{}, err
	}
	log.InfoContext(ctx, "job done", "result", result)
	return JobResult{Job: ev.Job, Result: result}, nil
}

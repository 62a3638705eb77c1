package awsfn

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Job is a task a schedule triggers: an EventBridge rule whose input is
// {"job":"<name>"}. Its result is logged and returned as the invocation's.
type Job func(ctx context.Context) (any, error)

// JobOf adapts a method such as Sweep(ctx) (int, error) to a Job.
func JobOf[T any](run func(context.Context) (T, error)) Job {
	return func(ctx context.Context) (any, error) { return run(ctx) }
}

// WithJobs adds scheduled jobs to fn.
func WithJobs(fn Function, jobs map[string]Job) Function {
	return withJobs{Function: fn, jobs: jobs}
}

type withJobs struct {
	Function
	jobs map[string]Job
}

func (w withJobs) Jobs() map[string]Job { return w.jobs }

// jobResult is a job invocation's response.
type jobResult struct {
	Job    string `json:"job"`
	Result any    `json:"result"`
}

// runJob runs a job. An error fails the invocation, so EventBridge's retry
// policy and the Lambda error metrics see it.
func (h *Handler) runJob(ctx context.Context, name string) ([]byte, error) {
	job, ok := h.jobs[name]
	if !ok {
		return nil, fmt.Errorf("awsfn: unknown job %q (this function runs %v)", name, slices.Sorted(maps.Keys(h.jobs)))
	}
	log := h.log.With("job", name)
	result, err := job(ctx)
	if err != nil {
		log.ErrorContext(ctx, "job failed", "result", result, "err", err)
		return nil, fmt.Errorf("awsfn: job %s: %w", name, err)
	}
	log.InfoContext(ctx, "job done", "result", result)
	return json.Marshal(jobResult{Job: name, Result: result})
}

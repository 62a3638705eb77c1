package awsfn

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/playplane/playplane/shared/playback"
)

// Job is the domain's scheduled task; functions declare theirs with Jobs().
// An EventBridge rule whose input is {"job":"<name>"} runs it; its result is
// logged and returned as the invocation's.
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

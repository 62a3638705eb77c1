package playback

import "context"

// Job is a task a schedule triggers (EventBridge on AWS, Cloud Scheduler on
// GCP, a ticker locally). Functions declare theirs with a Jobs() method,
// as they declare consumers; its result is logged and returned.
type Job func(ctx context.Context) (any, error)

// JobOf adapts a method such as Sweep(ctx) (int, error) to a Job.
func JobOf[T any](run func(context.Context) (T, error)) Job {
	return func(ctx context.Context) (any, error) { return run(ctx) }
}

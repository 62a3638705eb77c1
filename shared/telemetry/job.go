package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/playback"
)

// RunJob runs job, the scheduled task name, inside the span of its
// invocation, as the FaaS span conventions describe a function a timer
// triggers: named after the job, kind server, faas.trigger "timer" and
// faas.time, the invocation's start in UTC (ISO 8601), with the
// invocation's faas.invocation_id and faas.coldstart as the other
// triggers' spans carry them. What the job does under its context (a
// publish, a client library's calls) are the span's children, so a slow
// or failing sweep shows in the trace with its parts. A job that returns
// an error, or panics (the panic goes on), ends its span failed with
// error.type "_OTHER", as the bus's spans do: a job does not classify its
// failures. faas.cron is the job's schedule as the catalogue declares it
// and the stacks deploy it (catalog.Job.CronSchedule: EventBridge's rate
// and Cloud Scheduler's cron are both made from it), as no platform tells
// the function its schedule (EventBridge sends the rule's input alone,
// Cloud Scheduler's headers name no cron); a job the catalogue does not
// list (the local runner's own) has none.
//
// Under a span of this process (Cloud Scheduler reaches a Cloud Function
// over HTTP: the request's server span), the job's span is its child,
// with the invocation's id, and leaves faas.coldstart to that span, which
// took the invocation's place as its first hook. The caller flushes
// (Flush) before the invocation returns. Off, it is job(ctx).
func RunJob(ctx context.Context, name string, job playback.Job) (any, error) {
	rt := current()
	if rt == nil || rt.tracer == nil {
		return job(ctx)
	}
	parent := trace.SpanContextFromContext(ctx)
	if rt.unsampledChild(parent) {
		return job(ctx)
	}
	nested := parent.IsValid() && !parent.IsRemote()
	cold := !nested && rt.firstInvocation()
	start := time.Now()
	ctx, span := rt.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start))
	if span.IsRecording() {
		attrs := make([]attribute.KeyValue, 2, 3+rt.invocationRoom())
		attrs[0], attrs[1] = semconv.FaaSTriggerTimer, semconv.FaaSTime(start.UTC().Format(time.RFC3339))
		if cron, ok := jobCron(name); ok {
			attrs = append(attrs, semconv.FaaSCron(cron))
		}
		switch {
		case !nested:
			attrs = rt.invocationAttrs(ctx, cold, attrs)
		case rt.invocation != nil:
			if id := rt.invocation(ctx); id != "" {
				attrs = append(attrs, semconv.FaaSInvocationID(id))
			}
		}
		span.SetAttributes(attrs...)
	}
	returned := false
	defer func() {
		if !returned {
			span.SetStatus(codes.Error, "job panicked")
			span.SetAttributes(semconv.ErrorTypeOther)
			span.End()
		}
	}()
	result, err := job(ctx)
	returned = true
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(semconv.ErrorTypeOther)
	}
	span.End()
	return result, err
}

// jobCron is the schedule of the catalogue's job name, as unix cron.
func jobCron(name string) (string, bool) {
	j, ok := catalog.JobByName(name)
	if !ok {
		return "", false
	}
	cron, err := j.CronSchedule()
	return cron, err == nil
}

package telemetry

import (
	"context"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
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
// A job's span is recorded whatever the ratio its function samples
// requests at (jobRoots): a job runs a few times an hour, where the
// function's ratio is set for its requests (the heartbeat's leases job
// would otherwise leave a trace every hundred minutes, a failing sweep
// seldom one). Under a sampled span of this process (Cloud Scheduler
// reaches a Cloud Function over HTTP: the request's server span), the
// job's span is its child, with the invocation's id, and leaves
// faas.coldstart to that span, which took the invocation's place as its
// first hook; under an unsampled one it is a root of its own, linked to
// it. Only a sampler that records no root at all (always_off, a ratio of
// 0) records no job either. The caller flushes (Flush) before the
// invocation returns. Off, it is job(ctx).
func RunJob(ctx context.Context, name string, job playback.Job) (any, error) {
	rt := current()
	if rt == nil || rt.tracer == nil {
		return job(ctx)
	}
	parent := trace.SpanContextFromContext(ctx)
	unsampled := parent.IsValid() && !parent.IsSampled()
	if unsampled && !rt.jobRoots && rt.unsampledChild(parent) {
		return job(ctx)
	}
	start := time.Now()
	// faas.trigger is given at start: it marks the span as a job's for
	// the sampler (jobRoots).
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithAttributes(semconv.FaaSTriggerTimer)}
	if unsampled && rt.jobRoots {
		opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: parent}))
	}
	nested := parent.IsValid() && !parent.IsRemote()
	cold := !nested && rt.firstInvocation()
	ctx, span := rt.tracer.Start(ctx, name, opts...)
	if span.IsRecording() {
		attrs := make([]attribute.KeyValue, 1, 2+rt.invocationRoom())
		attrs[0] = semconv.FaaSTime(start.UTC().Format(time.RFC3339))
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

// jobRoots is the SDK's sampler when a job's span is recorded whatever
// the ratio (RunJob): the wrapped sampler decides every span but the root
// of a job, a server span started with faas.trigger timer, which it
// records. The hooks' own root decision (runtime.root) stays the wrapped
// sampler's: no job starts there.
//
// orphans is set when the wrapped sampler does not follow its parent
// (traceidratio): it would decide a job's children by their trace id
// alone, dropping nearly every publish and client call of a job it did
// not choose itself. jobRoots then records each child of a sampled span
// of this process, as a parent-following sampler would; a span the
// ratio chose has its children chosen by the same trace id anyway, so
// only a job's trace gains spans.
type jobRoots struct {
	sdktrace.Sampler
	orphans bool
}

func (j jobRoots) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	// The kind and attributes first, cheapest first: most spans are no
	// server's, and the hooks' server spans are started with no
	// attributes, so neither walks up its context for the parent.
	if p.Kind == trace.SpanKindServer && slices.Contains(p.Attributes, semconv.FaaSTriggerTimer) &&
		!trace.SpanContextFromContext(p.ParentContext).IsValid() {
		return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
	}
	if j.orphans {
		if parent := trace.SpanContextFromContext(p.ParentContext); parent.IsSampled() && !parent.IsRemote() {
			return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample, Tracestate: parent.TraceState()}
		}
	}
	return j.Sampler.ShouldSample(p)
}

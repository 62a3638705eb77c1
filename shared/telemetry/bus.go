package telemetry

import (
	"context"
	"maps"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/playback"
)

// Messaging systems, as the semantic conventions name them;
// "playplane_membus" is the local runner's in-process bus, which the
// conventions have no name for.
const (
	SystemLocal  = "playplane_membus"
	SystemSQS    = "aws_sqs"
	SystemPubSub = "gcp_pubsub"
)

// StartPublish starts the producer span of a publish of n messages to
// topic. end records its outcome. Off, ctx comes back unchanged and end
// does nothing.
func StartPublish(ctx context.Context, system, topic string, n int) (context.Context, func(error)) {
	rt := current()
	if rt == nil || rt.tracer == nil {
		return ctx, noEnd
	}
	parent := spanFrom(ctx)
	if rt.unsampledChild(parent.SpanContext()) {
		return ctx, noEnd
	}
	// A heartbeat's publish, on every request: its name and attributes
	// are made once per destination, not per request, and set only on a
	// span that is recorded.
	p := rt.producer(system, topic)
	ctx, span := rt.startUnder(ctx, parent, p.name, trace.SpanKindProducer, ctxValue{})
	if !span.IsRecording() {
		return ctx, noEnd
	}
	span.SetAttributes(p.attrs...)
	if n != 1 {
		span.SetAttributes(semconv.MessagingBatchMessageCount(n))
	}
	return ctx, publishEnd{span}.end
}

// producerSpan is the name and the start attributes of the producer spans
// of single-message publishes to one destination. The semantic
// conventions ask for messaging.batch.message_count only on batches.
type producerSpan struct {
	name  string
	attrs []attribute.KeyValue
}

type producerKey struct{ system, topic string }

func (rt *runtime) producer(system, topic string) *producerSpan {
	k := producerKey{system, topic}
	if v, ok := rt.producers.Load(k); ok {
		return v.(*producerSpan)
	}
	p := &producerSpan{name: "send " + topic, attrs: []attribute.KeyValue{semconv.MessagingSystemKey.String(system),
		semconv.MessagingDestinationName(topic), semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("send")}}
	v, _ := rt.producers.LoadOrStore(k, p)
	return v.(*producerSpan)
}

// deliveryAttempt is a delivered message's attempt as a span attribute:
// the messaging conventions name it for Pub/Sub alone, and advise against
// names of one's own in their namespace, so other buses' is playplane's.
func deliveryAttempt(system string, n int) attribute.KeyValue {
	if system == SystemPubSub {
		return semconv.MessagingGCPPubSubMessageDeliveryAttempt(n)
	}
	return attribute.Int("playplane.message.delivery_attempt", n)
}

// publishEnd ends a producer span with the publish's outcome.
type publishEnd struct{ span trace.Span }

func (p publishEnd) end(err error) {
	if err != nil {
		p.span.RecordError(err)
		p.span.SetStatus(codes.Error, err.Error())
		p.span.SetAttributes(semconv.ErrorTypeOther)
	}
	p.span.End()
}

func noEnd(error) {}

// Carrier returns the trace context of ctx as one map of message
// attributes (traceparent, and tracestate or baggage when ctx has them),
// for the SQS and Pub/Sub adapters, which send the trace context as
// attributes anyway and make the map once per Publish: a consumer's span
// then joins the trace of the request that published it. It is nil when
// tracing is off or ctx has no span.
func Carrier(ctx context.Context) map[string]string {
	tc, more := MessageTrace(ctx)
	switch {
	case !tc.IsValid():
		return nil
	case more == nil:
		return map[string]string{traceparentKey: tc.TraceParent()}
	}
	more[traceparentKey] = tc.TraceParent() // MessageTrace made it for this call
	return more
}

// CarrierNames is the names of a Carrier in the order a bus with room for
// only some of them adds them: the traceparent first (it alone continues
// the trace), then the rest sorted, so the choice is the same every time.
func CarrierNames(carrier map[string]string) []string {
	names := slices.Sorted(maps.Keys(carrier))
	if i := slices.Index(names, traceparentKey); i > 0 {
		names = slices.Insert(slices.Delete(names, i, i+1), 0, traceparentKey)
	}
	return names
}

// MessageTrace returns the trace context of ctx for a published message:
// its span's, for Message.Trace, and only when ctx also has a tracestate
// or baggage, those as attributes to add (nil otherwise). The two are what
// the propagator writes (TestCarrierIsThePropagators), the traceparent in
// binary: a bus without attributes (membus, every heartbeat) formats
// nothing. It returns no trace context and nil when tracing is off or ctx
// has no span.
func MessageTrace(ctx context.Context) (playback.TraceContext, map[string]string) {
	rt := current()
	if rt == nil || rt.tracer == nil {
		return playback.TraceContext{}, nil
	}
	sc := spanFrom(ctx).SpanContext()
	if !sc.IsValid() {
		return playback.TraceContext{}, nil
	}
	tc := messageTrace(sc)
	if sc.TraceState().Len() == 0 && baggage.FromContext(ctx).Len() == 0 {
		// The common case, on every heartbeat: no map.
		return tc, nil
	}
	c := make(propagation.MapCarrier, 3)
	rt.prop.Inject(ctx, c)
	delete(c, traceparentKey)
	if len(c) == 0 {
		return tc, nil
	}
	return tc, c
}

// messageTrace is sc as a message carries it: of the flags, only those
// version 00 defines, as the traceparent attribute delivers them, so that
// a message reads alike on membus and after any bus's round trip.
func messageTrace(sc trace.SpanContext) playback.TraceContext {
	return playback.TraceContext{TraceID: sc.TraceID(), SpanID: sc.SpanID(),
		Flags: byte(sc.TraceFlags()) & (playback.TraceFlagSampled | playback.TraceFlagRandom)}
}

// traceparentKey is the trace context's name in a carrier.
const traceparentKey = playback.TraceParentAttribute

// messageCarrier reads a delivered message's trace context for the
// propagator: its attributes, and its Trace under traceparentKey unless
// an attribute of that name (the publisher's own) overrides it. It is
// read only: Set does nothing.
type messageCarrier struct{ m *playback.Message }

func (c messageCarrier) Get(key string) string {
	if v, ok := c.m.Attributes[key]; ok || key != traceparentKey {
		return v
	}
	return c.m.Trace.TraceParent()
}

func (c messageCarrier) Set(string, string) {}

func (c messageCarrier) Keys() []string {
	keys := slices.Collect(maps.Keys(c.m.Attributes))
	if _, ok := c.m.Attributes[traceparentKey]; !ok && c.m.Trace.IsValid() {
		keys = append(keys, traceparentKey)
	}
	return keys
}

// messageParent returns the context of m's publisher for its consumer's
// span: read from m.Trace itself when the message has nothing else the
// propagator would read (no tracestate, baggage or traceparent attribute:
// every heartbeat), which is what the propagator would make of it
// (TestMessageParentIsThePropagators) without formatting the traceparent
// to parse it again; else by the propagator.
func (rt *runtime) messageParent(m *playback.Message) context.Context {
	if len(m.Attributes) == 0 {
		if !m.Trace.IsValid() {
			return context.Background()
		}
		return trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: m.Trace.TraceID, SpanID: m.Trace.SpanID,
			TraceFlags: trace.TraceFlags(m.Trace.Flags & (playback.TraceFlagSampled | playback.TraceFlagRandom)), Remote: true}))
	}
	return rt.prop.Extract(context.Background(), messageCarrier{m})
}

// WithCarrier returns attrs with carrier's entries added where attrs has
// none of its own by that name: attrs itself when carrier is empty,
// carrier itself when attrs is (callers share it read-only), else a new
// map.
func WithCarrier(attrs, carrier map[string]string) map[string]string {
	if len(carrier) == 0 {
		return attrs
	}
	if len(attrs) == 0 {
		return carrier
	}
	out := make(map[string]string, len(attrs)+len(carrier))
	maps.Copy(out, carrier)
	maps.Copy(out, attrs)
	return out
}

// Consume calls h with msgs inside a consumer batch span, linked to the
// context each message carries, and a process span per message that is a
// child of its publisher's span (so a trace runs from the HTTP request
// through the bus into the consumer); a message's span ends with the
// batch, failed if the handler asked to retry it. A failed span carries
// error.type, which the messaging conventions require of a failed
// operation: "_OTHER", their fallback, as neither a bus nor a handler
// classifies its failures (StartPublish's end does the same). It records
// the batch size and the retries. Off, it is h(ctx, msgs).
func Consume(ctx context.Context, system, topic string, msgs []playback.Message, h playback.BatchHandler) []string {
	return ConsumeSubscription(ctx, system, topic, "", msgs, h)
}

// ConsumeSubscription is Consume of messages delivered through
// subscription, which its spans name
// (messaging.destination.subscription.name, at their start, as the
// messaging conventions ask of an attribute a sampler may read): the last
// segment of a resource name (projects/P/subscriptions/ID), as
// messaging.destination.name is the topic's id. "" names none.
func ConsumeSubscription(ctx context.Context, system, topic, subscription string, msgs []playback.Message, h playback.BatchHandler) []string {
	rt := current()
	if rt == nil {
		return h(ctx, msgs)
	}
	var batch trace.Span
	var spans []trace.Span
	if rt.tracer != nil {
		cold := rt.firstInvocation()
		base := make([]attribute.KeyValue, 2, 3)
		base[0], base[1] = semconv.MessagingSystemKey.String(system), semconv.MessagingDestinationName(topic)
		if subscription != "" {
			base = append(base, semconv.MessagingDestinationSubscriptionName(subscription[strings.LastIndexByte(subscription, '/')+1:]))
		}
		links := make([]trace.Link, 0, len(msgs))
		parents := make([]context.Context, len(msgs))
		for i := range msgs {
			parents[i] = rt.messageParent(&msgs[i])
			if sc := trace.SpanContextFromContext(parents[i]); sc.IsValid() {
				links = append(links, trace.Link{SpanContext: sc})
			}
		}
		var bctx context.Context
		bctx, batch = rt.tracer.Start(ctx, "process "+topic, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(links...),
			trace.WithAttributes(append(slices.Clip(base), semconv.MessagingOperationTypeProcess,
				semconv.MessagingOperationName("process"), semconv.MessagingBatchMessageCount(len(msgs)), semconv.FaaSTriggerPubSub)...))
		// The batch's span is the invocation's, and so is each message's
		// span, in the trace of its publisher.
		// Their attributes are made once, for the first that is recorded.
		var invocation []attribute.KeyValue
		made := false
		invocationOf := func(s trace.Span) {
			if !s.IsRecording() {
				return
			}
			if !made {
				invocation, made = rt.invocationAttrs(ctx, cold, nil), true
			}
			if len(invocation) > 0 {
				s.SetAttributes(invocation...)
			}
		}
		invocationOf(batch)
		batchLink := trace.Link{SpanContext: batch.SpanContext()}
		spans = make([]trace.Span, len(msgs))
		for i, m := range msgs {
			if rt.unsampledChild(trace.SpanContextFromContext(parents[i])) {
				continue
			}
			// A function invoked with messages makes a span per message,
			// with the trigger the FaaS conventions require of it.
			attrs := append(make([]attribute.KeyValue, 0, len(base)+5), base...)
			attrs = append(attrs, semconv.MessagingOperationTypeProcess, semconv.MessagingOperationName("process"),
				semconv.MessagingMessageID(m.ID), semconv.FaaSTriggerPubSub)
			if m.DeliveryAttempt > 0 {
				attrs = append(attrs, deliveryAttempt(system, m.DeliveryAttempt))
			}
			_, spans[i] = rt.tracer.Start(parents[i], "process "+topic, trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithLinks(batchLink), trace.WithAttributes(attrs...))
			invocationOf(spans[i])
		}
		ctx = bctx
	}
	finish := func(retry []string, panicked bool) {
		if rt.tracer != nil {
			retried := make(map[string]bool, len(retry))
			for _, id := range retry {
				retried[id] = true
			}
			for i, m := range msgs {
				if spans[i] == nil {
					continue
				}
				if retried[m.ID] {
					spans[i].SetStatus(codes.Error, "handed back for redelivery")
					spans[i].SetAttributes(semconv.ErrorTypeOther)
				}
				spans[i].End()
			}
			if len(retry) > 0 {
				batch.SetAttributes(attribute.Int("playplane.retry_count", len(retry)))
			}
			if panicked {
				batch.SetStatus(codes.Error, "handler panicked")
				batch.SetAttributes(semconv.ErrorTypeOther)
			}
			batch.End()
		}
		if rt.inst != nil {
			opts := rt.messagingOptions(system, topic)
			rt.inst.batchSize.get(rt.inst.meter, newBatchSize).Record(ctx, int64(len(msgs)), opts.rec...)
			if len(retry) > 0 {
				rt.inst.retries.get(rt.inst.meter, newRetries).Add(ctx, int64(len(retry)), opts.add...)
			}
			rt.inst.mark()
		}
	}
	returned := false
	defer func() {
		// h panicked, and the panic goes on to the caller's recover
		// (playback.BatchHandler.Call, which hands every message back):
		// unended, the spans of the failed delivery were never exported.
		if !returned {
			all := make([]string, len(msgs))
			for i, m := range msgs {
				all[i] = m.ID
			}
			finish(all, true)
		}
	}()
	retry := h(ctx, msgs)
	returned = true
	finish(retry, false)
	return retry
}

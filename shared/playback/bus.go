package playback

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Message is one event on the bus.
type Message struct {
	ID string `json:"id"`
	// OrderingKey groups messages that must be handled in publish order
	// (per account, say). Adapters without ordering ignore it.
	OrderingKey string            `json:"ordering_key,omitempty"`
	Data        []byte            `json:"data"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	// Trace is the trace context of the span that published the message,
	// so that its consumer's span joins that trace. The bus adapters set
	// it from the publish's context (a caller's own value wins, as its own
	// attributes do: a valid traceparent attribute over the field) and
	// carry it as their transport's attribute of that name
	// (TraceParentAttribute: SQS MessageAttributes, Pub/Sub attributes,
	// the walbus journal); delivered, it is here, not in Attributes. A
	// field, not an attribute, because every heartbeat carries one: a map
	// per message would be made for it alone; binary, so that a bus with
	// no attributes never formats it (TraceContext).
	Trace           TraceContext `json:"traceparent,omitzero"`
	PublishTime     time.Time    `json:"publish_time,omitzero"`
	DeliveryAttempt int          `json:"delivery_attempt,omitempty"`
}

// TraceParentAttribute is the name Message.Trace travels under in a
// transport's attributes: the W3C Trace Context header's name, which
// OpenTelemetry's propagators read.
const TraceParentAttribute = "traceparent"

// Publisher is the producing side of the bus port. What callers rely on,
// and every adapter keeps (shared/bustest holds membus, membus over the
// walbus journal, SQS and Pub/Sub on their emulators to the points a test
// can observe from outside):
//
//   - Publish returns nil only once every message is accepted durably by
//     the bus: an acknowledgement to a client may rest on it.
//   - The caller's memory is the caller's again when Publish returns, with
//     or without an error (a cancelled context included): the adapter
//     neither keeps nor reads msgs, their Data or their Attributes
//     afterwards, and copies whatever it hands to a background sender. The
//     heartbeat path publishes from pooled buffers and reuses them at once.
//   - Publish does not write to msgs: ID, PublishTime and DeliveryAttempt
//     are set on the delivered copy. A caller's ID travels with the
//     message; without one the bus assigns it.
//   - Delivery is at least once. A failed call may have published part of
//     msgs, and retrying it publishes those again, so consumers must be
//     idempotent. Failures a retry can cure are CodeUnavailable (or the
//     context's error); a message the bus can never take fails the call
//     with CodeInvalid or CodeTooLarge before any message is sent.
//   - OrderingKey orders delivery where the bus supports it; others ignore
//     it.
//   - Publish is safe for concurrent use.
type Publisher interface {
	Publish(ctx context.Context, topic string, msgs ...Message) error
}

// MessageLimiter is implemented by buses whose messages have a size limit
// below what a producer may be configured to accept (SQS), so that the
// producer refuses such a configuration at start rather than taking input
// whose publish then fails with CodeTooLarge.
type MessageLimiter interface {
	// MaxMessageBytes is the most a message may take, its attributes
	// included.
	MaxMessageBytes() int
}

// DeliveryLimiter is implemented by buses that move a message to a
// dead-letter queue after as many deliveries as their configuration says
// (SQS maxReceiveCount, the Pub/Sub dead-letter policy, membus), so that a
// consumer that acts differently at a message's last delivery (parks what
// a retry would dead-letter) counts as the bus does.
type DeliveryLimiter interface {
	// MaxDeliveryAttempts is the Message.DeliveryAttempt of a message's
	// last delivery: asked to retry it, the bus dead-letters it. At least
	// 1: a consumer refuses a bus that says less.
	MaxDeliveryAttempts() int
}

// BatchHandler consumes a batch and returns the ids of the messages that
// should be redelivered. Messages it does not name are acknowledged. A
// handler acknowledges messages it can never process (malformed, say) after
// logging them, because redelivering them cannot help.
type BatchHandler func(ctx context.Context, msgs []Message) (retry []string)

// Call runs h, turning a panic into a retry, so one bad call neither kills
// a consumer nor loses messages. Every bus calls its handlers through it.
// A batch that panics is run again one message at a time, and only the
// messages that panic alone (or that h names) are retried: retried as a
// batch, the messages beside a poison message came back with it on every
// delivery and were dead-lettered with it, never applied. Running a
// message again is safe: handlers are idempotent (Publisher).
func (h BatchHandler) Call(ctx context.Context, log *slog.Logger, msgs []Message) (retry []string) {
	retry, panicked := h.try(ctx, log, msgs)
	if !panicked || len(msgs) < 2 {
		return retry
	}
	retry = nil
	for i := range msgs {
		r, _ := h.try(ctx, log, msgs[i:i+1:i+1])
		retry = append(retry, r...)
	}
	return retry
}

// try runs h once; a panic retries every message of msgs.
func (h BatchHandler) try(ctx context.Context, log *slog.Logger, msgs []Message) (retry []string, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			log.ErrorContext(ctx, "bus handler panicked", "panic", fmt.Sprint(p), "messages", len(msgs))
			retry = make([]string, len(msgs))
			for i, m := range msgs {
				retry[i] = m.ID
			}
			panicked = true
		}
	}()
	return h(ctx, msgs), false
}

// Subscriber is the consuming side of the bus port for long-running
// processes (the local runner). On Lambda and Cloud Functions the platform
// delivers batches to a BatchHandler through the adapter's trigger glue.
type Subscriber interface {
	// Subscribe delivers messages of topic to h until ctx ends or Close.
	Subscribe(ctx context.Context, topic string, h BatchHandler) error
}

// Bus is a publisher and subscriber.
type Bus interface {
	Publisher
	Subscriber
	Close() error
}

// StreamSink takes a topic's messages as they were published, for a
// warehouse that loads the stream itself (the heartbeats into Kinesis Data
// Firehose on AWS, for the QoE queries of docs/qoe). Delivery is at least
// once: the warehouse's queries tolerate repeats.
type StreamSink interface {
	Forward(ctx context.Context, msgs []Message) error
}

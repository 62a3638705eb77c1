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
	OrderingKey     string            `json:"ordering_key,omitempty"`
	Data            []byte            `json:"data"`
	Attributes      map[string]string `json:"attributes,omitempty"`
	PublishTime     time.Time         `json:"publish_time,omitzero"`
	DeliveryAttempt int               `json:"delivery_attempt,omitempty"`
}

// Publisher is the producing side of the bus port. Publish returns only once
// every message is accepted durably by the bus. It keeps no reference to the
// caller's messages, Data or Attributes once it returns: callers publish
// from pooled buffers and reuse them at once (asserted for every adapter by
// shared/bustest).
type Publisher interface {
	Publish(ctx context.Context, topic string, msgs ...Message) error
}

// BatchHandler consumes a batch and returns the ids of the messages that
// should be redelivered. Messages it does not name are acknowledged. A
// handler acknowledges messages it can never process (malformed, say) after
// logging them, because redelivering them cannot help.
type BatchHandler func(ctx context.Context, msgs []Message) (retry []string)

// Call runs h, turning a panic into a retry of the whole batch, so one bad
// call neither kills a consumer nor loses messages. Every bus calls its
// handlers through it.
func (h BatchHandler) Call(ctx context.Context, log *slog.Logger, msgs []Message) (retry []string) {
	defer func() {
		if p := recover(); p != nil {
			log.ErrorContext(ctx, "bus handler panicked", "panic", fmt.Sprint(p))
			retry = make([]string, len(msgs))
			for i, m := range msgs {
				retry[i] = m.ID
			}
		}
	}()
	return h(ctx, msgs)
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

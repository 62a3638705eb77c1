// Package push takes the Pub/Sub messages Cloud Functions (2nd gen)
// delivers by push, as CloudEvents, and decodes the messages shared/pubsub
// publishes, for both delivery paths (push here, pull in shared/pubsub's
// Subscribe). It does not link the Pub/Sub client library: a function that
// consumes by push but publishes nothing (authorizeplay) then starts
// without the library's package initialisation (OpenCensus's, which
// compiles a large regexp, is a share of every cold start).
package push

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// MessagePublishedType is the CloudEvent type Eventarc delivers Pub/Sub
// messages as.
const MessagePublishedType = "google.cloud.pubsub.topic.v1.messagePublished"

// messagePublished is the data of a messagePublished CloudEvent: the push
// body Pub/Sub sends, which also names the id and time in snake case.
type messagePublished struct {
	Message struct {
		Data           []byte            `json:"data"` // base64 in JSON
		Attributes     map[string]string `json:"attributes"`
		MessageID      string            `json:"messageId"`
		MessageIDSnake string            `json:"message_id"`
		PublishTime    time.Time         `json:"publishTime"`
		OrderingKey    string            `json:"orderingKey"`
	} `json:"message"`
	Subscription string `json:"subscription"`
	// DeliveryAttempt is set on push deliveries from a subscription with a
	// dead-letter policy.
	DeliveryAttempt int `json:"deliveryAttempt"`
}

// CloudEventHandler adapts h to a Cloud Functions (2nd gen) Pub/Sub
// trigger: each event carries one message, which h gets as a batch of one.
// Returning an error makes Pub/Sub redeliver the event, so the handler
// returns one only when h asks to retry the message (or panics). An event
// that is not a Pub/Sub message, or whose message cannot be decoded, is
// logged and acknowledged, since redelivery cannot repair it.
func CloudEventHandler(h playback.BatchHandler) func(context.Context, event.Event) error {
	return func(ctx context.Context, e event.Event) error {
		log := slog.Default().With("event_id", e.ID(), "event_type", e.Type(), "event_source", e.Source())
		if e.Type() != MessagePublishedType {
			log.ErrorContext(ctx, "pubsub event dropped: not a messagePublished event")
			return nil
		}
		var data messagePublished
		if err := json.Unmarshal(e.Data(), &data); err != nil {
			log.ErrorContext(ctx, "pubsub event dropped: cannot decode", "error", err)
			return nil
		}
		in := Incoming{
			MessageID:       data.Message.MessageID,
			Data:            data.Message.Data,
			Attributes:      data.Message.Attributes,
			OrderingKey:     data.Message.OrderingKey,
			PublishTime:     data.Message.PublishTime,
			DeliveryAttempt: data.DeliveryAttempt,
		}
		if in.MessageID == "" {
			in.MessageID = data.Message.MessageIDSnake
		}
		if in.MessageID == "" {
			in.MessageID = e.ID()
		}
		if in.PublishTime.IsZero() {
			in.PublishTime = e.Time()
		}
		m := Decode(in)
		log = log.With("message_id", m.ID, "subscription", data.Subscription, "delivery_attempt", m.DeliveryAttempt)
		// The source is //pubsub.googleapis.com/projects/P/topics/T.
		topic := e.Source()
		topic = topic[strings.LastIndexByte(topic, '/')+1:]
		if slices.Contains(Traced(topic, data.Subscription, h).Call(ctx, log, []playback.Message{m}), m.ID) {
			return fmt.Errorf("pubsub: handler asked to retry message %s (delivery attempt %d)", m.ID, m.DeliveryAttempt)
		}
		return nil
	}
}

// AttrID is the attribute the publisher's message id travels in: Pub/Sub
// assigns its own message ids. Attributes with the prefix ReservedPrefix
// are the adapter's own.
const (
	AttrID         = "playplane.id"
	ReservedPrefix = "playplane."
)

// Incoming is what both delivery paths (Receive, the CloudEvent) carry
// for one message.
type Incoming struct {
	MessageID       string
	Data            []byte
	Attributes      map[string]string
	OrderingKey     string
	PublishTime     time.Time
	DeliveryAttempt int // 0 when unknown
}

// Decode rebuilds the published message. Without the adapter's id
// attribute (a message some other producer sent) the Pub/Sub message id is
// the id. An unknown delivery attempt is the first.
func Decode(in Incoming) playback.Message {
	m := playback.Message{ID: in.MessageID, Data: in.Data, OrderingKey: in.OrderingKey,
		PublishTime: in.PublishTime, DeliveryAttempt: max(in.DeliveryAttempt, 1)}
	for name, value := range in.Attributes {
		switch name {
		case AttrID:
			m.ID = value
			continue
		case playback.TraceParentAttribute:
			// What is no traceparent stays the attribute it is.
			if tc, ok := playback.ParseTraceParent(value); ok {
				m.Trace = tc
				continue
			}
		}
		if m.Attributes == nil {
			m.Attributes = make(map[string]string, len(in.Attributes))
		}
		m.Attributes[name] = value
	}
	return m
}

// Traced runs h inside the consumer spans of its batch, delivered through
// subscription (its resource name; "" when unknown).
func Traced(topic, subscription string, h playback.BatchHandler) playback.BatchHandler {
	return func(ctx context.Context, msgs []playback.Message) []string {
		return telemetry.ConsumeSubscription(ctx, telemetry.SystemPubSub, topic, subscription, msgs, h)
	}
}

package pubsub

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
		in := incoming{
			messageID:       data.Message.MessageID,
			data:            data.Message.Data,
			attrs:           data.Message.Attributes,
			orderingKey:     data.Message.OrderingKey,
			publishTime:     data.Message.PublishTime,
			deliveryAttempt: data.DeliveryAttempt,
		}
		if in.messageID == "" {
			in.messageID = data.Message.MessageIDSnake
		}
		if in.messageID == "" {
			in.messageID = e.ID()
		}
		if in.publishTime.IsZero() {
			in.publishTime = e.Time()
		}
		m := decode(in)
		log = log.With("message_id", m.ID, "subscription", data.Subscription, "delivery_attempt", m.DeliveryAttempt)
		// The source is //pubsub.googleapis.com/projects/P/topics/T.
		topic := e.Source()
		topic = topic[strings.LastIndexByte(topic, '/')+1:]
		if slices.Contains(traced(topic, h).Call(ctx, log, []playback.Message{m}), m.ID) {
			return fmt.Errorf("pubsub: handler asked to retry message %s (delivery attempt %d)", m.ID, m.DeliveryAttempt)
		}
		return nil
	}
}

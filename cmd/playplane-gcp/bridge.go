package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/playplane/playplane/shared/pubsub/push"
)

// bridge does locally what a push subscription does in the cloud: the
// Pub/Sub fake stores push subscriptions but never delivers them, so the
// bridge pulls each topic's subscription and POSTs every message, as the
// messagePublished CloudEvent Eventarc delivers (binary mode: the push
// body Pub/Sub sends, with ce- headers), to the consumer entry points on
// the Functions Framework server (the entry points take the push body
// the cloud's subscriptions send alike, push.HTTPHandler). Like Pub/Sub it acks
// on a 2xx answer and nacks anything else, so a consumer that asks to
// retry sees the message again.
type bridge struct {
	client  *pubsub.Client
	project string
	target  string // http://host:port of the framework server
	http    *http.Client
	log     *slog.Logger
	wg      sync.WaitGroup
}

// route is one subscription and the entry points its messages go to. One
// subscription per topic serves every consumer of the topic: a message is
// acked once all of them answered 2xx (consumers are idempotent, so one
// that succeeded may see it again when another asked to retry).
type route struct {
	topicID, subscriptionID string
	entryPoints             []string
}

// pushBody is the JSON body of a Pub/Sub push request.
type pushBody struct {
	Message         pushMessage `json:"message"`
	Subscription    string      `json:"subscription"`
	DeliveryAttempt int         `json:"deliveryAttempt,omitempty"`
}

type pushMessage struct {
	Attributes  map[string]string `json:"attributes,omitempty"`
	Data        []byte            `json:"data"`
	MessageID   string            `json:"messageId"`
	MessageID2  string            `json:"message_id"`
	PublishTime time.Time         `json:"publishTime"`
	PublishTim2 time.Time         `json:"publish_time"`
	OrderingKey string            `json:"orderingKey,omitempty"`
}

// start pulls r's subscription until ctx ends.
func (b *bridge) start(ctx context.Context, r route) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		sub := b.client.Subscriber("projects/" + b.project + "/subscriptions/" + r.subscriptionID)
		for ctx.Err() == nil {
			err := sub.Receive(ctx, func(ctx context.Context, m *pubsub.Message) {
				if b.deliver(ctx, r, m) {
					m.Ack()
				} else {
					m.Nack()
				}
			})
			if ctx.Err() == nil {
				b.log.Error("bridge receive failed; retrying", "subscription", r.subscriptionID, "err", err)
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
				}
			}
		}
	}()
}

// wait returns once every pull loop has stopped.
func (b *bridge) wait() { b.wg.Wait() }

func (b *bridge) deliver(ctx context.Context, r route, m *pubsub.Message) bool {
	body := pushBody{
		Message: pushMessage{Attributes: m.Attributes, Data: m.Data, MessageID: m.ID, MessageID2: m.ID,
			PublishTime: m.PublishTime, PublishTim2: m.PublishTime, OrderingKey: m.OrderingKey},
		Subscription: "projects/" + b.project + "/subscriptions/" + r.subscriptionID,
	}
	if m.DeliveryAttempt != nil {
		body.DeliveryAttempt = *m.DeliveryAttempt
	}
	raw, err := json.Marshal(body)
	if err != nil {
		b.log.Error("bridge cannot encode a message", "message_id", m.ID, "err", err)
		return false
	}
	ok := true
	topic := "projects/" + b.project + "/topics/" + r.topicID
	for _, entry := range r.entryPoints {
		// The topic in the path is how the framework names the event's
		// source; the cloud's push endpoints should carry it too.
		if err := b.post(ctx, b.target+"/"+entry+"/"+topic, "//pubsub.googleapis.com/"+topic, m, raw); err != nil {
			b.log.Warn("push delivery failed; the message will be redelivered",
				"entry_point", entry, "message_id", m.ID, "delivery_attempt", body.DeliveryAttempt, "err", err)
			ok = false
		}
	}
	return ok
}

func (b *bridge) post(ctx context.Context, url, source string, m *pubsub.Message, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", m.ID)
	req.Header.Set("Ce-Source", source)
	req.Header.Set("Ce-Type", push.MessagePublishedType)
	req.Header.Set("Ce-Time", m.PublishTime.UTC().Format(time.RFC3339Nano))
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %d: %s", url, resp.StatusCode, bytes.TrimSpace(detail))
	}
	return nil
}

package pubsub

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub/push"
)

// messageEvent builds the CloudEvent Eventarc delivers for a Pub/Sub
// message.
func messageEvent(t *testing.T, typ string, data any) event.Event {
	t.Helper()
	e := event.New()
	e.SetID("evt-1")
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/heartbeats")
	e.SetType(typ)
	e.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err := e.SetData(event.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	return e
}

type recorder struct {
	got   []playback.Message
	retry bool
	panic bool
}

func (r *recorder) handle(_ context.Context, batch []playback.Message) []string {
	r.got = append(r.got, batch...)
	if r.panic {
		panic("boom")
	}
	if r.retry {
		return []string{batch[0].ID}
	}
	return nil
}

// TestCloudEventRoundTrip: a message the bus published, delivered the way
// Eventarc delivers it, reaches the handler as published.
func TestCloudEventRoundTrip(t *testing.T) {
	t.Parallel()
	srv := emulators.PubSubServer(t)
	b := newBusAt(t, srv.Addr, Config{}, nil, "heartbeats")
	sent := playback.Message{ID: "msg_42", Data: []byte{0, 1, 2, 255}, OrderingKey: "acct-9", Attributes: map[string]string{"v": "1"}}
	if err := b.Publish(context.Background(), "heartbeats", sent); err != nil {
		t.Fatal(err)
	}
	stored := srv.Messages()
	if len(stored) != 1 {
		t.Fatalf("fake holds %d messages, want 1", len(stored))
	}
	ps := stored[0]
	body, err := json.Marshal(map[string]any{
		"message": map[string]any{"data": ps.Data, "attributes": ps.Attributes, "messageId": ps.ID,
			"message_id": ps.ID, "publishTime": ps.PublishTime, "orderingKey": ps.OrderingKey},
		"subscription": b.subscriptionPath("heartbeats-sub"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	if err := push.CloudEventHandler(rec.handle)(context.Background(), messageEvent(t, push.MessagePublishedType, json.RawMessage(body))); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 {
		t.Fatalf("handler saw %d messages", len(rec.got))
	}
	got := rec.got[0]
	if got.ID != sent.ID || string(got.Data) != string(sent.Data) || got.OrderingKey != sent.OrderingKey ||
		got.Attributes["v"] != "1" || len(got.Attributes) != 1 || got.DeliveryAttempt != 1 || got.PublishTime.IsZero() {
		t.Fatalf("handler got %+v, want %+v", got, sent)
	}
}

package pubsub

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub/push"
	"github.com/playplane/playplane/shared/pubsub/push/pushtest"
)

// TestCloudEventRoundTrip: a message the bus published, delivered the way
// Eventarc delivers it, reaches the handler as published.
func TestCloudEventRoundTrip(t *testing.T) {
	t.Parallel()
	srv := gcpemu.PubSubServer(t)
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
	var rec pushtest.Recorder
	if err := push.CloudEventHandler(rec.Handle)(context.Background(), pushtest.MessageEvent(t, push.MessagePublishedType, json.RawMessage(body))); err != nil {
		t.Fatal(err)
	}
	if len(rec.Got) != 1 {
		t.Fatalf("handler saw %d messages", len(rec.Got))
	}
	got := rec.Got[0]
	if got.ID != sent.ID || string(got.Data) != string(sent.Data) || got.OrderingKey != sent.OrderingKey ||
		got.Attributes["v"] != "1" || len(got.Attributes) != 1 || got.DeliveryAttempt != 1 || got.PublishTime.IsZero() {
		t.Fatalf("handler got %+v, want %+v", got, sent)
	}
}

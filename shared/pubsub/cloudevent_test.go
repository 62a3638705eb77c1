package pubsub

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/playback"
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

func TestCloudEventHandler(t *testing.T) {
	t.Parallel()
	published := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	message := map[string]any{
		"message": map[string]any{
			"data":        []byte("beat"), // base64 in JSON
			"attributes":  map[string]string{"playplane.id": "msg_1", "kind": "heartbeat"},
			"messageId":   "1234",
			"publishTime": published,
			"orderingKey": "acct-1",
		},
		"subscription":    "projects/p/subscriptions/heartbeats-sub",
		"deliveryAttempt": 3,
	}
	for _, tc := range []struct {
		name      string
		event     event.Event
		rec       recorder
		wantErr   bool
		wantCalls int
	}{
		{name: "acknowledged", event: messageEvent(t, MessagePublishedType, message), wantCalls: 1},
		{name: "retry asked", event: messageEvent(t, MessagePublishedType, message), rec: recorder{retry: true}, wantErr: true, wantCalls: 1},
		{name: "handler panics", event: messageEvent(t, MessagePublishedType, message), rec: recorder{panic: true}, wantErr: true, wantCalls: 1},
		{name: "other event type", event: messageEvent(t, "google.cloud.storage.object.v1.finalized", message)},
		{name: "malformed data", event: messageEvent(t, MessagePublishedType, map[string]any{"message": map[string]any{"data": "%%%"}})},
		{name: "not json", event: messageEvent(t, MessagePublishedType, "just a string")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := tc.rec
			err := CloudEventHandler(rec.handle)(context.Background(), tc.event)
			if (err != nil) != tc.wantErr {
				t.Fatalf("handler error = %v, want error %v", err, tc.wantErr)
			}
			if len(rec.got) != tc.wantCalls {
				t.Fatalf("handler saw %d messages, want %d", len(rec.got), tc.wantCalls)
			}
			if tc.wantCalls == 0 {
				return
			}
			m := rec.got[0]
			if m.ID != "msg_1" || string(m.Data) != "beat" || m.OrderingKey != "acct-1" || m.DeliveryAttempt != 3 ||
				!m.PublishTime.Equal(published) || len(m.Attributes) != 1 || m.Attributes["kind"] != "heartbeat" {
				t.Fatalf("handler got %+v", m)
			}
		})
	}
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
	if err := CloudEventHandler(rec.handle)(context.Background(), messageEvent(t, MessagePublishedType, json.RawMessage(body))); err != nil {
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

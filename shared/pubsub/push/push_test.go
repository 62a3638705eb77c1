package push

import (
	"context"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

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

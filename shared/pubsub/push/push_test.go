package push

import (
	"context"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/playplane/playplane/shared/pubsub/push/pushtest"
)

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
		rec       pushtest.Recorder
		wantErr   bool
		wantCalls int
	}{
		{name: "acknowledged", event: pushtest.MessageEvent(t, MessagePublishedType, message), wantCalls: 1},
		{name: "retry asked", event: pushtest.MessageEvent(t, MessagePublishedType, message), rec: pushtest.Recorder{Retry: true}, wantErr: true, wantCalls: 1},
		{name: "handler panics", event: pushtest.MessageEvent(t, MessagePublishedType, message), rec: pushtest.Recorder{Panic: true}, wantErr: true, wantCalls: 1},
		{name: "other event type", event: pushtest.MessageEvent(t, "google.cloud.storage.object.v1.finalized", message)},
		{name: "malformed data", event: pushtest.MessageEvent(t, MessagePublishedType, map[string]any{"message": map[string]any{"data": "%%%"}})},
		{name: "not json", event: pushtest.MessageEvent(t, MessagePublishedType, "just a string")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := tc.rec
			err := CloudEventHandler(rec.Handle)(context.Background(), tc.event)
			if (err != nil) != tc.wantErr {
				t.Fatalf("handler error = %v, want error %v", err, tc.wantErr)
			}
			if len(rec.Got) != tc.wantCalls {
				t.Fatalf("handler saw %d messages, want %d", len(rec.Got), tc.wantCalls)
			}
			if tc.wantCalls == 0 {
				return
			}
			m := rec.Got[0]
			if m.ID != "msg_1" || string(m.Data) != "beat" || m.OrderingKey != "acct-1" || m.DeliveryAttempt != 3 ||
				!m.PublishTime.Equal(published) || len(m.Attributes) != 1 || m.Attributes["kind"] != "heartbeat" {
				t.Fatalf("handler got %+v", m)
			}
		})
	}
}

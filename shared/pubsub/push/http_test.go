package push

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// pushBody is a push subscription's request body in the shape of
// https://cloud.google.com/pubsub/docs/push#receive_push, from a
// subscription with a dead-letter policy (deliveryAttempt).
const pushBody = `{
  "message": {
    "attributes": {"playplane.id": "msg_1"},
    "data": "YmVhdA==",
    "messageId": "2070443601311540",
    "message_id": "2070443601311540",
    "publishTime": "2021-02-26T19:13:55.749Z",
    "publish_time": "2021-02-26T19:13:55.749Z",
    "orderingKey": "ses_1"
  },
  "subscription": "projects/p/subscriptions/heartbeats-sub",
  "deliveryAttempt": 5
}`

func TestHTTPHandler(t *testing.T) {
	t.Parallel()
	published := time.Date(2021, 2, 26, 19, 13, 55, 749_000_000, time.UTC)
	structured, err := json.Marshal(map[string]any{"specversion": "1.0", "id": "2070443601311540", "type": MessagePublishedType,
		"source": "//pubsub.googleapis.com/projects/p/topics/heartbeats", "time": published, "datacontenttype": "application/json",
		"data": json.RawMessage(pushBody)})
	if err != nil {
		t.Fatal(err)
	}
	binary := http.Header{"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"2070443601311540"},
		"Ce-Type": {MessagePublishedType}, "Ce-Source": {"//pubsub.googleapis.com/projects/p/topics/heartbeats"},
		"Ce-Time": {"2021-02-26T19:13:55.749Z"}}
	for _, tc := range []struct {
		name       string
		path, body string
		header     http.Header
		fail       bool
		wantStatus int
		wantSource string
	}{
		{name: "push body", path: "/projects/p/topics/heartbeats", body: pushBody,
			header: http.Header{"Content-Type": {"application/json"}}, wantStatus: 200, wantSource: "//pubsub.googleapis.com/projects/p/topics/heartbeats"},
		{name: "push body at a path without the topic", path: "/", body: pushBody,
			wantStatus: 200, wantSource: "//pubsub.googleapis.com/projects/p/subscriptions/heartbeats-sub"},
		{name: "push body the consumer asks to retry", path: "/projects/p/topics/heartbeats", body: pushBody, fail: true, wantStatus: 500},
		{name: "binary cloudevent", path: "/", body: pushBody, header: binary, wantStatus: 200,
			wantSource: "//pubsub.googleapis.com/projects/p/topics/heartbeats"},
		{name: "structured cloudevent", path: "/", body: string(structured),
			header: http.Header{"Content-Type": {"application/cloudevents+json"}}, wantStatus: 200,
			wantSource: "//pubsub.googleapis.com/projects/p/topics/heartbeats"},
		{name: "not json", path: "/", body: "beat", wantStatus: 400},
		{name: "no message id", path: "/", body: `{"message":{"data":"YmVhdA=="},"subscription":"projects/p/subscriptions/s"}`, wantStatus: 400},
		{name: "cloudevent without an id", path: "/", body: `{"specversion":"1.0","type":"t","source":"s"}`,
			header: http.Header{"Content-Type": {"application/cloudevents+json"}}, wantStatus: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got *event.Event
			h := HTTPHandler(func(_ context.Context, e event.Event) error {
				got = &e
				if tc.fail {
					return errors.New("retry")
				}
				return nil
			})
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
			for k, v := range tc.header {
				req.Header[k] = v
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body, tc.wantStatus)
			}
			if tc.wantStatus == 400 {
				// The error envelope of every other answer, with its reason.
				var e struct {
					Error struct{ Code, Reason string } `json:"error"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != "invalid" || e.Error.Reason != ReasonMalformedPush {
					t.Fatalf("400 body %q (%v), want the error envelope with reason %s", rec.Body, err, ReasonMalformedPush)
				}
			}
			if tc.wantStatus != 200 {
				return
			}
			var data messagePublished
			if err := json.Unmarshal(got.Data(), &data); err != nil {
				t.Fatal(err)
			}
			if got.ID() != "2070443601311540" || got.Type() != MessagePublishedType || got.Source() != tc.wantSource ||
				!got.Time().Equal(published) || data.DeliveryAttempt != 5 || data.Message.OrderingKey != "ses_1" ||
				string(data.Message.Data) != "beat" || data.Subscription != "projects/p/subscriptions/heartbeats-sub" {
				t.Fatalf("event %s with data %+v", got, data)
			}
		})
	}
}

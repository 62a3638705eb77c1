package gcpfn_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/playback"
)

// capture is a function that consumes heartbeats and keeps every message;
// data "retry" asks for redelivery.
type capture struct {
	mu  sync.Mutex
	got []playback.Message
}

func (c *capture) Register(*http.ServeMux) {}

func (c *capture) Consumers() map[string]playback.BatchHandler {
	return map[string]playback.BatchHandler{"heartbeats": func(_ context.Context, msgs []playback.Message) (retry []string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.got = append(c.got, msgs...)
		for _, m := range msgs {
			if string(m.Data) == "retry" {
				retry = append(retry, m.ID)
			}
		}
		return retry
	}}
}

func (c *capture) last() (playback.Message, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) == 0 {
		return playback.Message{}, 0
	}
	return c.got[len(c.got)-1], len(c.got)
}

// TestPushBodyAsTheCloudDeliversIt serves a consumer entry point as a
// deployed function does: registered through Framework with the Functions
// Framework, which serves FUNCTION_TARGET at every path, and sent the body
// of a push subscription (the stack pushes without Eventarc) at the
// endpoint the stack sets, <service URI>/projects/P/topics/T. The body
// follows https://cloud.google.com/pubsub/docs/push#receive_push (message
// with base64 data, attributes, messageId and message_id, publishTime and
// publish_time, orderingKey; subscription and, with a dead-letter policy,
// deliveryAttempt beside it). A 2xx acks, anything else is redelivered.
func TestPushBodyAsTheCloudDeliversIt(t *testing.T) {
	c := &capture{}
	set, err := gcpfn.NewSet(quietResources(nil), gcpfn.Spec{
		Name: "capture", Consumers: map[string]string{"heartbeats": "CaptureHeartbeats"},
		Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) { return c, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	set.Register(gcpfn.Framework)
	t.Setenv("FUNCTION_TARGET", "CaptureHeartbeats") // as Cloud Functions sets it
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	host, port, _ := net.SplitHostPort(addr)
	go func() { _ = funcframework.StartHostPort(host, port) }() // cannot be stopped: it ends with the test binary
	endpoint := "http://" + addr + "/projects/p/topics/playplane-heartbeats"

	body := func(data string, attempt int) string {
		return fmt.Sprintf(`{
  "message": {
    "attributes": {"playplane.id": "msg_1", "kind": "beat"},
    "data": %q,
    "messageId": "2070443601311540",
    "message_id": "2070443601311540",
    "publishTime": "2021-02-26T19:13:55.749Z",
    "publish_time": "2021-02-26T19:13:55.749Z",
    "orderingKey": "ses_1"
  },
  "subscription": "projects/p/subscriptions/playplane-heartbeat-heartbeats",
  "deliveryAttempt": %d
}`, base64.StdEncoding.EncodeToString([]byte(data)), attempt)
	}
	post := func(b string) int {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Post(endpoint, "application/json", strings.NewReader(b))
			if err == nil {
				resp.Body.Close()
				return resp.StatusCode
			}
			if time.Now().After(deadline) {
				t.Fatalf("the framework never answered: %v", err)
			}
			time.Sleep(20 * time.Millisecond) // until the server listens
		}
	}

	if code := post(body("beat", 3)); code/100 != 2 {
		t.Fatalf("push answered %d, want 2xx (ack)", code)
	}
	m, _ := c.last()
	published := time.Date(2021, 2, 26, 19, 13, 55, 749_000_000, time.UTC)
	if m.ID != "msg_1" || string(m.Data) != "beat" || m.Attributes["kind"] != "beat" || !m.PublishTime.Equal(published) {
		t.Fatalf("consumer got %+v", m)
	}
	if m.DeliveryAttempt != 3 || m.OrderingKey != "ses_1" {
		t.Errorf("consumer got delivery attempt %d and ordering key %q, want 3 and ses_1 from the push body", m.DeliveryAttempt, m.OrderingKey)
	}
	if code := post(body("retry", 4)); code/100 == 2 {
		t.Fatalf("a message the consumer asked to retry was acked (%d)", code)
	}
	if code := post(`{"message":{"data":"e30="},"subscription":"projects/p/subscriptions/s"}`); code/100 == 2 {
		t.Errorf("a push body without a message id was acked (%d)", code)
	}
	if _, n := c.last(); n != 2 {
		t.Errorf("consumer saw %d messages, want 2", n)
	}
}

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
	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
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
// Each delivery's spans carry its execution id and whether it was the
// instance's first (faas.invocation_id, faas.coldstart). Not parallel:
// the telemetry Provider is process-wide.
func TestPushBodyAsTheCloudDeliversIt(t *testing.T) {
	c := &capture{}
	set, err := gcpfn.NewSet(quietResources(nil), gcpfn.Spec{
		Name: "capture", Consumers: map[string]string{"heartbeats": "CaptureHeartbeats"},
		Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) { return c, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewInMemoryExporter()
	opts := set.Resources().Telemetry("capture")
	opts.SpanExporter = spans
	opts.Lookup = envconfig.MapLookuper(map[string]string{telemetry.EnvTracesSampler: "always_on"})
	tel, err := telemetry.Setup(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
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
	post := func(b string, executionID string) int {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			req, err := http.NewRequest("POST", endpoint, strings.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if executionID != "" {
				req.Header.Set("Function-Execution-Id", executionID)
			}
			resp, err := http.DefaultClient.Do(req)
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

	if code := post(body("beat", 3), "exec-1"); code/100 != 2 {
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
	if code := post(body("retry", 4), ""); code/100 == 2 {
		t.Fatalf("a message the consumer asked to retry was acked (%d)", code)
	}
	if code := post(`{"message":{"data":"e30="},"subscription":"projects/p/subscriptions/s"}`, ""); code/100 == 2 {
		t.Errorf("a push body without a message id was acked (%d)", code)
	}
	if _, n := c.last(); n != 2 {
		t.Errorf("consumer saw %d messages, want 2", n)
	}
	// The spans of each delivery carry its execution id: the one the
	// platform sent in Function-Execution-Id, else the one the Functions
	// Framework made (and logs); only the first delivery is cold.
	if err := tel.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{} // message data → id/coldstart
	for _, s := range spans.GetSpans() {
		attrs := map[string]string{}
		for _, kv := range s.Attributes {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		if id := attrs["messaging.message.id"]; id != "" {
			ids[id+" attempt "+attrs["messaging.gcp_pubsub.message.delivery_attempt"]] = attrs["faas.invocation_id"] + "/" + attrs["faas.coldstart"]
		}
	}
	if got := ids["msg_1 attempt 3"]; got != "exec-1/true" {
		t.Errorf("first delivery's span: invocation/coldstart %q, want exec-1/true (all %v)", got, ids)
	}
	if got := ids["msg_1 attempt 4"]; !strings.HasSuffix(got, "/false") || got == "/false" || strings.HasPrefix(got, "exec-1/") {
		t.Errorf("second delivery's span: invocation/coldstart %q, want the framework's own id and false (all %v)", got, ids)
	}
}

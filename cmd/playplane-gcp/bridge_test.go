package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/playplane/playplane/shared/playback"
	pushdelivery "github.com/playplane/playplane/shared/pubsub/push"
)

// TestBridgeDeliversWhatPushDelivers: a message the bridge hands to a
// consumer entry point on the Functions Framework reaches the handler as
// Pub/Sub push delivers it in the cloud, with its delivery attempt (which
// a subscription with a dead-letter policy counts) and its ordering key,
// and the bridge acks only what the handler acknowledged.
func TestBridgeDeliversWhatPushDelivers(t *testing.T) {
	var mu sync.Mutex
	var got []playback.Message
	retry := false
	h := pushdelivery.CloudEventHandler(func(_ context.Context, msgs []playback.Message) []string {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, msgs...)
		if retry {
			return []string{msgs[0].ID}
		}
		return nil
	})
	if err := funcframework.RegisterCloudEventFunctionContext(context.Background(), "/BridgeTestConsumer/", h); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	host, port, _ := net.SplitHostPort(addr)
	go func() { _ = funcframework.StartHostPort(host, port) }() // cannot be stopped: it ends with the test binary
	b := &bridge{project: "p", target: "http://" + addr, http: &http.Client{Timeout: 10 * time.Second}, log: slog.Default()}
	r := route{topicID: "heartbeats", subscriptionID: "heartbeats-sub", entryPoints: []string{"BridgeTestConsumer"}}
	attempt := 4
	m := &pubsub.Message{ID: "1234", Data: []byte("beat"), Attributes: map[string]string{"playplane.id": "msg_1", "k": "v"},
		OrderingKey: "acct-1", PublishTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), DeliveryAttempt: &attempt}
	deadline := time.Now().Add(10 * time.Second)
	for !b.deliver(context.Background(), r, m) { // until the server listens
		if time.Now().After(deadline) {
			t.Fatal("the bridge never delivered")
		}
		time.Sleep(50 * time.Millisecond)
	}
	retry = true
	if b.deliver(context.Background(), r, m) {
		t.Fatal("a message the handler asked to retry was acked")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("handler saw %d messages, want 2", len(got))
	}
	d := got[0]
	if d.ID != "msg_1" || string(d.Data) != "beat" || d.Attributes["k"] != "v" || !d.PublishTime.Equal(m.PublishTime) ||
		d.DeliveryAttempt != attempt || d.OrderingKey != "acct-1" {
		t.Fatalf("handler got %s", fmt.Sprintf("%+v", d))
	}
}

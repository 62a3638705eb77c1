package pubsub

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/playplane/playplane/shared/bustest"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/playback"
)

const testProject = "playplane-test"

// newBus returns a bus on a Pub/Sub fake of the test's own, with topics
// ensured.
func newBus(t testing.TB, cfg Config, topics ...string) *Bus {
	t.Helper()
	return newBusAt(t, gcpemu.PubSub(t), cfg, nil, topics...)
}

func newBusAt(t testing.TB, addr string, cfg Config, extra []option.ClientOption, topics ...string) *Bus {
	t.Helper()
	b := openBusAt(t, addr, cfg, extra, topics...)
	t.Cleanup(func() { bustest.CloseWithin(t, b, 30*time.Second) })
	return b
}

// openBusAt is newBusAt for callers that close the bus themselves.
func openBusAt(t testing.TB, addr string, cfg Config, extra []option.ClientOption, topics ...string) *Bus {
	t.Helper()
	cfg.ProjectID = testProject
	b, err := New(context.Background(), cfg, nil, append(gcpemu.PubSubClientOptions(addr), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureTopics(context.Background(), topics...); err != nil {
		_ = b.Close()
		t.Fatal(err)
	}
	return b
}

// The contract's short deadline: the shortest ack deadline Pub/Sub allows
// (10s) and a lease extension of 1s, after which a message still held is
// given up. The client's lease ticks every 5s, so an unsettled message is
// due again about 10s after its delivery.
const (
	shortAckDeadline  = 10 * time.Second
	shortMaxExtension = time.Second
	shortRedelivery   = 12 * time.Second
)

func TestContract(t *testing.T) {
	start := time.Now()
	bustest.Run(t, bustest.Options{MaxBatch: 10, Timeout: 30 * time.Second, Redelivery: shortRedelivery}, func(t *testing.T, s bustest.Setup) playback.Bus {
		cfg := Config{MaxBatch: 10}
		if s.ShortDeadline {
			cfg.AckDeadline, cfg.MaxExtension = shortAckDeadline, shortMaxExtension
		}
		return openBusAt(t, gcpemu.PubSub(t), cfg, nil, s.Topics...)
	})
	t.Cleanup(func() { t.Logf("contract suite against pstest: %v", time.Since(start)) })
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "defaults", cfg: Config{}},
		{name: "too few delivery attempts", cfg: Config{MaxDeliveryAttempts: 4}, wantErr: true},
		{name: "too many delivery attempts", cfg: Config{MaxDeliveryAttempts: 101}, wantErr: true},
		{name: "ack deadline too short", cfg: Config{AckDeadline: time.Second}, wantErr: true},
		{name: "batch over the request limit", cfg: Config{MaxBatch: 1001}, wantErr: true},
		{name: "same suffixes", cfg: Config{SubscriptionSuffix: "-x", DeadLetterSuffix: "-x"}, wantErr: true},
		{name: "retry backoff too long", cfg: Config{RetryBackoff: time.Hour}, wantErr: true},
		{name: "max extension too short", cfg: Config{MaxExtension: time.Millisecond}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.ProjectID = testProject
			b, err := New(context.Background(), tc.cfg, nil, gcpemu.PubSubClientOptions("127.0.0.1:1")...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New: err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil {
				if b.cfg.MaxDeliveryAttempts != 5 || b.cfg.MaxBatch != 100 || b.cfg.SubscriptionSuffix != "-sub" || b.cfg.MaxExtension != time.Hour {
					t.Fatalf("defaults not applied: %+v", b.cfg)
				}
				_ = b.Close()
			}
		})
	}
}

// collect subscribes to topic and returns a channel of every message the
// handler saw; retry decides which to retry.
func collect(t *testing.T, b *Bus, topic string, retry func(playback.Message) bool) <-chan playback.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	seen := make(chan playback.Message, 10_000)
	err := b.Subscribe(ctx, topic, func(_ context.Context, batch []playback.Message) []string {
		var again []string
		for _, m := range batch {
			seen <- m
			if retry != nil && retry(m) {
				again = append(again, m.ID)
			}
		}
		return again
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

func next(t *testing.T, seen <-chan playback.Message, what string) playback.Message {
	t.Helper()
	select {
	case m := <-seen:
		return m
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return playback.Message{}
	}
}

// TestDeadLetters: a message retried MaxDeliveryAttempts times moves to the
// dead-letter topic, whose subscription keeps it.
func TestDeadLetters(t *testing.T) {
	t.Parallel()
	b := newBus(t, Config{MaxDeliveryAttempts: 5}, "poison")
	seen := collect(t, b, "poison", func(playback.Message) bool { return true })
	if err := b.Publish(context.Background(), "poison", playback.Message{ID: "m1", Data: []byte("bad")}); err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 5; want++ {
		if m := next(t, seen, fmt.Sprintf("delivery %d", want)); m.ID != "m1" || m.DeliveryAttempt != want {
			t.Fatalf("delivery %d: %+v", want, m)
		}
	}
	dead := next(t, collect(t, b, "poison"+b.cfg.DeadLetterSuffix, nil), "the dead letter")
	if dead.ID != "m1" || string(dead.Data) != "bad" {
		t.Fatalf("dead letter = %+v", dead)
	}
}

// TestOrderingPerKey: messages of one key reach handlers in publish order,
// across Publish calls and interleaved with other keys.
func TestOrderingPerKey(t *testing.T) {
	t.Parallel()
	b := newBus(t, Config{}, "ordered")
	ctx := context.Background()
	const perKey = 12
	keys := []string{"acct-a", "acct-b", "acct-c"}
	for round := range 3 {
		var msgs []playback.Message
		for i := range perKey / 3 {
			for _, k := range keys {
				msgs = append(msgs, playback.Message{OrderingKey: k, Data: fmt.Appendf(nil, "%s-%02d", k, round*perKey/3+i)})
			}
		}
		if err := b.Publish(ctx, "ordered", msgs...); err != nil {
			t.Fatal(err)
		}
	}
	seen := collect(t, b, "ordered", nil)
	got := map[string][]string{}
	for range perKey * len(keys) {
		m := next(t, seen, "ordered messages")
		got[m.OrderingKey] = append(got[m.OrderingKey], string(m.Data))
	}
	for _, k := range keys {
		for i, d := range got[k] {
			if want := fmt.Sprintf("%s-%02d", k, i); d != want {
				t.Fatalf("key %s: message %d is %s, want %s (all: %v)", k, i, d, want, got[k])
			}
		}
	}
}

// TestPublishRespectsRequestLimits: however many messages one call
// publishes, each request stays within 1,000 messages and 10 MB.
func TestPublishRespectsRequestLimits(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var requests, maxCount, maxBytes, total int
	count := grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if pr, ok := req.(*pubsubpb.PublishRequest); ok {
			mu.Lock()
			requests++
			maxCount = max(maxCount, len(pr.Messages))
			maxBytes = max(maxBytes, proto.Size(pr))
			total += len(pr.Messages)
			mu.Unlock()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	})
	b := newBusAt(t, gcpemu.PubSub(t), Config{}, []option.ClientOption{option.WithGRPCDialOption(count)}, "bulk")
	var msgs []playback.Message
	for i := range 2500 {
		msgs = append(msgs, playback.Message{Data: fmt.Appendf(nil, "small-%d", i)})
	}
	big := bytes.Repeat([]byte("x"), 1<<20)
	for range 25 {
		msgs = append(msgs, playback.Message{Data: big})
	}
	if err := b.Publish(context.Background(), "bulk", msgs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages in %d requests, largest %d messages / %d bytes", total, requests, maxCount, maxBytes)
	if total != len(msgs) || maxCount > 1000 || maxBytes > 10_000_000 {
		t.Fatalf("%d of %d messages sent; largest request %d messages, %d bytes", total, len(msgs), maxCount, maxBytes)
	}
}

func TestPublishRejects(t *testing.T) {
	t.Parallel()
	srv := gcpemu.PubSubServer(t)
	b := newBusAt(t, srv.Addr, Config{}, nil, "checked")
	for _, tc := range []struct {
		name  string
		topic string
		msgs  []playback.Message
		want  playback.Code
	}{
		{"too large", "checked", []playback.Message{{Data: []byte("ok")}, {Data: make([]byte, 10_000_000)}}, playback.CodeTooLarge},
		{"empty", "checked", []playback.Message{{}}, playback.CodeInvalid},
		{"reserved attribute", "checked", []playback.Message{{Data: []byte("x"), Attributes: map[string]string{"playplane.id": "y"}}}, playback.CodeInvalid},
		{"google's prefix", "checked", []playback.Message{{Data: []byte("x"), Attributes: map[string]string{"googx": "y"}}}, playback.CodeInvalid},
		{"long attribute value", "checked", []playback.Message{{Data: []byte("x"), Attributes: map[string]string{"a": strings.Repeat("v", 1025)}}}, playback.CodeInvalid},
		{"too many attributes", "checked", []playback.Message{{ID: "id", Data: []byte("x"), Attributes: manyAttributes(100)}}, playback.CodeInvalid},
		{"long ordering key", "checked", []playback.Message{{Data: []byte("x"), OrderingKey: strings.Repeat("k", 1025)}}, playback.CodeInvalid},
		{"bad topic name", "a/b", []playback.Message{{Data: []byte("x")}}, playback.CodeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := b.Publish(context.Background(), tc.topic, tc.msgs...)
			if got := playback.ErrorCode(err); got != tc.want {
				t.Fatalf("Publish: %v (code %q), want code %q", err, got, tc.want)
			}
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("refused calls sent %d messages", n)
	}
}

func manyAttributes(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprint("a", i)] = "v"
	}
	return m
}

// TestPublishResumesKeyAfterFailure: a failed publish pauses its ordering
// key in the client library; the next call with the key must go through.
func TestPublishResumesKeyAfterFailure(t *testing.T) {
	t.Parallel()
	b := newBus(t, Config{}, "other")
	ctx := context.Background()
	msg := playback.Message{Data: []byte("x"), OrderingKey: "acct-1"}
	err := b.Publish(ctx, "late", msg)
	if err == nil || playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("publishing to a missing topic: %v, want a non-retryable error", err)
	}
	if err := b.EnsureTopics(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "late", msg); err != nil {
		t.Fatalf("publishing with the key after the failure: %v", err)
	}
}

func TestSubscribeNeedsSubscription(t *testing.T) {
	t.Parallel()
	b := newBus(t, Config{})
	err := b.Subscribe(context.Background(), "nowhere", func(context.Context, []playback.Message) []string { return nil })
	if err == nil {
		t.Fatal("Subscribe to a topic without subscription succeeded")
	}
}

// TestDeliveryAttemptWithoutDeadLetterPolicy: Pub/Sub reports no attempt
// then; the consumer counts its own deliveries.
func TestDeliveryAttemptWithoutDeadLetterPolicy(t *testing.T) {
	t.Parallel()
	b := newBus(t, Config{})
	ctx := context.Background()
	n, err := b.names("plain")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.createTopic(ctx, n.topic); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: b.subscriptionPath(n.subscription), Topic: b.topicPath(n.topic),
	}); err != nil {
		t.Fatal(err)
	}
	seen := collect(t, b, "plain", func(m playback.Message) bool { return m.DeliveryAttempt < 3 })
	if err := b.Publish(ctx, "plain", playback.Message{Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for want := 1; want <= 3; want++ {
		m := next(t, seen, fmt.Sprintf("delivery %d", want))
		if m.DeliveryAttempt != want {
			t.Fatalf("delivery %d reported attempt %d", want, m.DeliveryAttempt)
		}
		ids = append(ids, m.ID)
	}
	if ids[0] == "" || ids[0] != ids[2] {
		t.Fatalf("ids across deliveries: %v", ids)
	}
}

func TestCloseStopsConsumersAndPublishing(t *testing.T) {
	t.Parallel()
	b := newBus(t, Config{}, "closing")
	collect(t, b, "closing", nil)
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := b.Publish(context.Background(), "closing", playback.Message{Data: []byte("x")}); !playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("Publish after Close: %v, want unavailable", err)
	}
}

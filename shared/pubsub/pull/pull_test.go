package pull

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"

	"github.com/playplane/playplane/shared/bustest"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub"
)

const testProject = "playplane-test"

// newBus returns a bus on a Pub/Sub fake of the test's own, with topics
// ensured.
func newBus(t testing.TB, cfg pubsub.Config, topics ...string) *Bus {
	t.Helper()
	return newBusAt(t, gcpemu.PubSub(t), cfg, nil, topics...)
}

func newBusAt(t testing.TB, addr string, cfg pubsub.Config, extra []option.ClientOption, topics ...string) *Bus {
	t.Helper()
	b := openBusAt(t, addr, cfg, extra, topics...)
	t.Cleanup(func() { bustest.CloseWithin(t, b, 30*time.Second) })
	return b
}

// openBusAt is newBusAt for callers that close the bus themselves.
func openBusAt(t testing.TB, addr string, cfg pubsub.Config, extra []option.ClientOption, topics ...string) *Bus {
	t.Helper()
	cfg.ProjectID = testProject
	b, err := New(context.Background(), cfg, append(gcpemu.PubSubClientOptions(addr), extra...)...)
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
		cfg := pubsub.Config{MaxBatch: 10}
		if s.ShortDeadline {
			cfg.AckDeadline, cfg.MaxExtension = shortAckDeadline, shortMaxExtension
		}
		return openBusAt(t, gcpemu.PubSub(t), cfg, nil, s.Topics...)
	})
	t.Cleanup(func() { t.Logf("contract suite against pstest: %v", time.Since(start)) })
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
	b := newBus(t, pubsub.Config{MaxDeliveryAttempts: 5}, "poison")
	seen := collect(t, b, "poison", func(playback.Message) bool { return true })
	if err := b.Publish(context.Background(), "poison", playback.Message{ID: "m1", Data: []byte("bad")}); err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 5; want++ {
		if m := next(t, seen, fmt.Sprintf("delivery %d", want)); m.ID != "m1" || m.DeliveryAttempt != want {
			t.Fatalf("delivery %d: %+v", want, m)
		}
	}
	dead := next(t, collect(t, b, "poison"+b.Config().DeadLetterSuffix, nil), "the dead letter")
	if dead.ID != "m1" || string(dead.Data) != "bad" {
		t.Fatalf("dead letter = %+v", dead)
	}
}

// TestOrderingPerKey: messages of one key reach handlers in publish order,
// across Publish calls and interleaved with other keys.
func TestOrderingPerKey(t *testing.T) {
	t.Parallel()
	b := newBus(t, pubsub.Config{}, "ordered")
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

func TestSubscribeNeedsSubscription(t *testing.T) {
	t.Parallel()
	b := newBus(t, pubsub.Config{})
	err := b.Subscribe(context.Background(), "nowhere", func(context.Context, []playback.Message) []string { return nil })
	if err == nil {
		t.Fatal("Subscribe to a topic without subscription succeeded")
	}
}

// TestDeliveryAttemptWithoutDeadLetterPolicy: Pub/Sub reports no attempt
// then; the consumer counts its own deliveries.
func TestDeliveryAttemptWithoutDeadLetterPolicy(t *testing.T) {
	t.Parallel()
	b := newBus(t, pubsub.Config{})
	ctx := context.Background()
	path, err := b.Subscription("plain")
	if err != nil {
		t.Fatal(err)
	}
	client, err := b.subscriber(path)
	if err != nil {
		t.Fatal(err)
	}
	topic := "projects/" + testProject + "/topics/plain"
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: path, Topic: topic}); err != nil {
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
	b := newBus(t, pubsub.Config{}, "closing")
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

// TestContractOnEmulator runs the contract suite on Google's Pub/Sub
// emulator (gcloud beta emulators pubsub start) at the host:port in
// PLAYPLANE_PUBSUB_EMULATOR, when set; the emulators package runs pstest
// only. Topics are unique per test, so one emulator serves every run.
func TestContractOnEmulator(t *testing.T) {
	addr := os.Getenv("PLAYPLANE_PUBSUB_EMULATOR")
	if addr == "" {
		t.Skip("PLAYPLANE_PUBSUB_EMULATOR not set")
	}
	prefix := playback.NewID("c")[:12] + "-"
	bustest.Run(t, bustest.Options{MaxBatch: 10, Timeout: 30 * time.Second, Redelivery: shortRedelivery}, func(t *testing.T, s bustest.Setup) playback.Bus {
		cfg := pubsub.Config{MaxBatch: 10, TopicPrefix: prefix}
		if s.ShortDeadline {
			cfg.AckDeadline, cfg.MaxExtension = shortAckDeadline, shortMaxExtension
		}
		return openBusAt(t, addr, cfg, nil, s.Topics...)
	})
}

// TestSubscribeMakesTheClient: the high-level client is made by the first
// Subscribe only, never by New or Publish, and once.
func TestSubscribeMakesTheClient(t *testing.T) {
	t.Parallel()
	b := newBus(t, pubsub.Config{}, "lazy")
	made := 0
	newClient := b.newClient
	b.newClient = func(ctx context.Context, project string) (*gpubsub.Client, error) {
		made++
		if project != testProject {
			t.Errorf("client made for project %q, want %q", project, testProject)
		}
		return newClient(ctx, project)
	}
	if err := b.Publish(context.Background(), "lazy", playback.Message{Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if made != 0 || b.client != nil {
		t.Fatal("New or Publish made the high-level client")
	}
	// The two consumers share the subscription: either may get the message.
	first, second := collect(t, b, "lazy", nil), collect(t, b, "lazy", nil)
	select {
	case m := <-first:
		if string(m.Data) != "x" {
			t.Fatalf("got %q", m.Data)
		}
	case m := <-second:
		if string(m.Data) != "x" {
			t.Fatalf("got %q", m.Data)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("timed out waiting for the message")
	}
	if made != 1 {
		t.Fatalf("two Subscribes made %d clients, want 1", made)
	}
}

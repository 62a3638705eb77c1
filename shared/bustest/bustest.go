// Package bustest is the contract every playback.Bus adapter passes:
// at-least-once delivery in batches, per-message retry, and messages kept
// for subscribers that arrive after the publish.
package bustest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// Options describe the adapter under test.
type Options struct {
	// MaxBatch is the largest batch the adapter may hand a handler.
	MaxBatch int
	// Timeout bounds each subtest's wait for deliveries (emulators with a
	// visibility timeout need more than the in-process bus).
	Timeout time.Duration
}

// Run runs the contract. newBus returns a bus whose topics are empty; each
// subtest uses its own topic name from topic().
func Run(t *testing.T, opts Options, newBus func(t *testing.T, topics ...string) playback.Bus) {
	if opts.Timeout == 0 {
		opts.Timeout = 20 * time.Second
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, opts Options, newBus func(t *testing.T, topics ...string) playback.Bus)
	}{
		{"DeliversEveryMessage", testDeliversEvery},
		{"KeepsMessagesUntilSubscribed", testKeepsUntilSubscribed},
		{"RetriesOnlyNamedMessages", testRetriesNamed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, opts, newBus)
		})
	}
}

func topicName(t *testing.T) string { return playback.NewID("topic")[:24] }

// collector records what a handler saw.
type collector struct {
	mu       sync.Mutex
	seen     map[string][]playback.Message // by Data
	maxBatch int
	changed  chan struct{}
}

func newCollector() *collector {
	return &collector{seen: map[string][]playback.Message{}, changed: make(chan struct{}, 1)}
}

func (c *collector) record(batch []playback.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxBatch = max(c.maxBatch, len(batch))
	for _, m := range batch {
		c.seen[string(m.Data)] = append(c.seen[string(m.Data)], m)
	}
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// waitFor polls until cond holds or the timeout passes.
func (c *collector) waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-c.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func publishN(t *testing.T, b playback.Bus, topic string, n int) []string {
	t.Helper()
	msgs := make([]playback.Message, n)
	want := make([]string, n)
	for i := range msgs {
		want[i] = fmt.Sprintf("payload-%03d", i)
		msgs[i] = playback.Message{Data: []byte(want[i]), Attributes: map[string]string{"n": fmt.Sprint(i)}, OrderingKey: "acct-1"}
	}
	if err := b.Publish(context.Background(), topic, msgs...); err != nil {
		t.Fatal(err)
	}
	return want
}

func testDeliversEvery(t *testing.T, opts Options, newBus func(t *testing.T, topics ...string) playback.Bus) {
	topic := topicName(t)
	b := newBus(t, topic)
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.Subscribe(ctx, topic, func(_ context.Context, batch []playback.Message) []string {
		c.record(batch)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := publishN(t, b, topic, 35) // more than one SQS batch of 10
	c.waitFor(t, opts.Timeout, "all 35 messages", func() bool { return len(c.seen) == len(want) })
	for i, w := range want {
		got := c.seen[w]
		if len(got) == 0 {
			t.Fatalf("message %q never delivered", w)
		}
		if got[0].ID == "" || got[0].Attributes["n"] != fmt.Sprint(i) || got[0].DeliveryAttempt < 1 {
			t.Fatalf("message %q delivered as %+v", w, got[0])
		}
	}
	if opts.MaxBatch > 0 && c.maxBatch > opts.MaxBatch {
		t.Fatalf("handler got a batch of %d, adapter limit is %d", c.maxBatch, opts.MaxBatch)
	}
}

func testKeepsUntilSubscribed(t *testing.T, opts Options, newBus func(t *testing.T, topics ...string) playback.Bus) {
	topic := topicName(t)
	b := newBus(t, topic)
	want := publishN(t, b, topic, 3)
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.Subscribe(ctx, topic, func(_ context.Context, batch []playback.Message) []string {
		c.record(batch)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, opts.Timeout, "messages published before Subscribe", func() bool { return len(c.seen) == len(want) })
}

func testRetriesNamed(t *testing.T, opts Options, newBus func(t *testing.T, topics ...string) playback.Bus) {
	topic := topicName(t)
	b := newBus(t, topic)
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const flaky = "payload-001"
	if err := b.Subscribe(ctx, topic, func(_ context.Context, batch []playback.Message) []string {
		c.record(batch)
		var retry []string
		for _, m := range batch {
			if string(m.Data) == flaky && m.DeliveryAttempt < 2 {
				retry = append(retry, m.ID)
			}
		}
		return retry
	}); err != nil {
		t.Fatal(err)
	}
	want := publishN(t, b, topic, 4)
	c.waitFor(t, opts.Timeout, "the retried message's second delivery", func() bool {
		return len(c.seen[flaky]) >= 2 && len(c.seen) == len(want)
	})
	got := c.seen[flaky]
	if got[len(got)-1].DeliveryAttempt < 2 || got[len(got)-1].ID != got[0].ID {
		t.Fatalf("redelivery = %+v, want same id with attempt ≥ 2", got[len(got)-1])
	}
	// Give a wrongly retried batch time to show up, then check the
	// acknowledged messages came once.
	time.Sleep(300 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range want {
		if w != flaky && len(c.seen[w]) != 1 {
			t.Fatalf("acknowledged message %q delivered %d times", w, len(c.seen[w]))
		}
	}
}

// Package bustest is the contract every playback.Bus adapter passes:
// at-least-once delivery in batches, per-message retry, redelivery when a
// handler fails or holds a message past its deadline, acknowledgements that
// stick, messages kept for subscribers that arrive after the publish, and
// the playback.Publisher rules a test can see: the caller's messages and
// buffers untouched and unread once Publish returns (cancelled or not),
// publisher ids delivered, concurrent publishers.
package bustest

import (
	"context"
	"fmt"
	"slices"
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
	// visibility timeout need more than the in-process bus), and Close.
	Timeout time.Duration
	// Redelivery is the longest a message delivered by a bus made with
	// Setup.ShortDeadline takes to be delivered again when its handler
	// neither acknowledges nor retries it in time (SQS: the visibility
	// timeout; Pub/Sub: the lease extension plus the ack deadline). Zero
	// for buses that settle every message when its handler returns
	// (membus): the subtests that hold a message are then skipped.
	Redelivery time.Duration
}

// Setup is what a subtest asks of newBus.
type Setup struct {
	// Topics the bus must be able to publish to and subscribe to.
	Topics []string
	// ShortDeadline asks for a bus that gives up on a delivered message
	// that is not settled within Options.Redelivery, the shortest the
	// adapter allows, so that a missing acknowledgement shows up as a
	// redelivery within the subtest.
	ShortDeadline bool
}

// NewBus makes a bus for one subtest. The contract closes it (failing the
// subtest if Close does not return within Options.Timeout, since a
// consumer holding messages it never settles can make Close hang), so
// NewBus must not close it itself.
type NewBus func(t *testing.T, s Setup) playback.Bus

// Run runs the contract. newBus returns a bus whose topics are empty; each
// subtest uses its own topic name from topic().
func Run(t *testing.T, opts Options, newBus NewBus) {
	if opts.Timeout == 0 {
		opts.Timeout = 20 * time.Second
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, opts Options, newBus NewBus)
	}{
		{"DeliversEveryMessage", testDeliversEvery},
		{"PublishKeepsNoCallerBuffer", testPublishCopies},
		{"CancelledPublishKeepsNoCallerBuffer", testPublishCancelledCopies},
		{"ConcurrentPublish", testConcurrentPublish},
		{"DeliversTheTraceParentInItsField", testTraceParent},
		{"KeepsMessagesUntilSubscribed", testKeepsUntilSubscribed},
		{"RetriesOnlyNamedMessages", testRetriesNamed},
		{"RedeliversWhenHandlerPanics", testRedeliversAfterPanic},
		{"PanicRedeliversNoBatchMate", testPanicSparesBatchMates},
		{"AcknowledgedMessagesStayAcknowledged", testAcksStick},
		{"HeldMessageComesBackAfterDeadline", testHeldComesBack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, opts, closing(opts, newBus))
		})
	}
}

// closing wraps newBus so that every bus is closed when its subtest ends,
// with a deadline.
func closing(opts Options, newBus NewBus) NewBus {
	return func(t *testing.T, s Setup) playback.Bus {
		t.Helper()
		b := newBus(t, s)
		t.Cleanup(func() { CloseWithin(t, b, opts.Timeout) })
		return b
	}
}

// CloseWithin closes b and fails t if Close does not return within d: a
// consumer holding messages it never settled can make Close wait for them,
// and a test should report that rather than hang until the run times out.
func CloseWithin(t testing.TB, b playback.Bus, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(d):
		t.Errorf("Close did not return within %v: a consumer holds messages it never settled", d)
	}
}

// consume subscribes to topic for the rest of the test with a handler that
// records every batch in the returned collector and then answers with
// react's retries (nil: acknowledge everything).
func consume(t *testing.T, b playback.Bus, topic string, react func([]playback.Message) []string) *collector {
	t.Helper()
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := b.Subscribe(ctx, topic, func(_ context.Context, batch []playback.Message) []string {
		c.record(batch)
		if react == nil {
			return nil
		}
		return react(batch)
	}); err != nil {
		t.Fatal(err)
	}
	return c
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

// holds watches for d and reports whether cond became true.
func (c *collector) holds(d time.Duration, cond func() bool) bool {
	deadline := time.After(d)
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-c.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return false
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

func testDeliversEvery(t *testing.T, opts Options, newBus NewBus) {
	topic := topicName(t)
	b := newBus(t, Setup{Topics: []string{topic}})
	c := consume(t, b, topic, nil)
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

// testTraceParent: a message's trace context is delivered in
// Message.Trace whichever way its publisher gave it (the field, or an
// attribute of that name, which wins), never as an attribute, and a
// message without one gets none from a publish that has no trace. An
// attribute of that name that is no traceparent is delivered as the
// attribute it is, with no trace context.
func testTraceParent(t *testing.T, opts Options, newBus NewBus) {
	topic := topicName(t)
	b := newBus(t, Setup{Topics: []string{topic}})
	c := consume(t, b, topic, nil)
	const field = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	const attribute = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	const notOne = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-00" // upper case
	fieldTrace, ok := playback.ParseTraceParent(field)
	if !ok {
		t.Fatalf("%q does not parse", field)
	}
	rows := []struct {
		name     string
		m        playback.Message
		want     string
		wantAttr string // a traceparent attribute delivered
	}{
		{name: "field", m: playback.Message{Trace: fieldTrace}, want: field},
		{name: "attribute", m: playback.Message{Attributes: map[string]string{playback.TraceParentAttribute: attribute}}, want: attribute},
		{name: "attribute over field", m: playback.Message{Trace: fieldTrace, Attributes: map[string]string{playback.TraceParentAttribute: attribute}}, want: attribute},
		{name: "attribute that is none", m: playback.Message{Trace: fieldTrace, Attributes: map[string]string{playback.TraceParentAttribute: notOne}}, wantAttr: notOne},
		{name: "none", m: playback.Message{}, want: ""},
		// Flags version 00 does not define go no further than the
		// transport's attribute: every bus delivers the same value.
		{name: "field with undefined flags", m: playback.Message{Trace: playback.TraceContext{TraceID: fieldTrace.TraceID, SpanID: fieldTrace.SpanID, Flags: 0xfd}},
			want: field},
	}
	for _, r := range rows {
		r.m.Data = []byte(r.name)
		if r.m.Attributes == nil {
			r.m.Attributes = map[string]string{}
		}
		r.m.Attributes["row"] = r.name
		if err := b.Publish(context.Background(), topic, r.m); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
	}
	c.waitFor(t, opts.Timeout, "every row", func() bool { return len(c.seen) == len(rows) })
	for _, r := range rows {
		got := c.seen[r.name][0]
		wantTrace, _ := playback.ParseTraceParent(r.want)
		if tp := got.Trace.TraceParent(); tp != r.want || got.Trace != wantTrace {
			t.Errorf("%s: delivered trace context %q (%+v), want %q (%+v)", r.name, tp, got.Trace, r.want, wantTrace)
		}
		if v := got.Attributes[playback.TraceParentAttribute]; v != r.wantAttr {
			t.Errorf("%s: delivered a traceparent attribute %q, want %q", r.name, v, r.wantAttr)
		}
		if got.Attributes["row"] != r.name {
			t.Errorf("%s: delivered attributes %v", r.name, got.Attributes)
		}
	}
}

// testPublishCopies: Publish must not keep the caller's Data or Attributes
// once it returns (playback.Publisher): the heartbeat path publishes from
// pooled buffers and reuses them for the next request.
func testPublishCopies(t *testing.T, opts Options, newBus NewBus) {
	topic := topicName(t)
	b := newBus(t, Setup{Topics: []string{topic}})
	const n = 12
	buf := make([]byte, 0, n*16)
	msgs := make([]playback.Message, n)
	want := make([]string, n)
	for i := range msgs {
		want[i] = fmt.Sprintf("payload-%03d", i)
		start := len(buf)
		buf = append(buf, want[i]...)
		msgs[i] = playback.Message{Data: buf[start:len(buf):len(buf)], Attributes: map[string]string{"n": fmt.Sprint(i)}}
		if i%2 == 0 {
			msgs[i].ID = callerID(i)
		}
	}
	if err := b.Publish(context.Background(), topic, msgs...); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		wantID := ""
		if i%2 == 0 {
			wantID = callerID(i)
		}
		if m.ID != wantID || !m.PublishTime.IsZero() || m.DeliveryAttempt != 0 || string(m.Data) != want[i] ||
			len(m.Attributes) != 1 || m.Attributes["n"] != fmt.Sprint(i) {
			t.Fatalf("Publish changed the caller's message %d to %+v", i, m)
		}
	}
	// The caller reuses everything it handed over.
	for i := range buf {
		buf[i] = 'x'
	}
	for i := range msgs {
		msgs[i].Attributes["n"] = "reused"
	}
	c := consume(t, b, topic, nil)
	c.waitFor(t, opts.Timeout, "the published messages as they were at Publish", func() bool {
		for _, w := range want {
			if len(c.seen[w]) == 0 {
				return false
			}
		}
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, w := range want {
		got := c.seen[w][0]
		if n := got.Attributes["n"]; n != fmt.Sprint(i) {
			t.Fatalf("message %q delivered with attribute n=%q, want %d: the bus kept the caller's map", w, n, i)
		}
		if i%2 == 0 && got.ID != callerID(i) {
			t.Fatalf("message %q delivered with id %q, want the publisher's %q", w, got.ID, callerID(i))
		}
	}
	for data := range c.seen {
		if !slices.Contains(want, data) {
			t.Fatalf("delivered %q, which was never published: the bus kept the caller's buffer", data)
		}
	}
}

// callerID is the id a publisher gives message i, unique to the run.
func callerID(i int) string { return fmt.Sprintf("%s-%03d", runID, i) }

var runID = playback.NewID("pub")

// testConcurrentPublish: publishers share one bus (every request of a
// function instance does), so Publish must be safe for concurrent use;
// the race detector watches the adapter's state.
func testConcurrentPublish(t *testing.T, opts Options, newBus NewBus) {
	topic := topicName(t)
	b := newBus(t, Setup{Topics: []string{topic}})
	const publishers, each = 4, 5
	var want []string
	errs := make(chan error, publishers)
	var wg sync.WaitGroup
	for p := range publishers {
		msgs := make([]playback.Message, each)
		for i := range msgs {
			data := fmt.Sprintf("p%d-%03d", p, i)
			want = append(want, data)
			msgs[i] = playback.Message{Data: []byte(data), OrderingKey: fmt.Sprintf("acct-%d", p)}
		}
		wg.Go(func() { errs <- b.Publish(context.Background(), topic, msgs...) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c := consume(t, b, topic, nil)
	c.waitFor(t, opts.Timeout, "every concurrently published message", func() bool {
		for _, w := range want {
			if len(c.seen[w]) == 0 {
				return false
			}
		}
		return true
	})
}

// testPublishCancelledCopies: the buffers are the caller's again when
// Publish returns with an error too. A heartbeat whose request is
// cancelled (the player hung up) puts its buffer back in the pool at once;
// a bus that still sends it later would send another request's bytes.
func testPublishCancelledCopies(t *testing.T, opts Options, newBus NewBus) {
	topic := topicName(t)
	b := newBus(t, Setup{Topics: []string{topic}})
	const n = 12
	buf := make([]byte, 0, n*16)
	msgs := make([]playback.Message, n)
	valid := map[string]bool{}
	for i := range msgs {
		data := fmt.Sprintf("cancelled-%03d", i)
		valid[data] = true
		start := len(buf)
		buf = append(buf, data...)
		msgs[i] = playback.Message{Data: buf[start:len(buf):len(buf)], Attributes: map[string]string{"n": fmt.Sprint(i)}, OrderingKey: "acct-1"}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Whether a cancelled Publish sends anything is the adapter's choice;
	// what it sends must be what the caller handed over.
	_ = b.Publish(ctx, topic, msgs...)
	for i := range buf {
		buf[i] = 'x'
	}
	for i := range msgs {
		msgs[i].Attributes["n"] = "reused"
	}
	// Messages published afterwards on the same key mark a point by which
	// whatever the cancelled call sent has arrived.
	after := publishN(t, b, topic, 3)
	for _, w := range after {
		valid[w] = true
	}
	c := consume(t, b, topic, nil)
	c.waitFor(t, opts.Timeout, "the messages published after the cancelled call", func() bool {
		for _, w := range after {
			if len(c.seen[w]) == 0 {
				return false
			}
		}
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	for data, got := range c.seen {
		if !valid[data] {
			t.Fatalf("delivered %q, which was never published: the bus read the caller's buffer after a cancelled Publish returned", data)
		}
		if got[0].Attributes["n"] == "reused" {
			t.Fatalf("message %q delivered with the caller's reused attributes", data)
		}
	}
}

func testKeepsUntilSubscribed(t *testing.T, opts Options, newBus NewBus) {
	topic := topicName(t)
	b := newBus(t, Setup{Topics: []string{topic}})
	want := publishN(t, b, topic, 3)
	c := consume(t, b, topic, nil)
	c.waitFor(t, opts.Timeout, "messages published before Subscribe", func() bool { return len(c.seen) == len(want) })
}

func testRetriesNamed(t *testing.T, opts Options, newBus NewBus) {
	topic := topicName(t)
	b := newBus(t, Setup{Topics: []string{topic}})
	const flaky = "payload-001"
	c := consume(t, b, topic, func(batch []playback.Message) []string {
		var retry []string
		for _, m := range batch {
			if string(m.Data) == flaky && m.DeliveryAttempt < 2 {
				retry = append(retry, m.ID)
			}
		}
		return retry
	})
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

func testRedeliversAfterPanic(t *testing.T, opts Options, newBus NewBus) {
	topic := topicName(t)
	b := newBus(t, Setup{Topics: []string{topic}})
	const failing = "payload-002"
	c := consume(t, b, topic, func(batch []playback.Message) []string {
		for _, m := range batch {
			if string(m.Data) == failing && m.DeliveryAttempt < 2 {
				panic("handler fails on " + failing)
			}
		}
		return nil
	})
	want := publishN(t, b, topic, 5)
	// The handler sees the failing message twice in its first delivery
	// (in the batch, then alone: BatchHandler.Call), so wait for the
	// redelivery itself.
	c.waitFor(t, opts.Timeout, "the failed message's redelivery", func() bool {
		got := c.seen[failing]
		return len(got) >= 2 && got[len(got)-1].DeliveryAttempt >= 2 && len(c.seen) == len(want)
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.seen[failing]
	if again := got[len(got)-1]; again.ID != got[0].ID || again.DeliveryAttempt < 2 {
		t.Fatalf("redelivery after the panic = %+v, want id %s with attempt ≥ 2", again, got[0].ID)
	}
}

// testPanicSparesBatchMates: a message whose handling always panics is
// redelivered, and the messages delivered beside it are not: retried with
// it, they came back with it until they were dead-lettered beside it. The
// messages have no ordering key, since Pub/Sub redelivers a key's later
// messages with an earlier one.
func testPanicSparesBatchMates(t *testing.T, opts Options, newBus NewBus) {
	topic := topicName(t)
	b := newBus(t, Setup{Topics: []string{topic}})
	const poison = "payload-002"
	c := consume(t, b, topic, func(batch []playback.Message) []string {
		for _, m := range batch {
			if string(m.Data) == poison {
				panic("handler always fails on " + poison)
			}
		}
		return nil
	})
	msgs := make([]playback.Message, 5)
	for i := range msgs {
		msgs[i] = playback.Message{Data: fmt.Appendf(nil, "payload-%03d", i)}
	}
	if err := b.Publish(context.Background(), topic, msgs...); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, opts.Timeout, "the poison message's redelivery", func() bool {
		got := c.seen[poison]
		return len(c.seen) == len(msgs) && len(got) > 0 && got[len(got)-1].DeliveryAttempt >= 2
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	for data, got := range c.seen {
		if data == poison {
			continue
		}
		for _, m := range got {
			if m.DeliveryAttempt >= 2 {
				t.Fatalf("%s was delivered again (attempt %d) because %s beside it panicked", data, m.DeliveryAttempt, poison)
			}
		}
	}
}

// testAcksStick catches a consumer that never acknowledges: on a bus with
// the shortest deadline the adapter allows, a message the handler
// acknowledged must not come back once that deadline has passed.
func testAcksStick(t *testing.T, opts Options, newBus NewBus) {
	topic := topicName(t)
	b := newBus(t, Setup{Topics: []string{topic}, ShortDeadline: true})
	c := consume(t, b, topic, nil)
	want := publishN(t, b, topic, 12)
	redelivered := func() bool {
		for _, w := range want {
			if len(c.seen[w]) > 1 {
				return true
			}
		}
		return false
	}
	// A redelivery can come before the last message does (Pub/Sub holds
	// back the rest of an ordering key until its first is acknowledged).
	c.waitFor(t, opts.Timeout, "all 12 messages", func() bool { return len(c.seen) == len(want) || redelivered() })
	// Past the deadline an unacknowledged message is delivered again; give
	// it that long and half as much again to show up.
	quiet := max(opts.Redelivery+opts.Redelivery/2, 500*time.Millisecond)
	if c.holds(quiet, redelivered) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, w := range want {
			if n := len(c.seen[w]); n > 1 {
				t.Fatalf("acknowledged message %q delivered %d times (attempts %d, %d) within %v of the ack: the acknowledgement did not reach the bus",
					w, n, c.seen[w][0].DeliveryAttempt, c.seen[w][n-1].DeliveryAttempt, quiet)
			}
		}
	}
}

// testHeldComesBack is the other side of the deadline: a message whose
// handler is stuck on it past the deadline (a hung consumer) is delivered
// again, to another consumer, so it is not lost. It also shows that the
// short deadline is short, so testAcksStick can fail.
func testHeldComesBack(t *testing.T, opts Options, newBus NewBus) {
	if opts.Redelivery == 0 {
		t.Skip("the adapter settles every message when its handler returns: nothing to hold past a deadline")
	}
	topic := topicName(t)
	b := newBus(t, Setup{Topics: []string{topic}, ShortDeadline: true})
	release := make(chan struct{})
	defer close(release)
	held := make(chan playback.Message, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.Subscribe(ctx, topic, func(_ context.Context, batch []playback.Message) []string {
		for _, m := range batch {
			held <- m
		}
		<-release
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	publishN(t, b, topic, 1)
	var first playback.Message
	select {
	case first = <-held:
	case <-time.After(opts.Timeout):
		t.Fatal("timed out waiting for the first delivery")
	}
	c := newCollector()
	if err := b.Subscribe(ctx, topic, func(_ context.Context, batch []playback.Message) []string {
		c.record(batch)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, opts.Redelivery+opts.Timeout, "the held message's redelivery to the second consumer", func() bool {
		return len(c.seen[string(first.Data)]) > 0
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if again := c.seen[string(first.Data)][0]; again.ID != first.ID || again.DeliveryAttempt < 2 {
		t.Fatalf("redelivery of the held message = %+v, want id %s with attempt ≥ 2", again, first.ID)
	}
}

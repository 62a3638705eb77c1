package membus_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/bustest"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

func TestContract(t *testing.T) {
	// Redelivery 0: membus settles every message when its handler returns.
	bustest.Run(t, bustest.Options{MaxBatch: 10, Timeout: 5 * time.Second}, func(*testing.T, bustest.Setup) playback.Bus {
		return membus.New(membus.Config{MaxBatch: 10, RetryDelay: 10 * time.Millisecond})
	})
}

func TestDeadLettersAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	b := membus.New(membus.Config{MaxAttempts: 3, RetryDelay: time.Millisecond})
	defer b.Close()
	ctx := context.Background()
	calls := 0
	if err := b.Subscribe(ctx, "t", func(_ context.Context, batch []playback.Message) []string {
		calls++
		return []string{batch[0].ID}
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "t", playback.Message{Data: []byte("poison")}); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.Idle(waitCtx); err != nil {
		t.Fatal(err)
	}
	dead := b.DeadLetters("t")
	if calls != 3 || len(dead) != 1 || string(dead[0].Data) != "poison" || dead[0].DeliveryAttempt != 3 {
		t.Fatalf("calls=%d dead=%+v, want 3 attempts then one dead letter", calls, dead)
	}
}

// TestRetryOutlastsABriefOutage: a consumer whose store fails for a few
// seconds must get its messages once the store is back, as on SQS and
// Pub/Sub, not lose them to the dead letters within half a second. The
// outage is ten retry delays: ten seconds on the default config, scaled
// down here with the rest of its shape (attempts and backoff cap left to
// their defaults).
func TestRetryOutlastsABriefOutage(t *testing.T) {
	t.Parallel()
	const retryDelay = 10 * time.Millisecond
	b := membus.New(membus.Config{RetryDelay: retryDelay})
	defer b.Close()
	ctx := context.Background()
	var mu sync.Mutex
	var down time.Time // the first delivery: the outage starts there
	var applied []int  // delivery attempts that succeeded
	if err := b.Subscribe(ctx, "t", func(_ context.Context, batch []playback.Message) []string {
		mu.Lock()
		defer mu.Unlock()
		if down.IsZero() {
			down = time.Now()
		}
		if time.Since(down) < 10*retryDelay {
			return []string{batch[0].ID}
		}
		applied = append(applied, batch[0].DeliveryAttempt)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "t", playback.Message{Data: []byte("report")}); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.Idle(waitCtx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if dead := b.DeadLetters("t"); len(dead) != 0 || len(applied) != 1 {
		t.Fatalf("applied on attempts %v, dead letters %d; want the message applied once after the outage, none dead", applied, len(dead))
	}
}

func TestPanickingHandlerRetries(t *testing.T) {
	t.Parallel()
	b := membus.New(membus.Config{MaxAttempts: 2, RetryDelay: time.Millisecond})
	defer b.Close()
	ctx := context.Background()
	if err := b.Subscribe(ctx, "t", func(context.Context, []playback.Message) []string { panic("boom") }); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "t", playback.Message{Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.Idle(waitCtx); err != nil {
		t.Fatal(err)
	}
	if dead := b.DeadLetters("t"); len(dead) != 1 {
		t.Fatalf("dead letters = %+v, want the message after the panics", dead)
	}
}

// TestPanicRetriesOnlyTheMessageThatPanics: a message whose handling
// panics must not take the messages batched with it down with it. Retried
// as a batch, they came back together every time and were dead-lettered
// beside it, never applied.
func TestPanicRetriesOnlyTheMessageThatPanics(t *testing.T) {
	t.Parallel()
	b := membus.New(membus.Config{MaxAttempts: 3, RetryDelay: time.Millisecond})
	defer b.Close()
	ctx := context.Background()
	var mu sync.Mutex
	applied := map[string]int{}
	if err := b.Subscribe(ctx, "t", func(_ context.Context, batch []playback.Message) []string {
		for _, m := range batch {
			if string(m.Data) == "poison" {
				panic("consumer bug")
			}
			mu.Lock()
			applied[string(m.Data)]++
			mu.Unlock()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "t", playback.Message{Data: []byte("poison")}, playback.Message{Data: []byte("good")}); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.Idle(waitCtx); err != nil {
		t.Fatal(err)
	}
	var dead []string
	for _, m := range b.DeadLetters("t") {
		dead = append(dead, string(m.Data))
	}
	mu.Lock()
	defer mu.Unlock()
	if applied["good"] != 1 || !slices.Equal(dead, []string{"poison"}) {
		t.Fatalf("good applied %d times, dead letters %q; want good applied once and only poison dead", applied["good"], dead)
	}
}

func TestPublishAfterCloseIsUnavailable(t *testing.T) {
	t.Parallel()
	b := membus.New(membus.Config{})
	_ = b.Close()
	err := b.Publish(context.Background(), "t", playback.Message{Data: []byte("x")})
	if !playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("Publish after Close = %v, want unavailable", err)
	}
}

// TestCloseLetsBatchesInFlightPublish: Close waits for the batches in
// flight, and a batch may publish what its messages lead to until it ends
// (the payment webhook publishes each event's entitlement change): the
// publish is journaled for the next bus and the message is acknowledged,
// not failed after its work was done.
func TestCloseLetsBatchesInFlightPublish(t *testing.T) {
	t.Parallel()
	j := &fakeJournal{}
	b, err := membus.NewWithJournal(membus.Config{MaxBatch: 1}, j)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Publish(ctx, "in", playback.Message{ID: "cause", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	started, closing := make(chan struct{}), make(chan struct{})
	var publishErr error
	if err := b.Subscribe(ctx, "in", func(ctx context.Context, _ []playback.Message) []string {
		close(started)
		<-closing
		publishErr = b.Publish(ctx, "out", playback.Message{ID: "effect", Data: []byte("y")})
		if publishErr != nil {
			return []string{"cause"}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	<-started
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	// Close has begun once the bus refuses new subscribers.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for b.Subscribe(gone, "probe", func(context.Context, []playback.Message) []string { return nil }) == nil {
		if time.Now().After(deadline) {
			t.Fatal("Close did not begin")
		}
		runtime.Gosched()
	}
	close(closing)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if publishErr != nil || !slices.Contains(j.acked, "cause") || !slices.ContainsFunc(j.appended, func(m playback.Message) bool { return m.ID == "effect" }) {
		t.Fatalf("publish during Close = %v; journal acked %q, appended %d messages; want nil, the cause acked and the effect journaled",
			publishErr, j.acked, len(j.appended))
	}
	if err := b.Publish(ctx, "out", playback.Message{Data: []byte("z")}); !playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("Publish after Close = %v, want unavailable", err)
	}
}

func TestBatchWindowFillsBatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		window    time.Duration
		publish   int
		together  bool // in one Publish call rather than one by one
		wantSizes []int
	}{
		// An hour-long window: the batch can only have gone because it filled.
		{"a full batch goes at once", time.Hour, 5, false, []int{5}},
		{"the next batch fills too", time.Hour, 10, false, []int{5, 5}},
		{"a partial batch goes when the window ends", 10 * time.Millisecond, 3, true, []int{3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := membus.New(membus.Config{MaxBatch: 50, Topics: map[string]membus.TopicConfig{"windowed": {MaxBatch: 5, BatchWindow: tc.window}}})
			defer b.Close()
			ctx := context.Background()
			sizes := make(chan int, 100)
			h := func(_ context.Context, batch []playback.Message) []string { sizes <- len(batch); return nil }
			if err := b.Subscribe(ctx, "windowed", h); err != nil {
				t.Fatal(err)
			}
			msgs := make([]playback.Message, tc.publish)
			for i := range msgs {
				msgs[i].Data = []byte("x")
			}
			for i := 0; i < len(msgs); {
				n := 1 // one at a time, as requests publish
				if tc.together {
					n = len(msgs)
				}
				if err := b.Publish(ctx, "windowed", msgs[i:i+n]...); err != nil {
					t.Fatal(err)
				}
				i += n
			}
			waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := b.Idle(waitCtx); err != nil {
				t.Fatal(err)
			}
			close(sizes)
			var got []int
			for n := range sizes {
				got = append(got, n)
			}
			if !slices.Equal(got, tc.wantSizes) {
				t.Fatalf("batches of %v, want %v", got, tc.wantSizes)
			}
		})
	}
}

func TestTopicsWithoutWindowAreNotHeldBack(t *testing.T) {
	t.Parallel()
	b := membus.New(membus.Config{MaxBatch: 5, Topics: map[string]membus.TopicConfig{"windowed": {BatchWindow: time.Hour}}})
	defer b.Close()
	ctx := context.Background()
	got := make(chan int, 1)
	if err := b.Subscribe(ctx, "prompt", func(_ context.Context, batch []playback.Message) []string {
		got <- len(batch)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "prompt", playback.Message{Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n != 1 {
			t.Fatalf("batch of %d", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a topic without a window waited for its batch to fill")
	}
}

// fakeJournal records what the bus tells its journal.
type fakeJournal struct {
	mu        sync.Mutex
	appendErr error
	appended  []playback.Message
	acked     []string
	dead      []playback.Message
	stored    map[string][]playback.Message
}

func (j *fakeJournal) Append(_ context.Context, _ string, msgs []playback.Message) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.appendErr != nil {
		return j.appendErr
	}
	j.appended = append(j.appended, msgs...)
	return nil
}

func (j *fakeJournal) Settle(_ string, acked []string, dead []playback.Message) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.acked = append(j.acked, acked...)
	j.dead = append(j.dead, dead...)
	return nil
}

func (j *fakeJournal) Load(fn func(topic string, pending, dead []playback.Message)) error {
	for topic, msgs := range j.stored {
		fn(topic, msgs, nil)
	}
	return nil
}

func TestJournal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		appendErr error
		stored    []string // journaled by an earlier run
		publish   []string
		wantErr   bool
		wantSeen  []string
		wantAcked int
		wantDead  int
	}{
		{"publish journals, then acks", nil, nil, []string{"a", "b", "poison"}, false, []string{"a", "b", "poison", "poison"}, 2, 1},
		{"a failed append is unavailable and never delivered", errors.New("disk full"), nil, []string{"a"}, true, nil, 0, 0},
		{"an earlier run's messages are delivered first", nil, []string{"old"}, []string{"new"}, false, []string{"old", "new"}, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := &fakeJournal{appendErr: tc.appendErr, stored: map[string][]playback.Message{}}
			for i, d := range tc.stored {
				j.stored["t"] = append(j.stored["t"], playback.Message{ID: fmt.Sprint("old-", i), Data: []byte(d)})
			}
			b, err := membus.NewWithJournal(membus.Config{MaxBatch: 1, MaxAttempts: 2, RetryDelay: time.Millisecond}, j)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			ctx := context.Background()
			buf := []byte("xxxxxx")
			for _, d := range tc.publish {
				n := copy(buf, d)
				err := b.Publish(ctx, "t", playback.Message{Data: buf[:n]})
				if (err != nil) != tc.wantErr || err != nil && !playback.IsCode(err, playback.CodeUnavailable) {
					t.Fatalf("Publish(%s) = %v", d, err)
				}
			}
			copy(buf, "XXXXXX") // the caller's buffer is its own again
			var seen []string
			if err := b.Subscribe(ctx, "t", func(_ context.Context, batch []playback.Message) (retry []string) {
				for _, m := range batch {
					seen = append(seen, string(m.Data))
					if string(m.Data) == "poison" {
						retry = append(retry, m.ID)
					}
				}
				return retry
			}); err != nil {
				t.Fatal(err)
			}
			waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := b.Idle(waitCtx); err != nil {
				t.Fatal(err)
			}
			_ = b.Close() // settles are reported after Idle sees the batch settled
			j.mu.Lock()
			defer j.mu.Unlock()
			if !slices.Equal(seen, tc.wantSeen) || len(j.acked) != tc.wantAcked || len(j.dead) != tc.wantDead {
				t.Fatalf("seen %q, journal acked %d dead %d; want %q, %d, %d", seen, len(j.acked), len(j.dead), tc.wantSeen, tc.wantAcked, tc.wantDead)
			}
			if !tc.wantErr && len(j.appended) != len(tc.publish) {
				t.Fatalf("journal holds %d messages, %d published", len(j.appended), len(tc.publish))
			}
		})
	}
}

// TestTracedPublishAllocatesAsUntraced: a message published under an
// unsampled request's span (a heartbeat's, nearly always) gets the span's
// trace context with no allocation more than a message published with
// tracing off (the message holds it in binary), and both read as they
// would apart.
func TestTracedPublishAllocatesAsUntraced(t *testing.T) {
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "test", SpanExporter: tracetest.NewInMemoryExporter(),
		Lookup: envconfig.MapLookuper(map[string]string{telemetry.EnvTracesSampler: "parentbased_always_off"})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	traced, _ := telemetry.StartRequest(context.Background(), httptest.NewRequest("POST", "/", nil))
	sc := trace.SpanContextFromContext(traced)
	if !sc.IsValid() || sc.IsSampled() {
		t.Fatalf("span context %v, want a valid unsampled one", sc)
	}
	want, _ := telemetry.MessageTrace(traced)
	publish := func(ctx context.Context) (allocs float64, got playback.Message) {
		b := membus.New(membus.Config{MaxPending: 1 << 20})
		t.Cleanup(func() { _ = b.Close() })
		data := []byte(`{"k":1}`)
		allocs = testing.AllocsPerRun(200, func() {
			if err := b.Publish(ctx, "t", playback.Message{Data: data}); err != nil {
				t.Fatal(err)
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got1 := make(chan playback.Message, 1)
		if err := b.Subscribe(ctx, "t", func(_ context.Context, msgs []playback.Message) []string {
			select {
			case got1 <- msgs[0]:
			default:
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return allocs, <-got1
	}
	p.Pause()
	plainAllocs, plain := publish(traced)
	p.Resume()
	tracedAllocs, m := publish(traced)
	if tracedAllocs != plainAllocs {
		t.Errorf("traced publish: %v allocs, untraced: %v", tracedAllocs, plainAllocs)
	}
	if plain.Trace.IsValid() {
		t.Errorf("untraced message has trace context %q", plain.Trace.TraceParent())
	}
	if !want.IsValid() || m.Trace != want {
		t.Errorf("trace context %q, want %q", m.Trace.TraceParent(), want.TraceParent())
	}
	if !strings.HasPrefix(m.ID, "msg_") || len(m.ID) != len(plain.ID) || !playback.ValidID(m.ID) {
		t.Errorf("id %q, want one shaped as %q", m.ID, plain.ID)
	}
}

// TestPublishTraceContextPerMessage: in one traced publish whose context
// carries a tracestate, a message without an id and one with its own get
// the publish's traceparent and tracestate (the first a fresh id, the
// second its own), and one with its own traceparent keeps it without the
// publish's tracestate.
func TestPublishTraceContextPerMessage(t *testing.T) {
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "test", SpanExporter: tracetest.NewInMemoryExporter(),
		Lookup: envconfig.MapLookuper(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	ts, err := trace.ParseTraceState("vendor=x")
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, TraceState: ts})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	// The publish's span is a child of sc: its trace, its own span id.
	const trace1 = "00-01000000000000000000000000000000-"
	const own = "00-0a000000000000000000000000000000-0b00000000000000-00"
	ownTrace, ok := playback.ParseTraceParent(own)
	if !ok {
		t.Fatalf("%q does not parse", own)
	}
	b := membus.New(membus.Config{})
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Publish(ctx, "t", playback.Message{Data: []byte("a")}, playback.Message{ID: "mine", Data: []byte("b")},
		playback.Message{Data: []byte("c"), Trace: ownTrace}); err != nil {
		t.Fatal(err)
	}
	sub, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan playback.Message, 3)
	if err := b.Subscribe(sub, "t", func(_ context.Context, msgs []playback.Message) []string {
		for _, m := range msgs {
			got <- m
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	byData := map[string]playback.Message{}
	for range 3 {
		m := <-got
		byData[string(m.Data)] = m
	}
	want := byData["a"].Trace.TraceParent()
	if !strings.HasPrefix(want, trace1) || len(want) != len(own) || !strings.HasSuffix(want, "-01") {
		t.Fatalf("traceparent %q, want one of trace %q, sampled", want, trace1)
	}
	for _, tc := range []struct {
		name, data, tp, state string
		id                    func(string) bool
	}{
		{name: "no id", data: "a", tp: want, state: "vendor=x", id: func(id string) bool {
			return strings.HasPrefix(id, "msg_") && len(id) == playback.NewIDLen("msg") && playback.ValidID(id)
		}},
		{name: "own id", data: "b", tp: want, state: "vendor=x", id: func(id string) bool { return id == "mine" }},
		{name: "own traceparent", data: "c", tp: own, id: func(id string) bool { return strings.HasPrefix(id, "msg_") }},
	} {
		m := byData[tc.data]
		if m.Trace.TraceParent() != tc.tp || m.Attributes["tracestate"] != tc.state || !tc.id(m.ID) {
			t.Errorf("%s: id %q, traceparent %q, attributes %v; want traceparent %q, tracestate %q", tc.name, m.ID, m.Trace.TraceParent(), m.Attributes, tc.tp, tc.state)
		}
	}
}

// TestPanicHandsBackOnlyThePoisonInItsSpans: a batch whose handler
// panics on one message is run again a message at a time, and only that
// message is handed back; the delivery's spans must say so. Before, the
// spans ended at the panic, before the re-run, with every batch-mate
// marked "handed back for redelivery" (and counted in the retries
// metric) though it was then applied and acknowledged. Not parallel:
// telemetry is process-wide.
func TestPanicHandsBackOnlyThePoisonInItsSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "test", SpanExporter: exp,
		Lookup: envconfig.MapLookuper(map[string]string{telemetry.EnvTracesSampler: "always_on"})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	b := membus.New(membus.Config{MaxAttempts: 1, RetryDelay: time.Millisecond})
	defer b.Close()
	ctx := context.Background()
	if err := b.Subscribe(ctx, "t", func(_ context.Context, batch []playback.Message) []string {
		for _, m := range batch {
			if m.ID == "poison" {
				panic("consumer bug")
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "t", playback.Message{ID: "poison", Data: []byte("p")}, playback.Message{ID: "good", Data: []byte("g")}); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.Idle(waitCtx); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	handedBack := map[string]int{}
	for _, s := range exp.GetSpans() {
		for _, kv := range s.Attributes {
			if kv.Key == "messaging.message.id" && s.Status.Code == codes.Error {
				handedBack[kv.Value.AsString()]++
			}
		}
	}
	if handedBack["good"] != 0 || handedBack["poison"] == 0 {
		t.Fatalf("message spans marked failed: %v; want poison's only", handedBack)
	}
}

package walbus_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bustest"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/walbus"
)

var _ membus.Journal = (*walbus.Journal)(nil)

func open(t *testing.T, path string) *walbus.Journal {
	t.Helper()
	j, err := walbus.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func newBus(t *testing.T, j *walbus.Journal, cfg membus.Config) *membus.Bus {
	t.Helper()
	b, err := membus.NewWithJournal(cfg, j)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// delivered subscribes to topic on b for ctx, acknowledging everything,
// and returns what it was handed once b is idle (within 10 s).
func delivered(t *testing.T, ctx context.Context, b *membus.Bus, topic string) []playback.Message {
	t.Helper()
	var mu sync.Mutex
	var got []playback.Message
	if err := b.Subscribe(ctx, topic, func(_ context.Context, batch []playback.Message) []string {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, batch...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.Idle(wait); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(got)
}

// TestContract runs the bus contract on the runner's bus: membus over the
// journal.
func TestContract(t *testing.T) {
	bustest.Run(t, bustest.Options{MaxBatch: 10, Timeout: 5 * time.Second}, func(t *testing.T, _ bustest.Setup) playback.Bus {
		j := open(t, filepath.Join(t.TempDir(), "bus.wal"))
		b := newBus(t, j, membus.Config{MaxBatch: 10, RetryDelay: 10 * time.Millisecond})
		t.Cleanup(func() {
			_ = b.Close()
			_ = j.Close()
		})
		return b
	})
}

type loaded struct {
	pending, dead map[string][]playback.Message
}

func load(t *testing.T, j *walbus.Journal) loaded {
	t.Helper()
	l := loaded{pending: map[string][]playback.Message{}, dead: map[string][]playback.Message{}}
	if err := j.Load(func(topic string, pending, dead []playback.Message) {
		l.pending[topic], l.dead[topic] = pending, dead
	}); err != nil {
		t.Fatal(err)
	}
	return l
}

func datas(msgs []playback.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Data)
	}
	return out
}

// copyFile is what a killed process leaves on disk: the file as the page
// cache holds it at that instant, with the journal never closed.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAcceptedMessagesSurviveACrash publishes from many goroutines, takes
// the file as a crash would leave it the moment the last Publish returned,
// and finds every message in it, whole and in each publisher's order.
func TestAcceptedMessagesSurviveACrash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := open(t, filepath.Join(dir, "bus.wal"))
	b := newBus(t, j, membus.Config{})
	defer j.Close()
	defer b.Close()
	const publishers, each = 8, 50
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			buf := make([]byte, 0, 64) // reused like the heartbeat path's pooled buffers
			for i := range each {
				buf = fmt.Appendf(buf[:0], "p%d-%03d", p, i)
				err := b.Publish(context.Background(), "beats", playback.Message{Data: buf, OrderingKey: fmt.Sprint(p),
					Attributes: map[string]string{"i": fmt.Sprint(i)}})
				if err != nil {
					t.Error(err)
					return
				}
				copy(buf, "XXXXXXXX") // the bus must not have kept our slice
			}
		})
	}
	wg.Wait()
	copyFile(t, filepath.Join(dir, "bus.wal"), filepath.Join(dir, "crashed.wal"))

	crashed := open(t, filepath.Join(dir, "crashed.wal"))
	defer crashed.Close()
	got := load(t, crashed).pending["beats"]
	if len(got) != publishers*each {
		t.Fatalf("journal holds %d messages after the crash, %d were accepted", len(got), publishers*each)
	}
	next := make([]int, publishers)
	for _, m := range got {
		var p, i int
		if _, err := fmt.Sscanf(string(m.Data), "p%d-%03d", &p, &i); err != nil {
			t.Fatalf("message %+v: %v", m, err)
		}
		if i != next[p] || m.Attributes["i"] != fmt.Sprint(i) || m.OrderingKey != fmt.Sprint(p) || m.ID == "" || m.PublishTime.IsZero() {
			t.Fatalf("publisher %d: got %+v, want its message %d", p, m, next[p])
		}
		next[p]++
	}
}

// TestRestartRedeliversOnlyUnacknowledged restarts the bus on its journal
// after a run in which some messages were acknowledged, one is still being
// retried and one was dead-lettered: the next run delivers exactly the
// unacknowledged one, under its id, and keeps the dead letter.
func TestRestartRedeliversOnlyUnacknowledged(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bus.wal")
	ctx := context.Background()
	j := open(t, path)
	cfg := membus.Config{MaxAttempts: 2, RetryDelay: time.Millisecond}
	b := newBus(t, j, cfg)
	var mu sync.Mutex
	ids := map[string]string{}
	consumerCtx, stop := context.WithCancel(ctx)
	if err := b.Subscribe(consumerCtx, "t", func(_ context.Context, batch []playback.Message) (retry []string) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			ids[string(m.Data)] = m.ID
			if string(m.Data) == "poison" {
				retry = append(retry, m.ID)
			}
		}
		return retry
	}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a", "b", "poison", "c"} {
		if err := b.Publish(ctx, "t", playback.Message{Data: []byte(d)}); err != nil {
			t.Fatal(err)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.Idle(waitCtx); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// Published after the consumers stopped: never delivered in this run.
	unacked := playback.Message{ID: "msg_unacked", Data: []byte("late")}
	if err := j.Append(ctx, "t", []playback.Message{unacked}); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j = open(t, path)
	defer j.Close()
	b = newBus(t, j, cfg)
	defer b.Close()
	if dead := b.DeadLetters("t"); len(dead) != 1 || string(dead[0].Data) != "poison" || dead[0].ID != ids["poison"] {
		t.Fatalf("dead letters after restart = %+v, want the poison message", dead)
	}
	redelivered := delivered(t, ctx, b, "t")
	if len(redelivered) != 1 || redelivered[0].ID != unacked.ID || string(redelivered[0].Data) != "late" || redelivered[0].DeliveryAttempt != 1 {
		t.Fatalf("redelivered after restart: %+v, want only the unacknowledged message", redelivered)
	}
	// Its acknowledgement is journaled too: a third run has nothing to do.
	b.Close()
	j.Close()
	j = open(t, path)
	defer j.Close()
	if l := load(t, j); len(l.pending["t"]) != 0 || !slices.Equal(datas(l.dead["t"]), []string{"poison"}) {
		t.Fatalf("third run finds pending %v, dead %v", datas(l.pending["t"]), datas(l.dead["t"]))
	}
}

// TestPublishRefusesWhatTheJournalCannotReadBack: replay takes a record
// over 64 MiB (walbus's bound on a record) for a torn header, so a message
// that large, answered as durable, was dropped at the next start, or made
// it fail when records followed. Publish must refuse it as too large (no
// retry helps), journal nothing of it, and go on taking the others.
func TestPublishRefusesWhatTheJournalCannotReadBack(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bus.wal")
	ctx := context.Background()
	j := open(t, path)
	b := newBus(t, j, membus.Config{})
	if err := b.Publish(ctx, "t", playback.Message{Data: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	err := b.Publish(ctx, "t", playback.Message{Data: []byte("big")}, playback.Message{Data: make([]byte, 64<<20)})
	if !playback.IsCode(err, playback.CodeTooLarge) {
		t.Fatalf("Publish of a 64 MiB message: %v, want %s", err, playback.CodeTooLarge)
	}
	if err := b.Publish(ctx, "t", playback.Message{Data: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, err = walbus.Open(path)
	if err != nil {
		t.Fatalf("Open after the refused publish: %v", err)
	}
	defer j.Close()
	if got := datas(load(t, j).pending["t"]); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("journal holds %q after the restart, want the two messages answered", got)
	}
}

func TestAppendAfterCloseIsUnavailable(t *testing.T) {
	t.Parallel()
	j := open(t, filepath.Join(t.TempDir(), "bus.wal"))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	err := j.Append(context.Background(), "t", []playback.Message{{ID: "m", Data: []byte("x")}})
	if !playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("Append after Close = %v, want unavailable", err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// BenchmarkPublish is the journaled bus's Publish from many goroutines, as
// the heartbeat route calls it; the unjournaled bus in the same run is the
// floor. appends/commit shows how many publishes one commit carried.
func BenchmarkPublish(b *testing.B) {
	data := []byte(`{"session_id":"ses_0123456789abcdefghijklmnopqrstuv","account_id":"acct_load_1","title_id":"big-buck-bunny","event":"progress","position_ms":123456,"duration_ms":5400000}`)
	for _, bc := range []struct {
		name string
		opts []walbus.Option
	}{
		{"memory", nil},
		{"journal/sync", []walbus.Option{}},
		{"journal/nosync", []walbus.Option{walbus.WithoutSync()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bus := membus.New(membus.Config{})
			if bc.opts != nil {
				j, err := walbus.Open(filepath.Join(b.TempDir(), "bus.wal"), bc.opts...)
				if err != nil {
					b.Fatal(err)
				}
				defer j.Close()
				defer func() {
					commits, appended := walbus.CommitStats(j)
					b.ReportMetric(float64(appended)/float64(max(1, commits)), "appends/commit")
				}()
				if bus, err = membus.NewWithJournal(membus.Config{}, j); err != nil {
					b.Fatal(err)
				}
			}
			defer bus.Close()
			// A consumer acknowledges as the runner's do, so the journal
			// stays the size of the backlog rather than growing.
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			if err := bus.Subscribe(ctx, "beats", func(context.Context, []playback.Message) []string { return nil }); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(16) // in flight at once, like concurrent requests
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bus.Publish(context.Background(), "beats", playback.Message{Data: data}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestRedriveDeliversDeadLettersOnceAfterARestart dead-letters messages
// under a failing handler, restarts on the journal, redrives the topic and
// restarts again, as `playplane redrive` and the runner after it do: each
// dead letter is delivered once more under its id, with its attributes
// and trace context and from its first attempt, leaves the dead letters,
// and a second redrive finds nothing to move.
func TestRedriveDeliversDeadLettersOnceAfterARestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bus.wal")
	ctx := context.Background()
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cfg := membus.Config{MaxAttempts: 2, RetryDelay: time.Millisecond}
	trace, _ := playback.ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")

	j := open(t, path)
	b := newBus(t, j, cfg)
	failing, stop := context.WithCancel(ctx)
	if err := b.Subscribe(failing, "t", func(_ context.Context, batch []playback.Message) (retry []string) {
		for _, m := range batch {
			retry = append(retry, m.ID)
		}
		return retry
	}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a", "b"} {
		if err := b.Publish(ctx, "t", playback.Message{Data: []byte(d), Trace: trace, Attributes: map[string]string{"k": d}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Publish(ctx, "other", playback.Message{Data: []byte("stays")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Idle(waitCtx); err != nil {
		t.Fatal(err)
	}
	stop()
	dead := b.DeadLetters("t")
	if len(dead) != 2 {
		t.Fatalf("dead letters = %+v, want a and b", dead)
	}
	b.Close()
	j.Close()

	j = open(t, path)
	n, err := j.Redrive(ctx, "t")
	if err != nil || n != 2 {
		t.Fatalf("Redrive = %d, %v; want 2, nil", n, err)
	}
	j.Close()
	j = open(t, path)
	if n, err := j.Redrive(ctx, "t"); err != nil || n != 0 {
		t.Fatalf("second Redrive = %d, %v; want 0, nil", n, err)
	}
	b = newBus(t, j, cfg)
	if got := b.DeadLetters("t"); len(got) != 0 {
		t.Fatalf("dead letters after redrive = %+v, want none", got)
	}
	redelivered := delivered(t, ctx, b, "t")
	b.Close()
	if len(redelivered) != len(dead) {
		t.Fatalf("redelivered %+v, want %+v once each", redelivered, dead)
	}
	for i, m := range redelivered {
		want := dead[i]
		if m.ID != want.ID || string(m.Data) != string(want.Data) || m.Attributes["k"] != string(want.Data) ||
			m.Trace != trace || m.DeliveryAttempt != 1 {
			t.Errorf("redelivered %+v, want %+v at its first attempt", m, want)
		}
	}
	j.Close()
	j = open(t, path)
	defer j.Close()
	if l := load(t, j); len(l.pending["t"])+len(l.dead["t"]) != 0 || !slices.Equal(datas(l.pending["other"]), []string{"stays"}) {
		t.Fatalf("after the redriven run: t pending %v, dead %v; other pending %v",
			datas(l.pending["t"]), datas(l.dead["t"]), datas(l.pending["other"]))
	}
}

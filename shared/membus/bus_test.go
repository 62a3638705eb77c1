package membus_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bustest"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
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

func TestPublishAfterCloseIsUnavailable(t *testing.T) {
	t.Parallel()
	b := membus.New(membus.Config{})
	_ = b.Close()
	err := b.Publish(context.Background(), "t", playback.Message{Data: []byte("x")})
	if !playback.IsCode(err, playback.CodeUnavailable) {
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

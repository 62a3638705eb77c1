package membus_test

import (
	"context"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bustest"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
)

func TestContract(t *testing.T) {
	bustest.Run(t, bustest.Options{MaxBatch: 10, Timeout: 5 * time.Second}, func(t *testing.T, _ ...string) playback.Bus {
		b := membus.New(membus.Config{MaxBatch: 10, RetryDelay: 10 * time.Millisecond})
		t.Cleanup(func() { _ = b.Close() })
		return b
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

package pubsub

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"

	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/playback"
)

// nowhere is a Pub/Sub endpoint nothing listens on: a client made for it
// connects to nothing until a call is made.
const nowhere = "127.0.0.1:1"

// TestEveryCallOpensTheBus: New makes no client (a cold start's refused
// request pays for no credentials lookup or gRPC setup); Publish,
// EnsureTopics and Subscription (pull's Subscribe) make it first, and a client that cannot be
// made fails the call with its cause (never a nil dereference) and is
// tried again on the next call.
func TestEveryCallOpensTheBus(t *testing.T) {
	t.Parallel()
	errNoClient := errors.New("no client here")
	for _, tc := range []struct {
		name string
		call func(ctx context.Context, b *Bus) error
	}{
		{name: "Publish", call: func(ctx context.Context, b *Bus) error {
			return b.Publish(ctx, "topic", playback.Message{Data: []byte("x")})
		}},
		{name: "EnsureTopics", call: func(ctx context.Context, b *Bus) error { return b.EnsureTopics(ctx, "topic") }},
		{name: "Subscription", call: func(_ context.Context, b *Bus) error {
			_, err := b.Subscription("topic")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := New(context.Background(), Config{ProjectID: testProject}, gcpemu.PubSubClientOptions(gcpemu.PubSub(t))...)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if b.client != nil || b.opened.Load() {
				t.Fatal("New made the client")
			}
			made := b.newClient
			var tries int
			b.newClient = func(ctx context.Context) (*vkit.TopicAdminClient, string, error) {
				if tries++; tries == 1 {
					return nil, "", errNoClient
				}
				return made(ctx)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := tc.call(ctx, b); !errors.Is(err, errNoClient) {
				t.Fatalf("%s without a client: %v, want the client's error", tc.name, err)
			}
			// The next call makes the client; it then fails on the fake
			// (no such topic), which is not this test's concern.
			if err := tc.call(ctx, b); errors.Is(err, errNoClient) || tries != 2 || b.client == nil {
				t.Fatalf("%s again: %v after %d tries, client %p: want the client made on the second", tc.name, err, tries, b.client)
			}
		})
	}
}

// Callers racing to be first make one client and all use it; a bus closed
// before it opened makes none afterwards (it would never be closed), and
// its calls fail as a closed bus's do.
func TestConcurrentFirstCallsMakeOneClient(t *testing.T) {
	t.Parallel()
	b, err := New(context.Background(), Config{ProjectID: testProject}, gcpemu.PubSubClientOptions(nowhere)...)
	if err != nil {
		t.Fatal(err)
	}
	var made atomic.Int32
	newClient := b.newClient
	b.newClient = func(ctx context.Context) (*vkit.TopicAdminClient, string, error) {
		made.Add(1)
		return newClient(ctx)
	}
	const callers = 16
	clients := make([]*vkit.TopicAdminClient, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			if err := b.open("Publish"); err != nil {
				t.Errorf("open: %v", err)
				return
			}
			clients[i] = b.client
		})
	}
	wg.Wait()
	if n := made.Load(); n != 1 {
		t.Fatalf("%d callers made %d clients, want 1", callers, n)
	}
	for i, c := range clients {
		if c == nil || c != clients[0] {
			t.Fatalf("caller %d got client %p, caller 0 %p", i, c, clients[0])
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	unopened, err := New(context.Background(), Config{ProjectID: testProject}, gcpemu.PubSubClientOptions(nowhere)...)
	if err != nil {
		t.Fatal(err)
	}
	unopened.newClient = b.newClient
	if err := unopened.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := unopened.Publish(ctx, "topic", playback.Message{Data: []byte("x")}); !playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("Publish on a bus closed before it opened: %v, want unavailable", err)
	}
	if n := made.Load(); n != 1 {
		t.Fatalf("a call after Close made a client (%d made in all)", n)
	}
}

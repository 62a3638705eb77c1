// Package pull is the consuming side of the bus on Pub/Sub for
// long-running processes: Bus is package pubsub's bus with Subscribe, a
// streaming-pull consumer on the high-level client library
// (cloud.google.com/go/pubsub/v2). It is a package of its own because
// that library links OpenCensus, whose package initialisation every cold
// start of a Cloud Functions unit would pay for: units publish with
// package pubsub and receive their messages by push
// (pubsub/push.CloudEventHandler), and never import this package.
package pull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub"
	"github.com/playplane/playplane/shared/pubsub/push"
)

var _ playback.Bus = (*Bus)(nil)

// maxTrackedAttempts bounds the local delivery counts kept for messages of
// subscriptions without a dead-letter policy (Pub/Sub then reports no
// delivery attempt).
const maxTrackedAttempts = 100_000

// Bus is a playback.Bus on Pub/Sub: package pubsub's bus, which publishes,
// and a streaming-pull consumer.
type Bus struct {
	*pubsub.Bus
	cfg  pubsub.Config
	opts []option.ClientOption

	// newClient makes the high-level client on the first Subscribe.
	newClient func(ctx context.Context, project string) (*gpubsub.Client, error)
	openMu    sync.Mutex // serializes making and closing the client
	client    *gpubsub.Client

	mu        sync.Mutex
	closed    bool
	stop      context.CancelFunc
	done      context.Context // ends on Close; consumers watch it
	consumers sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New returns a bus of cfg and opts (pubsub.New); the consumer's client is
// made from the same on the first Subscribe. New makes no network calls.
func New(ctx context.Context, cfg pubsub.Config, opts ...option.ClientOption) (*Bus, error) {
	inner, err := pubsub.New(ctx, cfg, opts...)
	if err != nil {
		return nil, err
	}
	b := &Bus{Bus: inner, cfg: inner.Config(), opts: opts}
	b.done, b.stop = context.WithCancel(context.Background())
	b.newClient = func(ctx context.Context, project string) (*gpubsub.Client, error) {
		return gpubsub.NewClient(ctx, project, b.opts...)
	}
	return b, nil
}

// subscriber returns the high-level client, made on first use in the
// project of path (projects/P/subscriptions/ID).
func (b *Bus) subscriber(path string) (*gpubsub.Client, error) {
	b.openMu.Lock()
	defer b.openMu.Unlock()
	if b.client != nil {
		return b.client, nil
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, playback.Unavailable(errors.New("bus closed"), "pubsub.Subscribe")
	}
	project, _, _ := strings.Cut(strings.TrimPrefix(path, "projects/"), "/")
	// The client outlives the call that made it (see pubsub.Bus.open).
	c, err := b.newClient(context.Background(), project)
	if err != nil {
		return nil, fmt.Errorf("pubsub.Subscribe: making the client: %w", err)
	}
	b.client = c
	return c, nil
}

// Close stops the consumers, waits for the batches they hold to settle,
// closes the consumer's client and then the publishing bus. Later calls
// wait for the first and return its result.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.close() })
	return b.closeErr
}

func (b *Bus) close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.stop()
	b.consumers.Wait()
	var errs []error
	b.openMu.Lock()
	if b.client != nil {
		errs = append(errs, b.client.Close())
	}
	b.openMu.Unlock()
	return errors.Join(append(errs, b.Bus.Close())...)
}

// Subscribe starts a streaming-pull consumer of topic's subscription that
// runs until ctx ends or the bus closes. It hands the handler batches of
// up to MaxBatch messages, gathered for at most BatchWindow; acknowledged
// messages are acked, the ones the handler names for retry are nacked and
// come back after the subscription's retry backoff, until Pub/Sub
// dead-letters them after MaxDeliveryAttempts. Messages of one ordering key
// reach the handler in order. Several consumers of one topic share its
// messages. The subscription must exist (EnsureTopics).
func (b *Bus) Subscribe(ctx context.Context, topic string, h playback.BatchHandler) error {
	path, err := b.Subscription(topic)
	if err != nil {
		return err
	}
	client, err := b.subscriber(path)
	if err != nil {
		return err
	}
	if _, err := client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: path}); err != nil {
		return pubsub.Fail("Subscribe", fmt.Errorf("subscription %s: %w", path, err))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return playback.Unavailable(errors.New("bus closed"), "pubsub.Subscribe")
	}
	b.consumers.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.done, cancel)
	go func() {
		defer b.consumers.Done()
		defer cancel()
		defer stop()
		b.consume(ctx, client, topic, path, h)
	}()
	return nil
}

func (b *Bus) consume(ctx context.Context, client *gpubsub.Client, topic, path string, h playback.BatchHandler) {
	log := slog.Default().With("topic", topic, "subscription", path)
	sub := client.Subscriber(path)
	sub.ReceiveSettings.NumGoroutines = 1
	// Enough to fill the next batch while one is being handled; the client
	// extends the deadlines of all of them.
	sub.ReceiveSettings.MaxOutstandingMessages = 2 * b.cfg.MaxBatch
	sub.ReceiveSettings.MaxExtension = b.cfg.MaxExtension
	in := make(chan *gpubsub.Message)
	batcherDone := make(chan struct{})
	go func() {
		defer close(batcherDone)
		// Traced over Call, as membus: its spans and metrics take what
		// Call's re-run of a panicking batch hands back in the end.
		b.batches(ctx, log, push.Traced(topic, path, func(ctx context.Context, msgs []playback.Message) []string {
			return h.Call(ctx, log, msgs)
		}), in)
	}()
	for attempt := 0; ctx.Err() == nil; attempt++ {
		// The callback only hands the message on: the client calls it for
		// the next message of an ordering key once it returns, so messages
		// of a key enter the batch in order.
		err := sub.Receive(ctx, func(rctx context.Context, m *gpubsub.Message) {
			select {
			case in <- m:
			case <-rctx.Done():
				m.Nack()
			}
		})
		if ctx.Err() != nil {
			break
		}
		delay := backoffDelay(attempt)
		log.ErrorContext(ctx, "pubsub receive failed", "error", err, "retry_in", delay)
		if sleep(ctx, delay) != nil {
			break
		}
	}
	// Receive returned: it calls the callback no more.
	close(in)
	<-batcherDone
}

// batches gathers messages into batches and settles each after the handler.
func (b *Bus) batches(ctx context.Context, log *slog.Logger, h playback.BatchHandler, in <-chan *gpubsub.Message) {
	attempts := map[string]int{} // Pub/Sub message id → deliveries seen here
	for first := range in {
		batch := []*gpubsub.Message{first}
		window := time.NewTimer(b.cfg.BatchWindow)
	gather:
		for len(batch) < b.cfg.MaxBatch {
			select {
			case m, ok := <-in:
				if !ok {
					break gather
				}
				batch = append(batch, m)
			case <-window.C:
				break gather
			case <-ctx.Done():
				break gather
			}
		}
		window.Stop()
		if ctx.Err() != nil {
			// Stopping: the batch was not started, let it be redelivered.
			for _, m := range batch {
				m.Nack()
			}
			continue
		}
		b.handleBatch(ctx, log, h, batch, attempts)
	}
}

// handleBatch runs h on one batch and acks or nacks every message.
func (b *Bus) handleBatch(ctx context.Context, log *slog.Logger, h playback.BatchHandler, batch []*gpubsub.Message, attempts map[string]int) {
	if len(attempts) > maxTrackedAttempts {
		clear(attempts)
	}
	msgs := make([]playback.Message, 0, len(batch))
	byID := make(map[string][]*gpubsub.Message, len(batch)) // domain id → received messages
	for _, r := range batch {
		attempt := 0
		if r.DeliveryAttempt != nil {
			attempt = *r.DeliveryAttempt
		} else {
			attempts[r.ID]++
			attempt = attempts[r.ID]
		}
		m := push.Decode(push.Incoming{MessageID: r.ID, Data: r.Data, Attributes: r.Attributes, OrderingKey: r.OrderingKey,
			PublishTime: r.PublishTime, DeliveryAttempt: attempt})
		msgs = append(msgs, m)
		byID[m.ID] = append(byID[m.ID], r)
	}
	// The batch runs to the end even when the consumer is stopping; its
	// messages are settled afterwards.
	retry := h.Call(context.WithoutCancel(ctx), log, msgs)
	for id, received := range byID {
		again := slices.Contains(retry, id)
		for _, r := range received {
			if again {
				r.Nack()
				continue
			}
			delete(attempts, r.ID)
			r.Ack()
		}
	}
}

func backoffDelay(attempt int) time.Duration {
	ceiling := min(5*time.Second, 50*time.Millisecond<<min(attempt, 10))
	return ceiling/2 + rand.N(ceiling/2)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

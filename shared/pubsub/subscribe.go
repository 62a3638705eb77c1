package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub/push"
)

// maxTrackedAttempts bounds the local delivery counts kept for messages of
// subscriptions without a dead-letter policy (Pub/Sub then reports no
// delivery attempt).
const maxTrackedAttempts = 100_000

// Subscribe starts a streaming-pull consumer of topic's subscription that
// runs until ctx ends or the bus closes. It hands the handler batches of
// up to MaxBatch messages, gathered for at most BatchWindow; acknowledged
// messages are acked, the ones the handler names for retry are nacked and
// come back after the subscription's retry backoff, until Pub/Sub
// dead-letters them after MaxDeliveryAttempts. Messages of one ordering key
// reach the handler in order. Several consumers of one topic share its
// messages. The subscription must exist (EnsureTopics).
func (b *Bus) Subscribe(ctx context.Context, topic string, h playback.BatchHandler) error {
	if err := b.open("Subscribe"); err != nil {
		return err
	}
	n, err := b.names(topic)
	if err != nil {
		return err
	}
	path := b.subscriptionPath(n.subscription)
	if _, err := b.client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: path}); err != nil {
		return fail("Subscribe", fmt.Errorf("subscription %s: %w", path, err))
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
		b.consume(ctx, topic, path, h)
	}()
	return nil
}

func (b *Bus) consume(ctx context.Context, topic, path string, h playback.BatchHandler) {
	log := slog.Default().With("topic", topic, "subscription", path)
	sub := b.client.Subscriber(path)
	sub.ReceiveSettings.NumGoroutines = 1
	// Enough to fill the next batch while one is being handled; the client
	// extends the deadlines of all of them.
	sub.ReceiveSettings.MaxOutstandingMessages = 2 * b.cfg.MaxBatch
	sub.ReceiveSettings.MaxExtension = b.cfg.MaxExtension
	in := make(chan *pubsub.Message)
	batcherDone := make(chan struct{})
	go func() {
		defer close(batcherDone)
		b.batches(ctx, log, push.Traced(topic, h), in)
	}()
	for attempt := 0; ctx.Err() == nil; attempt++ {
		// The callback only hands the message on: the client calls it for
		// the next message of an ordering key once it returns, so messages
		// of a key enter the batch in order.
		err := sub.Receive(ctx, func(rctx context.Context, m *pubsub.Message) {
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
func (b *Bus) batches(ctx context.Context, log *slog.Logger, h playback.BatchHandler, in <-chan *pubsub.Message) {
	attempts := map[string]int{} // Pub/Sub message id → deliveries seen here
	for first := range in {
		batch := []*pubsub.Message{first}
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
func (b *Bus) handleBatch(ctx context.Context, log *slog.Logger, h playback.BatchHandler, batch []*pubsub.Message, attempts map[string]int) {
	if len(attempts) > maxTrackedAttempts {
		clear(attempts)
	}
	msgs := make([]playback.Message, 0, len(batch))
	byID := make(map[string][]*pubsub.Message, len(batch)) // domain id → received messages
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

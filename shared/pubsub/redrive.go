package pubsub

import (
	"context"
	"fmt"
	"maps"
	"strings"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/proto"
)

// deadLetterAttrPrefix starts the attributes Pub/Sub adds to a message it
// dead-letters (CloudPubSubDeadLetterSourceDeliveryCount, …): they say
// where it failed, not what it is, and take attribute slots.
const deadLetterAttrPrefix = "CloudPubSubDeadLetterSource"

// redrivePull is the most messages Redrive moves at a time.
const redrivePull = 100

// Redrive moves the dead letters of topic, which Pub/Sub keeps in the
// dead-letter subscription deadLetterSub (an ID; "" is the one EnsureTopics
// and the stacks make, named as the dead-letter topic), back to topic, and
// returns how many it moved. Pub/Sub has no redrive of its own: it pulls
// the subscription, publishes each message again with its data, ordering
// key and attributes (the playplane id and trace context among them) but
// not those Pub/Sub added when it dead-lettered it, and acknowledges a
// dead letter only once its publish succeeded. A publish that fails hands
// the pulled messages not yet republished back at once and ends the call; an acknowledgement
// that fails leaves messages already republished to be republished again
// (at least once: the consumers are idempotent). A message that comes
// back while Redrive runs (its consumer still fails it) is left for the
// next call, which ends this one.
func (b *Bus) Redrive(ctx context.Context, topic, deadLetterSub string) (int, error) {
	if err := b.open("Redrive"); err != nil {
		return 0, err
	}
	n, err := b.names(topic)
	if err != nil {
		return 0, fmt.Errorf("pubsub.Redrive: %w", err)
	}
	if deadLetterSub == "" {
		deadLetterSub = n.deadLetterSubscription
	}
	if err := validResourceID(deadLetterSub); err != nil {
		return 0, fmt.Errorf("pubsub.Redrive: %w", err)
	}
	subs, err := b.subscriptionAdmin()
	if err != nil {
		return 0, err
	}
	t, err := b.topic(topic)
	if err != nil {
		return 0, err
	}
	defer b.inflight.Done()
	sub := b.subscriptionPath(deadLetterSub)
	seen := map[string]bool{} // Pub/Sub message ids of the dead letters republished
	moved := 0
	for {
		resp, err := subs.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: redrivePull})
		if err != nil {
			return moved, Fail("Redrive", fmt.Errorf("pull %s: %w", deadLetterSub, err))
		}
		if len(resp.ReceivedMessages) == 0 {
			return moved, nil
		}
		// Each publish request is acknowledged once it succeeded: a later
		// one failing must not hand back dead letters already republished,
		// which the next redrive would publish a second time.
		ackOf := make(map[*pubsubpb.PubsubMessage]string, len(resp.ReceivedMessages))
		var out []*pubsubpb.PubsubMessage
		var sizes []int
		var back []string
		for _, r := range resp.ReceivedMessages {
			if seen[r.Message.MessageId] {
				back = append(back, r.AckId)
				continue
			}
			m := &pubsubpb.PubsubMessage{Data: r.Message.Data, OrderingKey: r.Message.OrderingKey,
				Attributes: maps.Clone(r.Message.Attributes)}
			maps.DeleteFunc(m.Attributes, func(name, _ string) bool { return strings.HasPrefix(name, deadLetterAttrPrefix) })
			out = append(out, m)
			sizes = append(sizes, proto.Size(m))
			ackOf[m] = r.AckId
			seen[r.Message.MessageId] = true
		}
		out, sizes = byKey(out, sizes)
		left := len(out) // out[len(out)-left:] not yet republished
		// giveBack hands back what is not republished, with the pulled
		// messages already seen.
		giveBack := func() {
			for _, m := range out[len(out)-left:] {
				back = append(back, ackOf[m])
			}
			handBack(ctx, subs, sub, back)
		}
		for batch := range requests(t.path, out, sizes) {
			if _, err := b.client.Publish(ctx, &pubsubpb.PublishRequest{Topic: t.path, Messages: batch}); err != nil {
				// Part of this request may have gone: those come again (at least once).
				giveBack()
				return moved, Fail("Redrive", fmt.Errorf("topic %s: %w", t.id, err))
			}
			left -= len(batch)
			done := make([]string, len(batch))
			for i, m := range batch {
				done[i] = ackOf[m]
			}
			// Republished, they must leave the subscription even if ctx
			// ended meanwhile (an operator's Ctrl-C), or they come again.
			if err := subs.Acknowledge(context.WithoutCancel(ctx), &pubsubpb.AcknowledgeRequest{Subscription: sub, AckIds: done}); err != nil {
				giveBack()
				return moved, Fail("Redrive", fmt.Errorf("acknowledge %s (republished, so they may come twice): %w", deadLetterSub, err))
			}
			moved += len(batch)
		}
		if len(back) > 0 {
			handBack(ctx, subs, sub, back)
			return moved, nil
		}
	}
}

// handBack makes pulled messages deliverable again at once rather than
// when their ack deadline passes; should that fail, the deadline still
// brings them back.
func handBack(ctx context.Context, subs *vkit.SubscriptionAdminClient, sub string, ackIDs []string) {
	if len(ackIDs) == 0 {
		return
	}
	_ = subs.ModifyAckDeadline(context.WithoutCancel(ctx), &pubsubpb.ModifyAckDeadlineRequest{Subscription: sub, AckIds: ackIDs})
}

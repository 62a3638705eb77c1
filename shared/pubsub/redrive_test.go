package pubsub

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub/push"
)

// pullAll pulls what subscription holds on the fake, acknowledging it
// when ack is set and handing it back at once otherwise.
func pullAll(t *testing.T, subs *vkit.SubscriptionAdminClient, path string, ack bool) []*pubsubpb.ReceivedMessage {
	t.Helper()
	ctx := context.Background()
	resp, err := subs.Pull(ctx, &pubsubpb.PullRequest{Subscription: path, MaxMessages: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range resp.ReceivedMessages {
		ids = append(ids, m.AckId)
	}
	if len(ids) > 0 && ack {
		err = subs.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: path, AckIds: ids})
	} else if len(ids) > 0 {
		err = subs.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{Subscription: path, AckIds: ids})
	}
	if err != nil {
		t.Fatal(err)
	}
	return resp.ReceivedMessages
}

// TestRedriveRepublishesDeadLettersOnce dead-letters messages on the fake
// (every delivery refused until Pub/Sub moves them to the dead-letter
// topic), redrives the topic and finds each on the topic's subscription
// again under its playplane id, with its attributes and trace context and
// without the dead-letter attributes Pub/Sub adds, at its first delivery;
// the dead-letter subscription is empty after, so a second redrive
// republishes nothing. While the topic cannot be published to, a redrive
// fails and acknowledges nothing: the dead letters stay.
func TestRedriveRepublishesDeadLettersOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBusAt(t, gcpemu.PubSub(t), Config{MaxDeliveryAttempts: 5, RetryBackoff: 0}, nil, "beats")
	subs, err := b.subscriptionAdmin()
	if err != nil {
		t.Fatal(err)
	}
	n, err := b.names("beats")
	if err != nil {
		t.Fatal(err)
	}
	main, dlq := b.subscriptionPath(n.subscription), b.subscriptionPath(n.deadLetterSubscription)
	trace, _ := playback.ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	sent := []playback.Message{
		{ID: "msg_a", Data: []byte("a"), OrderingKey: "k1", Trace: trace, Attributes: map[string]string{"x": "1"}},
		{ID: "msg_b", Data: []byte("b"), OrderingKey: "k2"},
	}
	if err := b.Publish(ctx, "beats", sent...); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pullAll(t, subs, main, false) // refused: delivered again until dead-lettered
		if len(pullAll(t, subs, dlq, false)) == len(sent) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fake never dead-lettered the messages")
		}
	}
	// The fake never removes a message it dead-lettered from the
	// subscription (its ack of it takes the message id for the ack id) and
	// dead-letters it again on every tick: only without the subscription
	// are the dead letters the test's to count.
	if err := subs.DeleteSubscription(ctx, &pubsubpb.DeleteSubscriptionRequest{Subscription: main}); err != nil {
		t.Fatal(err)
	}
	// What Pub/Sub adds to a message it dead-letters (the fake does not).
	if _, err := b.client.Publish(ctx, &pubsubpb.PublishRequest{Topic: b.topicPath(n.deadLetter), Messages: []*pubsubpb.PubsubMessage{{
		Data: []byte("c"), Attributes: map[string]string{push.AttrID: "msg_c",
			"CloudPubSubDeadLetterSourceDeliveryCount": "5", "CloudPubSubDeadLetterSourceSubscription": n.subscription},
	}}}); err != nil {
		t.Fatal(err)
	}

	if err := b.client.DeleteTopic(ctx, &pubsubpb.DeleteTopicRequest{Topic: b.topicPath(n.topic)}); err != nil {
		t.Fatal(err)
	}
	// "": the dead-letter subscription EnsureTopics made, named as the
	// stacks name theirs.
	if got, err := b.Redrive(ctx, "beats", ""); err == nil {
		t.Fatalf("Redrive to a deleted topic = %d, nil; want an error", got)
	}
	if _, err := b.client.CreateTopic(ctx, &pubsubpb.Topic{Name: b.topicPath(n.topic)}); err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureTopics(ctx, "beats"); err != nil {
		t.Fatal(err)
	}

	got, err := b.Redrive(ctx, "beats", "")
	if err != nil || got != 3 {
		t.Fatalf("Redrive = %d, %v; want 3, nil (the failed redrive must have left all three)", got, err)
	}
	if again, err := b.Redrive(ctx, "beats", ""); err != nil || again != 0 {
		t.Fatalf("second Redrive = %d, %v; want 0, nil", again, err)
	}
	byID := map[string]*pubsubpb.ReceivedMessage{}
	for _, m := range pullAll(t, subs, main, true) {
		id := m.Message.Attributes[push.AttrID]
		if byID[id] != nil {
			t.Errorf("message %s redriven twice", id)
		}
		byID[id] = m
	}
	if len(byID) != 3 {
		t.Fatalf("redriven %d messages, want msg_a, msg_b and msg_c", len(byID))
	}
	a := byID["msg_a"]
	if a == nil || string(a.Message.Data) != "a" || a.Message.OrderingKey != "k1" || a.Message.Attributes["x"] != "1" ||
		a.Message.Attributes[playback.TraceParentAttribute] != trace.TraceParent() || a.DeliveryAttempt != 1 {
		t.Errorf("msg_a redriven as %v, want its data, ordering key, attributes and trace at attempt 1", a)
	}
	for id, m := range byID {
		for name := range m.Message.Attributes {
			if len(name) >= len(deadLetterAttrPrefix) && name[:len(deadLetterAttrPrefix)] == deadLetterAttrPrefix {
				t.Errorf("%s redriven with Pub/Sub's dead-letter attribute %s", id, name)
			}
		}
	}
	if left := pullAll(t, subs, dlq, false); len(left) != 0 {
		t.Errorf("dead-letter subscription still holds %d messages", len(left))
	}
}

// TestRedriveAcknowledgesWhatItRepublishedBeforeAFailure redrives dead
// letters of two ordering keys, which go in two publish requests, while
// the second request fails: the first one's message, published, must be
// acknowledged in the dead-letter subscription, so that the redrive that
// follows the failure republishes only the other one, and each reaches
// the topic once.
func TestRedriveAcknowledgesWhatItRepublishedBeforeAFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pubs := &publishes{}
	b := newBusAt(t, gcpemu.PubSub(t), Config{MaxDeliveryAttempts: 5}, []option.ClientOption{pubs.option()}, "beats")
	subs, err := b.subscriptionAdmin()
	if err != nil {
		t.Fatal(err)
	}
	n, err := b.names("beats")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ id, key string }{{"msg_a", "k1"}, {"msg_b", "k2"}} {
		if _, err := b.client.Publish(ctx, &pubsubpb.PublishRequest{Topic: b.topicPath(n.deadLetter), Messages: []*pubsubpb.PubsubMessage{{
			Data: []byte(m.id), OrderingKey: m.key, Attributes: map[string]string{push.AttrID: m.id},
		}}}); err != nil {
			t.Fatal(err)
		}
	}
	pubs.mu.Lock()
	before := len(pubs.attempts)
	pubs.fault = func(attempt int, _ *pubsubpb.PublishRequest) error {
		if attempt > before+1 { // the fake pulls in no set order: whichever key goes second
			return status.Error(codes.InvalidArgument, "injected")
		}
		return nil
	}
	pubs.mu.Unlock()
	if got, err := b.Redrive(ctx, "beats", n.deadLetterSubscription); err == nil {
		t.Fatalf("Redrive with its second publish failing = %d, nil; want an error", got)
	}
	pubs.mu.Lock()
	pubs.fault = nil
	pubs.mu.Unlock()
	if got, err := b.Redrive(ctx, "beats", n.deadLetterSubscription); err != nil || got != 1 {
		t.Errorf("Redrive after the failure = %d, %v; want 1 (the one not republished), nil", got, err)
	}
	count := map[string]int{}
	for {
		got := pullAll(t, subs, b.subscriptionPath(n.subscription), true)
		if len(got) == 0 {
			break
		}
		for _, m := range got {
			count[m.Message.Attributes[push.AttrID]]++
		}
	}
	if count["msg_a"] != 1 || count["msg_b"] != 1 {
		t.Errorf("republished %v, want msg_a and msg_b once each", count)
	}
}

// TestRedriveAcknowledgesWhatItRepublishedWhenCancelled cancels a redrive
// (an operator's Ctrl-C) just after Pub/Sub took its publish: the dead
// letter is on the topic, so it must be gone from the dead-letter
// subscription too, or the next redrive publishes it a second time.
func TestRedriveAcknowledgesWhatItRepublishedWhenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelAfterPublish atomic.Bool
	after := option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if _, ok := req.(*pubsubpb.PublishRequest); ok && err == nil && cancelAfterPublish.Load() {
			cancel()
		}
		return err
	}))
	srv := gcpemu.PubSubServer(t)
	b := newBusAt(t, srv.Addr, Config{MaxDeliveryAttempts: 5}, []option.ClientOption{after}, "beats")
	subs, err := b.subscriptionAdmin()
	if err != nil {
		t.Fatal(err)
	}
	n, err := b.names("beats")
	if err != nil {
		t.Fatal(err)
	}
	dead, err := b.client.Publish(ctx, &pubsubpb.PublishRequest{Topic: b.topicPath(n.deadLetter), Messages: []*pubsubpb.PubsubMessage{{
		Data: []byte("a"), Attributes: map[string]string{push.AttrID: "msg_a"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	cancelAfterPublish.Store(true)
	_, _ = b.Redrive(ctx, "beats", n.deadLetterSubscription) // cancelled: its answer may be an error
	// Unacknowledged, the dead letter would come back when its lease ends
	// and the next redrive would publish it again.
	if m := srv.Message(dead.MessageIds[0]); m == nil || m.Acks == 0 {
		t.Errorf("the republished dead letter was not acknowledged in the dead-letter subscription: %+v", m)
	}
	count := 0
	for {
		got := pullAll(t, subs, b.subscriptionPath(n.subscription), true)
		if len(got) == 0 {
			break
		}
		count += len(got)
	}
	if count != 1 {
		t.Errorf("msg_a reached the topic %d times, want 1", count)
	}
}

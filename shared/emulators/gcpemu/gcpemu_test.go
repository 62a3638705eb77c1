package gcpemu_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/emulators/internal/dialtest"
)

func TestPubSub(t *testing.T) {
	t.Parallel()
	hostPort := gcpemu.PubSub(t)

	ctx := t.Context()
	const project = "playplane-test"
	client, err := pubsub.NewClient(ctx, project, gcpemu.PubSubClientOptions(hostPort)...)
	if err != nil {
		t.Fatalf("pubsub.NewClient: %v", err)
	}
	t.Cleanup(func() { client.Close() })

	topic, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/heartbeats"})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	sub, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:  "projects/" + project + "/subscriptions/heartbeats-pull",
		Topic: topic.GetName(),
	})
	if err != nil {
		t.Fatalf("CreateSubscription: %v", err)
	}

	publisher := client.Publisher(topic.GetName())
	id, err := publisher.Publish(ctx, &pubsub.Message{Data: []byte("beat"), Attributes: map[string]string{"session": "s1"}}).Get(ctx)
	publisher.Stop()
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}

	receiveCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	received := make(chan *pubsub.Message, 1)
	err = client.Subscriber(sub.GetName()).Receive(receiveCtx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		select {
		case received <- m:
			cancel()
		default:
		}
	})
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	var got *pubsub.Message
	select {
	case got = <-received:
	default:
		t.Fatal("Receive: no message within 30s")
	}
	if got.ID != id || string(got.Data) != "beat" || got.Attributes["session"] != "s1" {
		t.Fatalf("received id=%s data=%q attrs=%v, want id=%s data=beat session=s1", got.ID, got.Data, got.Attributes, id)
	}
}

func TestStartPubSubGivesEachCallerItsOwnFake(t *testing.T) {
	t.Parallel()
	first, stopFirst, err := gcpemu.Start(t.Context(), emulators.PubSubService)
	if err != nil {
		t.Fatal(err)
	}
	second, stopSecond, err := gcpemu.Start(t.Context(), emulators.PubSubService)
	if err != nil {
		stopFirst()
		t.Fatal(err)
	}
	defer stopSecond()
	if first == second {
		t.Fatalf("both callers got %s", first)
	}
	stopFirst()
	stopFirst()
	if dialtest.AcceptedEvery(first, 3) {
		t.Fatalf("%s still accepts connections after stop", first)
	}
	if !dialtest.Dials(second) {
		t.Fatalf("stopping one fake stopped the other at %s", second)
	}
}

// Every other name goes to emulators.Start, which rejects what it does not
// serve.
func TestStartPassesOtherNamesOn(t *testing.T) {
	t.Parallel()
	_, _, err := gcpemu.Start(t.Context(), "cassandra")
	if !errors.Is(err, emulators.ErrUnknownService) {
		t.Fatalf("Start(cassandra): err = %v, want emulators.ErrUnknownService", err)
	}
}

// TestPubSubRefusesMixedOrderingKeys: the fake refuses, as Pub/Sub does, a
// publish request whose messages have different ordering keys (a key and
// none count as different), and takes one key, or none, per request.
func TestPubSubRefusesMixedOrderingKeys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const project = "playplane-test"
	client, err := pubsub.NewClient(ctx, project, gcpemu.PubSubClientOptions(gcpemu.PubSub(t))...)
	if err != nil {
		t.Fatalf("pubsub.NewClient: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	topic, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/keys"})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	msg := func(key string) *pubsubpb.PubsubMessage {
		return &pubsubpb.PubsubMessage{Data: []byte("x"), OrderingKey: key}
	}
	for _, tc := range []struct {
		name string
		msgs []*pubsubpb.PubsubMessage
		want codes.Code
	}{
		{name: "one key", msgs: []*pubsubpb.PubsubMessage{msg("a"), msg("a")}, want: codes.OK},
		{name: "no key", msgs: []*pubsubpb.PubsubMessage{msg(""), msg("")}, want: codes.OK},
		{name: "two keys", msgs: []*pubsubpb.PubsubMessage{msg("a"), msg("b")}, want: codes.FailedPrecondition},
		{name: "a key and none", msgs: []*pubsubpb.PubsubMessage{msg(""), msg("a")}, want: codes.FailedPrecondition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{Topic: topic.GetName(), Messages: tc.msgs})
			if got := status.Code(err); got != tc.want {
				t.Fatalf("Publish: %v, want code %v", err, tc.want)
			}
		})
	}
}

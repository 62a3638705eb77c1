package gcpemu_test

import (
	"testing"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/playplane/playplane/shared/emulators/gcpemu"
)

// The fake in a process of its own serves the client, and Clear drops what
// it holds: a message published before it is not delivered, one after is.
func TestPubSubProcess(t *testing.T) {
	t.Parallel()
	c := gcpemu.PubSubProcess(t)
	ctx := t.Context()
	const project = "playplane-test"
	client, err := pubsub.NewClient(ctx, project, gcpemu.PubSubClientOptions(c.Addr)...)
	if err != nil {
		t.Fatalf("pubsub.NewClient: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	topic, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/heartbeats"})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	sub, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: "projects/" + project + "/subscriptions/heartbeats-pull", Topic: topic.GetName()})
	if err != nil {
		t.Fatalf("CreateSubscription: %v", err)
	}
	publish := func(data string) {
		if _, err := client.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{Topic: topic.GetName(),
			Messages: []*pubsubpb.PubsubMessage{{Data: []byte(data)}}}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	publish("before")
	c.Clear(t)
	publish("after")
	out, err := client.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub.GetName(), MaxMessages: 10})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	var got []string
	for _, m := range out.GetReceivedMessages() {
		got = append(got, string(m.GetMessage().GetData()))
	}
	if len(got) != 1 || got[0] != "after" {
		t.Fatalf("pulled %q after Clear, want [after]", got)
	}
}

package pubsub

import (
	"context"
	"maps"
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/sethvargo/go-envconfig"
	"google.golang.org/api/iterator"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
)

// TestDeadLetterNamesAreTheStacks: the stacks (infra/stack, held there to
// catalog.DeadLetterName) keep topic T's dead letters in a subscription
// named as T's dead-letter topic. EnsureTopics must lay out the same
// names, and Subscribe of T's dead letters and Redrive's default must ask
// for that subscription, or neither finds a deployed stack's dead letters
// (nor, run against a deployed stack, the other way round), with the
// bus's defaults as Config leaves them and as the environment does.
func TestDeadLetterNamesAreTheStacks(t *testing.T) {
	t.Parallel()
	const prefix, topic = "pp-", "beats"
	fromEnv := func(t *testing.T) Config {
		var cfg Config
		if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{
			Target: &cfg, Lookuper: envconfig.MapLookuper(map[string]string{"PUBSUB_TOPIC_PREFIX": prefix}),
		}); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) Config
	}{
		{name: "config defaults", cfg: func(*testing.T) Config { return Config{TopicPrefix: prefix} }},
		{name: "environment defaults", cfg: fromEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := newBusAt(t, gcpemu.PubSub(t), tc.cfg(t), nil, topic)
			deadLetter := catalog.DeadLetterName(prefix + topic)
			subs, err := b.subscriptionAdmin()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{} // subscription id -> topic id
			it := subs.ListSubscriptions(ctx, &pubsubpb.ListSubscriptionsRequest{Project: "projects/" + testProject})
			for {
				s, err := it.Next()
				if err == iterator.Done {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got[s.Name[len(b.subscriptionPath("")):]] = s.Topic[len(b.topicPath("")):]
			}
			want := map[string]string{prefix + topic + b.Config().SubscriptionSuffix: prefix + topic, deadLetter: deadLetter}
			if !maps.Equal(got, want) {
				t.Errorf("EnsureTopics made subscriptions (id: topic) %v, want %v", got, want)
			}
			if path, err := b.Subscription(topic + b.Config().DeadLetterSuffix); err != nil || path != b.subscriptionPath(deadLetter) {
				t.Errorf("Subscription(%q) = %q, %v; want %s", topic+b.Config().DeadLetterSuffix, path, err, b.subscriptionPath(deadLetter))
			}
			// What a process reading the topic without a Bus (the GCP
			// runner's push bridge) asks for is what EnsureTopics made.
			topicID, subID, err := tc.cfg(t).Pull(topic)
			if err != nil || got[subID] != topicID || topicID != prefix+topic {
				t.Errorf("Config.Pull(%q) = %q, %q, %v; EnsureTopics made %v", topic, topicID, subID, err, got)
			}
		})
	}
}

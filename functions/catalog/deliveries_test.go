package catalog_test

import (
	"context"
	"testing"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub"
	"github.com/playplane/playplane/shared/sqs"
)

// The deploy code dead-letters after catalog.MaxDeliveryAttempts (the SQS
// redrive policy, the Pub/Sub dead-letter policy), while a consumer takes
// its last delivery from its bus's own configuration
// (playback.DeliveryLimiter: SQS_MAX_RECEIVE_COUNT,
// PUBSUB_MAX_DELIVERY_ATTEMPTS, membus' default), which no deploy sets. A
// consumer that parks an event at its last delivery must see the count the
// queue dead-letters at, so each bus's default is held to the catalogue's.
func TestBusDefaultsAreTheDeployedDeliveryAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fromEnv := func(t *testing.T, cfg any) {
		t.Helper()
		if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: envconfig.MapLookuper(nil)}); err != nil {
			t.Fatalf("envconfig: %v", err)
		}
	}
	tests := []struct {
		name string
		bus  func(t *testing.T) playback.DeliveryLimiter
	}{
		{name: "sqs", bus: func(t *testing.T) playback.DeliveryLimiter {
			var cfg sqs.Config
			fromEnv(t, &cfg)
			b, err := sqs.NewDeferred(ctx, cfg, func() *awssqs.Client { return nil })
			if err != nil {
				t.Fatalf("sqs.NewDeferred: %v", err)
			}
			return b
		}},
		{name: "pubsub", bus: func(t *testing.T) playback.DeliveryLimiter {
			var cfg pubsub.Config
			fromEnv(t, &cfg)
			b, err := pubsub.New(ctx, cfg)
			if err != nil {
				t.Fatalf("pubsub.New: %v", err)
			}
			return b
		}},
		{name: "membus", bus: func(*testing.T) playback.DeliveryLimiter { return membus.New(membus.Config{}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.bus(t).MaxDeliveryAttempts(); got != catalog.MaxDeliveryAttempts {
				t.Errorf("%s dead-letters by default after %d deliveries; the deploy after catalog.MaxDeliveryAttempts = %d",
					tc.name, got, catalog.MaxDeliveryAttempts)
			}
		})
	}
}

// Package pubsubbus makes the Pub/Sub bus of a Cloud Functions process
// (gcpfn.Options.Bus). Only the deploy units of functions that publish
// import it (functions/gcp/source writes their root file so), and only
// they link the generated Pub/Sub clients (shared/pubsub, never the
// high-level client and its OpenCensus: see shared/pubsub/pull).
package pubsubbus

import (
	"context"
	"fmt"

	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/pubsub"
)

var _ gcpfn.BusMaker = Make

// Config returns the bus configuration: the PUBSUB_* variables, with the
// project and topic prefix that PUBSUB_TOPICS implies. The Pulumi stack
// sets PUBSUB_TOPICS to "heartbeats:projects/P/topics/stack-heartbeats,...";
// the bus publishes to PREFIX+topic in one project, so every entry must
// share the project and the prefix.
func Config(ctx context.Context, r *gcpfn.Resources) (pubsub.Config, error) {
	var cfg pubsub.Config
	if err := r.Process(ctx, &cfg); err != nil {
		return cfg, err
	}
	if err := pubsub.ApplyTopicSpec(&cfg, r.Lookup); err != nil {
		return cfg, fmt.Errorf("pubsubbus.Config: %w", err)
	}
	return cfg, nil
}

// Make returns the bus of Config over r's Pub/Sub client options. It makes
// no network call: the client connects on its first RPC.
func Make(ctx context.Context, r *gcpfn.Resources) (gcpfn.Bus, error) {
	cfg, err := Config(ctx, r)
	if err != nil {
		return nil, err
	}
	b, err := pubsub.New(ctx, cfg, r.PubSubOptions()...)
	if err != nil {
		return nil, err
	}
	return b, nil
}

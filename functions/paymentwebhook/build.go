package paymentwebhook

import (
	"context"

	"github.com/playplane/playplane/shared/fnenv"
)

// Build makes paymentwebhook over env's store and bus: the one
// construction its Lambda mains (over DynamoDB and SQS, and the hybrid
// one over Firestore and Pub/Sub), the Cloud Functions deploy unit and the
// local runner share.
func Build(ctx context.Context, env fnenv.Env) (*Server, error) {
	var cfg Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	store, err := env.Store(ctx)
	if err != nil {
		return nil, err
	}
	bus, err := env.Bus(ctx)
	if err != nil {
		return nil, err
	}
	return New(cfg, Deps{Store: store, Bus: bus, Now: env.Now})
}

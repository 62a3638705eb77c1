// Command lambda is paymentwebhook on AWS Lambda: the Stripe webhook, the
// stripe-events consumer, and the scheduled sweep and reconciliation.
package main

import (
	"context"

	"github.com/playplane/playplane/functions/paymentwebhook"
	"github.com/playplane/playplane/shared/awsfn"
)

func main() { awsfn.Main(build) }

func build(ctx context.Context, env *awsfn.Env) (awsfn.Function, error) {
	var cfg paymentwebhook.Config
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
	return paymentwebhook.New(cfg, paymentwebhook.Deps{Store: store, Bus: bus, Now: env.Now})
}

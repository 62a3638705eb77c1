// Command lambda is the admin API on AWS Lambda over DynamoDB, behind the
// HTTP API's JWT authorizer (the function itself requires the admin claim).
package main

import (
	"context"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/awsfn"
)

func main() { awsfn.Main(build) }

func build(ctx context.Context, env *awsfn.Env) (awsfn.Function, error) {
	var cfg admin.Config
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
	identity, err := env.Identity(ctx)
	if err != nil {
		return nil, err
	}
	return admin.New(cfg, admin.Deps{Store: store, Identity: identity, Bus: bus, Now: env.Now})
}

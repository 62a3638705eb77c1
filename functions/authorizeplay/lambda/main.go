// Command lambda is authorizeplay on AWS Lambda: its HTTP API routes and its
// entitlement-changed consumer over DynamoDB, verified by the HTTP API's JWT
// authorizer.
package main

import (
	"context"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/awsfn"
)

func main() { awsfn.Main(build) }

func build(ctx context.Context, env *awsfn.Env) (awsfn.Function, error) {
	var cfg authorizeplay.Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	store, err := env.Store(ctx)
	if err != nil {
		return nil, err
	}
	identity, err := env.Identity(ctx)
	if err != nil {
		return nil, err
	}
	tokens, err := env.Keyring()
	if err != nil {
		return nil, err
	}
	return authorizeplay.New(cfg, authorizeplay.Deps{Store: store, Identity: identity, Tokens: tokens, Now: env.Now})
}

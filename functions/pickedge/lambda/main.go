// Command lambda is pickedge on AWS Lambda: edge ranking and steering
// manifests for a playback token, edge health reports queued on SQS and
// their consumer, over DynamoDB.
package main

import (
	"context"

	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/awsfn"
)

func main() { awsfn.Main(build) }

func build(ctx context.Context, env *awsfn.Env) (awsfn.Function, error) {
	var cfg pickedge.Config
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
	tokens, err := env.Keyring()
	if err != nil {
		return nil, err
	}
	return pickedge.New(cfg, pickedge.Deps{Store: store, Bus: bus, Tokens: tokens, ZoneStore: store, Log: env.Log, Now: env.Now})
}

// Command lambda is signurl on AWS Lambda: it turns a playback token into
// CloudFront signed URLs and cookies, reading sessions from DynamoDB.
package main

import (
	"context"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/awsfn"
)

func main() { awsfn.Main(build) }

func build(ctx context.Context, env *awsfn.Env) (awsfn.Function, error) {
	var cfg signurl.Config
	var keys signurl.KeyConfig
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	if err := env.Process(ctx, &keys); err != nil {
		return nil, err
	}
	signers, err := signurl.LoadSigners(keys, env.Lookup)
	if err != nil {
		return nil, err
	}
	store, err := env.Store(ctx)
	if err != nil {
		return nil, err
	}
	tokens, err := env.Keyring()
	if err != nil {
		return nil, err
	}
	return signurl.New(cfg, signurl.Deps{Store: store, Tokens: tokens, Signers: signers, Now: env.Now})
}

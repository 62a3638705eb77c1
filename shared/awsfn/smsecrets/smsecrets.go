// Package smsecrets gives a Lambda the secrets its environment names by
// ARN (awsfn.SecretARNs), read from Secrets Manager through an
// awssecrets.Cache. A Lambda main whose function reads secrets imports it
// for that effect:
//
//	import _ "github.com/playplane/playplane/shared/awsfn/smsecrets" // the function reads secrets
//
// The others do not, and so do not link the Secrets Manager client, whose
// endpoint tables and operation schemas are built at package init (~0.9 ms
// of every cold start).
package smsecrets

import (
	"context"

	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/awssecrets"
)

func init() { awsfn.RegisterSecrets(New) }

// New is the cache of env's secrets: the adapter's SECRETS_* settings
// (awssecrets.Config), and a client made on the first read with the
// clients' AWS configuration.
func New(ctx context.Context, env *awsfn.Env) (awsfn.SecretReader, error) {
	var cfg awssecrets.Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	cache, err := awssecrets.New(cfg, func(ctx context.Context) (awssecrets.Client, error) {
		awsCfg, err := env.AWS(ctx)
		if err != nil {
			return nil, err
		}
		return awssecrets.ClientFromConfig(cfg, awsCfg), nil
	}, awssecrets.Options{Log: env.Log(), Now: env.Now})
	if err != nil {
		// Not the (*awssecrets.Cache)(nil): a typed nil in the interface
		// would pass every nil check downstream.
		return nil, err
	}
	return cache, nil
}

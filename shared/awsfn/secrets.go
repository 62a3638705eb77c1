package awsfn

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/awssecrets"
)

// SecretARNs maps each secret variable a function reads to the variable
// that names, instead, the Secrets Manager secret holding its value (what
// the SAM template and the Pulumi stack set). A function whose environment
// names secrets this way is built on its first invocation, with the
// values read from Secrets Manager through an awssecrets.Cache, and built
// again when a refresh finds a rotated value: the values never sit in the
// Lambda's configuration, where lambda:GetFunctionConfiguration shows them,
// and a rotation needs no redeploy.
var SecretARNs = map[string]string{
	EnvPlaybackTokenKeys:     "PLAYBACK_TOKEN_KEYS_SECRET_ARN",
	"STRIPE_WEBHOOK_SECRETS": "STRIPE_WEBHOOK_SECRETS_SECRET_ARN",
	"STRIPE_API_KEY":         "STRIPE_API_KEY_SECRET_ARN",
	"EDGE_HMAC_KEYS":         "EDGE_HMAC_KEYS_SECRET_ARN",
	"CLOUDFRONT_PRIVATE_KEY": "CLOUDFRONT_PRIVATE_KEY_SECRET_ARN",
}

// secretRefs returns variable -> secret ARN for the secrets lookup names.
func secretRefs(lookup envconfig.Lookuper) map[string]string {
	refs := map[string]string{}
	for name, refVar := range SecretARNs {
		if arn, ok := lookup.Lookup(refVar); ok && arn != "" {
			refs[name] = arn
		}
	}
	return refs
}

// secretBuild builds the function with its secrets, on first use and again
// after a rotation.
type secretBuild struct {
	build   Builder
	opts    Options
	refs    map[string]string
	secrets *awssecrets.Cache
	queues  map[string]string

	mu     sync.Mutex
	h      *Handler
	values map[string]string
}

func newSecretBuild(ctx context.Context, build Builder, opts Options, refs map[string]string) (*secretBuild, error) {
	env := NewEnv(opts)
	var cfg awssecrets.Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	queues, err := env.QueueURLs(ctx)
	if err != nil {
		return nil, err
	}
	cache, err := awssecrets.New(cfg, func(ctx context.Context) (awssecrets.Client, error) {
		awsCfg, err := env.AWS(ctx)
		if err != nil {
			return nil, err
		}
		return awssecrets.ClientFromConfig(cfg, awsCfg), nil
	}, awssecrets.Options{Log: env.Log, Now: env.Now})
	if err != nil {
		return nil, err
	}
	return &secretBuild{build: build, opts: opts, refs: refs, secrets: cache, queues: queues}, nil
}

// handler returns the function built with the current secret values. A
// refresh that fails, or a rebuild that fails, keeps the function in hand:
// only a function never built yet fails the invocation (and the next one
// tries again).
func (s *secretBuild) handler(ctx context.Context) (*Handler, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	values := make(map[string]string, len(s.refs))
	for _, name := range slices.Sorted(maps.Keys(s.refs)) {
		v, err := s.secrets.Get(ctx, s.refs[name])
		if err != nil {
			return nil, fmt.Errorf("awsfn: secret %s: %w", name, err)
		}
		values[name] = v
	}
	if s.h != nil && maps.Equal(values, s.values) {
		return s.h, nil
	}
	opts := s.opts
	base := opts.Lookuper
	if base == nil {
		base = envconfig.OsLookuper()
	}
	opts.Lookuper = envconfig.MultiLookuper(envconfig.MapLookuper(values), base)
	// The clients outlive this invocation; its deadline must not end them.
	h, err := buildHandler(context.WithoutCancel(ctx), s.build, opts, s.queues)
	if err != nil {
		if s.h != nil {
			NewEnv(s.opts).Log.ErrorContext(ctx, "rebuilding with rotated secrets failed; keeping the previous build", "err", err)
			return s.h, nil
		}
		return nil, err
	}
	s.h, s.values = h, values
	return h, nil
}

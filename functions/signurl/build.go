package signurl

import (
	"context"

	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/steering/ranker"
)

// stackCDN is how the Pulumi stacks name the delivery CDN and its base URL;
// an explicit SIGNURL_CDN_BASES wins.
type stackCDN struct {
	CDN     string `env:"CDN"`
	BaseURL string `env:"CDN_BASE_URL"`
}

// Build makes signurl over env's store and playback token keys, starting
// sessions on the steering server's first choice (ranker.Build) where it
// signs for more than one CDN, signing
// for the CDNs whose keys env holds (KeyConfig: CloudFront on AWS and in
// the hybrid stack, Cloud CDN on GCP, both locally): the one construction
// its Lambda main, the Cloud Functions deploy unit and the local runner
// share.
func Build(ctx context.Context, env fnenv.Env) (*Server, error) {
	var cfg Config
	var keys KeyConfig
	var stack stackCDN
	for _, c := range []any{&cfg, &keys, &stack} {
		if err := env.Process(ctx, c); err != nil {
			return nil, err
		}
	}
	if len(cfg.CDNBases) == 0 && stack.CDN != "" && stack.BaseURL != "" {
		cfg.CDNBases = map[string]string{stack.CDN: stack.BaseURL}
	}
	signers, err := LoadSigners(keys, env.Lookup)
	if err != nil {
		return nil, err
	}
	for kind, name := range cfg.SignerNames {
		if signer, ok := signers[kind]; ok {
			delete(signers, kind)
			signers[name] = signer
		}
	}
	store, err := env.Store(ctx)
	if err != nil {
		return nil, err
	}
	tokens, err := env.Keyring()
	if err != nil {
		return nil, err
	}
	deps := Deps{Store: store, Tokens: tokens, Signers: signers, Now: env.Now}
	if len(cfg.CDNBases) < 2 {
		// One CDN (every deployed stack: catalog.Delivery): nothing to
		// rank, so no edge table reloads and no zone polling either.
		return New(cfg, deps)
	}
	// The steering server's own ranking, over the same edge table and
	// variables, so a session starts where its first steering answer
	// would put it.
	rk, err := ranker.Build(ctx, env)
	if err != nil {
		return nil, err
	}
	deps.Steering = rk
	s, err := New(cfg, deps)
	if err != nil {
		_ = rk.Close()
		return nil, err
	}
	return s, nil
}

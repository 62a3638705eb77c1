package authorizeplay

import (
	"context"

	"github.com/playplane/playplane/shared/fnenv"
)

// Build makes authorizeplay over env's store, caller identity and playback
// token keys: the one construction its Lambda main, the Cloud Functions
// deploy unit and the local runner share.
func Build(ctx context.Context, env fnenv.Env) (*Server, error) {
	var cfg Config
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
	return New(cfg, Deps{Store: store, Identity: identity, Tokens: tokens, Now: env.Now})
}

package pickedge

import (
	"context"

	"github.com/playplane/playplane/shared/fnenv"
)

// Build makes pickedge over env's store (also its coverage zone versions),
// bus and playback token keys: the one construction its Lambda main, the
// Cloud Functions deploy unit and the local runner share.
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
	tokens, err := env.Keyring()
	if err != nil {
		return nil, err
	}
	return New(cfg, Deps{Store: store, Bus: bus, Tokens: tokens, ZoneStore: store, Log: env.Log(), Now: env.Now})
}

package admin

import (
	"context"

	"github.com/playplane/playplane/shared/fnenv"
)

// Build makes the admin API over env's store and caller identity: the one
// construction its Lambda main, the Cloud Functions deploy unit and the
// local runner share.
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
	bus, err := env.Bus(ctx)
	if err != nil {
		return nil, err
	}
	deps := Deps{Store: store, Identity: identity, Bus: bus, Now: env.Now}
	views, ok, err := env.QoEViews(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		deps.QoE = views
	}
	return New(cfg, deps)
}

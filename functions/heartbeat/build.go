package heartbeat

import (
	"context"

	"github.com/playplane/playplane/shared/fnenv"
)

// Build makes heartbeat over env's store, bus, playback token keys and
// caller identity: the one construction its Lambda main, the Cloud
// Functions deploy unit and the local runner share. Where the store commits
// every write on its own (bbolt), the consumer writes each batch in one
// transaction through env.ProgressBatch.
func Build(ctx context.Context, env fnenv.Env) (*Server, error) {
	var cfg Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	store, err := env.Store(ctx)
	if err != nil {
		return nil, err
	}
	deps := Deps{Store: store, Log: env.Log(), Now: env.Now}
	batch, ok, err := env.ProgressBatch(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		deps.Batch = batch
	}
	views, ok, err := env.QoEViews(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		deps.QoE = views
	}
	leases, ok, err := env.LeaseCounter(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		deps.Leases = leases
	}
	if deps.Stream, err = env.QoEStream(ctx); err != nil {
		return nil, err
	}
	if deps.Bus, err = env.Bus(ctx); err != nil {
		return nil, err
	}
	if deps.Tokens, err = env.Keyring(); err != nil {
		return nil, err
	}
	if deps.Identity, err = env.Identity(ctx); err != nil {
		return nil, err
	}
	return New(cfg, deps)
}

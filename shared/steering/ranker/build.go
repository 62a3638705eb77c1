package ranker

import (
	"context"

	"github.com/playplane/playplane/shared/fnenv"
)

// Build makes the ranking over env's store (its edge table and coverage
// zone versions), configured from env's variables: functions/signurl's
// (functions/pickedge builds the same from the Config it also reads).
func Build(ctx context.Context, env fnenv.Env) (*Ranker, error) {
	var cfg Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	store, err := env.Store(ctx)
	if err != nil {
		return nil, err
	}
	return New(cfg, Deps{Store: store, ZoneStore: store, Log: env.Log(), Now: env.Now})
}

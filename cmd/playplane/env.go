package main

import (
	"context"

	"github.com/sethvargo/go-envconfig"
)

// processEnv fills a function's Config from the process environment.
func processEnv(ctx context.Context, cfg any) error {
	return envconfig.Process(ctx, cfg)
}

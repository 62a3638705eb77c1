// Command lambda is heartbeat on AWS Lambda: the heartbeat and progress
// routes, which publish to the heartbeats queue, and the consumer of that
// queue, over DynamoDB.
package main

import (
	"context"

	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/firehose"
	"github.com/playplane/playplane/shared/playback"
)

func main() { awsfn.Main(build) }

func build(ctx context.Context, env *awsfn.Env) (awsfn.Function, error) {
	var cfg heartbeat.Config
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
	identity, err := env.Identity(ctx)
	if err != nil {
		return nil, err
	}
	// The QoE warehouse's stream (QOE_FIREHOSE_STREAM), where the stack
	// declares one.
	var stream playback.StreamSink
	var fh firehose.Config
	if err := env.Process(ctx, &fh); err != nil {
		return nil, err
	}
	if fh.Stream != "" {
		awsCfg, err := env.AWS(ctx)
		if err != nil {
			return nil, err
		}
		if stream, err = firehose.New(fh, awsCfg); err != nil {
			return nil, err
		}
	}
	return heartbeat.New(cfg, heartbeat.Deps{Store: store, Bus: bus, Tokens: tokens, Identity: identity, Stream: stream,
		Log: env.Log, Now: env.Now})
}

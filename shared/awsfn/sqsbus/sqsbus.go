// Package sqsbus gives the functions of a Lambda the SQS bus as
// awsfn.Env.Bus. A Lambda main whose function publishes imports it for
// that effect:
//
//	import _ "github.com/playplane/playplane/shared/awsfn/sqsbus" // the function publishes
//
// The others do not, and so do not link the SQS client, whose endpoint
// tables and operation schemas are built at package init (~1 ms of every
// cold start). Consuming a queue needs no client: the event source mapping
// delivers the batches (shared/sqs/sqslambda).
package sqsbus

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/sqs"
)

func init() { awsfn.RegisterBus(New) }

// New is the SQS bus of env: the adapter's SQS_* settings, the queue URLs
// of env.QueueURLs and the clients' AWS configuration.
func New(ctx context.Context, env *awsfn.Env) (playback.Publisher, error) {
	var cfg sqs.Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	urls, err := env.QueueURLs(ctx)
	if err != nil {
		return nil, err
	}
	cfg.QueueURLs = urls
	awsCfg, err := env.AWS(ctx)
	if err != nil {
		return nil, err
	}
	// The client is made on the first publish. A failed New is returned as
	// a nil interface: its (*sqs.Bus)(nil) would otherwise reach the
	// function as a non-nil Publisher.
	bus, err := sqs.NewDeferred(ctx, cfg, func() *awssqs.Client {
		return awssqs.NewFromConfig(awsCfg, func(o *awssqs.Options) {
			if cfg.Endpoint != "" {
				o.BaseEndpoint = aws.String(cfg.Endpoint)
			}
		})
	})
	if err != nil {
		return nil, err
	}
	return bus, nil
}

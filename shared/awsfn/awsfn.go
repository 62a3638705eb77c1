// Package awsfn runs a playplane function on AWS Lambda. It builds the
// function over the AWS adapters (the DynamoDB store, the SQS bus) from the
// environment the SAM template or the Pulumi stack sets, and serves from one
// Lambda the function's API Gateway HTTP API routes (payload format 2.0),
// its SQS consumers (partial batch responses) and its scheduled jobs.
//
// A function's Lambda main is a Builder and one call:
//
//	func main() { awsfn.Main(build) }
//
// Nothing here makes a network call before the first invocation: clients are
// built from the environment, and an identity provider's keys are fetched on
// the first token that needs them. Cold starts stay short.
//
// This is a composition package: it imports the adapters, which never
// import each other.
package awsfn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Function is what every function package's Server offers.
type Function interface {
	Register(mux *http.ServeMux)
	Consumers() map[string]playback.BatchHandler
}

// Builder constructs a function over env. It runs once per execution
// environment, in Lambda's init phase.
type Builder func(ctx context.Context, env *Env) (Function, error)

// Options replace what a Lambda takes from its surroundings; the zero value
// is what Main uses.
type Options struct {
	// Lookuper reads the environment (default: the process environment).
	Lookuper envconfig.Lookuper
	// AWS is the SDK configuration of the clients (default: loaded with
	// config.LoadDefaultConfig in the region of AWS_REGION).
	AWS *aws.Config
	Log *slog.Logger
	Now func() time.Time
}

// Main builds the function and serves Lambda invocations until the
// execution environment ends. A function that cannot be built exits the
// process: Lambda reports the init failure and tries again on the next
// invocation.
func Main(build Builder) {
	log := NewLogger()
	slog.SetDefault(log)
	h, err := New(context.Background(), build, Options{Log: log})
	if err != nil {
		log.Error("lambda init failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// NewLogger is the JSON logger on stdout a Lambda logs with, at the level
// of AWS_LAMBDA_LOG_LEVEL; for mains that start Lambda themselves.
func NewLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: logLevel(os.Getenv("AWS_LAMBDA_LOG_LEVEL"))}))
}

// logLevel follows Lambda's advanced logging controls (AWS_LAMBDA_LOG_LEVEL).
func logLevel(v string) slog.Level {
	switch strings.ToUpper(v) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// New builds the function over the environment opts describe and returns
// its Lambda handler. When the environment names secrets by ARN
// (SecretARNs), the function is built on the first invocation instead,
// once its secrets are read: init stays off the network.
func New(ctx context.Context, build Builder, opts Options) (*Handler, error) {
	lookup := opts.Lookuper
	if lookup == nil {
		lookup = envconfig.OsLookuper()
	}
	if refs := secretRefs(lookup); len(refs) > 0 {
		s, err := newSecretBuild(ctx, build, opts, refs)
		if err != nil {
			return nil, fmt.Errorf("awsfn.New: %w", err)
		}
		return &Handler{secrets: s}, nil
	}
	return buildHandler(ctx, build, opts, nil)
}

// buildHandler builds the function; queues nil reads them from the env.
func buildHandler(ctx context.Context, build Builder, opts Options, queues map[string]string) (*Handler, error) {
	env := NewEnv(opts)
	fn, err := build(ctx, env)
	if envErr := env.Err(); envErr != nil {
		// The function's own complaint ("Store is required") is only the
		// consequence.
		return nil, fmt.Errorf("awsfn.New: %w", envErr)
	}
	if err != nil {
		return nil, fmt.Errorf("awsfn.New: %w", err)
	}
	if fn == nil {
		return nil, errors.New("awsfn.New: the builder returned no function")
	}
	if queues == nil {
		if queues, err = env.QueueURLs(ctx); err != nil {
			return nil, fmt.Errorf("awsfn.New: %w", err)
		}
	}
	// API Gateway answers preflights and sets the headers itself from
	// template.yaml's CorsConfiguration; the function applies the same
	// policy so a Lambda reached another way (a function URL, sam local)
	// behaves alike.
	origins, _ := env.lookup.Lookup(httpx.EnvCORSAllowedOrigins)
	cors, err := httpx.ParseCORSOrigins(origins)
	if err != nil {
		return nil, fmt.Errorf("awsfn.New: %w", err)
	}
	return newHandler(fn, queues, cors, env.Log), nil
}

// Package fnenv is the one seam between a function and the platform it runs
// on. Each function package has one Build(ctx, Env) that reads its Config
// and asks Env for its dependencies; shared/awsfn (DynamoDB, SQS, Secrets
// Manager), shared/gcpfn (Firestore, Pub/Sub, mounted secrets) and the
// local runner (bbolt, the in-process bus, dev keys) implement Env, so the
// Lambda main, the Cloud Functions deploy unit and the runner all build a
// function with the same code.
//
// The package names only ports (shared/playback, shared/auth) and links no
// adapter: a Lambda main that imports its one function and shared/awsfn
// links nothing of the other platforms.
package fnenv

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// Env hands a function's Build its configuration and dependencies. A
// getter that cannot make its dependency returns an error naming it, never
// a nil a builder could pass on (Deps fields are interfaces, where a typed
// nil is not == nil). Dependencies are made on first use and shared.
type Env interface {
	// Process fills a Config struct (env tags, go-envconfig) from the
	// environment.
	Process(ctx context.Context, cfg any) error
	// Lookup reads one variable, for configs parsed by hand (key sets with
	// env: references).
	Lookup(name string) (string, bool)
	// Store is the platform's store.
	Store(ctx context.Context) (playback.Store, error)
	// ProgressBatch is the store's batch writer where the store has one
	// (every write of the embedded bbolt file is a commit of its own);
	// ok is false, statically, on stores without it. Each platform says so
	// explicitly rather than a function finding it by a type assertion a
	// wrapper would defeat.
	ProgressBatch(ctx context.Context) (b playback.ProgressBatchStore, ok bool, err error)
	// QoEViews keeps per-view QoE where the platform keeps it in its own
	// store (the embedded bbolt file, served by GET /v1/admin/qoe); ok is
	// false, statically, where the warehouse keeps views instead.
	QoEViews(ctx context.Context) (v playback.QoEStore, ok bool, err error)
	// LeaseCounter is the store's count of held leases for the scheduled
	// gauge job (heartbeat's "leases"); ok is false, statically, where the
	// platform reads the gauge another way (the local runner counts at
	// each scrape).
	LeaseCounter(ctx context.Context) (c playback.LeaseCounter, ok bool, err error)
	// QoEStream forwards acknowledged heartbeats to the warehouse where the
	// function must send them itself (AWS: Kinesis Data Firehose when
	// QOE_FIREHOSE_STREAM is set; GCP's BigQuery subscription reads the
	// topic directly); nil when there is none.
	QoEStream(ctx context.Context) (playback.StreamSink, error)
	// Bus publishes to the platform's topics.
	Bus(ctx context.Context) (playback.Publisher, error)
	// Keyring is the playback token keys (PLAYBACK_TOKEN_KEYS).
	Keyring() (*auth.Keyring, error)
	// Identity authenticates callers' JWTs (JWT_*): on AWS it reads the
	// claims the HTTP API's authorizer checked, elsewhere it verifies the
	// token itself.
	Identity(ctx context.Context) (Authenticator, error)
	// Now is the clock the function should use.
	Now() time.Time
	// Log is the function's logger.
	Log() *slog.Logger
}

// Authenticator is a caller authenticator (the functions' Deps.Identity).
type Authenticator interface {
	Authenticate(r *http.Request) (auth.Identity, error)
}

// Function is what every function package's Server offers every platform:
// its routes and its consumers by topic. Functions with jobs also have
// Jobs() map[string]playback.Job.
type Function interface {
	Register(mux *http.ServeMux)
	Consumers() map[string]playback.BatchHandler
}

// Builder builds a function over env.
type Builder func(ctx context.Context, env Env) (Function, error)

// Erase turns a function package's Build, which returns its own *Server,
// into a Builder. An error returns a nil Function, never a typed nil.
func Erase[F Function](build func(context.Context, Env) (F, error)) Builder {
	return func(ctx context.Context, env Env) (Function, error) {
		f, err := build(ctx, env)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
}

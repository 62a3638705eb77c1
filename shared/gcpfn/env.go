package gcpfn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/sethvargo/go-envconfig"
	"google.golang.org/api/option"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/depcheck"
	"github.com/playplane/playplane/shared/firestore"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/gcpclient"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// Environment variables read here, beside the adapters' own (FIRESTORE_*,
// the bus maker's PUBSUB_*, and FIRESTORE_EMULATOR_HOST /
// PUBSUB_EMULATOR_HOST, which the client libraries honour), the caller JWT
// settings (JWT_*) and the functions' Configs.
const (
	// EnvPlaybackTokenKeys holds the playback token keys, "kid:base64key,..."
	// (a Secret Manager binding).
	EnvPlaybackTokenKeys = catalog.SecretPlaybackTokenKeys
)

// Bus is the Pub/Sub bus the functions of a process publish with.
type Bus interface {
	playback.Publisher
	Close() error
}

// BusMaker makes the bus of a process from its resources' environment
// (shared/gcpfn/pubsubbus.Make). It is an option rather than an import so
// that a deploy unit whose function publishes nothing has no bus and does
// not link the Pub/Sub client library, whose package initialisation is a
// share of every cold start.
type BusMaker func(ctx context.Context, r *Resources) (Bus, error)

// Options replace what a function takes from its surroundings; the zero
// value is what Cloud Functions uses.
type Options struct {
	// Lookuper reads the environment (default: the process environment).
	Lookuper envconfig.Lookuper
	// Log defaults to Cloud Logging structured JSON on stdout (NewLogger,
	// in the project GOOGLE_CLOUD_PROJECT names).
	Log *slog.Logger
	Now func() time.Time
	// FirestoreOptions and PubSubOptions are passed to the client
	// libraries, e.g. emulators.FirestoreClientOptions in tests that must
	// not set FIRESTORE_EMULATOR_HOST for the whole process.
	FirestoreOptions []option.ClientOption
	PubSubOptions    []option.ClientOption
	// Bus makes the bus; without it Env.Bus fails, naming the unit's
	// catalogue entry as the cause (a function that publishes must say so).
	Bus BusMaker
}

// Resources are the dependencies the functions of a process share, each
// made on first use. Making one reads the environment and makes no network
// call: the client libraries connect on their first RPC.
type Resources struct {
	lookup envconfig.Lookuper
	log    *slog.Logger
	now    func() time.Time
	fsOpts []option.ClientOption
	psOpts []option.ClientOption
	newBus BusMaker
	// silent are the tracers telemetry leaves silent (gcpclient.EnvTelemetry).
	silent []string
	// cors is CORS_ALLOWED_ORIGINS's policy, read once here: every built
	// function applies it, and the answers no function's routes give
	// (routelessCORS) on every 404 and 405 of the Router. corsErr is its
	// parse error, which fails every build.
	cors    *httpx.CORS
	corsErr error

	mu       sync.Mutex
	store    *firestore.Store
	bus      Bus
	keyring  *auth.Keyring
	identity *auth.Verifier
}

// NewResources returns resources that make nothing yet.
func NewResources(opts Options) *Resources {
	r := &Resources{lookup: opts.Lookuper, log: opts.Log, now: opts.Now,
		fsOpts: opts.FirestoreOptions, psOpts: opts.PubSubOptions, newBus: opts.Bus}
	if r.lookup == nil {
		r.lookup = envconfig.OsLookuper()
	}
	if r.log == nil {
		// The stack sets GOOGLE_CLOUD_PROJECT on every function (infra/gcpfn);
		// Cloud Functions itself sets no project variable on current runtimes.
		project, _ := r.lookup.Lookup(telemetry.EnvGoogleCloudProject)
		r.log = NewLogger(os.Stdout, slog.LevelInfo, project)
	}
	if r.now == nil {
		r.now = time.Now
	}
	tel, err := gcpclient.ReadTelemetry(r.lookup.Lookup)
	if err != nil {
		r.log.Error("client library telemetry", "err", err)
	}
	r.fsOpts = append(slices.Clip(r.fsOpts), tel.ClientOptions...)
	r.psOpts = append(slices.Clip(r.psOpts), tel.ClientOptions...)
	r.silent = tel.SilentTracers
	origins, _ := r.lookup.Lookup(httpx.EnvCORSAllowedOrigins)
	r.cors, r.corsErr = httpx.ParseCORSOrigins(origins)
	return r
}

// Log is the logger functions and consumers log with.
func (r *Resources) Log() *slog.Logger { return r.log }

// Process fills a Config struct (env tags) from the environment.
func (r *Resources) Process(ctx context.Context, cfg any) error {
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: r.lookup}); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Lookup reads one variable.
func (r *Resources) Lookup(name string) (string, bool) { return r.lookup.Lookup(name) }

// Store returns the Firestore store of FIRESTORE_PROJECT_ID (default
// GOOGLE_CLOUD_PROJECT, then the credentials' project) and
// FIRESTORE_DATABASE.
func (r *Resources) Store(ctx context.Context) (*firestore.Store, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.store != nil {
		return r.store, nil
	}
	var cfg firestore.Config
	if err := r.Process(ctx, &cfg); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s, err := firestore.New(ctx, cfg, nil, r.fsOpts...)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	r.store = s
	return s, nil
}

// PubSubOptions are the options for the Pub/Sub client library
// (Options.PubSubOptions), for the bus maker.
func (r *Resources) PubSubOptions() []option.ClientOption { return r.psOpts }

// Bus returns the bus Options.Bus makes.
func (r *Resources) Bus(ctx context.Context) (Bus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bus != nil {
		return r.bus, nil
	}
	if r.newBus == nil {
		return nil, errors.New("bus: this deploy unit has no Pub/Sub bus: its functions publish nothing (functions/catalog Publishes)")
	}
	b, err := r.newBus(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	if depcheck.Nil(b) {
		return nil, errors.New("bus: the bus maker returned no bus")
	}
	r.bus = b
	return b, nil
}

// Keyring returns the playback token keys of PLAYBACK_TOKEN_KEYS.
func (r *Resources) Keyring() (*auth.Keyring, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keyring != nil {
		return r.keyring, nil
	}
	spec, _ := r.lookup.Lookup(EnvPlaybackTokenKeys)
	if spec == "" {
		return nil, fmt.Errorf("playback tokens: %s is not set", EnvPlaybackTokenKeys)
	}
	ring, err := auth.ParseKeyring(spec)
	if err != nil {
		// ParseKeyring's errors name keys, never their bytes.
		return nil, fmt.Errorf("playback tokens: %s: %w", EnvPlaybackTokenKeys, err)
	}
	r.keyring = ring
	return ring, nil
}

// Identity returns the caller JWT verifier of the JWT_* variables. Behind
// the GCP load balancer nothing has checked the token before the function
// does; the identity provider's keys are fetched on the first token that
// needs them.
func (r *Resources) Identity(ctx context.Context) (*auth.Verifier, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.identity != nil {
		return r.identity, nil
	}
	var cfg auth.VerifierConfig
	if err := r.Process(ctx, &cfg); err != nil {
		return nil, fmt.Errorf("caller identity: %w", err)
	}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		return nil, fmt.Errorf("caller identity: %w", err)
	}
	r.identity = v
	return v, nil
}

// Close releases what was made: it flushes the bus and closes the clients.
func (r *Resources) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	if r.bus != nil {
		errs = append(errs, r.bus.Close())
		r.bus = nil
	}
	if r.store != nil {
		errs = append(errs, r.store.Close())
		r.store = nil
	}
	if r.identity != nil {
		r.identity.Close()
		r.identity = nil
	}
	return errors.Join(errs...)
}

// Env hands a Builder the function's configuration and its dependencies,
// shared by the functions of the process. A getter that cannot make its
// dependency returns an error naming it and never a nil the builder could
// pass on: Deps fields are interfaces, where a (*firestore.Store)(nil) is
// not == nil.
type Env struct {
	log *slog.Logger
	res *Resources
}

var _ fnenv.Env = (*Env)(nil)

// Now is the clock the function should use.
func (e *Env) Now() time.Time { return e.res.now() }

// Log is the function's logger.
func (e *Env) Log() *slog.Logger { return e.log }

// Process fills a Config struct (env tags) from the environment.
func (e *Env) Process(ctx context.Context, cfg any) error { return e.res.Process(ctx, cfg) }

// Lookup reads one variable, for configs parsed by hand (key sets with
// env: references).
func (e *Env) Lookup(name string) (string, bool) { return e.res.Lookup(name) }

// Store returns the Firestore store.
func (e *Env) Store(ctx context.Context) (playback.Store, error) {
	s, err := e.res.Store(ctx)
	if err != nil {
		return nil, fmt.Errorf("gcpfn.Env.Store: %w", err)
	}
	return s, nil
}

// ProgressBatch: Firestore has no batch progress writer; each write is a
// request of its own either way.
func (e *Env) ProgressBatch(context.Context) (playback.ProgressBatchStore, bool, error) {
	return nil, false, nil
}

// LeaseCounter is the Firestore store: a COUNT aggregation on its sessions.
func (e *Env) LeaseCounter(ctx context.Context) (playback.LeaseCounter, bool, error) {
	s, err := e.res.Store(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("gcpfn.Env.LeaseCounter: %w", err)
	}
	return s, true, nil
}

// QoEViews: on GCP the views are in the warehouse (a BigQuery subscription).
func (e *Env) QoEViews(context.Context) (playback.QoEStore, bool, error) {
	return nil, false, nil
}

// QoEStream: the heartbeat topic's BigQuery subscription takes the
// messages to the warehouse; the function sends nothing itself.
func (e *Env) QoEStream(context.Context) (playback.StreamSink, error) { return nil, nil }

// Bus returns the Pub/Sub bus.
func (e *Env) Bus(ctx context.Context) (playback.Publisher, error) {
	b, err := e.res.Bus(ctx)
	if err != nil {
		return nil, fmt.Errorf("gcpfn.Env.Bus: %w", err)
	}
	return b, nil
}

// Keyring returns the playback token keys.
func (e *Env) Keyring() (*auth.Keyring, error) {
	k, err := e.res.Keyring()
	if err != nil {
		return nil, fmt.Errorf("gcpfn.Env.Keyring: %w", err)
	}
	return k, nil
}

// Identity returns the caller JWT verifier.
func (e *Env) Identity(ctx context.Context) (fnenv.Authenticator, error) {
	v, err := e.res.Identity(ctx)
	if err != nil {
		return nil, fmt.Errorf("gcpfn.Env.Identity: %w", err)
	}
	return v, nil
}

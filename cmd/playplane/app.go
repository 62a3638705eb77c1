package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/functions/paymentwebhook"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/functions/registry"
	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/atomicfile"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/localedge"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/openapi"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/walbus"
)

// Config of the local runner. Function settings (LEASE_TTL, ...) are read
// by each function's own Config from the same environment.
type Config struct {
	Addr      string `env:"ADDR, default=127.0.0.1:8080"`
	DataDir   string `env:"DATA_DIR, default=.playplane"`
	PublicURL string `env:"PUBLIC_URL"` // how clients reach this server; default http://ADDR
	Issuer    string `env:"JWT_ISSUER, default=playplane-local"`
	Audience  string `env:"JWT_AUDIENCE, default=playplane"`
	// Seed is SEED, nil when unset: a plain start seeds the demo data into
	// a new data directory only, never into one the user's (App.seed);
	// SEED=true seeds any, SEED=false none.
	Seed *bool `env:"SEED, noinit"`
	// Sync makes every commit durable against power loss: the store's (two
	// fdatasyncs, ~1-2 ms) and the bus journal's (one fsync per group of
	// publishes), so a heartbeat is answered after its group's fsync.
	// SYNC=false trades that for handler-speed local runs; what was
	// answered still survives a killed process, only not a power loss.
	Sync bool `env:"SYNC, default=true"`
	// SweepEvery and ReconcileEvery schedule the payment webhook's jobs as
	// the cloud schedules do (every minute, every hour). Reconciliation
	// runs only with an API to read: STRIPE_API_KEY, and STRIPE_API_URL for
	// stripe-mock.
	SweepEvery     time.Duration `env:"STRIPE_SWEEP_EVERY, default=30s"`
	ReconcileEvery time.Duration `env:"STRIPE_RECONCILE_EVERY, default=1h"`
	// DemoEdgeHealthEvery is how often the demo edges report themselves
	// healthy (reports age out after STEERING_STALENESS, 30s); 0 turns
	// these stand-in health agents off, for a test that plays them itself
	// (and fails a CDN's edges to watch players steer away).
	DemoEdgeHealthEvery time.Duration `env:"DEMO_EDGE_HEALTH_EVERY, default=10s"`
	// QoERetention is how long the QoE views (GET /v1/admin/qoe, the
	// dashboard) are kept after each ended; 0 is bolt.DefaultQoERetention,
	// the widest range the API answers. They are pruned at start and then
	// every pruneEvery.
	QoERetention time.Duration `env:"QOE_RETENTION, default=0"`
	// SessionRetention is how long sessions and their QoE state are kept
	// after their lease ran out (Session.RetainedFrom: an end after the
	// lapse counts from the lapse, as its 410s name it); 0 is
	// bolt.DefaultRetention, the clouds' default; pruned as the QoE views
	// are. The retention starts when the lease ran out, so no value prunes
	// a live session; it may not be shorter than HEARTBEAT_STOP_GRACE
	// (wire).
	SessionRetention time.Duration `env:"SESSION_RETENTION, default=0"`
	// LogLevel: at info every request is a log line; warn keeps only
	// rejections' causes and failures, for load runs.
	LogLevel slog.Level `env:"LOG_LEVEL, default=info"`

	// Server limits (httpx.Limits). Players heartbeat every 30 s
	// (HEARTBEAT_INTERVAL), so an idle timeout above that keeps a player's
	// connection between beats; bodies are at most 64 KiB, so a request
	// that takes 10 s to arrive is trickled, not slow.
	ReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT, default=5s"`
	ReadTimeout       time.Duration `env:"HTTP_READ_TIMEOUT, default=10s"`
	WriteTimeout      time.Duration `env:"HTTP_WRITE_TIMEOUT, default=30s"`
	IdleTimeout       time.Duration `env:"HTTP_IDLE_TIMEOUT, default=45s"`
	// MaxConns 0 is 4096, lowered to fit RLIMIT_NOFILE.
	MaxConns    int           `env:"HTTP_MAX_CONNS, default=0"`
	MaxInFlight int           `env:"HTTP_MAX_IN_FLIGHT, default=1024"`
	RetryAfter  time.Duration `env:"HTTP_RETRY_AFTER, default=1s"`

	// CORSAllowedOrigins are the web pages' origins that may call /v1
	// (httpx.ParseCORSOrigins): by default a page served from any local
	// port, as dev servers (vite, http-server) pick one.
	CORSAllowedOrigins string `env:"CORS_ALLOWED_ORIGINS, default=http://localhost:*,http://127.0.0.1:*"`

	// DevEndpoints serves the runner-only /dev/token and /dev/demo the
	// player page (/player/) picks a demo account with. DEVELOPMENT ONLY:
	// /dev/token hands a demo account's token to anyone who can reach the
	// runner; turn it off when the runner listens beyond loopback.
	DevEndpoints bool `env:"DEV_ENDPOINTS, default=true"`

	// vars are the functions' variables read before the process
	// environment: tests running several runners side by side give each
	// its own settings, where os.Setenv would set them for all of them.
	vars map[string]string
}

// devSecrets are generated on first start and kept in the data directory,
// so tokens printed by one run still work after a restart. They never come
// from the repository.
type devSecrets struct {
	JWTKey        string `json:"jwt_hs256_key"`
	PlaybackKeys  string `json:"playback_token_keys"`
	StripeWebhook string `json:"stripe_webhook_secret"`
	EdgeKeys      string `json:"edge_hmac_keys"`
}

// demoPricePlans maps the demo Stripe prices to the seeded plans when
// STRIPE_PRICE_PLANS is not set.
var demoPricePlans = map[string]string{"price_basic": "basic", "price_standard": "standard", "price_premium": "premium"}

const devKeyID = "local-dev"

// App is every function mounted on one mux over shared local adapters.
type App struct {
	cfg     Config
	log     *slog.Logger
	store   *bolt.Store
	cors    *httpx.CORS
	journal *walbus.Journal
	bus     *membus.Bus
	mux     *servingMux
	secrets devSecrets
	jwtKey  []byte
	stop    context.CancelFunc
	now     func() time.Time
	// webhookSecretsSet: STRIPE_WEBHOOK_SECRETS replaced secrets.StripeWebhook.
	webhookSecretsSet bool
	// functions are the built functions by catalogue name.
	functions map[string]function
	jobs      sync.WaitGroup
	// telemetry serves /metrics once the process has set it up (main.go).
	telemetry atomic.Pointer[telemetry.Provider]
	// stopLeases stops the active-leases gauge reading the store.
	stopLeases func() error
	// cdnBases is SIGNURL_CDN_BASES (CDN name → base URL), defaulting to
	// the two local CDNs on PublicURL: the pathways and their edges.
	cdnBases map[string]string
	// demo: this start seeded the demo data or keeps the seeded demo edges
	// at its address, so their stand-in health agents run.
	demo bool
}

// busConfig batches heartbeats as Pub/Sub would, gathered for up to 50 ms:
// the heartbeat consumer writes a batch in one bolt transaction, so under
// load that is one commit per thousand heartbeats rather than one per
// handful (BenchmarkRunnerHeartbeatLoad). Other topics go one SQS-sized
// batch at a time, at once.
var busConfig = membus.Config{Topics: map[string]membus.TopicConfig{
	events.TopicHeartbeats: {MaxBatch: events.PubSubMaxBatchMessages, BatchWindow: 50 * time.Millisecond},
}}

// NewApp opens the data directory, seeds it and wires the functions.
func NewApp(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	// A job's ticker panics on a negative period, in its own goroutine,
	// after the store is open; 0 is the catalogue's period (mount).
	if cfg.SweepEvery < 0 || cfg.ReconcileEvery < 0 {
		return nil, fmt.Errorf("config: STRIPE_SWEEP_EVERY %s and STRIPE_RECONCILE_EVERY %s may not be negative", cfg.SweepEvery, cfg.ReconcileEvery)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	secrets, err := loadSecrets(filepath.Join(cfg.DataDir, "dev-secrets.json"))
	if err != nil {
		return nil, err
	}
	var opts []bolt.Option
	if !cfg.Sync {
		opts = append(opts, bolt.WithoutSync())
	}
	opts = append(opts, bolt.WithQoERetention(cfg.QoERetention), bolt.WithRetention(cfg.SessionRetention))
	store, err := bolt.Open(filepath.Join(cfg.DataDir, "playplane.db"), opts...)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, store: store, mux: &servingMux{ServeMux: httpx.NewServeMux()}, secrets: secrets, now: time.Now}
	if a.cors, err = httpx.ParseCORSOrigins(cfg.CORSAllowedOrigins); err != nil {
		a.Close()
		return nil, err
	}
	// The bus journals what it accepts in a log file of its own: its
	// commits then never queue behind the store's, and the other way round. What an
	// earlier run accepted and did not finish is delivered again to the
	// consumers wired below (they are idempotent).
	if a.journal, err = openBusJournal(cfg); err != nil {
		a.Close()
		return nil, err
	}
	if a.bus, err = membus.NewWithJournal(busConfig, a.journal); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.wire(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) wire(ctx context.Context) error {
	jwtKey, err := base64.StdEncoding.DecodeString(a.secrets.JWTKey)
	if err != nil {
		return fmt.Errorf("dev jwt key: %w", err)
	}
	a.jwtKey = jwtKey
	identity, err := auth.NewVerifier(auth.VerifierConfig{Issuer: a.cfg.Issuer, Audience: a.cfg.Audience,
		HS256Keys: devKeyID + ":" + a.secrets.JWTKey, Leeway: 30 * time.Second})
	if err != nil {
		return err
	}
	tokens, err := auth.ParseKeyring(a.secrets.PlaybackKeys)
	if err != nil {
		return err
	}
	keyVars, edge, err := localCDN()
	if err != nil {
		return err
	}
	// What the clouds' stacks set, the runner defaults to its own: the dev
	// secrets, the demo prices, the two local CDNs on its own address
	// (the pathways of the personalized manifests; the demo edges are
	// seeded for exactly those), and its address as the API's.
	defaults := map[string]string{
		catalog.SecretStripeWebhookSecrets: a.secrets.StripeWebhook,
		catalog.SettingStripePricePlans:    mapSpec(demoPricePlans),
		catalog.SecretEdgeHMACKeys:         a.secrets.EdgeKeys,
		catalog.EnvSignURLCDNBases:         mapSpec(map[string]string{localCloudFront: a.cfg.PublicURL, localCloudCDN: a.cfg.PublicURL}),
		catalog.EnvSignURLDefaultCDN:       localCloudFront,
		envSignerNames:                     mapSpec(map[string]string{signurl.CDNCloudFront: localCloudFront, signurl.CDNCloudCDN: localCloudCDN}),
		envPublicAPIURL:                    a.cfg.PublicURL,
		// One instance on a local file: a session read costs microseconds,
		// so heartbeats read it every time and an end is seen at once.
		envHeartbeatLeaseCache: "false",
	}
	env := &localEnv{
		lookup: envconfig.MultiLookuper(envconfig.MapLookuper(keyVars), envconfig.MapLookuper(a.cfg.vars), envconfig.OsLookuper(), envconfig.MapLookuper(defaults)),
		store:  a.store, bus: a.bus, tokens: tokens, identity: identity, log: a.log, now: a.now,
	}
	if v, ok := env.lookup.Lookup(catalog.SecretStripeWebhookSecrets); ok && v != a.secrets.StripeWebhook {
		a.webhookSecretsSet = true
	}
	// A stop sent within HEARTBEAT_STOP_GRACE of its session's end reads
	// the ended session to save the player's final position (heartbeat's
	// lateStop): a session pruned sooner loses it to a 410.
	var heartbeatCfg heartbeat.Config
	if err := env.Process(ctx, &heartbeatCfg); err != nil {
		return err
	}
	if retention := cmp.Or(a.cfg.SessionRetention, bolt.DefaultRetention); retention < heartbeatCfg.StopGrace {
		return fmt.Errorf("config: SESSION_RETENTION %s is shorter than HEARTBEAT_STOP_GRACE %s: a player's stop within the grace after its session ended would find the session pruned and its final position would be lost",
			retention, heartbeatCfg.StopGrace)
	}

	var signCfg signurl.Config
	if err := env.Process(ctx, &signCfg); err != nil {
		return err
	}
	a.cdnBases = signCfg.CDNBases
	if a.demo, err = a.seed(ctx, a.store); err != nil {
		return err
	}
	// The local stand-in for the CDN: the stored test ladder (HLS and DASH
	// over CMAF), served unchanged and only to requests whose CloudFront- or
	// Cloud CDN-style signature verifies, with a CDN-style access log.
	a.mux.Handle("/titles/", edge.WithCORS(a.edgeCORS()).WithAccessLog(a.log.With("component", "edge")))
	a.mountWeb(slices.Collect(maps.Keys(signCfg.CDNBases)))

	// Every catalogue function, built by its package's Build as the
	// clouds build it.
	a.functions = map[string]function{}
	for _, fn := range catalog.Functions {
		build, ok := registry.Builders[fn.Name]
		if !ok {
			return fmt.Errorf("catalogue function %s has no Build in functions/registry (go run ./cmd/playplane-gen)", fn.Name)
		}
		built, err := build(ctx, env)
		if err != nil {
			return fmt.Errorf("building %s: %w", fn.Name, err)
		}
		f, ok := built.(function)
		if !ok {
			return fmt.Errorf("%s: %T has no Mount", fn.Name, built)
		}
		a.functions[fn.Name] = f
	}
	edgeSpec, _ := env.Lookup(catalog.SecretEdgeHMACKeys)
	edgeKeys, err := pickedge.ParseEdgeKeys(edgeSpec)
	if err != nil {
		return err
	}

	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	// The API's description; the clouds publish the same bytes as
	// dist/openapi.json instead of a route (docs/openapi.md).
	a.mux.Handle("GET "+openapi.Path, openapi.Handler())
	// The Prometheus scrape: a runner page, not an API operation (the
	// clouds export their metrics as EMF and OTLP).
	a.mux.Handle("GET /metrics", httpx.HandlerFunc(a.serveMetrics))
	consumerCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stop = stop
	if err := a.mount(consumerCtx); err != nil {
		return err
	}
	// A runner restarted more often than hourly prunes too; a backlog
	// (the first start that prunes) goes while it serves.
	for _, p := range []struct {
		name string
		job  func(context.Context) error
	}{{"qoe prune", a.pruneQoEViews}, {"expired prune", a.pruneExpired}} {
		a.jobs.Add(1)
		go func() {
			defer a.jobs.Done()
			if err := runJob(consumerCtx, p.name, p.job); err != nil && consumerCtx.Err() == nil {
				a.log.ErrorContext(consumerCtx, "job failed", "job", p.name, "err", err)
			}
		}()
		a.every(consumerCtx, pruneEvery, p.name, p.job)
	}
	if a.demo && a.cfg.DemoEdgeHealthEvery > 0 {
		// Reports age out after STEERING_STALENESS (30s): keep the demo
		// edges fresh.
		a.every(consumerCtx, a.cfg.DemoEdgeHealthEvery, "demo edge health", func(ctx context.Context) error {
			return a.reportDemoEdges(ctx, edgeKeys)
		})
	}
	return nil
}

// demoSeeded is DATA_DIR/demo-seeded.json: the store was seeded, and the
// CDN bases its demo edges were last pointed at; or it is the user's.
type demoSeeded struct {
	CDNBases map[string]string `json:"cdn_bases"`
	// Moving are the CDN bases of starts that began moving the demo edges
	// and did not record the end (killed, or a store write failed): each
	// may have moved some edges and not the others.
	Moving []map[string]string `json:"moving,omitempty"`
	// Unseeded: the data directory was first started with SEED=false, or
	// held records when first seen without a record: the user brings their
	// own catalogue, and only SEED=true mixes the demo data into it.
	Unseeded bool `json:"unseeded,omitempty"`
	// Seeding: a seed began and did not record its end, so the demo
	// records in the store are not the user's and the next start seeds on.
	Seeding bool `json:"seeding,omitempty"`
}

// seed writes the demo data on the data directory's first start only, and
// reports whether the store has the demo data. Seeding every start would
// bring back the demo records an operator deleted and reset the demo edges
// they changed; a later start only moves the demo edges to this start's
// address (demo.MoveEdges). A move is recorded before it begins
// (demoSeeded.Moving), so that the next start moves on the edges a killed
// one moved as well as the others. A data directory the user started with
// SEED=false, or that holds records nobody seeded, stays theirs: a later
// plain start leaves it unseeded (README, Bring your own catalogue).
func (a *App) seed(ctx context.Context, store demo.Store) (bool, error) {
	path := filepath.Join(a.cfg.DataDir, "demo-seeded.json")
	raw, err := os.ReadFile(path)
	found := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("demo seed record: %w", err)
	}
	asked := a.cfg.Seed != nil
	if asked && !*a.cfg.Seed {
		if !found {
			return false, writeDemoSeeded(path, demoSeeded{Unseeded: true})
		}
		return false, nil
	}
	var was demoSeeded
	if found {
		if err := json.Unmarshal(raw, &was); err != nil {
			return false, fmt.Errorf("demo seed record %s (delete it, and start with SEED=true to seed the demo data again): %w", path, err)
		}
	}
	// A store holding the demo's records alone was seeded by a runner from
	// before the seed record (or one killed while seeding): it goes on as
	// seeded, its demo edges following the runner's address.
	held := false
	if !asked && !found {
		if held, err = demo.HoldsOwnRecords(ctx, a.store, a.now()); err != nil {
			return false, err
		}
	}
	if !asked && (was.Unseeded || held) {
		a.log.InfoContext(ctx, "demo data not seeded: the data directory holds your own catalogue (SEED=true seeds it anyway)", "data_dir", a.cfg.DataDir)
		if found {
			return false, nil
		}
		return false, writeDemoSeeded(path, demoSeeded{Unseeded: true})
	}
	if !found || was.Unseeded || was.Seeding {
		if err := writeDemoSeeded(path, demoSeeded{Seeding: true}); err != nil {
			return false, err
		}
		if err := demo.SeedOn(ctx, store, a.cdnBases, a.now()); err != nil {
			return false, err
		}
		return true, writeDemoSeeded(path, demoSeeded{CDNBases: a.cdnBases})
	}
	if maps.Equal(was.CDNBases, a.cdnBases) && len(was.Moving) == 0 {
		return true, nil
	}
	from := append([]map[string]string{was.CDNBases}, was.Moving...)
	if !slices.ContainsFunc(from, func(m map[string]string) bool { return maps.Equal(m, a.cdnBases) }) {
		if err := writeDemoSeeded(path, demoSeeded{CDNBases: was.CDNBases, Moving: append(was.Moving, a.cdnBases)}); err != nil {
			return false, err
		}
	}
	for _, bases := range from {
		if err := demo.MoveEdges(ctx, store, bases, a.cdnBases); err != nil {
			return false, err
		}
	}
	return true, writeDemoSeeded(path, demoSeeded{CDNBases: a.cdnBases})
}

func writeDemoSeeded(path string, rec demoSeeded) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, raw, 0o600)
}

// every runs job on a ticker until ctx ends: the local stand-in for the
// schedulers (EventBridge, Cloud Scheduler) that drive jobs in the cloud.
// Each run is a span, as each invocation is in the cloud (runJob).
func (a *App) every(ctx context.Context, period time.Duration, name string, job func(context.Context) error) {
	a.jobs.Add(1)
	go func() {
		defer a.jobs.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := runJob(ctx, name, job); err != nil {
					a.log.ErrorContext(ctx, "job failed", "job", name, "err", err)
				}
			}
		}
	}()
}

// runJob runs one of the runner's jobs inside its span, named name
// (telemetry.RunJob), so that a failing or slow job shows in the traces
// as the clouds' job invocations do.
func runJob(ctx context.Context, name string, job func(context.Context) error) error {
	_, err := telemetry.RunJob(ctx, name, func(ctx context.Context) (any, error) { return nil, job(ctx) })
	return err
}

// pruneEvery: the retentions are days, so a record outlives its own by an
// hour at most, and a sweep with nothing to remove is one small commit.
const pruneEvery = time.Hour

// pruneQoEViews removes the QoE views past QOE_RETENTION.
func (a *App) pruneQoEViews(ctx context.Context) error {
	n, err := a.store.PruneQoEViews(ctx, a.now())
	if n > 0 {
		a.log.InfoContext(ctx, "QoE views past their retention removed", "views", n)
	}
	return err
}

// pruneExpired removes what the clouds' TTL would have deleted: sessions
// and their QoE past SESSION_RETENTION (by default the clouds'), processed
// Stripe events past their expiry (STRIPE_INBOX_RETENTION) and parked ones
// whose wait ended, by the store's clock.
func (a *App) pruneExpired(ctx context.Context) error {
	n, err := a.store.PruneExpired(ctx)
	if n > 0 {
		a.log.InfoContext(ctx, "records past their expiry removed", "records", n)
	}
	return err
}

// reportDemoEdges plays the health agents of the demo edges: each reports
// itself healthy through the signed route, so the reports take the
// production path (HMAC check, bus, consumer, edge table).
func (a *App) reportDemoEdges(ctx context.Context, keys pickedge.EdgeKeys) error {
	now := a.now()
	var errs []error
	for _, e := range demo.EdgesOn(a.cdnBases, now) {
		if len(keys[e.ID]) == 0 {
			continue // EDGE_HMAC_KEYS was set without keys for the demo edges
		}
		report := playback.EdgeReport{EdgeID: e.ID, Load: e.Load, Capacity: e.ReportedCapacity, Healthy: true, ReportedAt: now}
		req, err := pickedge.NewReportRequest(ctx, "/v1/edges/health", keys[e.ID][0], report, now)
		if err != nil {
			return err
		}
		rec := httptest.NewRecorder()
		a.mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			errs = append(errs, fmt.Errorf("demo edge %s health report: %d %s", e.ID, rec.Code, rec.Body))
		}
	}
	return errors.Join(errs...)
}

// function is what every function package's Server offers the runner.
type function interface {
	Mount(mux httpx.Mux)
	Consumers() map[string]playback.BatchHandler
}

// scheduled is a function with jobs (catalog.Function.Jobs).
type scheduled interface {
	Jobs() map[string]playback.Job
}

// runnable is a function whose jobs may depend on settings the runner
// leaves unset (reconciliation needs STRIPE_API_KEY): a job it cannot run
// is not scheduled, as the clouds deploy its schedule disabled.
type runnable interface {
	CanRun(job string) bool
}

var (
	_ function  = (*authorizeplay.Server)(nil)
	_ function  = (*heartbeat.Server)(nil)
	_ function  = (*paymentwebhook.Server)(nil)
	_ function  = (*pickedge.Server)(nil)
	_ function  = (*signurl.Server)(nil)
	_ function  = (*admin.Server)(nil)
	_ scheduled = (*paymentwebhook.Server)(nil)
	_ runnable  = (*paymentwebhook.Server)(nil)
	_ scheduled = (*heartbeat.Server)(nil)
	_ runnable  = (*heartbeat.Server)(nil)
)

// mount serves every catalogue function as the clouds deploy it: its
// routes on the mux, a subscription per topic it consumes, a schedule per
// job. A function wired here but not in the catalogue, or a topic or job
// the catalogue names that the function does not handle, stops the start.
func (a *App) mount(ctx context.Context) error {
	for name := range a.functions {
		if _, ok := catalog.FunctionByName(name); !ok {
			return fmt.Errorf("function %s is not in the catalogue", name)
		}
	}
	// Local periods (Config); the catalogue's are the clouds'.
	every := map[string]time.Duration{"sweep": a.cfg.SweepEvery, "reconcile": a.cfg.ReconcileEvery}
	for _, fn := range catalog.Functions {
		f, ok := a.functions[fn.Name]
		if !ok {
			return fmt.Errorf("catalogue function %s is not wired", fn.Name)
		}
		f.Mount(a.mux)
		consumers := f.Consumers()
		for _, c := range fn.Consumes {
			h, ok := consumers[c.Topic]
			if !ok {
				return fmt.Errorf("%s has no consumer of %s", fn.Name, c.Topic)
			}
			if err := a.bus.Subscribe(ctx, c.Topic, a.logged(c.Topic, h)); err != nil {
				return err
			}
		}
		if len(fn.Jobs) == 0 {
			continue
		}
		s, ok := f.(scheduled)
		if !ok {
			return fmt.Errorf("%s has no jobs", fn.Name)
		}
		jobs := s.Jobs()
		for _, j := range fn.Jobs {
			job, ok := jobs[j.Name]
			switch {
			case !ok:
				return fmt.Errorf("%s has no job %s", fn.Name, j.Name)
			case !canRun(f, j.Name) && j.NeedsSecret == "":
				// heartbeat's leases: the runner counts at each scrape instead.
				a.log.DebugContext(ctx, "job off: the runner does its work another way", "job", fn.Name+" "+j.Name)
				continue
			case !canRun(f, j.Name):
				a.log.InfoContext(ctx, "job off: its settings are not set", "job", fn.Name+" "+j.Name,
					"needs", j.NeedsSecret, "hint", "for reconcile: STRIPE_API_KEY (and STRIPE_API_URL for stripe-mock)")
				continue
			}
			name := fn.Name + " " + j.Name
			a.every(ctx, cmp.Or(every[j.Name], j.Every), name, func(ctx context.Context) error {
				rep, err := job(ctx)
				if err == nil {
					a.log.InfoContext(ctx, "job ran", "job", name, "report", rep)
				}
				return err
			})
		}
	}
	return nil
}

func canRun(f function, job string) bool {
	r, ok := f.(runnable)
	return !ok || r.CanRun(job)
}

// mapSpec is a map in go-envconfig's "k=v,k=v" form (the functions' map
// settings use separator "=").
func mapSpec(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// envPublicAPIURL is how players reach the API (signurl's PublicURL,
// pickedge's APIURL).
const envPublicAPIURL = "PUBLIC_API_URL"

// envHeartbeatLeaseCache is heartbeat.Config.LeaseCache's variable.
const envHeartbeatLeaseCache = "HEARTBEAT_LEASE_CACHE"

// envSignerNames names the dev keys' signers after the local CDNs
// (signurl.Config.SignerNames).
const envSignerNames = "SIGNURL_SIGNER_NAMES"

// logged gives consumers the same structured, id-stamped logs as requests.
func (a *App) logged(topic string, h playback.BatchHandler) playback.BatchHandler {
	return func(ctx context.Context, msgs []playback.Message) []string {
		log := a.log.With("topic", topic, "batch_id", playback.NewID("batch"))
		return h(httpx.WithLogger(ctx, log), msgs)
	}
}

// UseTelemetry serves p's metrics on /metrics, the active leases among
// them: counted from the store when scraped, so the request path pays
// nothing for the gauge and it cannot drift. Call it once.
func (a *App) UseTelemetry(p *telemetry.Provider) {
	a.telemetry.Store(p)
	stop, err := p.ObserveActiveLeases(func(ctx context.Context) (int64, error) {
		n, err := a.store.CountActiveLeases(ctx, a.now())
		return int64(n), err
	})
	if err != nil {
		a.log.Error("active-leases gauge not registered", "err", err)
		return
	}
	a.stopLeases = stop
}

func (a *App) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	h := a.telemetry.Load().MetricsHandler()
	if h == nil {
		return playback.Errorf(playback.CodeNotFound, "metrics_off", "metrics are off (OTEL_SDK_DISABLED)")
	}
	h.ServeHTTP(w, r)
	return nil
}

// Handler is the whole local API.
func (a *App) Handler() http.Handler {
	return httpx.Middleware(a.log, a.cors.Handler(a.mux.ServeMux, a.mux))
}

// servingMux is the runner's mux, keeping the pattern of every route
// mounted on it: a ServeMux lists none, and TestRunnerServesTheDocumentedRoutes
// holds them to the OpenAPI document.
type servingMux struct {
	*http.ServeMux
	patterns []string
}

var _ httpx.Mux = (*servingMux)(nil)

func (m *servingMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m *servingMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// Close stops consumers, waits for the batches in flight, then closes the
// journal (with their acknowledgements) and the store. Messages not yet
// delivered stay in the journal for the next start.
func (a *App) Close() error {
	if a.stop != nil {
		a.stop()
	}
	a.jobs.Wait()
	var errs []error
	if a.stopLeases != nil {
		errs = append(errs, a.stopLeases())
	}
	if a.bus != nil {
		errs = append(errs, a.bus.Close())
	}
	if a.journal != nil {
		errs = append(errs, a.journal.Close())
	}
	// Functions holding resources of their own (GeoIP databases).
	for _, name := range slices.Sorted(maps.Keys(a.functions)) {
		if c, ok := a.functions[name].(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(append(errs, a.store.Close())...)
}

// DevToken mints a caller JWT for a demo account.
func (a *App) DevToken(accountID string, ttl time.Duration) (string, error) {
	return auth.MintHS256(devKeyID, a.jwtKey, a.cfg.Issuer, a.cfg.Audience, accountID, ttl, a.now())
}

// DevToken mints a caller JWT with the dev key kept in cfg.DataDir, for a
// server that is already running.
func DevToken(cfg Config, accountID string, ttl time.Duration) (string, error) {
	secrets, err := loadSecrets(filepath.Join(cfg.DataDir, "dev-secrets.json"))
	if err != nil {
		return "", err
	}
	key, err := base64.StdEncoding.DecodeString(secrets.JWTKey)
	if err != nil {
		return "", fmt.Errorf("dev jwt key: %w", err)
	}
	return auth.MintHS256(devKeyID, key, cfg.Issuer, cfg.Audience, accountID, ttl, time.Now())
}

// PrintWelcome tells a new user how to try the flow, with the demo
// accounts as the store holds them: an operator may have changed them or
// their plans, and without SEED they may not exist.
func (a *App) PrintWelcome(w io.Writer) error {
	ctx := context.Background()
	var b strings.Builder
	fmt.Fprintf(&b, "playplane is serving on %s (data in %s)\n\n", a.cfg.PublicURL, a.cfg.DataDir)
	family, familyStored, err := a.storedAccount(ctx, demo.AccountFamily)
	if err != nil {
		return err
	}
	if familyStored {
		about, err := a.describeAccount(ctx, family)
		if err != nil {
			return err
		}
		token, err := a.DevToken(family.ID, 24*time.Hour)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, `Dev token for %[2]s (%[3]s, valid 24h):
  export TOKEN=%[4]s

Try:
  curl -s %[1]s/v1/play -H "Authorization: Bearer $TOKEN" \
       --json '{"title_id":"big-buck-bunny","device_id":"living-room-tv"}'
  curl -s %[1]s/v1/sessions -H "Authorization: Bearer $TOKEN"
  # then, with the session_id and playback_token it returned:
  curl -s -X POST %[1]s/v1/playback/$SESSION/urls -H "Authorization: Bearer $PLAYBACK"
  curl -s -X POST %[1]s/v1/playback/$SESSION/edges -H "Authorization: Bearer $PLAYBACK"

`, a.cfg.PublicURL, family.ID, about, token)
	}
	secretNote := "signing secret in " + a.cfg.DataDir + "/dev-secrets.json"
	if a.webhookSecretsSet {
		// Events signed with the file's secret are refused then.
		secretNote = "signing secrets from " + catalog.SecretStripeWebhookSecrets
	}
	var others []string
	for _, id := range []string{demo.AccountSolo, demo.AccountKids, demo.AccountPastDue, demo.AccountCanceled} {
		_, ok, err := a.storedAccount(ctx, id)
		if err != nil {
			return err
		}
		if ok {
			others = append(others, id)
		}
	}
	// The page gets its tokens from /dev/token, which mints them for the
	// demo accounts alone: on a catalogue of the user's, or without the dev
	// routes, it has nothing to play, and says so rather than promise it.
	player := "picks a demo account through\nthe runner-only dev route /dev/token"
	switch {
	case !a.cfg.DevEndpoints:
		player = "DEV_ENDPOINTS=false: it gets its tokens\nfrom the runner-only dev route /dev/token, which is off"
	case !familyStored && len(others) == 0:
		player = "it plays the demo accounts, through\nthe runner-only dev route /dev/token, and this store holds no demo account: SEED=true adds them"
	}
	fmt.Fprintf(&b, `Player page: %[1]s/player/ (hls.js and dash.js; %[3]s)

Stripe webhook endpoint: %[1]s/v1/webhooks/stripe (%[2]s)
`, a.cfg.PublicURL, secretNote, player)
	if len(others) > 0 {
		fmt.Fprintf(&b, "\nOther demo accounts: %s (mint with: make token ACCOUNT=%s)\n", strings.Join(others, ", "), others[0])
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// storedAccount reads account id, reporting whether it exists.
func (a *App) storedAccount(ctx context.Context, id string) (playback.Account, bool, error) {
	acct, err := a.store.GetAccount(ctx, id)
	if playback.IsCode(err, playback.CodeNotFound) {
		return acct, false, nil
	}
	return acct, err == nil, err
}

// describeAccount says what acct may play: its plan's id and streams, and
// its territory.
func (a *App) describeAccount(ctx context.Context, acct playback.Account) (string, error) {
	plan, err := a.store.GetPlan(ctx, acct.PlanID)
	switch {
	case playback.IsCode(err, playback.CodeNotFound):
		return fmt.Sprintf("plan %s, which does not exist, %s", acct.PlanID, acct.Territory), nil
	case err != nil:
		return "", err
	}
	streams := "streams"
	if plan.MaxStreams == 1 {
		streams = "stream"
	}
	about := fmt.Sprintf("%s plan, %d %s, %s", plan.ID, plan.MaxStreams, streams, acct.Territory)
	// The welcome's first curl plays: say when a cancellation or a hold
	// (a restart keeps them) refuses it.
	if playback.MayNeverPlay(acct) {
		state := string(acct.Status)
		if acct.Suspended {
			state = "suspended"
		}
		about += ", " + state + ": plays are refused"
	}
	return about, nil
}

func loadSecrets(path string) (devSecrets, error) {
	var s devSecrets
	raw, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(raw, &s); err != nil {
			return s, damagedSecrets(path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	// Fill in what this data directory lacks (a new one, or one made by an
	// older version) and keep what it has, so issued tokens stay valid.
	before := s
	if s.JWTKey == "" {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		s.JWTKey = base64.StdEncoding.EncodeToString(key)
	}
	if s.PlaybackKeys == "" {
		s.PlaybackKeys = auth.NewDevKeyring().Spec()
	}
	if s.EdgeKeys == "" {
		s.EdgeKeys = pickedge.NewDevEdgeKeys(demo.EdgeIDs()...).Spec()
	}
	if s.StripeWebhook == "" {
		whsec := make([]byte, 24)
		_, _ = rand.Read(whsec)
		s.StripeWebhook = "whsec_" + base64.RawURLEncoding.EncodeToString(whsec)
	}
	if s == before {
		return s, nil
	}
	raw, _ = json.MarshalIndent(s, "", "  ")
	// Written in place, a write cut short would leave half a file and lose
	// the keys behind every token issued.
	if err := atomicfile.WriteFile(path, raw, 0o600); err != nil {
		return s, fmt.Errorf("writing %s: %w", path, err)
	}
	return s, nil
}

// damagedSecrets is the error for a secrets file that does not parse. The
// file is written whole or not at all, so this is damage from outside; it
// stops the start rather than being replaced: new secrets would silently
// void the dev tokens issued and the webhook signing secret given to Stripe.
func damagedSecrets(path string, err error) error {
	return fmt.Errorf("%s is damaged (%w): restore it, or delete it to have new secrets made "+
		"(dev tokens issued before and the Stripe webhook signing secret then change)", path, err)
}

// The local CDNs are the demo's (their edges are seeded for them).
const (
	localCloudFront = demo.CDNCloudFront
	localCloudCDN   = demo.CDNCloudCDN
)

// edgeCORS is the local edge's CORS policy, the stack's CloudFront
// response headers policy: the origins CORS_ALLOWED_ORIGINS lists, with
// credentials (cookie grants) unless it lists "*". The runner's own
// origin is allowed with credentials too: its player pages read the
// second CDN pathway from another listener when SIGNURL_CDN_BASES names
// one.
func (a *App) edgeCORS() localedge.CORSPolicy {
	own := ""
	if u, err := url.Parse(a.cfg.PublicURL); err == nil && u.Host != "" {
		own = strings.ToLower(u.Scheme + "://" + u.Host)
	}
	return func(origin string) (bool, bool) {
		if own != "" && strings.ToLower(origin) == own {
			return true, true
		}
		return a.cors.Allowed(origin), !a.cors.AnyOrigin()
	}
}

// localCDN makes dev signing keys in memory on every start (never written
// anywhere; players ask for fresh URLs anyway) and returns them as the key
// set variables signurl reads (signingVars), and the local edge that
// verifies them.
func localCDN() (map[string]string, *localedge.Handler, error) {
	cfKey, err := cloudfront.GenerateDevKey("KLOCALDEV", cloudfront.ECDSAP256)
	if err != nil {
		return nil, nil, err
	}
	cfKeys, err := cloudfront.NewKeySet(cfKey.ID, cfKey)
	if err != nil {
		return nil, nil, err
	}
	cfVerifier, err := cloudfront.NewVerifier(cfKeys.PublicKeys(), nil)
	if err != nil {
		return nil, nil, err
	}
	cdnKey := cloudcdn.GenerateDevKey("local-dev")
	cdnKeys, err := cloudcdn.NewKeySet(cdnKey.Name, cdnKey)
	if err != nil {
		return nil, nil, err
	}
	cdnVerifier, err := cloudcdn.NewVerifier(cdnKeys.Keys(), nil)
	if err != nil {
		return nil, nil, err
	}
	edge, err := localedge.New(cfVerifier, cdnVerifier)
	if err != nil {
		return nil, nil, err
	}
	vars, err := signingVars(cfKey, cdnKey)
	if err != nil {
		return nil, nil, err
	}
	return vars, edge, nil
}

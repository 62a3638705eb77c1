package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/gcp"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/gcpfn/pubsubbus"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/localedge"
	"github.com/playplane/playplane/shared/openapi"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub/push"
)

// Config of the local GCP runner. The functions read their own settings
// (LEASE_TTL, FIRESTORE_*, PUBSUB_*, ...) from the same environment, as on
// Cloud Functions; the runner fills in local defaults for what the Pulumi
// stack and Secret Manager would set.
type Config struct {
	Addr      string `env:"ADDR, default=127.0.0.1:8080"`
	DataDir   string `env:"DATA_DIR, default=.playplane"`
	PublicURL string `env:"PUBLIC_URL"` // how clients reach this server; default http://ADDR
	Issuer    string `env:"JWT_ISSUER, default=playplane-local"`
	Audience  string `env:"JWT_AUDIENCE, default=playplane"`
	// Seed is SEED, nil when unset: a plain start seeds the demo data
	// unless the store holds a catalogue of the user's (an emulator of
	// theirs, FIRESTORE_EMULATOR_HOST), as make run leaves a data directory
	// (demo.HoldsOwnRecords); SEED=true seeds any, SEED=false none. The
	// emulators the runner starts keep nothing: it seeds each of them.
	Seed *bool `env:"SEED, noinit"`
}

// Runner serves every function through the Functions Framework against the
// Firestore emulator and the Pub/Sub fake.
type Runner struct {
	cfg    Config
	log    *slog.Logger
	set    *gcpfn.Set
	stops  []func()
	edge   http.Handler // the CDN stand-in, when the runner made the signing key
	edges  pickedge.EdgeKeys
	seeded bool // the store has the demo data: the runner plays its edges' health agents
	bridge *bridge
	// stopped ends when Close begins; the bridge and the schedules run
	// until then.
	stopped context.Context
	cancel  context.CancelFunc
	jobs    sync.WaitGroup
}

// schedule is the local stand-in for one Cloud Scheduler job.
type schedule struct {
	entryPoint, payload, name string
	every                     time.Duration
}

// localEvery shortens a catalogue job's period for a local run, where
// nobody waits a minute for a stuck event to be republished.
var localEvery = map[string]time.Duration{"sweep": 30 * time.Second}

// schedules are the catalogue's jobs as Cloud Scheduler runs them: a POST
// of the job's payload to the function's jobs entry point. reconcile reads
// the Stripe API, so it runs only with STRIPE_API_KEY set.
func schedules(lookup func(string) string) []schedule {
	var out []schedule
	for _, fn := range catalog.Functions {
		for _, j := range fn.Jobs {
			if j.Name == "reconcile" && lookup(catalog.SecretStripeAPIKey) == "" {
				continue
			}
			out = append(out, schedule{entryPoint: fn.GCPJobsEntryPoint, payload: j.Payload(),
				name: fn.GCPJobsEntryPoint + " " + j.Name, every: cmp.Or(localEvery[j.Name], j.Every)})
		}
	}
	return out
}

// setDefault sets an environment variable the user did not set.
func setDefault(key, value string) error {
	if _, ok := os.LookupEnv(key); ok {
		return nil
	}
	return os.Setenv(key, value)
}

// NewRunner starts the emulators (unless FIRESTORE_EMULATOR_HOST and
// PUBSUB_EMULATOR_HOST point at running ones), prepares the environment,
// creates the topics, seeds the demo data and builds every function, so a
// bad configuration fails here and not on the first request.
func NewRunner(ctx context.Context, cfg Config, log *slog.Logger) (*Runner, error) {
	r := &Runner{cfg: cfg, log: log, set: gcp.Set()}
	r.stopped, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := r.prepare(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Runner) prepare(ctx context.Context) error {
	secrets, err := loadSecrets(r.cfg.DataDir)
	if err != nil {
		return err
	}
	for _, e := range []struct{ env, service string }{
		{"FIRESTORE_EMULATOR_HOST", emulators.FirestoreService},
		{"PUBSUB_EMULATOR_HOST", emulators.PubSubService},
	} {
		if os.Getenv(e.env) != "" {
			continue
		}
		endpoint, stop, err := gcpemu.Start(ctx, e.service)
		if err != nil {
			return err
		}
		r.stops = append(r.stops, stop)
		if err := os.Setenv(e.env, endpoint); err != nil {
			return err
		}
	}
	if err := r.prepareCDN(); err != nil {
		return err
	}
	for key, value := range map[string]string{
		"EDGE_HMAC_KEYS":           secrets.EdgeKeys,
		"GOOGLE_CLOUD_PROJECT":     devProject,
		"JWT_ISSUER":               r.cfg.Issuer,
		"JWT_AUDIENCE":             r.cfg.Audience,
		"JWT_HS256_KEYS":           devKeyID + ":" + secrets.JWTKey,
		gcpfn.EnvPlaybackTokenKeys: secrets.PlaybackKeys,
		"STRIPE_WEBHOOK_SECRETS":   secrets.StripeWebhook,
		"STRIPE_PRICE_PLANS":       devPricePlans,
	} {
		if err := setDefault(key, value); err != nil {
			return err
		}
	}

	if r.edges, err = pickedge.ParseEdgeKeys(os.Getenv("EDGE_HMAC_KEYS")); err != nil {
		return err
	}
	res := r.set.Resources()
	bus, err := res.Bus(ctx)
	if err != nil {
		return err
	}
	topics, ok := bus.(interface {
		EnsureTopics(context.Context, ...string) error
	})
	if !ok {
		return fmt.Errorf("the bus is a %T, which cannot create topics", bus)
	}
	if err := topics.EnsureTopics(ctx, events.Topics...); err != nil {
		return err
	}
	if r.seeded, err = r.seed(ctx, res); err != nil {
		return err
	}
	return r.set.Build(ctx)
}

// seed writes the demo data as Config.Seed says, and reports whether the
// store has it.
func (r *Runner) seed(ctx context.Context, res *gcpfn.Resources) (bool, error) {
	if r.cfg.Seed != nil && !*r.cfg.Seed {
		return false, nil
	}
	store, err := res.Store(ctx)
	if err != nil {
		return false, err
	}
	now := time.Now()
	if r.cfg.Seed == nil {
		own, err := demo.HoldsOwnRecords(ctx, store, now)
		if err != nil {
			return false, err
		}
		if own {
			r.log.InfoContext(ctx, "demo data not seeded: the store holds your own catalogue (SEED=true seeds it anyway)")
			return false, nil
		}
	}
	return true, demo.SeedOn(ctx, store, r.demoCDNs(), now)
}

// demoCDNs is the one CDN this runner signs for (prepareCDN), which the
// demo edges belong to, so steering names the manifests' pathway.
func (r *Runner) demoCDNs() map[string]string {
	return map[string]string{signurl.CDNCloudCDN: r.cfg.PublicURL}
}

// prepareCDN gives signurl a Cloud CDN signing key the way the stack
// does (a key list naming a Secret Manager binding), made afresh on every
// start, and the local edge that serves the test stream to requests it
// signed. CLOUDCDN_KEYS in the environment replaces both.
func (r *Runner) prepareCDN() error {
	if os.Getenv("CLOUDCDN_KEYS") != "" {
		return nil
	}
	key := cloudcdn.GenerateDevKey(devCDNKeyName)
	verifier, err := cloudcdn.NewVerifier([]cloudcdn.Key{key}, nil)
	if err != nil {
		return err
	}
	edge, err := localedge.New(verifier)
	if err != nil {
		return err
	}
	// The video bucket's CORS configuration: the functions' origins,
	// never with credentials (Cloud Storage sends none).
	cors, err := httpx.ParseCORSOrigins(os.Getenv(httpx.EnvCORSAllowedOrigins))
	if err != nil {
		return err
	}
	r.edge = edge.WithCORS(func(origin string) (bool, bool) { return cors.Allowed(origin), false }).
		WithAccessLog(r.log.With("component", "edge"))
	for key, value := range map[string]string{
		"CLOUDCDN_SIGNING_KEY":     cloudcdn.EncodeKey(key.Secret),
		"CLOUDCDN_KEYS":            devCDNKeyName + "=env:CLOUDCDN_SIGNING_KEY",
		"CLOUDCDN_ACTIVE_KEY_NAME": devCDNKeyName,
		"CDN":                      signurl.CDNCloudCDN,
		"CDN_BASE_URL":             r.cfg.PublicURL,
	} {
		if err := os.Setenv(key, value); err != nil {
			return err
		}
	}
	return nil
}

// Serve registers the local paths beside the entry points, starts the
// Pub/Sub bridge and serves until ctx ends. The Functions Framework's
// server cannot be shut down: it stops with the process.
func (r *Runner) Serve(ctx context.Context) error {
	host, port, err := net.SplitHostPort(r.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ADDR %q: %w", r.cfg.Addr, err)
	}
	if err := r.registerLocalPaths(ctx); err != nil {
		return err
	}
	if err := r.startBridge(ctx); err != nil {
		return err
	}
	r.startSchedules()
	errc := make(chan error, 1)
	go func() { errc <- funcframework.StartHostPort(host, port) }()
	select {
	case err := <-errc:
		return fmt.Errorf("functions framework: %w", err)
	case <-ctx.Done():
		return nil
	}
}

// registerLocalPaths adds what the cloud's load balancer and push
// subscriptions provide: the public /v1 paths routed to the functions'
// HTTP entry points, and /<ConsumerEntryPoint>/projects/P/topics/T push
// endpoints that tell the framework the message's topic.
func (r *Runner) registerLocalPaths(ctx context.Context) error {
	if err := funcframework.RegisterHTTPFunctionContext(ctx, "/v1/", r.set.Router().ServeHTTP); err != nil {
		return err
	}
	if err := funcframework.RegisterHTTPFunctionContext(ctx, "/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}); err != nil {
		return err
	}
	if err := funcframework.RegisterHTTPFunctionContext(ctx, openapi.Path, openapi.Handler().ServeHTTP); err != nil {
		return err
	}
	for _, s := range r.set.Subscriptions() {
		h, _ := r.set.CloudEventHandler(s.EntryPoint)
		// As gcpfn.Framework registers it in the cloud.
		if err := funcframework.RegisterHTTPFunctionContext(ctx, "/"+s.EntryPoint+"/", push.HTTPHandler(h).ServeHTTP); err != nil {
			return err
		}
	}
	if r.edge != nil {
		if err := funcframework.RegisterHTTPFunctionContext(ctx, "/titles/", r.edge.ServeHTTP); err != nil {
			return err
		}
	}
	return nil
}

// startSchedules runs what Cloud Scheduler and the edges' health agents do
// in the cloud, over HTTP against the framework server: the jobs entry
// points on their schedules, and a signed healthy report from every demo
// edge every 10s (reports go stale after STEERING_STALENESS, 30s).
func (r *Runner) startSchedules() {
	client := &http.Client{Timeout: time.Minute}
	for _, s := range schedules(os.Getenv) {
		r.every(s.every, s.name, func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.cfg.Addr+"/"+s.entryPoint,
				strings.NewReader(s.payload))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			return expect(client, req, http.StatusOK)
		})
	}
	if r.seeded {
		r.every(10*time.Second, "demo edge health", func(ctx context.Context) error {
			now := time.Now()
			var errs []error
			for _, e := range demo.EdgesOn(r.demoCDNs(), now) {
				if len(r.edges[e.ID]) == 0 {
					continue // EDGE_HMAC_KEYS was set without keys for the demo edges
				}
				report := playback.EdgeReport{EdgeID: e.ID, Load: e.Load, Capacity: e.ReportedCapacity, Healthy: true, ReportedAt: now}
				req, err := pickedge.NewReportRequest(ctx, "http://"+r.cfg.Addr+"/v1/edges/health", r.edges[e.ID][0], report, now)
				if err != nil {
					return err
				}
				errs = append(errs, expect(client, req, http.StatusAccepted))
			}
			return errors.Join(errs...)
		})
	}
}

func (r *Runner) every(period time.Duration, name string, job func(context.Context) error) {
	r.jobs.Add(1)
	go func() {
		defer r.jobs.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-r.stopped.Done():
				return
			case <-t.C:
				if err := job(r.stopped); err != nil {
					r.log.Error("scheduled job failed", "job", name, "err", err)
				}
			}
		}
	}()
}

func expect(client *http.Client, req *http.Request, status int) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != status {
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

func (r *Runner) startBridge(ctx context.Context) error {
	res := r.set.Resources()
	busCfg, err := pubsubbus.Config(ctx, res)
	if err != nil {
		return err
	}
	project := busCfg.ProjectID
	if project == "" {
		project = os.Getenv("GOOGLE_CLOUD_PROJECT")
	}
	client, err := pubsub.NewClient(ctx, project)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	r.bridge = &bridge{client: client, project: project, target: "http://" + r.cfg.Addr,
		http: &http.Client{Timeout: time.Minute}, log: r.log.With("component", "push-bridge")}
	byTopic := map[string][]string{}
	for _, s := range r.set.Subscriptions() {
		byTopic[s.Topic] = append(byTopic[s.Topic], s.EntryPoint)
	}
	for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
		topicID, subscriptionID, err := busCfg.Pull(topic)
		if err != nil {
			return fmt.Errorf("bridge: %w", err)
		}
		r.bridge.start(r.stopped, route{topicID: topicID, subscriptionID: subscriptionID, entryPoints: byTopic[topic]})
	}
	return nil
}

// Close stops the bridge, flushes and closes the clients and stops the
// emulators this runner started.
func (r *Runner) Close() error {
	r.cancel()
	r.jobs.Wait()
	if r.bridge != nil {
		r.bridge.wait()
		_ = r.bridge.client.Close()
	}
	err := r.set.Resources().Close()
	for _, stop := range slices.Backward(r.stops) {
		stop()
	}
	return err
}

// PrintWelcome tells a new user how to try the flow.
func (r *Runner) PrintWelcome(w io.Writer) error {
	token, err := DevToken(r.cfg, demo.AccountFamily, devTokenTTL)
	if err != nil {
		return err
	}
	var entries []string
	for _, spec := range gcp.Functions {
		entries = append(entries, spec.EntryPoints()...)
	}
	_, err = fmt.Fprintf(w, `playplane (Cloud Functions parity) is serving on %[1]s
Functions Framework entry points: %[2]v
Firestore emulator at %[3]s, Pub/Sub fake at %[4]s (pulled and pushed to the consumers)

Dev token for %[5]s (standard plan, 2 streams, DE, valid 24h):
  export TOKEN=%[6]s

Try:
  curl -s %[1]s/v1/play -H "Authorization: Bearer $TOKEN" \
       --json '{"title_id":"big-buck-bunny","device_id":"living-room-tv"}'
  curl -s %[1]s/v1/sessions -H "Authorization: Bearer $TOKEN"

Other demo accounts: %[7]s, %[8]s, %[9]s, %[10]s (mint with: make token GCP=1 ACCOUNT=acct_solo)
`, r.cfg.PublicURL, entries, os.Getenv("FIRESTORE_EMULATOR_HOST"), os.Getenv("PUBSUB_EMULATOR_HOST"),
		demo.AccountFamily, token, demo.AccountSolo, demo.AccountKids, demo.AccountPastDue, demo.AccountCanceled)
	return err
}

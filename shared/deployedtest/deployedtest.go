// Package deployedtest builds a function as its Lambda and its Cloud
// Functions deploy unit build it, over the emulators make test runs
// (DynamoDB Local and fauxqs; the Firestore emulator and the Pub/Sub fake),
// for benchmarks that measure a function as deployed rather than over the
// embedded store: the store's and the bus's clients (the AWS SDK's JSON,
// SigV4 and HTTP; Firestore's and Pub/Sub's gRPC) are CPU a deployed
// function spends on every request.
//
// Each platform's telemetry is set up as its glue sets it up (awsfn.Main:
// EMF lines; the GCP deploy unit: metrics pushed to Cloud Monitoring
// through Google's Telemetry API, here a loopback OTLP receiver with a
// loopback token endpoint), and each invocation flushes as the glue does,
// through the function's own Lambda handler or entry point. What cannot
// run here is the cloud side: CloudWatch Logs reading the EMF lines, Cloud
// Monitoring taking the points, the Lambda runtime API and the Functions
// Framework's server around each request.
//
// This is a composition package for tests: it imports both platforms'
// adapters.
package deployedtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/golang-jwt/jwt/v5"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/gcp/unit"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/firestore"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/gcpfn/pubsubbus"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/googlecloud/tokentest"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// skipWithout skips b unless another process serves every service (make
// test runs the tests under infra/local/with-emulators.sh, which sets
// their variables): a benchmark must not start a JVM of its own.
func skipWithout(b *testing.B, services ...string) {
	b.Helper()
	for _, s := range services {
		if os.Getenv(emulators.SharedEnv(s)) == "" {
			b.Skipf("%s is not set: run under infra/local/with-emulators.sh (make test does), which serves the %s emulator",
				emulators.SharedEnv(s), s)
		}
	}
}

// devNull is a file the benchmark's log lines and EMF lines go to: a
// write system call each, as on a Lambda's stdout, without a reader.
func devNull(b *testing.B) *os.File {
	b.Helper()
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// AWS is a function's Lambda over DynamoDB Local and fauxqs.
type AWS struct {
	// Handler is the Lambda's handler (awsfn.New, built): Invoke takes
	// the payload Lambda sends.
	Handler lambda.Handler
	Backend *lambdatest.Backend
	// Keyring is the playback token keys the function was given.
	Keyring *auth.Keyring
	// Telemetry is what awsfn.Main sets up, its EMF lines to /dev/null.
	Telemetry telemetry.Options
}

// Env is the telemetry environment of the Lambda under sampler s: the
// sampler's variables (the exporter's endpoint is the harness's).
func (a *AWS) Env(s otlptest.Sampler) map[string]string { return merged(s.Env, nil) }

// NewAWS builds the Lambda logicalID of template.yaml with build, as its
// main does, over a fresh table and fresh queues of topics: the variables
// `sam local invoke` would give it (lambdatest.SampleVars) pointed at the
// emulators, and the SDK configuration made from them as on Lambda
// (lambdaconfig), with a session's credentials in the environment. Its
// log lines (awsfn.NewLogger's JSON at Info) go to /dev/null. It skips
// the benchmark unless the emulators' variables are set.
func NewAWS(b *testing.B, build awsfn.Builder, logicalID string, topics ...string) *AWS {
	b.Helper()
	skipWithout(b, emulators.DynamoDBService, emulators.SQSService)
	backend := lambdatest.NewBackend(b, topics...)
	if err := demoSeed(backend.Store); err != nil {
		b.Fatal(err)
	}
	vars := lambdatest.Merge(lambdatest.SampleVars(b, logicalID), backend.Vars, map[string]string{
		"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local",
		"AWS_LAMBDA_FUNCTION_NAME": logicalID,
	})
	ring, err := auth.ParseKeyring(vars[gcpfn.EnvPlaybackTokenKeys])
	if err != nil {
		b.Fatal(err)
	}
	out := devNull(b)
	log := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := lambdatest.NewHandler(b, build, vars, func(o *awsfn.Options) { o.AWS, o.Log = nil, log })
	emf := &counter{w: out}
	b.Cleanup(func() {
		if emf.n == 0 && !b.Failed() && !b.Skipped() {
			b.Error("deployedtest: telemetry wrote no EMF line")
		}
	})
	return &AWS{Handler: h, Backend: backend, Keyring: ring, Telemetry: awsfn.Telemetry(logicalID, emf)}
}

// counter counts the writes that pass through it.
type counter struct {
	w *os.File
	n int
}

func (c *counter) Write(p []byte) (int, error) {
	c.n++
	return c.w.Write(p)
}

// GCP is a function's Cloud Functions deploy unit over the Firestore
// emulator and a Pub/Sub fake in a process of its own.
type GCP struct {
	// Handler is the function's HTTP entry point.
	Handler   http.Handler
	Resources *gcpfn.Resources
	Store     *firestore.Store
	Keyring   *auth.Keyring
	// PubSub is the fake the bus publishes to; Clear empties it.
	PubSub *gcpemu.PubSubChild
	// Telemetry is what the deploy unit sets up (gcpfn.Resources.Telemetry).
	Telemetry telemetry.Options
	// telemetryEnv is what the stack sets for it (the googlecloud metric
	// exporter, the project, the region), with the exporter's endpoint
	// a loopback receiver of its own and Google's default credentials
	// those of a loopback token endpoint.
	telemetryEnv map[string]string
	callerKey    *rsa.PrivateKey
	sw           *otelSwitch // Mode's
}

// Env is the telemetry environment of the deploy unit under sampler s:
// the stack's variables and the sampler's (the spans' endpoint is the
// harness's).
func (g *GCP) Env(s otlptest.Sampler) map[string]string { return merged(s.Env, g.telemetryEnv) }

// merged is the union of two sets of variables, b's winning.
func merged(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}

const (
	gcpProject   = "playplane-bench"
	callerIssuer = "https://id.playplane.example/"
	callerKID    = "bench"
)

// NewGCP registers the catalogue function name with build as its deploy
// unit does (functions/gcp/unit: its entry points, and the Pub/Sub bus if
// it publishes), over fresh collections and topics, with caller tokens
// checked against an RS256 key set served on loopback (JWT_JWKS_URL, as
// the stack configures the identity provider). Its log lines (the Cloud
// Logging JSON of gcpfn.NewLogger) go to /dev/null. It skips the benchmark
// unless the Firestore emulator's variable is set, and sets
// GOOGLE_APPLICATION_CREDENTIALS for the benchmark.
//
// Its Firestore and Pub/Sub clients differ from a deployed unit's only in
// their endpoint and credentials (gcpemu.DeployedClientOptions): the gRPC
// transport's telemetry (a span and the duration of every RPC) is on, as
// deployed. It and the Firestore library's own spans of each operation
// record through the OpenTelemetry globals, which a paused Provider
// leaves installed: Mode switches what the libraries took from them, so
// that each is counted where it belongs.
func NewGCP(b *testing.B, name string, build gcpfn.Builder) *GCP {
	b.Helper()
	skipWithout(b, emulators.FirestoreService)
	builders := map[string]gcpfn.Builder{name: build}
	fns := unit.Deployed(builders)
	specs, err := unit.Specs(fns, builders)
	if err != nil || len(specs) != 1 {
		b.Fatalf("no deploy unit of %s: %v", name, err)
	}
	g := &GCP{PubSub: gcpemu.PubSubProcess(b), Keyring: auth.NewDevKeyring()}
	// Before the first client connects: its transport takes the globals.
	g.takeGlobals()
	b.Cleanup(func() {
		if names := g.sw.unswitchedNames(); len(names) > 0 {
			b.Errorf("deployedtest: the client libraries made instruments Mode does not switch, which recorded nothing: %v", names)
		}
	})
	if g.callerKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		b.Fatal(err)
	}
	prefix := playback.NewID("b") + "_"
	var topics []string
	for _, t := range events.Topics {
		topics = append(topics, t+":projects/"+gcpProject+"/topics/"+prefix+t)
	}
	vars := map[string]string{
		telemetry.EnvGoogleCloudProject: gcpProject,
		"FIRESTORE_COLLECTION_PREFIX":   prefix,
		catalog.EnvPubSubTopics:         strings.Join(topics, ","),
		catalog.EnvJWTIssuer:            callerIssuer,
		catalog.EnvJWTAudience:          "playplane",
		catalog.EnvJWTJWKSURL:           g.serveKeys(b),
		gcpfn.EnvPlaybackTokenKeys:      g.Keyring.Spec(),
	}
	// The benchmark's environment may set what the stack sets on every
	// Cloud Function (the libraries' own telemetry, on by default).
	for _, name := range catalog.GCPSettings {
		if v, ok := os.LookupEnv(name); ok {
			vars[name] = v
		}
	}
	var bus gcpfn.BusMaker
	if len(fns[0].Publishes) > 0 {
		bus = pubsubbus.Make
	}
	g.Resources = gcpfn.NewResources(gcpfn.Options{
		Lookuper:         envconfig.MapLookuper(vars),
		Log:              gcpfn.NewLogger(devNull(b), slog.LevelInfo, gcpProject),
		FirestoreOptions: gcpemu.DeployedClientOptions(emulators.Firestore(b)),
		PubSubOptions:    gcpemu.DeployedClientOptions(g.PubSub.Addr),
		Bus:              bus,
	})
	b.Cleanup(func() { _ = g.Resources.Close() })
	ctx := context.Background()
	if bus != nil {
		cfg, err := pubsubbus.Config(ctx, g.Resources)
		if err != nil {
			b.Fatal(err)
		}
		admin, err := pubsub.New(ctx, cfg, g.Resources.PubSubOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		defer admin.Close()
		if err := admin.EnsureTopics(ctx, fns[0].Publishes...); err != nil {
			b.Fatal(err)
		}
	}
	if g.Store, err = g.Resources.Store(ctx); err != nil {
		b.Fatal(err)
	}
	if err := demoSeed(g.Store); err != nil {
		b.Fatal(err)
	}
	set, err := gcpfn.NewSet(g.Resources, specs...)
	if err != nil {
		b.Fatal(err)
	}
	if err := set.Build(ctx); err != nil {
		b.Fatal(err)
	}
	g.Handler, _ = set.HTTPHandler(specs[0].HTTP)
	g.Telemetry = g.Resources.Telemetry(fns[0].GCPEntryPoint)
	b.Setenv("GOOGLE_APPLICATION_CREDENTIALS", tokentest.Start(b).CredentialsFile(b, gcpProject))
	metrics := otlptest.Start(b)
	g.telemetryEnv = map[string]string{
		telemetry.EnvMetricsExporter:          telemetry.ExporterGoogleCloud,
		telemetry.EnvGoogleCloudProject:       gcpProject,
		telemetry.EnvResourceAttributes:       "cloud.region=europe-west1",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": metrics.Endpoint() + "/v1/metrics",
	}
	// The exporter's errors go to the log: a benchmark whose metrics never
	// left would measure less than a deployed unit does.
	b.Cleanup(func() {
		if len(metrics.MetricExports()) == 0 && !b.Failed() && !b.Skipped() {
			b.Error("deployedtest: the googlecloud exporter sent no metrics")
		}
	})
	return g
}

// Mode is otlptest.OverheadSink's setMode: while telemetry is on, the
// client libraries record their spans and metrics under the providers
// telemetry.Setup installed; while it is off, nothing, as on a deployed
// unit without telemetry, whose libraries hold the no-op globals. A paused
// Provider leaves Setup's installed, and "off" would record the Firestore
// library's spans (it asks the global tracer provider at every operation)
// and the transport's (it took the globals when its client connected). The
// first call, after Setup, takes Setup's globals and installs a switch in
// their place (takeGlobals).
func (g *GCP) Mode(on bool) {
	if g.sw == nil {
		g.sw = newOtelSwitch()
	}
	g.sw.set(on)
}

// takeGlobals installs the switch as the globals before any client
// connects, in the "off" position: the clients NewGCP makes take it.
func (g *GCP) takeGlobals() {
	if g.sw == nil {
		g.sw = newOtelSwitch()
	}
	g.sw.install()
}

// serveKeys serves the caller key's public half as a JWKS on loopback and
// returns its URL.
func (g *GCP) serveKeys(b *testing.B) string {
	pub := g.callerKey.PublicKey
	set, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": callerKID, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	}))
	b.Cleanup(srv.Close)
	return srv.URL + "/jwks.json"
}

// CallerToken is an hour's RS256 caller JWT for account, as the identity
// provider would sign it.
func (g *GCP) CallerToken(b *testing.B, account string) string {
	b.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": callerIssuer, "aud": "playplane", "sub": account,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	tok.Header["kid"] = callerKID
	s, err := tok.SignedString(g.callerKey)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// demoSeed puts the demo accounts, plans and titles in s.
func demoSeed(s demo.Store) error {
	return demo.Seed(context.Background(), s, "https://edge.example", time.Now())
}

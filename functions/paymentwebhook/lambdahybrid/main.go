// Command lambdahybrid is paymentwebhook's Stripe webhook on AWS Lambda in
// the hybrid stack: the HTTP route only, over the Firestore store and the
// Pub/Sub bus on GCP. The stripe-events consumer and the scheduled jobs run
// on GCP next to the data, so a Lambda told any other trigger than http
// (PLAYPLANE_TRIGGER) refuses to build.
//
// The Lambda reaches GCP through workload identity federation: the stack
// passes an external_account configuration (no key material) in
// GCP_CREDENTIALS_JSON, and the Google client libraries trade the
// Lambda's own role credentials for a Google token on the first RPC.
//
// Its lifecycle is shared/awsfn's: nothing is built in Lambda's init phase;
// the store and the bus are made on the first invocation (and again on the
// next one if that fails), so a cold start makes no network call and a GCP
// outage answers 5xx (Stripe retries) rather than crashing the init.
//
// GCP_CLIENT_TELEMETRY (shared/gcpclient) turns the Google client
// libraries' own telemetry off here as on Cloud Functions: the clients'
// options and the tracers the Lambda's telemetry leaves silent.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/playplane/playplane/functions/paymentwebhook"
	"github.com/playplane/playplane/shared/awsfn"
	_ "github.com/playplane/playplane/shared/awsfn/smsecrets" // the function reads secrets named by ARN
	"github.com/playplane/playplane/shared/firestore"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/gcpclient"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub"
)

// Environment variables read here, beside FIRESTORE_* (shared/firestore),
// PUBSUB_* (shared/pubsub) and paymentwebhook.Config.
const (
	// EnvCredentialsJSON holds the workload identity federation
	// configuration (type external_account) the clients authenticate with.
	// Unset, they use Application Default Credentials.
	EnvCredentialsJSON = "GCP_CREDENTIALS_JSON"
	// EnvPubSubTopics maps topics to topic resource names,
	// "stripe-events:projects/P/topics/stack-stripe-events,..." (the
	// Pulumi stack's value). Every entry shares one project and one prefix;
	// they become the bus's project and topic prefix.
	EnvPubSubTopics = pubsub.EnvTopics
	// EnvFirestoreEmulator and EnvPubSubEmulator point the clients at the
	// emulators (the client libraries' own variables, read here too so a
	// test can set them per handler).
	EnvFirestoreEmulator = "FIRESTORE_EMULATOR_HOST"
	EnvPubSubEmulator    = "PUBSUB_EMULATOR_HOST"
)

// build is paymentwebhook's one Build over the Firestore store and the
// Pub/Sub bus, on awsfn's environment otherwise (its config, secrets and
// logger).
var build fnenv.Builder = buildHybrid

func main() { awsfn.Main(build, silentTracers(os.LookupEnv)...) }

// silentTracers are the tracers GCP_CLIENT_TELEMETRY leaves silent in the
// Lambda's telemetry. The clients read the setting again when they are
// made (clientOptions); an unusable value is logged here, once.
func silentTracers(lookup func(string) (string, bool)) []string {
	tel, err := gcpclient.ReadTelemetry(lookup)
	if err != nil {
		awsfn.NewLogger().Error("client library telemetry", "err", err)
	}
	return tel.SilentTracers
}

func buildHybrid(ctx context.Context, env fnenv.Env) (fnenv.Function, error) {
	if trigger, _ := env.Lookup(awsfn.EnvTrigger); awsfn.Trigger(trigger) != awsfn.TriggerHTTP {
		return nil, fmt.Errorf("lambdahybrid: refusing %s=%s: this Lambda serves only POST /v1/webhooks/stripe; "+
			"in the hybrid stack the stripe-events consumer and the jobs run on GCP (Pub/Sub, Cloud Scheduler)", awsfn.EnvTrigger, trigger)
	}
	store, err := newStore(ctx, env)
	if err != nil {
		return nil, err
	}
	bus, err := newBus(ctx, env)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	srv, err := paymentwebhook.Build(ctx, onGCP{Env: env, store: store, bus: bus})
	if err != nil {
		_ = bus.Close()
		_ = store.Close()
		return nil, err
	}
	return webhookOnly{srv}, nil
}

// onGCP is the Lambda's environment with the data on GCP: the Firestore
// store and the Pub/Sub bus instead of DynamoDB and SQS.
type onGCP struct {
	fnenv.Env
	store *firestore.Store
	bus   *pubsub.Bus
}

func (g onGCP) Store(context.Context) (playback.Store, error) { return g.store, nil }

func (g onGCP) Bus(context.Context) (playback.Publisher, error) { return g.bus, nil }

// ProgressBatch: Firestore has none.
func (onGCP) ProgressBatch(context.Context) (playback.ProgressBatchStore, bool, error) {
	return nil, false, nil
}

// QoEViews, QoEStream: the payment webhook keeps no QoE.
func (onGCP) QoEViews(context.Context) (playback.QoEStore, bool, error) { return nil, false, nil }

func (onGCP) QoEStream(context.Context) (playback.StreamSink, error) { return nil, nil }

// LeaseCounter: the payment webhook counts no leases.
func (onGCP) LeaseCounter(context.Context) (playback.LeaseCounter, bool, error) {
	return nil, false, nil
}

// webhookOnly serves paymentwebhook's routes without its consumers.
type webhookOnly struct{ srv *paymentwebhook.Server }

func (w webhookOnly) Register(mux *http.ServeMux) { w.srv.Register(mux) }

func (webhookOnly) Consumers() map[string]playback.BatchHandler { return nil }

// newStore is the Firestore store of FIRESTORE_PROJECT_ID and
// FIRESTORE_DATABASE. Making it reads the environment only: the client
// connects and fetches a token on its first RPC.
func newStore(ctx context.Context, env fnenv.Env) (*firestore.Store, error) {
	var cfg firestore.Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	opts, err := clientOptions(env, EnvFirestoreEmulator)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s, err := firestore.New(ctx, cfg, nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return s, nil
}

// newBus is the Pub/Sub bus of PUBSUB_TOPICS (and PUBSUB_*).
func newBus(ctx context.Context, env fnenv.Env) (*pubsub.Bus, error) {
	var cfg pubsub.Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	if err := pubsub.ApplyTopicSpec(&cfg, env.Lookup); err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	opts, err := clientOptions(env, EnvPubSubEmulator)
	if err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	b, err := pubsub.New(ctx, cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	return b, nil
}

// clientOptions are a client's: its authentication, then what
// GCP_CLIENT_TELEMETRY asks (gcpclient.ReadTelemetry).
func clientOptions(env fnenv.Env, emulatorVar string) ([]option.ClientOption, error) {
	opts, err := authOptions(env, emulatorVar)
	if err != nil {
		return nil, err
	}
	// An unusable value leaves the libraries' default; main logged it.
	tel, _ := gcpclient.ReadTelemetry(env.Lookup)
	return append(opts, tel.ClientOptions...), nil
}

// authOptions authenticate a client: none against an emulator, else the
// federation config of GCP_CREDENTIALS_JSON, else Application Default
// Credentials.
func authOptions(env fnenv.Env, emulatorVar string) ([]option.ClientOption, error) {
	if host, _ := env.Lookup(emulatorVar); host != "" {
		return []option.ClientOption{
			option.WithEndpoint(host),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		}, nil
	}
	creds, _ := env.Lookup(EnvCredentialsJSON)
	if creds == "" {
		return nil, nil
	}
	var head struct {
		Type string `json:"type"`
	}
	// Only a federation config is accepted: a service account key here
	// would be a long-lived secret in plain Lambda configuration. The
	// errors never quote the value.
	if err := json.Unmarshal([]byte(creds), &head); err != nil {
		return nil, fmt.Errorf("%s is not JSON", EnvCredentialsJSON)
	}
	if head.Type != string(option.ExternalAccount) {
		return nil, fmt.Errorf("%s has type %q, want %q (workload identity federation)", EnvCredentialsJSON, head.Type, option.ExternalAccount)
	}
	return []option.ClientOption{option.WithAuthCredentialsJSON(option.ExternalAccount, []byte(creds))}, nil
}

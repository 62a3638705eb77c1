package awsfn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/awsfn/lambdaconfig"
	"github.com/playplane/playplane/shared/depcheck"
	"github.com/playplane/playplane/shared/dynamo"
	"github.com/playplane/playplane/shared/firehose"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/playback"
)

// Environment variables read here, beside the adapters' own (DYNAMODB_*,
// SQS_*) and the functions' Configs.
const (
	// EnvTable names the DynamoDB table; DYNAMODB_TABLE, the adapter's own
	// name, wins when both are set.
	EnvTable = "DYNAMO_TABLE"
	// EnvQueueURLs maps topics to queue URLs: "heartbeats=https://sqs...,edge-health=https://...".
	// TOPIC_<TOPIC> variables (TOPIC_EDGE_HEALTH, as the Pulumi stack sets
	// them) add to it, and SQS_QUEUE_URLS (the adapter's) is read too.
	EnvQueueURLs = "QUEUE_URLS"
	// EnvPlaybackTokenKeys holds the playback token keys, "kid:base64key,...".
	EnvPlaybackTokenKeys = catalog.SecretPlaybackTokenKeys
)

// TopicEnv is the variable that may hold topic's queue URL: TOPIC_EDGE_HEALTH
// for edge-health.
func TopicEnv(topic string) string {
	return "TOPIC_" + strings.ToUpper(strings.ReplaceAll(topic, "-", "_"))
}

// Env hands a Builder the function's configuration and its dependencies on
// the AWS adapters. Dependencies are built on first request and shared. A
// getter that cannot build its dependency returns an error naming it and
// never a nil the builder could pass on: Deps fields are interfaces, where
// a (*dynamo.Store)(nil) is not == nil.
type Env struct {
	now func() time.Time
	log *slog.Logger

	lookup   envconfig.Lookuper
	awsCfg   *aws.Config
	store    *dynamo.Store
	bus      playback.Publisher
	keyring  *auth.Keyring
	identity *GatewayIdentity
	trigger  Trigger
}

// NewEnv returns the environment opts describe, for tests that call a
// Builder themselves.
func NewEnv(opts Options) *Env {
	e := &Env{now: opts.Now, log: opts.Log, lookup: opts.Lookuper, awsCfg: opts.AWS}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.lookup == nil {
		e.lookup = envconfig.OsLookuper()
	}
	return e
}

var _ fnenv.Env = (*Env)(nil)

// Now is the clock the function should use.
func (e *Env) Now() time.Time { return e.now() }

// Log is the Lambda's logger.
func (e *Env) Log() *slog.Logger { return e.log }

// Process fills a Config struct (env tags) from the environment.
func (e *Env) Process(ctx context.Context, cfg any) error {
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: e.lookup}); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Trigger is what invokes the Lambda being built ("" in an Env made by
// NewEnv), for a builder that serves only some triggers.
func (e *Env) Trigger() Trigger { return e.trigger }

// Lookup reads one variable.
func (e *Env) Lookup(name string) (string, bool) { return e.lookup.Lookup(name) }

// AWS returns the SDK configuration shared by the clients, built from the
// Lambda environment (lambdaconfig.Load: what config.LoadDefaultConfig
// would build there, without linking the SDK's credential chain). It makes
// no network call: credentials are resolved on the first request.
func (e *Env) AWS(ctx context.Context) (aws.Config, error) {
	if e.awsCfg != nil {
		return *e.awsCfg, nil
	}
	cfg, err := lambdaconfig.Load(ctx, e.lookup.Lookup)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	e.awsCfg = &cfg
	return cfg, nil
}

// Store returns the DynamoDB store of DYNAMO_TABLE.
func (e *Env) Store(ctx context.Context) (playback.Store, error) {
	return e.dynamoStore(ctx)
}

// ProgressBatch: DynamoDB has no batch progress writer; each write is a
// request of its own either way.
func (e *Env) ProgressBatch(context.Context) (playback.ProgressBatchStore, bool, error) {
	return nil, false, nil
}

// LeaseCounter is the DynamoDB store: it counts the sparse "leases" index.
func (e *Env) LeaseCounter(ctx context.Context) (playback.LeaseCounter, bool, error) {
	s, err := e.dynamoStore(ctx)
	if err != nil {
		return nil, false, err
	}
	return s, true, nil
}

// QoEViews: on AWS the views are in the warehouse (Firehose → S3 → Athena).
func (e *Env) QoEViews(context.Context) (playback.QoEStore, bool, error) {
	return nil, false, nil
}

// QoEStream is the Firehose delivery stream QOE_FIREHOSE_STREAM names, or
// nil where the stack declares none.
func (e *Env) QoEStream(ctx context.Context) (playback.StreamSink, error) {
	var cfg firehose.Config
	if err := e.Process(ctx, &cfg); err != nil {
		return nil, fmt.Errorf("awsfn.Env.QoEStream: %w", err)
	}
	if cfg.Stream == "" {
		return nil, nil
	}
	awsCfg, err := e.AWS(ctx)
	if err != nil {
		return nil, fmt.Errorf("awsfn.Env.QoEStream: %w", err)
	}
	sink, err := firehose.New(cfg, awsCfg)
	if err != nil {
		return nil, fmt.Errorf("awsfn.Env.QoEStream: %w", err)
	}
	return sink, nil
}

func (e *Env) dynamoStore(ctx context.Context) (*dynamo.Store, error) {
	if e.store != nil {
		return e.store, nil
	}
	var cfg dynamo.Config
	aliased := envconfig.MultiLookuper(e.lookup, envconfig.LookuperFunc(func(key string) (string, bool) {
		if key == catalog.EnvDynamoTable {
			return e.lookup.Lookup(EnvTable)
		}
		return "", false
	}))
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &cfg, Lookuper: aliased}); err != nil {
		return nil, fmt.Errorf("awsfn.Env.Store: %s (or %s) and DYNAMODB_*: %w", EnvTable, catalog.EnvDynamoTable, err)
	}
	awsCfg, err := e.AWS(ctx)
	if err != nil {
		return nil, fmt.Errorf("awsfn.Env.Store: %w", err)
	}
	// The client is made on the store's first call: a first request
	// refused before the store (a bad token) does not pay for it.
	store, err := dynamo.NewDeferred(ctx, cfg, func() *dynamodb.Client {
		return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
			if cfg.Endpoint != "" {
				o.BaseEndpoint = aws.String(cfg.Endpoint)
			}
		})
	})
	if err != nil {
		return nil, fmt.Errorf("awsfn.Env.Store: %w", err)
	}
	e.store = store
	return store, nil
}

// QueueURLs returns topic → queue URL from QUEUE_URLS, TOPIC_<TOPIC> and
// SQS_QUEUE_URLS.
func (e *Env) QueueURLs(ctx context.Context) (map[string]string, error) {
	var cfg struct {
		QueueURLs    map[string]string `env:"QUEUE_URLS, separator=="`
		SQSQueueURLs map[string]string `env:"SQS_QUEUE_URLS"`
	}
	if err := e.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	urls := map[string]string{}
	maps.Copy(urls, cfg.SQSQueueURLs)
	for _, topic := range events.Topics {
		if v, ok := e.lookup.Lookup(TopicEnv(topic)); ok && v != "" {
			urls[topic] = v
		}
	}
	maps.Copy(urls, cfg.QueueURLs)
	for topic, u := range urls {
		if topic == "" || queueName(u) == "" {
			return nil, fmt.Errorf("queue URL of topic %q: %q is not a queue URL", topic, u)
		}
	}
	return urls, nil
}

// queueName is the last path segment of a queue URL, which is the last
// segment of the queue's ARN too.
func queueName(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil || u.Host == "" {
		return ""
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." {
		return ""
	}
	return name
}

// Bus returns the bus publishing to the configured queues: the SQS bus of
// shared/awsfn/sqsbus, which the Lambda main of a function that publishes
// imports. Other Lambdas do not link the SQS client, whose initialisation
// every cold start would pay.
func (e *Env) Bus(ctx context.Context) (playback.Publisher, error) {
	if e.bus != nil {
		return e.bus, nil
	}
	if newBus == nil {
		return nil, errors.New("awsfn.Env.Bus: this Lambda links no bus: a function that publishes has its main import shared/awsfn/sqsbus")
	}
	bus, err := newBus(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("awsfn.Env.Bus: %w", err)
	}
	if depcheck.Nil(bus) {
		return nil, errors.New("awsfn.Env.Bus: the registered bus constructor returned a nil bus")
	}
	e.bus = bus
	return bus, nil
}

// newBus makes the bus of an Env (RegisterBus).
var newBus func(ctx context.Context, e *Env) (playback.Publisher, error)

// RegisterBus sets how Bus makes the bus, from the init of shared/awsfn/sqsbus.
func RegisterBus(fn func(ctx context.Context, e *Env) (playback.Publisher, error)) { newBus = fn }

// Keyring returns the playback token keys of PLAYBACK_TOKEN_KEYS.
func (e *Env) Keyring() (*auth.Keyring, error) {
	if e.keyring != nil {
		return e.keyring, nil
	}
	spec, _ := e.lookup.Lookup(EnvPlaybackTokenKeys)
	if spec == "" {
		return nil, fmt.Errorf("awsfn.Env.Keyring: %s is not set", EnvPlaybackTokenKeys)
	}
	ring, err := auth.ParseKeyring(spec)
	if err != nil {
		// ParseKeyring's errors name keys, never their bytes.
		return nil, fmt.Errorf("awsfn.Env.Keyring: %s: %w", EnvPlaybackTokenKeys, err)
	}
	e.keyring = ring
	return ring, nil
}

// Identity returns the caller authenticator of the JWT_* variables. See
// GatewayIdentity.
func (e *Env) Identity(ctx context.Context) (fnenv.Authenticator, error) {
	if e.identity != nil {
		return e.identity, nil
	}
	var cfg auth.VerifierConfig
	if err := e.Process(ctx, &cfg); err != nil {
		return nil, fmt.Errorf("awsfn.Env.Identity: %w", err)
	}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		return nil, fmt.Errorf("awsfn.Env.Identity: %w", err)
	}
	e.identity = &GatewayIdentity{Issuer: cfg.Issuer, Verifier: v}
	return e.identity, nil
}

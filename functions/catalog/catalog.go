// Package catalog is the one table of playplane's functions: their routes,
// topics, jobs, entry points, secrets, settings, data access and platform
// limits. Everything that deploys or runs a function follows it:
//
//   - the Pulumi program (infra/stack, a module of its own that requires this
//     one) builds every cloud resource from it;
//   - functions/gcp/unit registers a function's Cloud Functions entry
//     points (HTTP, one per consumed topic, jobs) from it, in the deploy
//     unit of each function (functions/gcp/source); functions/gcp registers
//     every function's for the local Functions Framework runner;
//   - the local runner (cmd/playplane) mounts each function's routes,
//     consumers and jobs by walking it;
//   - events names the bus topics after it.
//
// What tools read as files is generated from it by go run
// ./cmd/playplane-gen (functions/catalog/deploygen): template.yaml's queues
// and function resources, Makefile.lambdas and functions/registry (every
// function's Build by name). What is written by hand is checked against it
// as data: the routes, consumers and jobs each function registers at run
// time (cmd/playplane), and template.yaml parsed as YAML (this package's
// tests).
// Renaming an env var or moving a route happens here and nowhere else.
//
// The package is plain Go with only standard library imports, so that the
// Pulumi module and every deploy unit can link it for nothing.
package catalog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Auth says who authenticates a route.
type Auth string

const (
	// AuthJWT routes carry an end-user JWT. On AWS the HTTP API's JWT
	// authorizer checks it before the function runs; behind the GCP load
	// balancer the function checks it with the JWT_* env.
	AuthJWT Auth = "jwt"
	// AuthPlaybackToken routes carry a playback token minted by authorizeplay
	// (steering also takes the manifest credential of its session); the
	// function verifies it with PLAYBACK_TOKEN_KEYS.
	AuthPlaybackToken Auth = "playback-token"
	// AuthManifestCredential routes are loaded by URL alone (native players
	// add no headers): the credential is a manifest credential derived from
	// the playback token, in the query's token, which the function verifies
	// with PLAYBACK_TOKEN_KEYS. A playback token does not open them.
	AuthManifestCredential Auth = "manifest-credential"
	// AuthCMCDCredential routes are players' CMCD v2 event targets: the
	// player reports to a URL it is given and adds no headers, so the
	// session's collector credential (auth.IssueCMCD) is a path segment,
	// verified by the function with PLAYBACK_TOKEN_KEYS. Neither a playback
	// token nor a manifest credential opens them.
	AuthCMCDCredential Auth = "cmcd-credential"
	// AuthStripeSignature routes are called by Stripe, which signs the body.
	AuthStripeSignature Auth = "stripe-signature"
	// AuthEdgeHMAC routes are called by CDN edges signing with a per-edge key.
	AuthEdgeHMAC Auth = "edge-hmac"
	// AuthAdminJWT routes carry an operator's JWT: checked like AuthJWT
	// (the same authorizer on AWS), and the function then requires the
	// admin claim (ADMIN_CLAIM) and answers 403 without it.
	AuthAdminJWT Auth = "admin-jwt"
)

// VerifiedAsJWT says whether the route's caller JWT is checked as AuthJWT
// routes' are (on AWS by the HTTP API's JWT authorizer).
func (a Auth) VerifiedAsJWT() bool { return a == AuthJWT || a == AuthAdminJWT }

// Route is one HTTP route served by a function.
type Route struct {
	Method string
	// Path uses {name} for path parameters, as API Gateway does.
	Path string
	Auth Auth
}

// Key is the API Gateway route key, e.g. "POST /v1/play".
func (r Route) Key() string { return r.Method + " " + r.Path }

// Consumer is a subscription of a function to a topic.
type Consumer struct {
	Topic string
	// GCPEntryPoint is the name the function's package registers with the
	// functions framework for push deliveries of this topic.
	GCPEntryPoint string
}

// StoreAccess is how much of the store a function may touch.
type StoreAccess string

const (
	StoreReadOnly  StoreAccess = "read-only"
	StoreReadWrite StoreAccess = "read-write"
)

// Job is a scheduled task of a function. Both clouds start it with the
// same JSON payload, {"job":"<Name>"}: an EventBridge rule invokes the
// function's jobs Lambda (EnvTrigger=job) with it, Cloud Scheduler POSTs it
// to the function's jobs entry point (shared/gcpfn).
type Job struct {
	// Name is the key the function registers the job under (its Jobs method).
	Name string
	// Every is the interval between runs: whole minutes dividing an hour,
	// or whole hours dividing a day, so that it is both an EventBridge
	// rate() and a cron schedule.
	Every time.Duration
	// NeedsSecret is the Env of an optional secret the job cannot run
	// without (reconcile reads Stripe's API): where the secret is not set
	// the schedule is deployed disabled.
	NeedsSecret string
}

// Payload is the JSON the schedule sends.
func (j Job) Payload() string {
	b, _ := json.Marshal(struct {
		Job string `json:"job"`
	}{j.Name})
	return string(b)
}

// RateExpression is the EventBridge schedule of the job, e.g. "rate(1 minute)".
func (j Job) RateExpression() (string, error) {
	n, unit, err := j.interval()
	if err != nil {
		return "", err
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("rate(%d %s)", n, unit), nil
}

// CronSchedule is the Cloud Scheduler schedule of the job (unix cron, UTC).
func (j Job) CronSchedule() (string, error) {
	n, unit, err := j.interval()
	switch {
	case err != nil:
		return "", err
	case unit == "minute" && n == 1:
		return "* * * * *", nil
	case unit == "minute":
		return fmt.Sprintf("*/%d * * * *", n), nil
	case n == 1:
		return "0 * * * *", nil
	default:
		return fmt.Sprintf("0 */%d * * *", n), nil
	}
}

func (j Job) interval() (int, string, error) {
	switch {
	case j.Every >= time.Hour && j.Every%time.Hour == 0 && (24*time.Hour)%j.Every == 0:
		return int(j.Every / time.Hour), "hour", nil
	case j.Every >= time.Minute && j.Every < time.Hour && j.Every%time.Minute == 0 && time.Hour%j.Every == 0:
		return int(j.Every / time.Minute), "minute", nil
	}
	return 0, "", fmt.Errorf("job %s: interval %s is neither whole minutes dividing an hour nor whole hours dividing a day", j.Name, j.Every)
}

// Function is one deployable function (folder functions/<Name>).
type Function struct {
	Name string
	// GCPEntryPoint is the registered name of the HTTP handler on Cloud Functions.
	GCPEntryPoint string
	Routes        []Route
	Consumes      []Consumer
	Publishes     []string
	// BackgroundPublishes are the Publishes only the function's consumers
	// and jobs publish to: a part that serves just the HTTP routes (the
	// hybrid stack's webhook Lambda) may not publish to them.
	BackgroundPublishes []string
	// Jobs run on a schedule where the function's consumers run; on GCP
	// they are served by the GCPJobsEntryPoint HTTP handler.
	Jobs              []Job
	GCPJobsEntryPoint string
	// Secrets are Env names from Secrets.
	Secrets []string
	// BackgroundSecrets are the Secrets only the function's consumers and
	// jobs read: a part that serves just the HTTP routes (the hybrid
	// stack's webhook Lambda) is not given them.
	BackgroundSecrets []string
	// Settings are Env names from Settings.
	Settings []string
	// SignsURLs adds the delivery CDN's base URL, signing key and key id.
	SignsURLs bool
	Store     StoreAccess
	// StoreIndexes are the DynamoTable indexes the function's code queries
	// (infra/stack tests check it against the code); only these index
	// ARNs appear in its policy.
	StoreIndexes []string
	// LocatesCaller marks a function that places the caller by its IP
	// address (steering.ClientIP): behind the GCP load balancer it is told
	// how many proxies to believe (EnvPickEdgeTrustedHops).
	LocatesCaller  bool
	MemoryMB       int
	TimeoutSeconds int
}

// Topic is one bus topic. On AWS it is an SQS queue (plus DLQ), on GCP a
// Pub/Sub topic (plus dead-letter topic). On AWS a function finds the
// queue of each topic it publishes to or consumes in EnvSQSQueueURLs; on
// GCP only a function that publishes is given EnvPubSubTopics (read by
// shared/gcpfn/pubsubbus), since a push subscription delivers to a
// consumer without it naming the topic.
type Topic struct {
	Name string
}

// Secret is one secret value. Its value comes only from Pulumi secret config
// (ConfigKey, set with `pulumi config set --secret`) and is kept in Secrets
// Manager / Secret Manager; no function configuration holds it.
type Secret struct {
	// Env is the variable name the function reads the value from. On AWS the
	// Lambda gets only SecretARNEnv(Env), the secret's ARN, and reads the
	// value from Secrets Manager at run time (shared/awsfn); on GCP Cloud
	// Functions binds the pinned Secret Manager version to Env.
	Env       string
	ConfigKey string
	// Optional secrets may be left unset: the functions then run without
	// what the secret enables (a job naming it in NeedsSecret is disabled).
	Optional bool
}

// Setting is a plain (not secret) value from the stack's config that
// functions read from Env. A setting without a Default must be configured.
type Setting struct {
	Env       string
	ConfigKey string
	Default   string
	// Optional settings may be left empty (Default ""): the function
	// reads an empty value as unset. The others are required.
	Optional bool
}

// Delivery is a video CDN with signed URLs.
type Delivery struct {
	Name string
	// SigningSecret is the Env name of the signing key in Secrets.
	SigningSecret string
	// KeysEnv lists the signer's keys as "id=env:<SigningSecret>" (the
	// shared/cloudfront and shared/cloudcdn key set syntax); ActiveKeyEnv
	// names the signing key's id (CloudFront public key id, Cloud CDN key
	// name), which is not secret.
	KeysEnv      string
	ActiveKeyEnv string
}

// KeysValue is the KeysEnv value for the key called id.
func (d Delivery) KeysValue(id string) string { return id + "=env:" + d.SigningSecret }

// CDNBasesValue is the EnvSignURLCDNBases value for players fetching from
// base (https://host): the delivery is the one CDN a request may pick.
func (d Delivery) CDNBasesValue(base string) string { return d.Name + "=" + base }

// Platform constants.
const (
	LambdaRuntime      = "provided.al2023"
	LambdaArchitecture = "arm64"
	LambdaHandler      = "bootstrap"
	// GCPRuntime is the Cloud Functions gen2 runtime id; go126 matches the
	// main module's `go 1.26` directive.
	GCPRuntime = "go126"
	// MaxDeliveryAttempts before a message moves to its dead-letter
	// queue/topic. The buses' own defaults (SQS_MAX_RECEIVE_COUNT,
	// PUBSUB_MAX_DELIVERY_ATTEMPTS, membus), which a consumer takes its
	// last delivery from, are held to it by a test.
	MaxDeliveryAttempts = 5
	// MaxRetryBackoff is the longest a queue waits, after a delivery its
	// consumer failed, before delivering the message again: the Pub/Sub
	// subscriptions' maximum backoff (infra/gcpfn). An SQS queue delivers
	// it again once its visibility timeout (QueueVisibilitySeconds) ends.
	MaxRetryBackoff = 600 * time.Second
)

// Env names the stack sets. Each is the name the code reads: the `env`
// tags of shared/dynamo, shared/firestore, shared/sqs, shared/auth and the
// functions' Configs (a tag cannot name a constant), or a constant of a
// shared package that takes it from here (awsfn.EnvTrigger,
// httpx.EnvCORSAllowedOrigins, pubsub.EnvTopics: no shared package spells
// one itself, TestSharedPackagesSpellNoCatalogueName);
// infra/stack's TestEveryEnvNameIsReadByTheCode checks them against the
// source.
const (
	EnvDynamoTable       = "DYNAMODB_TABLE"
	EnvFirestoreProject  = "FIRESTORE_PROJECT_ID"
	EnvFirestoreDatabase = "FIRESTORE_DATABASE"
	// EnvSQSQueueURLs maps topics to queue URLs, "topic:url,topic:url";
	// EnvPubSubTopics maps topics to topic resource names,
	// "topic:projects/P/topics/T,...".
	EnvSQSQueueURLs = "SQS_QUEUE_URLS"
	EnvPubSubTopics = "PUBSUB_TOPICS"
	EnvJWTIssuer    = "JWT_ISSUER"
	EnvJWTAudience  = "JWT_AUDIENCE"
	EnvJWTJWKSURL   = "JWT_JWKS_URL"
	// EnvCORSAllowedOrigins holds the web pages' origins that may call
	// the browser-facing routes (shared/httpx.ParseCORSOrigins).
	EnvCORSAllowedOrigins = "CORS_ALLOWED_ORIGINS"
	// EnvSignURLCDNBases maps each CDN a signer may sign for to the base URL
	// players fetch from, "cloudfront=https://d111.cloudfront.net";
	// EnvSignURLDefaultCDN names the one used when a request names none
	// (functions/signurl Config).
	EnvSignURLCDNBases   = "SIGNURL_CDN_BASES"
	EnvSignURLDefaultCDN = "SIGNURL_DEFAULT_CDN"
	// EnvGCPCredentialsJSON carries a workload identity federation config
	// (type external_account, no key material) to functions that run on AWS
	// but use Firestore and Pub/Sub (the hybrid stack's webhook).
	EnvGCPCredentialsJSON = "GCP_CREDENTIALS_JSON"
	// EnvPickEdgeTrustedHops is how many hops of X-Forwarded-For, counting
	// the TCP peer, pickedge believes (functions/pickedge Config.ClientIP).
	EnvPickEdgeTrustedHops = "PICKEDGE_TRUSTED_HOPS"
	// EnvTrigger tells each Lambda of a function which trigger it serves
	// (TriggerHTTP, TriggerQueue or TriggerJob), and EnvTopic the topic a
	// queue Lambda consumes: shared/awsfn picks its one typed handler from
	// them instead of guessing from a payload or a queue's name.
	EnvTrigger = "PLAYPLANE_TRIGGER"
	EnvTopic   = "PLAYPLANE_TOPIC"
	// EnvGoogleCloudProject names the project on every Cloud Function
	// (its log lines name their trace in it; Cloud Monitoring writes
	// there); EnvMetricsExporter and EnvResourceAttributes send its
	// metrics to Cloud Monitoring, from the region
	// (OpenTelemetry's names, which shared/telemetry reads).
	EnvGoogleCloudProject = "GOOGLE_CLOUD_PROJECT"
	EnvMetricsExporter    = "OTEL_METRICS_EXPORTER"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
)

// EnvTrigger values (shared/awsfn.Trigger).
const (
	TriggerHTTP  = "http"
	TriggerQueue = "queue"
	TriggerJob   = "job"
)

// GCPFrontEndHops is EnvPickEdgeTrustedHops behind the external
// Application Load Balancer: the load balancer appends
// "<client-ip>,<load-balancer-ip>" to X-Forwarded-For, and the connection
// reaches the function from Cloud Run's own front end. The TCP peer and the
// rightmost entry are Google's, the next one is the caller; anything left
// of it was sent by the caller and is not believed. Without it pickedge
// would locate the front end, not the viewer. On AWS the HTTP API hands
// the Lambda the caller's address (requestContext.http.sourceIp), so no
// proxy is believed there.
const GCPFrontEndHops = "2"

// Setting env names.
const (
	SettingStripePricePlans = "STRIPE_PRICE_PLANS"
	SettingLeaseTTL         = "LEASE_TTL"
	SettingPastDueGrace     = "PAST_DUE_GRACE"
	SettingTokenLease       = "PLAYBACK_TOKEN_LEASE"
	// The OpenTelemetry sampler, standard names (shared/telemetry reads
	// them; TestEnvNamesAreConfigTags there checks the spelling).
	SettingTracesSampler    = "OTEL_TRACES_SAMPLER"
	SettingTracesSamplerArg = "OTEL_TRACES_SAMPLER_ARG"
	// SettingSignURLBindIP binds CloudFront grants to the caller's
	// address (functions/signurl Config.BindIP). The stacks that deliver
	// through a CloudFront distribution of their own turn its IPv6 off
	// with it, as AWS asks of IpAddress policies.
	SettingSignURLBindIP = "SIGNURL_BIND_IP"
	// SettingGCPClientTelemetry, "false", turns off the Google client
	// libraries' own spans and metrics in every part that makes Google
	// clients (shared/gcpclient EnvTelemetry; one of GCPSettings).
	SettingGCPClientTelemetry = "GCP_CLIENT_TELEMETRY"
	// SettingStripeProducts scopes paymentwebhook to its own Stripe
	// products on a Stripe account that also bills others
	// (functions/paymentwebhook Config.Products).
	SettingStripeProducts = "STRIPE_PRODUCTS"
)

// Layout values: the store, bus and delivery CDN a stack uses.
const (
	StoreDynamo        = "dynamo"
	StoreFirestore     = "firestore"
	BusSQS             = "sqs"
	BusPubSub          = "pubsub"
	DeliveryCloudFront = "cloudfront"
	DeliveryCloudCDN   = "cloudcdn"
)

// Topic names; package events names its topics after these.
const (
	TopicStripeEvents       = "stripe-events"
	TopicEntitlementChanged = "entitlement-changed"
	TopicHeartbeats         = "heartbeats"
	TopicEdgeHealth         = "edge-health"
)

// Secret env names.
const (
	SecretPlaybackTokenKeys    = "PLAYBACK_TOKEN_KEYS"
	SecretStripeWebhookSecrets = "STRIPE_WEBHOOK_SECRETS"
	SecretStripeAPIKey         = "STRIPE_API_KEY"
	SecretEdgeHMACKeys         = "EDGE_HMAC_KEYS"
	SecretCloudFrontPrivateKey = "CLOUDFRONT_PRIVATE_KEY"
	SecretCloudCDNSigningKey   = "CLOUDCDN_SIGNING_KEY"
)

// Topics lists every topic.
var Topics = []Topic{
	{Name: TopicStripeEvents},
	{Name: TopicEntitlementChanged},
	{Name: TopicHeartbeats},
	{Name: TopicEdgeHealth},
}

// Secrets lists every secret.
var Secrets = []Secret{
	{Env: SecretPlaybackTokenKeys, ConfigKey: "playbackTokenKeys"},
	{Env: SecretStripeWebhookSecrets, ConfigKey: "stripeWebhookSecrets"},
	{Env: SecretStripeAPIKey, ConfigKey: "stripeApiKey", Optional: true},
	{Env: SecretEdgeHMACKeys, ConfigKey: "edgeHmacKeys"},
	{Env: SecretCloudFrontPrivateKey, ConfigKey: "cloudfrontPrivateKey"},
	{Env: SecretCloudCDNSigningKey, ConfigKey: "cloudCdnSigningKey"},
}

// Settings lists every setting. LEASE_TTL and PAST_DUE_GRACE are read by
// two functions each, which must agree, so the stack sets them explicitly
// (the functions' own defaults) rather than leaving each to its default.
var Settings = []Setting{
	// "price_basic=basic,price_std=standard": without it paymentwebhook
	// refuses to start (it cannot map a subscription to a plan).
	{Env: SettingStripePricePlans, ConfigKey: "stripePricePlans"},
	// "prod_a,prod_b": the Stripe products the service sells. Empty, every
	// subscription of a linked customer is taken for the service's, which
	// on a Stripe account that bills other products too entitles their
	// subscribers (README, Payments).
	{Env: SettingStripeProducts, ConfigKey: "stripeProducts", Optional: true},
	// authorizeplay grants leases this long, heartbeat renews them.
	{Env: SettingLeaseTTL, ConfigKey: "leaseTtl", Default: "2m"},
	// How long a past_due account keeps playing (authorizeplay) and stays
	// entitled (paymentwebhook).
	{Env: SettingPastDueGrace, ConfigKey: "pastDueGrace", Default: "72h"},
	// Whether authorizeplay puts the session's lease in playback tokens, so
	// heartbeats renew without reading the session. Verifiers of releases
	// before the lease block reject such tokens: upgrading from one, deploy
	// with it false first (README, "Upgrading").
	{Env: SettingTokenLease, ConfigKey: "playbackTokenLease", Default: "true"},
	// The heartbeat function records one trace in a hundred of those that
	// start with it (and every trace a sampled traceparent from the player
	// or an upstream span continues): it takes a request per viewer every
	// few seconds, and a recorded trace costs it more CPU than the
	// request itself (README, Observability). Its metrics count every request
	// whatever is sampled. Only read when tracing is on (an OTLP endpoint).
	{Env: SettingTracesSampler, ConfigKey: "heartbeatTracesSampler", Default: "parentbased_traceidratio"},
	{Env: SettingTracesSamplerArg, ConfigKey: "heartbeatTracesSamplerArg", Default: "0.01"},
	// Off by default: the distribution then stays dual-stack, and a viewer
	// whose API and CDN requests leave from different addresses plays.
	{Env: SettingSignURLBindIP, ConfigKey: "signUrlBindIP", Default: "false"},
	// On Cloud Functions, and in the hybrid stack's Lambda over Firestore
	// and Pub/Sub, the Google client libraries record, through the
	// function's telemetry, a span and the duration of every Firestore and
	// Pub/Sub RPC (the gRPC transport's) and a span of every Firestore
	// operation (the library's), as they do by default. "false" leaves
	// them out of traces and metrics, and saves what the transport's costs
	// every RPC, on or off: ~170 allocations a play, ~40 a heartbeat
	// (docs/telemetry-overhead.md, "Eighteenth round: the GCP client
	// libraries' own telemetry").
	{Env: SettingGCPClientTelemetry, ConfigKey: "gcpClientTelemetry", Default: "true"},
}

// GCPSettings are the settings every function part that makes Google
// clients reads (shared/gcpclient), beside its function's own Settings:
// every Cloud Function, and the hybrid stack's Lambda over Firestore
// (LambdaMain's lambdahybrid). No Lambda of the SAM template makes Google
// clients, so the template has no parameter of theirs.
var GCPSettings = []string{SettingGCPClientTelemetry}

// Deliveries lists the CDNs a stack can deliver video with.
var Deliveries = []Delivery{
	{Name: DeliveryCloudFront, SigningSecret: SecretCloudFrontPrivateKey, KeysEnv: "CLOUDFRONT_KEYS", ActiveKeyEnv: "CLOUDFRONT_ACTIVE_KEY_ID"},
	{Name: DeliveryCloudCDN, SigningSecret: SecretCloudCDNSigningKey, KeysEnv: "CLOUDCDN_KEYS", ActiveKeyEnv: "CLOUDCDN_ACTIVE_KEY_NAME"},
}

// Functions is the catalogue.
var Functions = []Function{
	{
		Name:          "authorizeplay",
		GCPEntryPoint: "AuthorizePlay",
		Routes: []Route{
			{Method: "POST", Path: "/v1/play", Auth: AuthJWT},
			{Method: "GET", Path: "/v1/sessions", Auth: AuthJWT},
			{Method: "DELETE", Path: "/v1/sessions/{id}", Auth: AuthJWT},
			// The subscriber's own devices: list, rename, remove.
			{Method: "GET", Path: "/v1/devices", Auth: AuthJWT},
			{Method: "PATCH", Path: "/v1/devices/{id}", Auth: AuthJWT},
			{Method: "DELETE", Path: "/v1/devices/{id}", Auth: AuthJWT},
		},
		// Ends the sessions of accounts that lost their entitlement.
		Consumes: []Consumer{{Topic: TopicEntitlementChanged, GCPEntryPoint: "AuthorizePlayConsumer"}},
		// Given a location source (PICKEDGE_GEOIP_CITY_DB, a country
		// header) it licenses by where the caller's address is, and must
		// see the viewer pickedge sees (functions/authorizeplay's
		// TestCatalogueLocatesCaller).
		LocatesCaller:  true,
		Secrets:        []string{SecretPlaybackTokenKeys},
		Settings:       []string{SettingLeaseTTL, SettingPastDueGrace, SettingTokenLease},
		Store:          StoreReadWrite,
		MemoryMB:       256,
		TimeoutSeconds: 10,
	},
	{
		Name:          "signurl",
		GCPEntryPoint: "SignURL",
		Routes: []Route{
			{Method: "POST", Path: "/v1/playback/{session_id}/urls", Auth: AuthPlaybackToken},
			// Personalized manifests, loaded by URL alone.
			{Method: "GET", Path: "/v1/manifests/{session_id}/hls", Auth: AuthManifestCredential},
			{Method: "GET", Path: "/v1/manifests/{session_id}/hls/{pathway}/{rendition}", Auth: AuthManifestCredential},
			{Method: "GET", Path: "/v1/manifests/{session_id}/dash", Auth: AuthManifestCredential},
		},
		Secrets:   []string{SecretPlaybackTokenKeys},
		Settings:  []string{SettingSignURLBindIP},
		SignsURLs: true,
		// Not LocatesCaller: it ranks pathways for the viewer (to start a
		// session on the steering server's first choice) only where it
		// signs for two CDNs or more, and every stack here gives it one
		// (Delivery), so signurl.Build reads no PICKEDGE_* variable. A
		// stack given a second CDN by hand sets PICKEDGE_TRUSTED_HOPS on
		// it as on pickedge. functions/signurl's
		// TestCatalogueLocatesCallerIsWhetherBuildLocates holds this
		// entry to what Build reads.
		Store:          StoreReadOnly,
		MemoryMB:       256,
		TimeoutSeconds: 10,
	},
	{
		Name:          "paymentwebhook",
		GCPEntryPoint: "PaymentWebhook",
		Routes: []Route{
			{Method: "POST", Path: "/v1/webhooks/stripe", Auth: AuthStripeSignature},
		},
		Consumes: []Consumer{{Topic: TopicStripeEvents, GCPEntryPoint: "PaymentWebhookConsumer"}},
		// The HTTP handler records a verified event and publishes it to
		// stripe-events; the consumer applies it and publishes
		// entitlement-changed.
		Publishes:           []string{TopicStripeEvents, TopicEntitlementChanged},
		BackgroundPublishes: []string{TopicEntitlementChanged},
		// sweep republishes events recorded but not yet processed (their
		// publish failed); reconcile repairs entitlements from Stripe's
		// subscriptions (STRIPE_API_KEY); grace announces past_due
		// accounts out of their grace, linked or not.
		Jobs: []Job{
			{Name: "sweep", Every: time.Minute},
			{Name: "reconcile", Every: time.Hour, NeedsSecret: SecretStripeAPIKey},
			{Name: "grace", Every: time.Hour},
		},
		GCPJobsEntryPoint: "PaymentWebhookJobs",
		Secrets:           []string{SecretStripeWebhookSecrets, SecretStripeAPIKey},
		// Only reconcile (and a consumer's refetch) calls the Stripe API;
		// the webhook route checks signatures with the webhook secrets.
		BackgroundSecrets: []string{SecretStripeAPIKey},
		Settings:          []string{SettingStripePricePlans, SettingStripeProducts, SettingPastDueGrace},
		Store:             StoreReadWrite,
		// sweep lists unprocessed inbox events; grace lists the accounts
		// whose grace end is unannounced.
		StoreIndexes:   []string{IndexPending, IndexGrace},
		MemoryMB:       256,
		TimeoutSeconds: 30,
	},
	{
		Name:          "pickedge",
		GCPEntryPoint: "PickEdge",
		Routes: []Route{
			{Method: "POST", Path: "/v1/playback/{session_id}/edges", Auth: AuthPlaybackToken},
			{Method: "GET", Path: "/v1/steering/{session_id}", Auth: AuthPlaybackToken},
			{Method: "POST", Path: "/v1/edges/health", Auth: AuthEdgeHMAC},
		},
		Consumes: []Consumer{{Topic: TopicEdgeHealth, GCPEntryPoint: "PickEdgeConsumer"}},
		// POST /v1/edges/health enqueues the report; the consumer applies it.
		Publishes:      []string{TopicEdgeHealth},
		LocatesCaller:  true,
		Secrets:        []string{SecretPlaybackTokenKeys, SecretEdgeHMACKeys},
		Store:          StoreReadWrite,
		MemoryMB:       512,
		TimeoutSeconds: 10,
	},
	{
		Name:          "heartbeat",
		GCPEntryPoint: "Heartbeat",
		Routes: []Route{
			{Method: "POST", Path: "/v1/playback/{session_id}/heartbeat", Auth: AuthPlaybackToken},
			{Method: "GET", Path: "/v1/progress", Auth: AuthJWT},
			// The CMCD v2 event-mode collector: players' reports in the
			// CMCD query parameter (GET or POST) or a body (POST).
			{Method: "GET", Path: "/v1/playback/{session_id}/cmcd/{credential}", Auth: AuthCMCDCredential},
			{Method: "POST", Path: "/v1/playback/{session_id}/cmcd/{credential}", Auth: AuthCMCDCredential},
		},
		Consumes: []Consumer{{Topic: TopicHeartbeats, GCPEntryPoint: "HeartbeatConsumer"}},
		// The HTTP handler extends the lease and enqueues the heartbeat; the
		// consumer saves progress and QoE.
		Publishes: []string{TopicHeartbeats},
		// leases counts the leases held for the playplane.leases.active
		// gauge: one count query a minute for the whole deployment.
		Jobs:              []Job{{Name: "leases", Every: time.Minute}},
		GCPJobsEntryPoint: "HeartbeatJobs",
		Secrets:           []string{SecretPlaybackTokenKeys},
		Settings:          []string{SettingLeaseTTL, SettingTracesSampler, SettingTracesSamplerArg},
		Store:             StoreReadWrite,
		// leases counts the sparse index of held slots.
		StoreIndexes:   []string{IndexLeases},
		MemoryMB:       256,
		TimeoutSeconds: 10,
	},
	{
		Name:          "admin",
		GCPEntryPoint: "Admin",
		Routes:        adminRoutes(),
		// A customer link announces the payment events parked for that
		// customer, for the payment consumer to apply.
		Publishes: []string{TopicStripeEvents},
		// Records, their audit records and coverage zone versions; a
		// write that leaves an account unable to play (a suspension, a
		// status that may not play) ends the account's sessions.
		Store: StoreReadWrite,
		// The record lists page the listing index.
		StoreIndexes:   []string{IndexList},
		MemoryMB:       256,
		TimeoutSeconds: 30,
	},
}

// adminRoutes are the operators' API (functions/admin): CRUD and lists
// of each kind, account actions, coverage zone files and the audit log.
func adminRoutes() []Route {
	var out []Route
	for _, coll := range []string{"plans", "titles", "accounts", "edges"} {
		base := "/v1/admin/" + coll
		out = append(out,
			Route{Method: "GET", Path: base, Auth: AuthAdminJWT},
			Route{Method: "POST", Path: base, Auth: AuthAdminJWT},
			Route{Method: "GET", Path: base + "/{id}", Auth: AuthAdminJWT},
			Route{Method: "PUT", Path: base + "/{id}", Auth: AuthAdminJWT},
			Route{Method: "DELETE", Path: base + "/{id}", Auth: AuthAdminJWT})
	}
	return append(out,
		Route{Method: "PATCH", Path: "/v1/admin/accounts/{id}", Auth: AuthAdminJWT},
		Route{Method: "POST", Path: "/v1/admin/accounts/{id}/suspend", Auth: AuthAdminJWT},
		Route{Method: "POST", Path: "/v1/admin/accounts/{id}/unsuspend", Auth: AuthAdminJWT},
		Route{Method: "PUT", Path: "/v1/admin/accounts/{id}/customer", Auth: AuthAdminJWT},
		Route{Method: "GET", Path: "/v1/admin/accounts/{id}/devices", Auth: AuthAdminJWT},
		Route{Method: "GET", Path: "/v1/admin/coverage-zones", Auth: AuthAdminJWT},
		Route{Method: "PUT", Path: "/v1/admin/coverage-zones", Auth: AuthAdminJWT},
		Route{Method: "GET", Path: "/v1/admin/coverage-zones/{version}", Auth: AuthAdminJWT},
		Route{Method: "GET", Path: "/v1/admin/audit", Auth: AuthAdminJWT},
		Route{Method: "GET", Path: "/v1/admin/unknown-edges", Auth: AuthAdminJWT},
		Route{Method: "GET", Path: "/v1/admin/qoe", Auth: AuthAdminJWT},
	)
}

// DynamoTable is the single-table layout of shared/dynamo (its
// CreateTable makes the same table for local runs).
var DynamoTable = Table{
	HashKey:  "pk",
	RangeKey: "sk",
	Indexes: []Index{
		// Sparse index of unprocessed inbox events, for the sweeper.
		{Name: IndexPending, HashKey: "pending_pk", RangeKey: "pending_sk", Projection: ProjectAll},
		// Sparse index of the managed records (plans, titles, accounts,
		// edges) by kind and id, for the admin lists. Keys only: the
		// records are read from the table, and writes that keep a
		// record's keys (edge health, plays) write nothing to it.
		{Name: IndexList, HashKey: "list_pk", RangeKey: "list_sk", Projection: ProjectKeysOnly},
		// Sparse index of held stream slots by shard and expiry, for the
		// active-leases count. Keys only: a count reads nothing else.
		{Name: IndexLeases, HashKey: "lease_pk", RangeKey: "lease_sk", Projection: ProjectKeysOnly},
		// Sparse index of the past_due accounts whose grace end is not
		// announced yet, by when their grace began, for the grace job.
		// Keys only: the accounts are read from the table.
		{Name: IndexGrace, HashKey: "grace_pk", RangeKey: "grace_sk", Projection: ProjectKeysOnly},
	},
	// Epoch seconds; DynamoDB deletes expired leases, QoE and processed
	// inbox events by itself.
	TTLAttribute: "ttl",
}

// IndexPending is the sparse index of unprocessed inbox events.
const IndexPending = "pending"

// IndexList is the sparse index of managed records by kind and id.
const IndexList = "list"

// IndexLeases is the sparse index of held stream slots.
const IndexLeases = "leases"

// IndexGrace is the sparse index of accounts whose grace end is unannounced.
const IndexGrace = "grace"

// Table describes a DynamoDB table with string keys.
type Table struct {
	HashKey, RangeKey string
	Indexes           []Index
	TTLAttribute      string
}

// Index is a global secondary index.
type Index struct {
	Name, HashKey, RangeKey string
	// Projection is DynamoDB's ProjectionType.
	Projection string
}

// Projection types of an Index.
const (
	ProjectAll      = "ALL"
	ProjectKeysOnly = "KEYS_ONLY"
)

// FirestoreTTL lists the collection groups whose documents expire, and the
// timestamp field Firestore's TTL policy reads: every collection group
// shared/firestore writes expire_at on (TestFirestoreTTLCoversWhatTheAdapterExpires
// reads the adapter's writers).
var FirestoreTTL = []TTLField{
	{CollectionGroup: "sessions", Field: "expire_at"},
	{CollectionGroup: "slots", Field: "expire_at"},
	{CollectionGroup: "session_qoe", Field: "expire_at"},
	{CollectionGroup: "events", Field: "expire_at"},
	{CollectionGroup: "guards", Field: "expire_at"},
}

// TTLField is one Firestore TTL policy.
type TTLField struct {
	CollectionGroup, Field string
}

// LambdaZip is the function's arm64 zip, relative to the repository root
// (built by `make package`).
func LambdaZip(name string) string { return "dist/" + name + ".zip" }

// LambdaMain is the package of the function's Lambda main in a stack whose
// store is store: functions/<name>/lambda over DynamoDB and SQS, or
// functions/<name>/lambdahybrid over Firestore and Pub/Sub, which the
// hybrid stack's one AWS function (the paymentwebhook HTTP route) runs.
func LambdaMain(name, store string) string {
	if store == StoreFirestore {
		return "functions/" + name + "/lambdahybrid"
	}
	return "functions/" + name + "/lambda"
}

// LambdaZipFor is the zip of LambdaMain(name, store), relative to the
// repository root: LambdaZip, or dist/<name>-hybrid.zip (`make package`
// builds both).
func LambdaZipFor(name, store string) string {
	if store == StoreFirestore {
		return LambdaZip(name + "-hybrid")
	}
	return LambdaZip(name)
}

// GCPSourceZip is the function's Cloud Functions source zip (Go source with
// go.mod at the root, built by `make package`), relative to the repository
// root.
func GCPSourceZip(name string) string { return "dist/gcp/" + name + ".zip" }

// FunctionByName returns the catalogue entry called name.
func FunctionByName(name string) (Function, bool) {
	for _, f := range Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// JobByName returns the scheduled job called name, whichever function
// runs it: a schedule's payload names the job alone ({"job":"<name>"}),
// so job names are unique across the catalogue
// (TestJobNamesAreUnique). The job's span reads its schedule here
// (shared/telemetry RunJob's faas.cron), as the stacks do.
func JobByName(name string) (Job, bool) {
	for _, f := range Functions {
		for _, j := range f.Jobs {
			if j.Name == name {
				return j, true
			}
		}
	}
	return Job{}, false
}

// TopicByName returns the topic called name.
func TopicByName(name string) (Topic, bool) {
	for _, t := range Topics {
		if t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
}

// SettingByEnv returns the setting whose Env is env.
func SettingByEnv(env string) (Setting, bool) {
	for _, s := range Settings {
		if s.Env == env {
			return s, true
		}
	}
	return Setting{}, false
}

// SecretByEnv returns the secret whose Env is env.
func SecretByEnv(env string) (Secret, bool) {
	for _, s := range Secrets {
		if s.Env == env {
			return s, true
		}
	}
	return Secret{}, false
}

// DeliveryByName returns the delivery called name.
func DeliveryByName(name string) (Delivery, bool) {
	for _, d := range Deliveries {
		if d.Name == name {
			return d, true
		}
	}
	return Delivery{}, false
}

// TopicsOf returns the topics f publishes to or consumes, in catalogue order.
func (f Function) TopicsOf() []Topic {
	var out []Topic
	for _, t := range Topics {
		if f.PublishesTo(t.Name) || f.ConsumesFrom(t.Name) {
			out = append(out, t)
		}
	}
	return out
}

// PublishesTo says whether f publishes to topic.
func (f Function) PublishesTo(topic string) bool {
	return slices.Contains(f.Publishes, topic)
}

// ConsumesFrom says whether f consumes topic.
func (f Function) ConsumesFrom(topic string) bool {
	return slices.ContainsFunc(f.Consumes, func(c Consumer) bool { return c.Topic == topic })
}

// SecretsFor returns the Env names of the secrets f reads when the stack
// delivers video with delivery.
func (f Function) SecretsFor(delivery Delivery) []string {
	out := append([]string(nil), f.Secrets...)
	if f.SignsURLs {
		out = append(out, delivery.SigningSecret)
	}
	return out
}

// HTTPSecretsFor returns the Env names of the secrets f's HTTP routes read.
func (f Function) HTTPSecretsFor(delivery Delivery) []string {
	return slices.DeleteFunc(f.SecretsFor(delivery), func(s string) bool { return slices.Contains(f.BackgroundSecrets, s) })
}

// HTTPPublishes returns the topics f's HTTP routes publish to.
func (f Function) HTTPPublishes() []string {
	return slices.DeleteFunc(slices.Clone(f.Publishes), func(t string) bool { return slices.Contains(f.BackgroundPublishes, t) })
}

// SecretARNEnv is the variable that hands a Lambda the ARN of the Secrets
// Manager secret holding env's value (shared/awsfn.SecretARNs), which the
// function reads at run time: the value itself never sits in the Lambda's
// configuration.
func SecretARNEnv(env string) string { return env + "_SECRET_ARN" }

// VerifiesCallerJWT says whether f serves routes authenticated with an
// end-user JWT, and so reads the JWT_* settings: behind the GCP load
// balancer it verifies the token itself, on AWS it reads the claims the
// HTTP API's authorizer checked.
func (f Function) VerifiesCallerJWT() bool {
	return slices.ContainsFunc(f.Routes, func(r Route) bool { return r.Auth.VerifiedAsJWT() })
}

// ConsumersOf returns the functions consuming topic.
func ConsumersOf(topic string) []Function {
	var out []Function
	for _, f := range Functions {
		if f.ConsumesFrom(topic) {
			out = append(out, f)
		}
	}
	return out
}

// DeadLetterSuffix ends the name of a topic's dead-letter resources. A
// topic's SQS queue Q dead-letters to queue Q-dlq; a Pub/Sub topic T
// dead-letters to topic T-dlq, whose subscription that keeps the dead
// letters is called T-dlq too (subscription and topic ids are separate
// namespaces). The stacks (infra/stack), template.yaml (deploygen) and
// the buses' own names (shared/sqs, shared/pubsub: EnsureQueues,
// EnsureTopics, Redrive and a consumer of dead letters, held to it by
// their tests) all follow it: an operator's redrive, or a consumer of
// dead letters, must find in a deployed stack the resource its bus asks
// for.
const DeadLetterSuffix = "-dlq"

// DeadLetterName is the name of the dead-letter queue of the SQS queue
// called name, or of the dead-letter topic and its subscription of the
// Pub/Sub topic with id name.
func DeadLetterName(name string) string { return name + DeadLetterSuffix }

// QueueVisibilitySeconds is the visibility timeout of topic's SQS queue
// (template.yaml and the Pulumi stacks): six times its consumer's timeout,
// as Lambda advises for an event source mapping, so a batch Lambda retries
// after a throttle is not handed out twice; longer would only delay the
// retry of a message the consumer handed back.
func QueueVisibilitySeconds(topic string) int {
	longest := 0
	for _, fn := range ConsumersOf(topic) {
		longest = max(longest, fn.TimeoutSeconds)
	}
	return 6 * longest
}

// MaxRedeliveryGap bounds the time from one delivery of a message on
// topic to the next, as deployed: the consumer's time with it (an SQS
// queue's visibility timeout; a Pub/Sub ack deadline, two consumer
// timeouts, shorter) and MaxRetryBackoff. A message its consumer keeps
// failing leaves the queue within MaxDeliveryAttempts of them.
func MaxRedeliveryGap(topic string) time.Duration {
	return time.Duration(QueueVisibilitySeconds(topic))*time.Second + MaxRetryBackoff
}

// EnvSlug is an environment variable's name as the resources that hold its
// value are named (secrets, their IAM bindings): lower case, dashes.
func EnvSlug(env string) string { return strings.ToLower(strings.ReplaceAll(env, "_", "-")) }

// The CORS policy of the browser-facing routes, wherever they run: the
// Pulumi stack gives it to API Gateway, which answers preflights itself on
// AWS; shared/httpx applies it where the functions answer them (Cloud
// Functions, the local runners); template.yaml's test holds its HttpApi to
// it. No credentials: callers send Authorization, the API reads no cookies.
var (
	// CORSAllowHeaders are the request headers a page may send: the
	// bearer token, JSON bodies, the CMCD headers players add, and an
	// X-Request-Id the API keeps as the id its log lines carry.
	CORSAllowHeaders = []string{"Authorization", "Content-Type", "CMCD-Request", "CMCD-Object", "CMCD-Status", "CMCD-Session", "X-Request-Id"}
	// CORSExposeHeaders are the response headers a page may read.
	CORSExposeHeaders = []string{"Retry-After", "X-Request-Id"}
	// CORSAllowMethods are the methods of the browser-facing routes.
	CORSAllowMethods = []string{"GET", "POST", "PATCH", "DELETE"}
)

// CORSMaxAge is how long, in seconds, a browser may reuse a preflight's
// answer (Chromium caps it at 7200).
const CORSMaxAge = 600

// BrowserFacing reports whether browsers call r (CORS applies): every route
// but those servers call with their own signatures.
func (r Route) BrowserFacing() bool {
	// Admin routes are called by operators' tools; a browser console
	// would need PUT and If-Match/ETag in the CORS policy.
	return r.Auth != AuthStripeSignature && r.Auth != AuthEdgeHMAC && r.Auth != AuthAdminJWT
}

// EnvQoEFirehoseStream names the Firehose delivery stream the heartbeat
// consumer forwards the heartbeat stream to, on stacks whose bus is SQS
// (the QoE warehouse; shared/firehose reads it).
const EnvQoEFirehoseStream = "QOE_FIREHOSE_STREAM"

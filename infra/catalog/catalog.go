// Package catalog is the one table of playplane's functions: their routes,
// topics, secrets, data access and platform entry points. The Pulumi
// components in infra build every cloud resource from it, so renaming an env
// var or moving a route happens here and nowhere else.
//
// The package is plain Go (no Pulumi imports) so that it stays cheap to test
// and to read.
package catalog

import "slices"

// Auth says who authenticates a route.
type Auth string

const (
	// AuthJWT routes carry an end-user JWT. On AWS the HTTP API's JWT
	// authorizer checks it before the function runs; behind the GCP load
	// balancer the function checks it with the JWT_* env.
	AuthJWT Auth = "jwt"
	// AuthPlaybackToken routes carry a playback token minted by authorizeplay;
	// the function verifies it with PLAYBACK_TOKEN_KEYS.
	AuthPlaybackToken Auth = "playback-token"
	// AuthStripeSignature routes are called by Stripe, which signs the body.
	AuthStripeSignature Auth = "stripe-signature"
	// AuthEdgeHMAC routes are called by CDN edges signing with a per-edge key.
	AuthEdgeHMAC Auth = "edge-hmac"
)

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

// Function is one deployable function (folder functions/<Name>).
type Function struct {
	Name string
	// GCPEntryPoint is the registered name of the HTTP handler on Cloud Functions.
	GCPEntryPoint string
	Routes        []Route
	Consumes      []Consumer
	Publishes     []string
	// Secrets are Env names from Secrets.
	Secrets []string
	// SignsURLs adds the delivery CDN's signing key and key id.
	SignsURLs      bool
	Store          StoreAccess
	MemoryMB       int
	TimeoutSeconds int
}

// Topic is one bus topic. On AWS it is an SQS queue (plus DLQ), on GCP a
// Pub/Sub topic (plus dead-letter topic). A function finds the address of
// each topic it publishes to or consumes in EnvSQSQueueURLs or
// EnvPubSubTopics.
type Topic struct {
	Name string
}

// Secret is one secret value. Its value comes only from Pulumi secret config
// (ConfigKey, set with `pulumi config set --secret`) and lands in Secrets
// Manager / Secret Manager, never in plain config or plain env.
type Secret struct {
	// Env is the variable name the function reads the value from. On AWS the
	// function gets Env+SecretARNSuffix holding the Secrets Manager ARN and
	// fetches the value; on GCP Cloud Functions binds the value to Env.
	Env       string
	ConfigKey string
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

// Platform constants.
const (
	LambdaRuntime      = "provided.al2023"
	LambdaArchitecture = "arm64"
	LambdaHandler      = "bootstrap"
	// GCPRuntime is the Cloud Functions gen2 runtime id; go126 matches the
	// main module's `go 1.26` directive.
	GCPRuntime = "go126"
	// SecretARNSuffix is appended to a secret's Env on AWS.
	SecretARNSuffix = "_SECRET_ARN"
	// MaxDeliveryAttempts before a message moves to its dead-letter queue/topic.
	MaxDeliveryAttempts = 5
)

// Env names shared by every function. Where an adapter already reads a
// name (shared/dynamo, shared/firestore, shared/sqs, shared/auth), it is
// that name.
const (
	// EnvStore is dynamo or firestore.
	EnvStore             = "STORE"
	EnvDynamoTable       = "DYNAMODB_TABLE"
	EnvFirestoreProject  = "FIRESTORE_PROJECT_ID"
	EnvFirestoreDatabase = "FIRESTORE_DATABASE"
	// EnvBus is sqs or pubsub.
	EnvBus = "BUS"
	// EnvSQSQueueURLs maps topics to queue URLs, "topic:url,topic:url";
	// EnvPubSubTopics maps topics to topic resource names,
	// "topic:projects/P/topics/T,...".
	EnvSQSQueueURLs = "SQS_QUEUE_URLS"
	EnvPubSubTopics = "PUBSUB_TOPICS"
	EnvJWTIssuer    = "JWT_ISSUER"
	EnvJWTAudience  = "JWT_AUDIENCE"
	EnvJWTJWKSURL   = "JWT_JWKS_URL"
	// EnvCDN (cloudfront or cloudcdn) and EnvCDNBaseURL (https://host) are
	// set for URL signers.
	EnvCDN        = "CDN"
	EnvCDNBaseURL = "CDN_BASE_URL"
	// EnvGCPCredentialsJSON carries a workload identity federation config
	// (type external_account, no key material) to functions that run on AWS
	// but use Firestore and Pub/Sub (the hybrid stack's webhook).
	EnvGCPCredentialsJSON = "GCP_CREDENTIALS_JSON"
)

// Values of EnvStore, EnvBus and EnvCDN.
const (
	StoreDynamo        = "dynamo"
	StoreFirestore     = "firestore"
	BusSQS             = "sqs"
	BusPubSub          = "pubsub"
	DeliveryCloudFront = "cloudfront"
	DeliveryCloudCDN   = "cloudcdn"
)

// Topic names; they match events/topics.go (a test keeps them in step).
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
	{Env: SecretStripeAPIKey, ConfigKey: "stripeApiKey"},
	{Env: SecretEdgeHMACKeys, ConfigKey: "edgeHmacKeys"},
	{Env: SecretCloudFrontPrivateKey, ConfigKey: "cloudfrontPrivateKey"},
	{Env: SecretCloudCDNSigningKey, ConfigKey: "cloudCdnSigningKey"},
}

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
			{Method: "DELETE", Path: "/v1/sessions/{id}", Auth: AuthJWT},
		},
		// Ends the sessions of accounts that lost their entitlement.
		Consumes:       []Consumer{{Topic: TopicEntitlementChanged, GCPEntryPoint: "AuthorizePlayConsumer"}},
		Secrets:        []string{SecretPlaybackTokenKeys},
		Store:          StoreReadWrite,
		MemoryMB:       256,
		TimeoutSeconds: 10,
	},
	{
		Name:          "signurl",
		GCPEntryPoint: "SignURL",
		Routes: []Route{
			{Method: "POST", Path: "/v1/playback/{session_id}/urls", Auth: AuthPlaybackToken},
		},
		Secrets:        []string{SecretPlaybackTokenKeys},
		SignsURLs:      true,
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
		Publishes:      []string{TopicStripeEvents, TopicEntitlementChanged},
		Secrets:        []string{SecretStripeWebhookSecrets, SecretStripeAPIKey},
		Store:          StoreReadWrite,
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
		},
		Consumes: []Consumer{{Topic: TopicHeartbeats, GCPEntryPoint: "HeartbeatConsumer"}},
		// The HTTP handler extends the lease and enqueues the heartbeat; the
		// consumer saves progress and QoE.
		Publishes:      []string{TopicHeartbeats},
		Secrets:        []string{SecretPlaybackTokenKeys},
		Store:          StoreReadWrite,
		MemoryMB:       256,
		TimeoutSeconds: 10,
	},
}

// DynamoTable is the single-table layout of shared/dynamo (its
// CreateTable makes the same table for local runs).
var DynamoTable = Table{
	HashKey:  "pk",
	RangeKey: "sk",
	Indexes: []Index{
		// Sparse index of unprocessed inbox events, for the sweeper.
		{Name: "pending", HashKey: "pending_pk", RangeKey: "pending_sk"},
	},
	// Epoch seconds; DynamoDB deletes expired leases, QoE and processed
	// inbox events by itself.
	TTLAttribute: "ttl",
}

// Table describes a DynamoDB table with string keys.
type Table struct {
	HashKey, RangeKey string
	Indexes           []Index
	TTLAttribute      string
}

// Index is a global secondary index projecting all attributes.
type Index struct {
	Name, HashKey, RangeKey string
}

// FirestoreTTL lists the collection groups whose documents expire, and the
// timestamp field Firestore's TTL policy reads (shared/firestore's layout).
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

// TopicByName returns the topic called name.
func TopicByName(name string) (Topic, bool) {
	for _, t := range Topics {
		if t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
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

// Package paymentwebhook keeps account entitlements in step with Stripe.
//
// POST /v1/webhooks/stripe is the fast path: it verifies the signature over
// the raw body, records the event in the inbox (idempotent by event id),
// publishes a pointer to it on the stripe-events topic and answers 2xx.
// The consumer of that topic does the entitlement work: it maps each event
// to the subscription state it describes and applies it under a version
// gate, so redelivery, duplicates and reordering converge on the state of
// an in-order replay, and it publishes entitlement-changed whenever an
// account's entitlement moves. Sweep republishes recorded events that were
// never processed; Reconcile repairs drift from events that never came.
package paymentwebhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/depcheck"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Config is read from the environment.
type Config struct {
	// WebhookSecrets are the endpoint signing secrets (whsec_...); during a
	// roll both the old and the new one are listed.
	WebhookSecrets []string `env:"STRIPE_WEBHOOK_SECRETS"`
	// Tolerance is how old a signature timestamp may be.
	Tolerance time.Duration `env:"STRIPE_WEBHOOK_TOLERANCE, default=300s"`
	// MaxBody caps the webhook body. Stripe events are a few KiB (lists
	// inside them are truncated); the cap keeps the recorded payload, even
	// base64-encoded, inside a DynamoDB item (400 KB).
	MaxBody int64 `env:"STRIPE_WEBHOOK_MAX_BODY, default=262144"`
	// APIKey reads subscriptions for refetch and reconciliation.
	APIKey string `env:"STRIPE_API_KEY"`
	// APIURL points the API client elsewhere (stripe-mock in tests).
	APIURL string `env:"STRIPE_API_URL"`
	// Refetch re-reads the subscription from the API before applying an
	// event instead of trusting the event's (possibly stale) copy.
	Refetch bool `env:"REFETCH, default=false"`
	// PricePlans maps Stripe price ids to plan ids:
	// "price_basic=basic,price_std=standard".
	PricePlans map[string]string `env:"STRIPE_PRICE_PLANS, separator=="`
	// Products are the Stripe product ids this service sells, for
	// a Stripe account that also bills others: a subscription to none of
	// them is another product's, and its events change no account.
	// Empty: every subscription of a linked customer is the service's.
	// Comma-separated, read as one string: New checks it as deployed
	// (envconfig would trim any whitespace from a list's entries).
	Products string `env:"STRIPE_PRODUCTS"`
	// PastDueGrace is how long a past_due account stays entitled; the same
	// setting authorizeplay reads.
	PastDueGrace time.Duration `env:"PAST_DUE_GRACE, default=72h"`
	// InboxRetention is how long processed events are remembered for
	// de-duplication; Stripe redelivers for up to three days. Where
	// Reconcile runs it is also how long after its receipt an event waits
	// for its customer's link (see parkExpiry).
	InboxRetention time.Duration `env:"STRIPE_INBOX_RETENTION, default=720h"`
	// LinkWait is how long an event of a customer not yet linked to an
	// account is retried on the bus, waiting for its
	// checkout.session.completed, at most: the bus's last delivery
	// (playback.DeliveryLimiter) parks it sooner. After that it is
	// parked in the inbox and applied when the link appears (bounded by
	// InboxRetention where Reconcile can restore what it carried:
	// parkExpiry).
	LinkWait time.Duration `env:"STRIPE_LINK_WAIT, default=1h"`
	// GiveUpAfter stops bus retries of an event that still fails this long
	// after it was received: it is parked for retry (logged "stripe event
	// parked") and left to Sweep, which retries a bounded number of parked
	// events each run, so that a poisoned event cannot hog the consumer.
	GiveUpAfter time.Duration `env:"STRIPE_EVENT_GIVE_UP, default=72h"`
	// SweepAge is how long a recorded event may stay unprocessed before
	// Sweep republishes it; SweepBatch bounds one Sweep, stranded events
	// first, then events parked for retry (at least a quarter of it), and
	// is the page size of a wake.
	SweepAge   time.Duration `env:"STRIPE_SWEEP_AGE, default=1m"`
	SweepBatch int           `env:"STRIPE_SWEEP_BATCH, default=100"`
	// DefaultTerritory is the territory (ISO 3166-1 alpha-2) of an account
	// created from a checkout session that names no billing country (and
	// whose customer has no address); empty: such a session waits, parked,
	// for an operator to create the account.
	DefaultTerritory string `env:"STRIPE_DEFAULT_TERRITORY"`
}

// Store is what the webhook and its consumer read and write. Accounts of
// new subscribers are created through the admin port (create-if-absent,
// with an audit record), like an operator's.
type Store interface {
	playback.AccountStore
	playback.InboxStore
	ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error)
	GetRecord(ctx context.Context, kind playback.Kind, id string) (playback.Record, error)
}

// Deps are the collaborators.
type Deps struct {
	Store Store
	Bus   playback.Publisher
	// Stripe reads the API; when nil it is built from Config.APIKey and
	// APIURL, and refetch and reconciliation need one.
	Stripe *StripeAPI
	Now    func() time.Time
}

// Server serves the webhook, its consumer, the sweeper and reconciliation.
type Server struct {
	cfg      Config
	deps     Deps
	verifier *verifier
	plans    map[string]string
	products map[string]bool // Config.Products; empty: every product
	// lastDelivery is the delivery attempt after which the bus
	// dead-letters a message it is asked to retry.
	lastDelivery int
	// sweepHold bounds Sweep's backoff: busHold of lastDelivery.
	sweepHold time.Duration
}

// Source is the inbox source of Stripe events.
const Source = events.StripeSource

// New validates cfg and deps.
func New(cfg Config, deps Deps) (*Server, error) {
	var secrets []string
	for _, s := range cfg.WebhookSecrets {
		if s = strings.TrimSpace(s); s != "" {
			secrets = append(secrets, s)
		}
	}
	plans := map[string]string{}
	for price, plan := range cfg.PricePlans {
		price, plan = strings.TrimSpace(price), strings.TrimSpace(plan)
		if price == "" || plan == "" {
			return nil, fmt.Errorf("paymentwebhook.New: STRIPE_PRICE_PLANS entry %q=%q needs a price id and a plan id", price, plan)
		}
		plans[price] = plan
	}
	products := map[string]bool{}
	if cfg.Products != "" {
		for _, entry := range strings.Split(cfg.Products, ",") {
			// Any Stripe id: a product's id may be chosen at its
			// creation, so prod_ is only the default. Spaces (only) may
			// surround an entry; template.yaml's StripeProducts
			// AllowedPattern is the same rule.
			if id := strings.Trim(entry, " "); validStripeID(id) {
				products[id] = true
				continue
			}
			return nil, fmt.Errorf("paymentwebhook.New: STRIPE_PRODUCTS entry %q is not a Stripe id (letters, digits, _)", entry)
		}
	}
	switch {
	case depcheck.Nil(deps.Store):
		return nil, errors.New("paymentwebhook.New: Store is required")
	case depcheck.Nil(deps.Bus):
		return nil, errors.New("paymentwebhook.New: Bus is required")
	case len(secrets) == 0:
		return nil, errors.New("paymentwebhook.New: STRIPE_WEBHOOK_SECRETS needs at least one endpoint secret")
	case len(plans) == 0:
		return nil, errors.New("paymentwebhook.New: STRIPE_PRICE_PLANS must map at least one price id to a plan")
	case cfg.Tolerance <= 0 || cfg.MaxBody <= 0 || cfg.PastDueGrace < 0 || cfg.InboxRetention <= 0 ||
		cfg.LinkWait < 0 || cfg.GiveUpAfter <= 0 || cfg.SweepAge <= 0 || cfg.SweepBatch <= 0:
		return nil, fmt.Errorf("paymentwebhook.New: durations, MaxBody and SweepBatch must be positive: %+v", redacted(cfg))
	}
	if cfg.DefaultTerritory != "" && !playback.IsCountryCode(cfg.DefaultTerritory) {
		return nil, fmt.Errorf("paymentwebhook.New: STRIPE_DEFAULT_TERRITORY %q is not the ISO 3166-1 alpha-2 code of a country", cfg.DefaultTerritory)
	}
	if deps.Stripe == nil && cfg.APIKey != "" {
		api, err := NewStripeAPI(cfg.APIKey, cfg.APIURL)
		if err != nil {
			return nil, fmt.Errorf("paymentwebhook.New: %w", err)
		}
		deps.Stripe = api
	}
	if cfg.Refetch && deps.Stripe == nil {
		return nil, errors.New("paymentwebhook.New: REFETCH needs STRIPE_API_KEY")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	cfg.WebhookSecrets = secrets
	// The bus as configured says (SQS_MAX_RECEIVE_COUNT, say); one that
	// does not has the deployed queues' count.
	lastDelivery := catalog.MaxDeliveryAttempts
	if l, ok := deps.Bus.(playback.DeliveryLimiter); ok {
		lastDelivery = l.MaxDeliveryAttempts()
	}
	if lastDelivery < 1 {
		// Every delivery would count as past the last one.
		return nil, fmt.Errorf("paymentwebhook.New: the bus's last delivery is attempt %d, want at least 1", lastDelivery)
	}
	return &Server{cfg: cfg, deps: deps, verifier: newVerifier(secrets, cfg.Tolerance), plans: plans,
		products: products, lastDelivery: lastDelivery, sweepHold: busHold(lastDelivery)}, nil
}

// redacted is cfg without its secrets, for error messages.
func redacted(cfg Config) Config {
	cfg.WebhookSecrets = []string{fmt.Sprintf("<%d secrets>", len(cfg.WebhookSecrets))}
	if cfg.APIKey != "" {
		cfg.APIKey = "<set>"
	}
	return cfg
}

// Register serves the routes on mux.
func (s *Server) Register(mux *http.ServeMux) { s.Mount(mux) }

// Mount mounts the routes on mux: its catalogue entry's (functions/catalog),
// as cmd/playplane's TestFunctionsServeWhatTheCatalogueDeploys checks.
func (s *Server) Mount(mux httpx.Mux) {
	// Stripe calls it, never a browser: no CORS.
	mux.Handle("POST /v1/webhooks/stripe", httpx.ServerToServer(httpx.HandlerFunc(s.webhook)))
}

// Jobs returns the scheduled tasks by name: sweep republishes recorded
// events whose publish never completed, reconcile repairs drift from the
// Stripe API (it needs STRIPE_API_KEY), grace announces past_due accounts
// out of their grace, linked or not.
func (s *Server) Jobs() map[string]playback.Job {
	return map[string]playback.Job{"sweep": playback.JobOf(s.Sweep), "reconcile": playback.JobOf(s.Reconcile),
		JobGrace: playback.JobOf(s.Grace)}
}

// CanReconcile reports whether the reconcile job has an API to read.
func (s *Server) CanReconcile() bool { return s.deps.Stripe != nil }

// CanRun says whether job can run as configured: reconcile needs Stripe's
// API (the catalogue's Job.NeedsSecret); the local runner skips a job that
// cannot, as the clouds deploy its schedule disabled.
func (s *Server) CanRun(job string) bool { return job != "reconcile" || s.CanReconcile() }

// Consumers returns the event-triggered handlers by topic.
func (s *Server) Consumers() map[string]playback.BatchHandler {
	return map[string]playback.BatchHandler{events.TopicStripeEvents: s.HandleStripeEvents}
}

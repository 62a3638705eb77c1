package paymentwebhook

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
)

const (
	testSecret    = "whsec_test_current"
	testOldSecret = "whsec_test_previous"
)

// base is 2026-03-01T00:00:00Z; event times are offsets from it.
var base = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) int64 { return base.Add(d).Unix() }

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func testConfig() Config {
	return Config{
		WebhookSecrets: []string{testSecret, testOldSecret},
		Tolerance:      300 * time.Second,
		MaxBody:        512 << 10,
		PricePlans:     map[string]string{"price_basic": "basic", "price_std": "standard", "price_premium": "premium"},
		PastDueGrace:   72 * time.Hour,
		InboxRetention: 30 * 24 * time.Hour,
		LinkWait:       time.Hour,
		GiveUpAfter:    72 * time.Hour,
		SweepAge:       time.Minute,
		SweepBatch:     100,
	}
}

// harness is one function instance over a fresh bolt store and an
// in-process bus with its consumer running.
type harness struct {
	t     *testing.T
	srv   *Server
	store harnessStore
	bus   *membus.Bus
	mux   *http.ServeMux
	clock *clock

	mu          sync.Mutex
	entitlement []events.EntitlementChanged
	posted      map[string]bool // ids of the events posted to the webhook
}

type harnessOption func(*Config, *Deps)

// harnessStore is a store the harness can also close: bolt by default,
// DynamoDB Local or the Firestore emulator through withStore.
type harnessStore interface {
	Store
	Close() error
}

// withStore runs the harness over s instead of a fresh bolt store.
func withStore(s harnessStore) harnessOption {
	return func(_ *Config, d *Deps) { d.Store = s }
}

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	// A fixed delay: the many attempts stand for retries over time, which
	// a backoff would stretch into minutes.
	bus := membus.New(membus.Config{RetryDelay: 2 * time.Millisecond, MaxRetryDelay: 2 * time.Millisecond, MaxAttempts: 1000})
	h := &harness{t: t, bus: bus, mux: http.NewServeMux(), clock: &clock{now: base.Add(time.Hour)}}
	t.Cleanup(func() { bus.Close() })
	cfg := testConfig()
	deps := Deps{Bus: bus, Now: h.clock.Now}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	if deps.Store == nil {
		// No fdatasync per commit: no test here reopens the store or
		// crashes the process (shared/bolt's own tests hold durability).
		// Its clock is the harness's: parked events' waits end by it.
		store, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync(), bolt.WithClock(h.clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		deps.Store = store
	}
	h.store = deps.Store.(harnessStore)
	var err error
	h.srv, err = New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Register(h.mux)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for topic, handler := range h.srv.Consumers() {
		if err := bus.Subscribe(ctx, topic, handler); err != nil {
			t.Fatal(err)
		}
	}
	err = bus.Subscribe(ctx, events.TopicEntitlementChanged, func(_ context.Context, msgs []playback.Message) []string {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, m := range msgs {
			var ev events.EntitlementChanged
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Errorf("entitlement message: %v", err)
			}
			h.entitlement = append(h.entitlement, ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) account(id string, mods ...func(*playback.Account)) {
	h.t.Helper()
	a := playback.Account{ID: id, Status: playback.StatusNone, Territory: "DE"}
	for _, m := range mods {
		m(&a)
	}
	if err := h.store.PutAccount(context.Background(), a); err != nil {
		h.t.Fatal(err)
	}
}

// createAccount creates account id as its writers without a bus do
// (playplane import): the events parked for it are handed to the sweeper.
func (h *harness) createAccount(id string, mods ...func(*playback.Account)) {
	h.t.Helper()
	if _, err := events.CreateStripeAccount(context.Background(), h.store, nil, id, h.srv.cfg.SweepBatch, h.clock.Now, func() error {
		h.account(id, mods...)
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) getAccount(id string) playback.Account {
	h.t.Helper()
	a, err := h.store.GetAccount(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

// sign signs payload the way Stripe does, at the harness clock.
func (h *harness) sign(payload []byte, secret string) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload: payload, Secret: secret, Timestamp: h.clock.Now()}).Header
}

func (h *harness) post(payload []byte, sigHeader string) *httptest.ResponseRecorder {
	var head struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(payload, &head) == nil && head.ID != "" {
		h.mu.Lock()
		if h.posted == nil {
			h.posted = map[string]bool{}
		}
		h.posted[head.ID] = true
		h.mu.Unlock()
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/webhooks/stripe", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if sigHeader != "" {
		req.Header.Set("Stripe-Signature", sigHeader)
	}
	rec := httptest.NewRecorder()
	h.mux.ServeHTTP(rec, req)
	return rec
}

// deliver posts a correctly signed event and expects a 2xx.
func (h *harness) deliver(payload []byte) WebhookResponse {
	h.t.Helper()
	rec := h.post(payload, h.sign(payload, testSecret))
	if rec.Code != http.StatusOK {
		h.t.Fatalf("deliver: status %d: %s", rec.Code, rec.Body)
	}
	var resp WebhookResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// settle waits until the consumers have nothing left to do.
func (h *harness) settle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.bus.Idle(ctx); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) entitlementEvents() []events.EntitlementChanged {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.entitlement)
}

func (h *harness) inboxEvent(id string) (playback.InboxEvent, error) {
	return h.store.GetEvent(context.Background(), Source, id)
}

// pending lists every unprocessed inbox event whatever its age: the
// pending ones and the parked ones among those posted.
func (h *harness) pending() []playback.InboxEvent {
	h.t.Helper()
	ctx := context.Background()
	evs, err := h.store.ListPendingEvents(ctx, Source, base.Add(1000*time.Hour), 10_000)
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	ids := slices.Sorted(maps.Keys(h.posted))
	h.mu.Unlock()
	for _, id := range ids {
		ev, err := h.store.GetEvent(ctx, Source, id)
		if err == nil && ev.ProcessedAt.IsZero() && ev.ParkedKey != "" {
			evs = append(evs, ev)
		}
	}
	return evs
}

// parked lists the events parked under key.
func (h *harness) parked(key string) []playback.InboxEvent {
	h.t.Helper()
	evs, err := h.store.ListParkedEvents(context.Background(), Source, key, playback.ParkCursor{}, 10_000)
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

// Stripe payload builders, in the API 2023-10-16 shape: stripe/openapi's
// fixture objects (testdata/stripe/PROVENANCE.md) with the fields a test
// moves set, and the others as the fixture has them (a price's product is
// its streamingProduct). The corpus's subState and invoiceState render
// the same fixtures with more of a lifecycle's fields.

type obj = map[string]any

// stripeEvent is the fixture's event envelope around object.
func stripeEvent(id, typ string, created int64, object obj) []byte {
	raw, err := json.Marshal(envelopeOf(id, typ, created, object, nil))
	if err != nil {
		panic(err)
	}
	return raw
}

// envelopeOf is the fixture's event with id, type, created and data set,
// on the API version the endpoint decodes; previous_attributes when
// given. pending_webhooks is 1: the endpoint being delivered to.
func envelopeOf(id, typ string, created int64, object, previous obj) obj {
	e := mustShape("event")
	e["id"], e["type"], e["created"], e["api_version"] = id, typ, created, APIVersion
	e["pending_webhooks"] = 1
	data := obj{"object": object}
	if previous != nil {
		data["previous_attributes"] = previous
	}
	e["data"] = data
	return e
}

// orNull is s, or JSON null for "": Stripe leaves an unset reference null.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// subObj is the fixture's subscription, created at the start of its
// period, with one item of price; not canceled, no trial.
func subObj(id, customer, status, price string, start, end int64) obj {
	o := mustShape("subscription")
	o["id"], o["customer"], o["status"] = id, customer, status
	o["created"], o["start_date"], o["billing_cycle_anchor"] = start, start, start
	o["current_period_start"], o["current_period_end"] = start, end
	o["cancel_at"], o["canceled_at"], o["ended_at"], o["trial_start"], o["trial_end"] = nil, nil, nil, nil, nil
	o["metadata"] = obj{}
	items := o["items"].(obj)
	item := items["data"].([]any)[0].(obj)
	item["id"], item["subscription"] = "si_"+id, id
	item["price"].(obj)["id"] = price
	items["url"] = "/v1/subscription_items?subscription=" + id
	return o
}

func withMeta(o obj, meta obj) obj {
	o["metadata"] = meta
	return o
}

// invoiceObj is the fixture's invoice of subscription sub ("" for none),
// paid when amountPaid is, with one regular line of price for the period.
func invoiceObj(id, customer, sub, reason, price string, amountPaid, start, end int64) obj {
	o := mustShape("invoice")
	o["id"], o["customer"], o["subscription"], o["billing_reason"] = id, customer, orNull(sub), reason
	o["period_start"], o["period_end"] = start, end
	status := "open"
	if amountPaid > 0 {
		status = "paid"
	}
	o["status"], o["paid"], o["amount_paid"] = status, status == "paid", amountPaid
	o["subscription_details"] = obj{"metadata": obj{}}
	lines := o["lines"].(obj)
	line := lines["data"].([]any)[0].(obj)
	line["id"], line["subscription"], line["type"], line["proration"], line["invoice_item"] = "il_"+id, orNull(sub), "subscription", false, nil
	line["period"] = obj{"start": start, "end": end}
	line["price"].(obj)["id"], line["price"].(obj)["type"] = price, "recurring"
	lines["url"] = "/v1/invoices/" + id + "/lines"
	return o
}

// checkoutObj is the fixture's checkout.session as a subscription-mode
// session completes: paid, its customer and subscription as id strings
// (webhooks never expand them), client_reference_id naming the account;
// "" for any of them leaves it null.
func checkoutObj(id, accountID, customer, sub string) obj {
	o := mustShape("checkout.session")
	o["id"], o["client_reference_id"], o["customer"], o["subscription"] = id, orNull(accountID), orNull(customer), orNull(sub)
	o["mode"], o["status"], o["payment_status"] = "subscription", "complete", "paid"
	// A subscription-mode session has no PaymentIntent, and its url is
	// only present while it is open.
	o["payment_intent"], o["url"] = nil, nil
	o["metadata"] = obj{}
	return o
}

// customerObj is the fixture's customer with id and no metadata.
func customerObj(id string) obj {
	o := mustShape("customer")
	o["id"], o["metadata"] = id, obj{}
	return o
}

// stateOf is an account's subscription-derived state with subscriptions in
// id order: what two runs must agree on (UpdatedAt is wall-clock).
func stateOf(a playback.Account) playback.Account {
	a.UpdatedAt = time.Time{}
	a.Subscriptions = slices.Clone(a.Subscriptions)
	slices.SortFunc(a.Subscriptions, func(x, y playback.Subscription) int {
		switch {
		case x.ID < y.ID:
			return -1
		case x.ID > y.ID:
			return 1
		}
		return 0
	})
	return a
}

// signedEvent is one Stripe event as a test sends it.
type signedEvent struct {
	id      string
	created int64
	payload []byte
}

// deliverShuffled posts evs and dups random duplicates of them, shuffled by
// rng, from four concurrent senders, each signed like Stripe; every answer
// must be 200.
func (h *harness) deliverShuffled(t *testing.T, rng *rand.Rand, evs []signedEvent, dups int) {
	t.Helper()
	deliveries := append([]signedEvent(nil), evs...)
	for range dups {
		deliveries = append(deliveries, evs[rng.IntN(len(evs))])
	}
	rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
	work := make(chan signedEvent)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ev := range work {
				if rec := h.post(ev.payload, h.sign(ev.payload, testSecret)); rec.Code != http.StatusOK {
					t.Errorf("%s: status %d %s", ev.id, rec.Code, rec.Body)
				}
			}
		})
	}
	for _, ev := range deliveries {
		work <- ev
	}
	close(work)
	wg.Wait()
}

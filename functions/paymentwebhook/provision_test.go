package paymentwebhook

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// Subscriber provisioning: a checkout.session.completed whose
// client_reference_id (or metadata.account_id) names an account that does
// not exist creates it, in the billing country's territory, and links the
// customer; the subscription's events, which Stripe may send before the
// session completes, wait parked and apply once the link is there.

// newSubscriberCheckout is checkout.session.completed of a Checkout sign-up
// that collected a billing address: the fixture's session
// (testdata/stripe/checkout.session.json) with customer_details.address in
// the shape of the OpenAPI "address" schema that
// payment_pages_checkout_session_customer_details.address references
// (city, country, line1, line2, postal_code, state).
func newSubscriberCheckout(t testing.TB, id, accountID string, s subState, country string) obj {
	o := checkoutSession(t, id, accountID, s)
	o["customer_details"] = obj{
		"address": obj{"city": "Lyon", "country": country, "line1": "1 Rue de la République", "line2": nil,
			"postal_code": "69001", "state": nil},
		"email": "new@example.com", "name": "New Subscriber", "phone": nil, "tax_exempt": "none", "tax_ids": []any{},
	}
	o["customer_email"] = nil
	return o
}

// newSubscriber is a sign-up by someone with no account yet, all in one
// second as Stripe sends it (see lifecycle.signUp), whose checkout session
// carries the billing country. It returns the events in true order, the
// checkout last.
func newSubscriber(t testing.TB, name, country string) (*lifecycle, []signedEvent) {
	l := newLifecycle(t, name)
	at := base.Add(time.Hour)
	s := l.sub("", "price_std", at, 30*24*time.Hour)
	active := l.signUp(s, at)
	l.events = l.events[:len(l.events)-1] // signUp's checkout has no address
	l.emit(typeCheckoutCompleted, at, newSubscriberCheckout(t, "cs_"+name, l.account, active, country), nil)
	return l, l.events
}

func (h *harness) noAccount(id string) {
	h.t.Helper()
	if _, err := h.store.GetAccount(context.Background(), id); !playback.IsCode(err, playback.CodeNotFound) {
		h.t.Fatalf("account %s exists: %v", id, err)
	}
}

// wantNewSubscriber holds the provisioned account to the sign-up: created
// in the session's country, on the price's plan, active, linked to the
// customer, entitled to play, with nothing left unprocessed.
func (h *harness) wantNewSubscriber(l *lifecycle, territory string) {
	h.t.Helper()
	a := h.getAccount(l.account)
	wantState(h.t, a, playback.StatusActive, "standard")
	if a.Territory != territory || a.CustomerID != l.customer || a.Email != "new@example.com" {
		h.t.Fatalf("account %+v: want territory %s, customer %s", a, territory, l.customer)
	}
	if !a.Entitled(l.end, testConfig().PastDueGrace) {
		h.t.Fatalf("new subscriber not entitled: %+v", a)
	}
	if id, err := h.store.AccountIDByCustomer(context.Background(), l.customer); err != nil || id != l.account {
		h.t.Fatalf("link %s → %q %v", l.customer, id, err)
	}
	if p := h.pending(); len(p) != 0 {
		h.t.Fatalf("%d events unprocessed, first %s %s (parked %q)", len(p), p[0].ID, p[0].Type, p[0].ParkedKey)
	}
}

// TestCheckoutCreatesNewSubscriber: the subscription's events come first
// (Stripe does not order them), park under the customer, are answered
// "republished" on redelivery while they wait, and apply when the checkout
// session creates the account and links the customer.
func TestCheckoutCreatesNewSubscriber(t *testing.T) {
	t.Parallel()
	parkStores(t, func(t *testing.T, opts ...harnessOption) {
		h := newHarness(t, append(opts, noLinkWait)...)
		l, evs := newSubscriber(t, "newsub", "FR")
		h.clock.Set(l.end)
		checkout, before := evs[len(evs)-1], evs[:len(evs)-1]
		for _, ev := range before {
			h.deliver(ev.payload)
		}
		h.settle()
		h.noAccount(l.account)
		parked := h.parked(parkCustomer(l.customer))
		// customer.created is not acted on; the subscription and invoice
		// events wait for the link.
		if len(parked) != 3 {
			t.Fatalf("%d events parked for %s, want 3: %+v", len(parked), l.customer, parked)
		}
		for _, ev := range before {
			if got := h.deliver(ev.payload); got.Outcome != "republished" && got.Outcome != "ignored" {
				t.Fatalf("redelivery of unapplied %s answered %q", ev.id, got.Outcome)
			}
		}
		h.settle()
		h.noAccount(l.account)

		if got := h.deliver(checkout.payload); got.Outcome != "recorded" {
			t.Fatalf("checkout: %q", got.Outcome)
		}
		h.settle()
		h.wantNewSubscriber(l, "FR")
		if got := h.parked(parkCustomer(l.customer)); len(got) != 0 {
			t.Fatalf("%d events still parked", len(got))
		}
		// Applied now: a redelivery is a duplicate. The cloud stores may
		// have expired the processed record already (their TTL runs on
		// the wall clock, far past the harness's): then it is recorded
		// and applied again, changing nothing.
		got := h.deliver(before[1].payload)
		if bolt := len(opts) == 0; got.Outcome != "duplicate" && (bolt || got.Outcome != "recorded") {
			t.Fatalf("redelivery after applying: %q", got.Outcome)
		}
		h.settle()
		h.wantNewSubscriber(l, "FR")
		// The account was created through the admin port: audited, by
		// the session.
		page, err := h.store.(playback.AdminStore).ListAudit(context.Background(), "", 10)
		if err != nil || len(page.Records) != 1 || page.Records[0].Actor != actorCheckout+"cs_newsub" ||
			page.Records[0].Changes[0].Op != playback.OpCreate {
			t.Fatalf("audit %+v %v", page.Records, err)
		}
		if ent := h.entitlementEvents(); len(ent) == 0 || !ent[len(ent)-1].Entitled {
			t.Fatalf("no entitlement announced: %+v", ent)
		}
	})
}

// TestNewSubscriberShuffled: the sign-up's events shuffled with duplicates
// from four senders, the subscription's retried on the bus within
// LinkWait or parked (both), end in the same account.
func TestNewSubscriberShuffled(t *testing.T) {
	t.Parallel()
	for _, linkWait := range []time.Duration{0, time.Hour} {
		for seed := range 6 {
			t.Run(fmt.Sprintf("linkwait=%s/seed=%d", linkWait, seed), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, func(c *Config, _ *Deps) { c.LinkWait = linkWait })
				var all []signedEvent
				var subs []*lifecycle
				for i := range 4 {
					l, evs := newSubscriber(t, fmt.Sprintf("shuf%d", i), []string{"FR", "DE", "GB", "US"}[i])
					subs = append(subs, l)
					all = append(all, evs...)
					h.clock.Set(l.end)
				}
				h.deliverShuffled(t, rand.New(rand.NewPCG(uint64(seed), 15)), all, len(all)/2)
				h.settleLong()
				for i, l := range subs {
					h.wantNewSubscriber(l, []string{"FR", "DE", "GB", "US"}[i])
				}
				if dead := h.bus.DeadLetters(events.TopicStripeEvents); len(dead) != 0 {
					t.Fatalf("%d dead letters", len(dead))
				}
			})
		}
	}
}

// TestCheckoutProvisioning: what a session needs to create an account, and
// what it leaves alone.
func TestCheckoutProvisioning(t *testing.T) {
	t.Parallel()
	sub := subState{id: "sub_p", customer: "cus_p", price: "price_std"}
	for _, tc := range []struct {
		name      string
		cfg       func(*Config, *Deps)
		existing  *playback.Account
		session   func(t *testing.T) obj
		territory string // "" : no account afterwards
		parked    string // park key of the session, "" if processed
		rejected  bool   // processed without effect
	}{
		{name: "billing country", session: func(t *testing.T) obj { return newSubscriberCheckout(t, "cs_p", "acct_p", sub, "DE") },
			territory: "DE"},
		{name: "metadata.account_id when there is no client_reference_id", session: func(t *testing.T) obj {
			o := newSubscriberCheckout(t, "cs_p", "", sub, "IT")
			o["client_reference_id"], o["metadata"] = nil, obj{"account_id": "acct_p"}
			return o
		}, territory: "IT"},
		{name: "no country, a default territory", cfg: func(c *Config, _ *Deps) { c.DefaultTerritory = "GB" },
			session: func(t *testing.T) obj { return checkoutSession(t, "cs_p", "acct_p", sub) }, territory: "GB"},
		{name: "no country, no default: waits for an operator",
			session: func(t *testing.T) obj { return checkoutSession(t, "cs_p", "acct_p", sub) }, parked: parkAccount("acct_p")},
		{name: "a country that is not ISO alpha-2 counts as none",
			session: func(t *testing.T) obj { return newSubscriberCheckout(t, "cs_p", "acct_p", sub, "France") }, parked: parkAccount("acct_p")},
		// Codes in the shape that name no country (playback.NotCountries):
		// an account at home there meets no licence window, and the
		// catalogue refuses it as a territory.
		{name: "a grouping counts as none: the default territory", cfg: func(c *Config, _ *Deps) { c.DefaultTerritory = "GB" },
			session: func(t *testing.T) obj { return newSubscriberCheckout(t, "cs_p", "acct_p", sub, "EU") }, territory: "GB"},
		{name: "the unknown country counts as none: waits for an operator",
			session: func(t *testing.T) obj { return newSubscriberCheckout(t, "cs_p", "acct_p", sub, "XX") }, parked: parkAccount("acct_p")},
		{name: "an existing account keeps its territory",
			existing: &playback.Account{ID: "acct_p", Status: playback.StatusNone, Territory: "ES", ParentalCap: 12},
			session:  func(t *testing.T) obj { return newSubscriberCheckout(t, "cs_p", "acct_p", sub, "DE") }, territory: "ES"},
		{name: "an account reference that is not an id", rejected: true,
			session: func(t *testing.T) obj { return newSubscriberCheckout(t, "cs_p", "acct p/../x", sub, "DE") }},
		{name: "no customer", rejected: true, session: func(t *testing.T) obj {
			o := newSubscriberCheckout(t, "cs_p", "acct_p", sub, "DE")
			o["customer"] = nil
			return o
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := []harnessOption{noLinkWait}
			if tc.cfg != nil {
				opts = append(opts, tc.cfg)
			}
			h := newHarness(t, opts...)
			if tc.existing != nil {
				h.account(tc.existing.ID, func(a *playback.Account) { *a = *tc.existing })
			}
			h.run(stripeEvent("evt_p", typeCheckoutCompleted, at(time.Hour), tc.session(t)))
			ev, err := h.inboxEvent("evt_p")
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.parked != "":
				if !ev.ProcessedAt.IsZero() || ev.ParkedKey != tc.parked {
					t.Fatalf("session should be parked under %q: %+v", tc.parked, ev)
				}
				h.noAccount("acct_p")
				if got := h.deliver(stripeEvent("evt_p", typeCheckoutCompleted, at(time.Hour), tc.session(t))); got.Outcome != "republished" {
					t.Fatalf("redelivery while parked: %q", got.Outcome)
				}
				h.settle()
				return
			case ev.ProcessedAt.IsZero():
				t.Fatalf("session not processed: %+v", ev)
			}
			if tc.rejected {
				h.noAccount("acct_p")
				if _, err := h.store.AccountIDByCustomer(context.Background(), "cus_p"); !playback.IsCode(err, playback.CodeNotFound) {
					t.Fatalf("a rejected session linked: %v", err)
				}
				return
			}
			a := h.getAccount("acct_p")
			if a.Territory != tc.territory || a.CustomerID != "cus_p" || a.Status != playback.StatusNone {
				t.Fatalf("account %+v, want territory %s linked to cus_p", a, tc.territory)
			}
			if tc.existing != nil && a.ParentalCap != tc.existing.ParentalCap {
				t.Fatalf("the session rewrote an existing account: %+v", a)
			}
		})
	}
}

// TestConcurrentCheckoutDeliveriesCreateOnce: duplicates of one session
// racing on two consumers create the account once (one audit record).
func TestConcurrentCheckoutDeliveriesCreateOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noLinkWait)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := h.bus.Subscribe(ctx, events.TopicStripeEvents, h.srv.HandleStripeEvents); err != nil {
		t.Fatal(err)
	}
	var evs []signedEvent
	for i := range 8 {
		// Eight events of one session: Stripe resends under new ids when
		// an endpoint is re-added, and tests must not lean on the inbox.
		id := fmt.Sprintf("evt_race_%d", i)
		evs = append(evs, signedEvent{id: id, created: at(time.Hour), payload: stripeEvent(id, typeCheckoutCompleted, at(time.Hour),
			newSubscriberCheckout(t, "cs_race", "acct_race", subState{id: "sub_race", customer: "cus_race", price: "price_std"}, "NL"))})
	}
	h.deliverShuffled(t, rand.New(rand.NewPCG(1, 2)), evs, 8)
	h.settle()
	if a := h.getAccount("acct_race"); a.Territory != "NL" || a.CustomerID != "cus_race" {
		t.Fatalf("account %+v", a)
	}
	page, err := h.store.(playback.AdminStore).ListAudit(context.Background(), "", 10)
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("%d audit records (%v), want one creation", len(page.Records), err)
	}
}

// TestReconcileWakesEventsOfOperatorLinks: an operator creates and links
// the account through the admin API, which tells this function nothing;
// the next reconciliation sees the customer linked and wakes the events
// parked for it, which then apply.
func TestReconcileWakesEventsOfOperatorLinks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noLinkWait)
	ctx := context.Background()
	h.run(stripeEvent("evt_op", typeSubscriptionCreated, at(time.Hour), subObj("sub_op", "cus_op", "active", "price_basic", at(0), at(month))))
	if got := h.parked(parkCustomer("cus_op")); len(got) != 1 {
		t.Fatalf("%d parked, want 1", len(got))
	}
	// As an operator's link (PUT …/customer) leaves it: the account names
	// the customer, whose subscriptions alone entitle it.
	h.account("acct_op", func(a *playback.Account) { a.CustomerID = "cus_op" })
	if err := h.store.LinkCustomer(ctx, "cus_op", "acct_op"); err != nil {
		t.Fatal(err)
	}
	// The listing says something older than the event (a stale page):
	// the event's own state must be what lands.
	listed := stripeSubscription{ID: "sub_op", Customer: "cus_op", Status: "incomplete",
		CurrentPeriodStart: at(0), CurrentPeriodEnd: at(month)}
	r := reconciler{s: h.srv, now: h.clock.Now(), announced: map[string]bool{}}
	if err := r.subscription(ctx, listed, base); err != nil {
		t.Fatal(err)
	}
	h.settle()
	wantState(t, h.getAccount("acct_op"), playback.StatusActive, "basic")
	h.wantProcessed("evt_op", "")
	if got := h.parked(parkCustomer("cus_op")); len(got) != 0 {
		t.Fatalf("%d still parked", len(got))
	}
}

package paymentwebhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/playback"
)

const stripeMockKey = "sk_test_playplane"

// stripeMockSubscription reads what stripe-mock answers for path with a
// plain HTTP client and stripe-go's own types, independently of the
// function's decoder, so tests can state what the function should make of
// stripe-mock's (fixed) fixtures.
func stripeMockSubscription(t *testing.T, url, path string) stripe.Subscription {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(stripeMockKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stripe-mock %s: %d %v %s", path, resp.StatusCode, err, raw)
	}
	var list stripe.SubscriptionList
	if json.Unmarshal(raw, &list) == nil && len(list.Data) > 0 {
		return *list.Data[0]
	}
	var sub stripe.Subscription
	if err := json.Unmarshal(raw, &sub); err != nil {
		t.Fatal(err)
	}
	return sub
}

// fixtureStatus is the status stripe-mock v0.203.0 gives every
// subscription it returns, and the account status the webhook must map it
// to, written out rather than derived with the code under test.
const (
	fixtureStripeStatus = stripe.SubscriptionStatusActive
	fixtureStatus       = playback.StatusActive
)

// checkFixtureStatus fails if stripe-mock's fixture is not the one the
// expected values were written for.
func checkFixtureStatus(t *testing.T, sub stripe.Subscription) {
	t.Helper()
	if sub.Status != fixtureStripeStatus {
		t.Fatalf("stripe-mock's subscription is %q, the test expects %q: update fixtureStatus", sub.Status, fixtureStripeStatus)
	}
}

func withStripeMock(t *testing.T, refetch bool) (harnessOption, string) {
	url := emulators.StripeMock(t)
	fixture := stripeMockSubscription(t, url, "/v1/subscriptions/sub_fixture")
	if len(fixture.Items.Data) == 0 || fixture.Items.Data[0].Price == nil || fixture.Customer == nil {
		t.Fatalf("stripe-mock fixture lacks items or customer: %+v", fixture)
	}
	return func(c *Config, _ *Deps) {
		c.APIKey, c.APIURL, c.Refetch = stripeMockKey, url, refetch
		// stripe-mock's fixture price is the premium plan here.
		c.PricePlans[fixture.Items.Data[0].Price.ID] = "premium"
	}, url
}

func TestRefetchAppliesTheAPIState(t *testing.T) {
	t.Parallel()
	opt, url := withStripeMock(t, true)
	h := newHarness(t, opt)
	fixture := stripeMockSubscription(t, url, "/v1/subscriptions/sub_refetched")
	checkFixtureStatus(t, fixture) // not past_due, so the test can tell the payload from the API
	wantStatus := fixtureStatus
	customer := fixture.Customer.ID
	h.account("acct_r")
	h.run(stripeEvent("evt_co", typeCheckoutCompleted, at(0), checkoutObj("cs_r", "acct_r", customer, "")))

	// The payload says past_due on basic; the API says otherwise, and wins.
	h.run(stripeEvent("evt_upd", typeSubscriptionUpdated, at(2*time.Hour),
		subObj("sub_refetched", customer, "past_due", "price_basic", at(0), at(month))))
	a := h.getAccount("acct_r")
	wantState(t, a, wantStatus, "premium")
	if len(a.Subscriptions) != 1 || a.Subscriptions[0].ID != "sub_refetched" ||
		a.Subscriptions[0].Clock != at(2*time.Hour) {
		t.Fatalf("subscriptions %+v", a.Subscriptions)
	}
	updated := a.UpdatedAt

	// An older event re-reads the same subscription but may not overwrite
	// the state of a newer one.
	h.clock.Set(h.clock.Now().Add(time.Minute))
	h.run(stripeEvent("evt_old", typeInvoicePaymentFailed, at(time.Hour),
		invoiceObj("in_r", customer, "sub_refetched", "subscription_cycle", "price_basic", 0, at(0), at(month))))
	if a := h.getAccount("acct_r"); !a.UpdatedAt.Equal(updated) {
		t.Fatalf("an older event rewrote the account: %+v", a)
	}
}

func TestRefetchProvisionsAtCheckout(t *testing.T) {
	t.Parallel()
	opt, url := withStripeMock(t, true)
	h := newHarness(t, opt)
	fixture := stripeMockSubscription(t, url, "/v1/subscriptions/sub_from_checkout")
	checkFixtureStatus(t, fixture)
	wantStatus := fixtureStatus
	h.account("acct_co")
	h.run(stripeEvent("evt_co", typeCheckoutCompleted, at(0), checkoutObj("cs_co", "acct_co", fixture.Customer.ID, "sub_from_checkout")))
	a := h.getAccount("acct_co")
	wantState(t, a, wantStatus, "premium")
	if a.CustomerID != fixture.Customer.ID {
		t.Fatalf("customer %q", a.CustomerID)
	}
}

// TestRefetchRefusesIDsThatAreNotStripeIDs: a signed payload still
// decides which id goes into a request path; one that could walk the path
// is dropped, not requested.
func TestRefetchRefusesIDsThatAreNotStripeIDs(t *testing.T) {
	t.Parallel()
	opt, _ := withStripeMock(t, true)
	h := newHarness(t, opt)
	h.run(stripeEvent("evt_bad", typeSubscriptionUpdated, at(time.Hour),
		subObj("sub/../../v1/customers", "cus_x", "active", "price_std", at(0), at(month))))
	if ev, err := h.inboxEvent("evt_bad"); err != nil || ev.ProcessedAt.IsZero() {
		t.Fatalf("event should be dropped and marked: %+v %v", ev, err)
	}
}

func TestReconcileRepairsDrift(t *testing.T) {
	t.Parallel()
	opt, url := withStripeMock(t, false)
	h := newHarness(t, opt)
	listed := stripeMockSubscription(t, url, "/v1/subscriptions?status=all")
	checkFixtureStatus(t, listed)
	listedStatus := fixtureStatus
	ctx := context.Background()

	// Unlinked customer: nothing to repair, nothing written.
	rep, err := h.srv.Reconcile(ctx)
	if err != nil || rep.Subscriptions == 0 || rep.Unlinked != rep.Subscriptions || rep.Repaired != 0 {
		t.Fatalf("reconcile without links: %+v %v", rep, err)
	}

	// The account missed the events that moved the subscription on.
	h.account("acct_d", func(a *playback.Account) {
		a.Subscriptions = []playback.Subscription{{ID: listed.ID, Status: playback.StatusUnpaid, PlanID: "basic",
			Clock: at(0)}}
		a.Status, a.PlanID = playback.StatusUnpaid, "basic"
		a.CustomerID = listed.Customer.ID // linked as an operator links: named
	})
	if err := h.store.LinkCustomer(ctx, listed.Customer.ID, "acct_d"); err != nil {
		t.Fatal(err)
	}
	rep, err = h.srv.Reconcile(ctx)
	if err != nil || rep.Repaired != 1 || rep.Failed != 0 {
		t.Fatalf("reconcile: %+v %v", rep, err)
	}
	a := h.getAccount("acct_d")
	wantState(t, a, listedStatus, "premium")
	h.settle()
	evs := h.entitlementEvents()
	if len(evs) != 1 || evs[0].Cause != "reconcile" || evs[0].Status != string(listedStatus) {
		t.Fatalf("entitlement events %+v", evs)
	}

	// Nothing drifted since: no write.
	rep, err = h.srv.Reconcile(ctx)
	if err != nil || rep.Repaired != 0 || rep.InSync != 1 {
		t.Fatalf("second reconcile: %+v %v", rep, err)
	}
	if b := h.getAccount("acct_d"); !b.UpdatedAt.Equal(a.UpdatedAt) {
		t.Fatal("an in-sync reconcile rewrote the account")
	}

	// State newer than the listing (an event processed after the read)
	// is left alone even when it differs.
	if _, err := h.store.UpdateAccount(ctx, "acct_d", func(a *playback.Account) error {
		a.Subscriptions[0].Status, a.Subscriptions[0].Clock = playback.StatusPaused, time.Now().Add(time.Hour).Unix()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// In a later second than the repair's listing, as an hourly run is:
	// the stale listing still adds its past_due facts (a later second not
	// past due), which is no repair of the state.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	rep, err = h.srv.Reconcile(ctx)
	if err != nil || rep.Repaired != 0 {
		t.Fatalf("reconcile over newer state: %+v %v", rep, err)
	}
	if a := h.getAccount("acct_d"); a.Subscriptions[0].Status != playback.StatusPaused {
		t.Fatalf("listing overwrote newer state: %+v", a.Subscriptions)
	}
}

// TestReconcileAnnouncesExpiredGrace: no Stripe event marks the end of a
// past_due grace, so reconciliation announces it, once per run.
func TestReconcileAnnouncesExpiredGrace(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.linked("acct_g", "cus_g")
	listed := stripeSubscription{ID: "sub_g", Customer: "cus_g", Status: "past_due",
		CurrentPeriodStart: at(0), CurrentPeriodEnd: at(month)}
	listed.Items.Data = []subscriptionItem{{Price: &stripePrice{ID: "price_std"}}}
	ctx := context.Background()
	run := func(now time.Time) ReconcileReport {
		h.clock.Set(now)
		r := reconciler{s: h.srv, now: now, announced: map[string]bool{}}
		if err := r.subscription(ctx, listed, now); err != nil {
			t.Fatal(err)
		}
		if err := r.subscription(ctx, listed, now); err != nil {
			t.Fatal(err)
		}
		h.settle()
		return r.rep
	}
	if rep := run(base.Add(24 * time.Hour)); rep.GraceExpired != 0 || rep.Repaired != 1 {
		t.Fatalf("inside the grace: %+v", rep)
	}
	if rep := run(base.Add(5 * 24 * time.Hour)); rep.GraceExpired != 1 {
		t.Fatalf("after the grace: %+v", rep)
	}
	evs := h.entitlementEvents()
	last := evs[len(evs)-1]
	if last.Entitled || last.Cause != "grace_expired" || last.AccountID != "acct_g" {
		t.Fatalf("entitlement events %+v", evs)
	}
}

package paymentwebhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// streamingSub and otherSub are one subscription of cus as the
// streaming product's and as the other product's.
func streamingSub(id, cus string) obj {
	return ofProduct(subObj(id, cus, "active", "price_std", at(0), at(month)), streamingProduct, false)
}

func otherSub(id, cus string) obj {
	return ofProduct(subObj(id, cus, "active", otherPrice, at(0), at(month)), otherProduct, false)
}

func otherInvoice(id, cus, sub string) obj {
	inv := invoiceObj(id, cus, sub, "subscription_cycle", otherPrice, 999, at(0), at(month))
	for _, l := range inv["lines"].(obj)["data"].([]any) {
		l.(obj)["price"].(obj)["product"] = otherProduct
	}
	return inv
}

func holds(a playback.Account, subID string) bool {
	for _, s := range a.Subscriptions {
		if s.ID == subID {
			return true
		}
	}
	return false
}

// TestOtherProductDropIsOrdered: sub_s moved from the other product to a
// streaming price. Its update (streaming, t=2h) is applied, then its late
// creation (the other product, t=1h) arrives: stale by the provider clock,
// it must not drop the paying subscriber's subscription. A newer event of
// the other product still drops it.
func TestOtherProductDropIsOrdered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withProducts(streamingProduct))
	h.linked("acct_s", "cus_s")
	h.run(stripeEvent("evt_s2", typeSubscriptionUpdated, at(2*time.Hour), streamingSub("sub_s", "cus_s")))
	wantState(t, h.getAccount("acct_s"), playback.StatusActive, "standard")
	h.run(stripeEvent("evt_s1", typeSubscriptionCreated, at(time.Hour), otherSub("sub_s", "cus_s")))
	wantState(t, h.getAccount("acct_s"), playback.StatusActive, "standard")
	// The same second cannot be ordered against the stored state: kept.
	h.run(stripeEvent("evt_s2b", typeSubscriptionUpdated, at(2*time.Hour), otherSub("sub_s", "cus_s")))
	wantState(t, h.getAccount("acct_s"), playback.StatusActive, "standard")
	h.run(stripeEvent("evt_s3", typeSubscriptionUpdated, at(3*time.Hour), otherSub("sub_s", "cus_s")))
	if a := h.getAccount("acct_s"); a.Status != playback.StatusNone || holds(a, "sub_s") {
		t.Errorf("a newer event of the other product kept sub_s: %s %+v", a.Status, a.Subscriptions)
	}
}

// TestReconcileDropIsOrdered: a listing read before the stored state
// (asOf older than, or in the second of, the subscription's clock) drops
// nothing; a later one drops it.
func TestReconcileDropIsOrdered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withProducts(streamingProduct))
	h.linked("acct_r", "cus_r")
	h.run(stripeEvent("evt_r2", typeSubscriptionUpdated, at(2*time.Hour), streamingSub("sub_r", "cus_r")))
	var listed stripeSubscription
	raw, _ := json.Marshal(otherSub("sub_r", "cus_r"))
	if err := json.Unmarshal(raw, &listed); err != nil {
		t.Fatal(err)
	}
	r := reconciler{s: h.srv, now: h.clock.Now(), announced: map[string]bool{}}
	for _, asOf := range []time.Duration{time.Hour, 2 * time.Hour} {
		if err := r.subscription(t.Context(), listed, base.Add(asOf)); err != nil {
			t.Fatal(err)
		}
		wantState(t, h.getAccount("acct_r"), playback.StatusActive, "standard")
	}
	if err := r.subscription(t.Context(), listed, base.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if a := h.getAccount("acct_r"); holds(a, "sub_r") || r.rep.Repaired != 1 {
		t.Errorf("a later listing kept sub_r: %+v, report %+v", a.Subscriptions, r.rep)
	}
}

// TestOtherProductInvoiceDropsNothing: an old invoice of the other
// product for a subscription now on a streaming price (delivered late,
// even with a newer event time) changes nothing: an invoice does not say
// what its subscription is now.
func TestOtherProductInvoiceDropsNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withProducts(streamingProduct))
	h.linked("acct_i", "cus_i")
	h.run(stripeEvent("evt_i1", typeSubscriptionUpdated, at(2*time.Hour), streamingSub("sub_i", "cus_i")))
	h.run(stripeEvent("evt_i2", typeInvoicePaid, at(3*time.Hour), otherInvoice("in_i", "cus_i", "sub_i")))
	a := h.getAccount("acct_i")
	wantState(t, a, playback.StatusActive, "standard")
	if !holds(a, "sub_i") {
		t.Errorf("sub_i dropped by an invoice: %+v", a.Subscriptions)
	}
}

// TestOtherProductInvoiceWithRefetchLinksNothing: with REFETCH an invoice
// of the other product whose subscription_details.metadata names an
// existing account must not relink it, and one of an unlinked customer
// must be processed, not parked waiting for a link.
func TestOtherProductInvoiceWithRefetchLinksNothing(t *testing.T) {
	t.Parallel()
	api := &scriptedAPI{}
	api.set(otherSub("sub_m", "cus_mo"))
	h := newHarness(t, api.option(t), withProducts(streamingProduct))
	h.linked("acct_m", "cus_m")
	inv := otherInvoice("in_m", "cus_mo", "sub_m")
	inv["subscription_details"] = obj{"metadata": obj{"account_id": "acct_m"}}
	h.run(stripeEvent("evt_m", typeInvoicePaid, at(time.Hour), inv))
	if a := h.getAccount("acct_m"); a.CustomerID != "cus_m" {
		t.Errorf("account relinked to %q by the other product's invoice, want cus_m", a.CustomerID)
	}
	if _, err := h.store.AccountIDByCustomer(t.Context(), "cus_mo"); !playback.IsCode(err, playback.CodeNotFound) {
		t.Errorf("the other product's customer is linked: %v", err)
	}
	h.run(stripeEvent("evt_mn", typeInvoicePaid, at(time.Hour), otherInvoice("in_mn", "cus_nobody", "sub_m")))
	if ev, err := h.inboxEvent("evt_mn"); err != nil || ev.ProcessedAt.IsZero() || ev.ParkedKey != "" {
		t.Errorf("the other product's invoice with REFETCH: processed at %v, parked %q, %v; want processed and not parked", ev.ProcessedAt, ev.ParkedKey, err)
	}
}

// TestRefetchReadOfOtherProduct: with REFETCH a subscription event is not
// classified by its payload but by the read, the state now. An event
// whose payload shows the streaming product while the read shows the
// other product's drops the subscription the account held.
func TestRefetchReadOfOtherProduct(t *testing.T) {
	t.Parallel()
	api := &scriptedAPI{}
	api.set(otherSub("sub_f", "cus_f"))
	h := newHarness(t, api.option(t), withProducts(streamingProduct))
	h.linked("acct_f", "cus_f")
	h.account("acct_f", func(a *playback.Account) {
		a.Status, a.PlanID = playback.StatusActive, "standard"
		a.Subscriptions = []playback.Subscription{
			{ID: "sub_f", Customer: "cus_f", Status: playback.StatusActive, PlanID: "standard", Clock: at(time.Minute)},
		}
	})
	h.run(stripeEvent("evt_f", typeSubscriptionUpdated, at(30*time.Minute), streamingSub("sub_f", "cus_f")))
	if a := h.getAccount("acct_f"); a.Status != playback.StatusNone || holds(a, "sub_f") {
		t.Errorf("the read of the other product's subscription kept it: %s %+v", a.Status, a.Subscriptions)
	}
	if ev, err := h.inboxEvent("evt_f"); err != nil || ev.ProcessedAt.IsZero() || ev.ParkedKey != "" {
		t.Errorf("evt_f: %+v %v, want processed and not parked", ev, err)
	}
}

// TestCheckoutOfOtherProductReadFails: a checkout whose subscription
// cannot be read for a reason a retry may cure is retried, not taken as
// the service's (which would link it); one Stripe says is missing is the
// service's, as without an API.
func TestCheckoutOfOtherProductReadFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		status    int
		retryable bool
	}{
		{name: "unavailable", status: http.StatusServiceUnavailable, retryable: true},
		{name: "missing", status: http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Stripe-Should-Retry", "false") // stripe-go's own retries would only slow the test
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(`{"error":{"type":"api_error","message":"scripted"}}`))
			}))
			t.Cleanup(srv.Close)
			h := newHarness(t, withProducts(streamingProduct), func(c *Config, _ *Deps) {
				c.APIKey, c.APIURL, c.Refetch = "sk_test_scripted", srv.URL, false
			})
			var cs stripeCheckoutSession
			raw, _ := json.Marshal(checkoutObj("cs_x", "acct_x", "cus_x", "sub_x"))
			if err := json.Unmarshal(raw, &cs); err != nil {
				t.Fatal(err)
			}
			other, _, err := h.srv.checkoutOfOtherProduct(t.Context(), cs)
			if other {
				t.Errorf("an unread session taken as the other product's")
			}
			if got := err != nil && playback.ErrorCode(err).Retryable(); got != tc.retryable || !tc.retryable && err != nil {
				t.Errorf("err %v (retryable %v), want retryable=%v", err, got, tc.retryable)
			}
		})
	}
}

// TestOtherProductMoveRefusesStaleEvents: sub_v moved from the streaming
// product to the other product at t=2h. The move, or news of the other
// product newer than what the account holds (an event, or the hourly
// listing), comes first; a stale event of the streaming product (t<2h) delivered after it
// must not put the subscription back, while news of a later second
// (moved back at t=3h) or of the move's own second (which cannot be
// ordered against it: kept, as TestOtherProductDropIsOrdered keeps it)
// is the service's.
func TestOtherProductMoveRefusesStaleEvents(t *testing.T) {
	t.Parallel()
	listing := func(h *harness, asOf time.Duration) {
		var listed stripeSubscription
		raw, _ := json.Marshal(otherSub("sub_v", "cus_v"))
		if err := json.Unmarshal(raw, &listed); err != nil {
			t.Fatal(err)
		}
		r := reconciler{s: h.srv, now: h.clock.Now(), announced: map[string]bool{}}
		if err := r.subscription(t.Context(), listed, base.Add(asOf)); err != nil {
			t.Fatal(err)
		}
	}
	moved := func(h *harness) { // previous_attributes.items: the whole earlier list
		h.run(eventPayload(t, "evt_v2", typeSubscriptionUpdated, at(2*time.Hour), otherSub("sub_v", "cus_v"),
			obj{"items": streamingSub("sub_v", "cus_v")["items"]}))
	}
	for _, tc := range []struct {
		name   string
		before func(h *harness) // what the account holds, and the move
		stale  time.Duration    // the streaming event delivered after the move
		held   bool             // whether it holds sub_v after the stale event
	}{
		{name: "held nothing", before: moved, stale: time.Hour},
		{name: "held an older state", stale: 90 * time.Minute, before: func(h *harness) {
			h.run(stripeEvent("evt_v1", typeSubscriptionCreated, at(time.Hour), streamingSub("sub_v", "cus_v")))
			moved(h)
		}},
		{name: "listed over an older state", stale: 90 * time.Minute, before: func(h *harness) {
			h.run(stripeEvent("evt_v1", typeSubscriptionCreated, at(time.Hour), streamingSub("sub_v", "cus_v")))
			listing(h, 2*time.Hour)
		}},
		{name: "same second", before: moved, stale: 2 * time.Hour, held: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, withProducts(streamingProduct))
			h.linked("acct_v", "cus_v")
			tc.before(h)
			if a := h.getAccount("acct_v"); holds(a, "sub_v") || a.Status != playback.StatusNone {
				t.Fatalf("after the move: %s %+v, want no subscription", a.Status, a.Subscriptions)
			}
			h.run(stripeEvent("evt_vs", typeSubscriptionUpdated, at(tc.stale), streamingSub("sub_v", "cus_v")))
			if a := h.getAccount("acct_v"); holds(a, "sub_v") != tc.held || !tc.held && a.Entitled(h.clock.Now(), testConfig().PastDueGrace) {
				t.Errorf("a streaming event of t=%s after the move: holds sub_v %v (entitled %v), want %v; %+v",
					tc.stale, holds(a, "sub_v"), a.Entitled(h.clock.Now(), testConfig().PastDueGrace), tc.held, a.Subscriptions)
			}
			back := ofProduct(subObj("sub_v", "cus_v", "active", "price_premium", at(0), at(month)), streamingProduct, false)
			h.run(stripeEvent("evt_v3", typeSubscriptionUpdated, at(3*time.Hour), back))
			a := h.getAccount("acct_v")
			wantState(t, a, playback.StatusActive, "premium")
			if len(a.OtherProducts) != 0 {
				t.Errorf("moved back, the account still marks it another product's: %+v", a.OtherProducts)
			}
		})
	}
}

// TestOtherProductMarkIsForgotten: the mark the move leaves refuses stale
// events for STRIPE_INBOX_RETENTION, the longest Stripe still delivers an
// event after its creation, and is forgotten by the account's first write
// after that, which it still orders; other products' events of a
// subscription the account never held leave none.
func TestOtherProductMarkIsForgotten(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withProducts(streamingProduct))
	h.linked("acct_w", "cus_w")
	h.run(stripeEvent("evt_wo", typeSubscriptionUpdated, at(time.Hour), otherSub("sub_wo", "cus_w")))
	h.run(eventPayload(t, "evt_w2", typeSubscriptionUpdated, at(2*time.Hour), otherSub("sub_w", "cus_w"),
		obj{"items": streamingSub("sub_w", "cus_w")["items"]}))
	marks := func() []playback.OtherProductMark { return h.getAccount("acct_w").OtherProducts }
	if m := marks(); len(m) != 1 || !reflect.DeepEqual(m[0], playback.OtherProductMark{Subscription: "sub_w", Clock: at(2 * time.Hour), Event: "evt_w2", Written: at(time.Hour)}) {
		t.Fatalf("marks after the move %+v, want sub_w's alone, as of the move", m)
	}
	retention := testConfig().InboxRetention
	for i, tc := range []struct {
		name string
		now  time.Duration // after the move
		kept bool
	}{
		{name: "within the retention", now: retention - time.Hour, kept: true},
		{name: "past the retention", now: retention + time.Hour},
	} {
		h.clock.Set(base.Add(2*time.Hour + tc.now))
		h.run(stripeEvent(fmt.Sprintf("evt_w1_%d", i), typeSubscriptionUpdated, at(time.Hour), streamingSub("sub_w", "cus_w")))
		if a := h.getAccount("acct_w"); holds(a, "sub_w") || (len(a.OtherProducts) == 1) != tc.kept {
			t.Errorf("%s: a stale event put sub_w back (%v) or the mark is %+v, want kept=%v", tc.name, holds(a, "sub_w"), a.OtherProducts, tc.kept)
		}
	}
}

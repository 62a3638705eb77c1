package paymentwebhook

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// guestCheckout is the session `stripe trigger checkout.session.completed`
// completes (stripe/stripe-cli pkg/fixtures/triggers/checkout.session.completed.json,
// testdata/stripe/PROVENANCE.md): a payment-mode session created with
// neither customer nor client_reference_id, confirmed through its payment
// page. stripe/openapi's fixture is that session while open; Checkout in
// payment mode creates a customer only when asked (customer_creation
// if_required by default: stripe-go v76 checkout_session.go, Customer), so
// the completed session still has none.
func guestCheckout(id string) obj {
	o := mustShape("checkout.session")
	o["id"], o["status"], o["payment_status"], o["url"] = id, "complete", "paid", nil
	return o
}

// TestCheckoutThatStartsNoSubscription: Stripe sends every completed
// checkout of the account, those in payment and setup mode too (one-off
// purchases, saved cards, the session stripe trigger completes), and those
// need name no account of the service nor a customer: a guest buys without
// one. Such a session starts no subscription and so signs no one up; one
// that cannot link is processed at INFO, writing nothing, not rejected at
// ERROR, which pages. A subscription-mode session always has a customer
// (Checkout creates one), so one without is still refused; a payment-mode
// session that names an account and a customer links them as before.
func TestCheckoutThatStartsNoSubscription(t *testing.T) {
	t.Parallel()
	const acct, cus = "acct_g", "cus_g"
	for _, tc := range []struct {
		name     string
		session  obj
		rejected bool   // logged "stripe event rejected" at ERROR
		names    string // the customer acct_g names after it
	}{
		{name: "guest payment naming an account", session: func() obj {
			o := guestCheckout("cs_guest_acct")
			o["client_reference_id"] = acct
			return o
		}()},
		{name: "payment by a customer naming no account", session: func() obj {
			o := guestCheckout("cs_cus_noref")
			o["customer"] = cus
			return o
		}()},
		{name: "setup mode naming an account it cannot take", session: func() obj {
			o := guestCheckout("cs_setup")
			o["mode"], o["payment_status"], o["payment_intent"], o["setup_intent"] = "setup", "no_payment_required", nil, "seti_1"
			o["client_reference_id"], o["customer"] = "not an id", cus
			return o
		}()},
		{name: "subscription mode without a customer", rejected: true, session: checkoutObj("cs_sub_nocus", acct, "", "sub_g")},
		{name: "payment by a customer naming an account", names: cus, session: func() obj {
			o := guestCheckout("cs_cus_acct")
			o["customer"], o["client_reference_id"] = cus, acct
			return o
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.account(acct)
			id := "evt_" + tc.session["id"].(string)
			logs := h.handleLogged(stripeEvent(id, typeCheckoutCompleted, at(0), tc.session))
			var errs []logRecord
			for _, r := range logs {
				if r.Level == "ERROR" {
					errs = append(errs, r)
				}
			}
			rejected := len(errs) == 1 && errs[0].Msg == "stripe event rejected"
			ev, err := h.inboxEvent(id)
			a := h.getAccount(acct)
			_, linkErr := h.store.AccountIDByCustomer(context.Background(), cus)
			linked := linkErr == nil
			if err != nil || ev.ProcessedAt.IsZero() || ev.ParkedKey != "" || a.CustomerID != tc.names || linked != (tc.names != "") ||
				rejected != tc.rejected || (!tc.rejected && len(errs) != 0) {
				t.Fatalf("checkout %s (mode %v, customer %v, client_reference_id %v): processed at %v, parked under %q (%v); "+
					"%s names %q, %s linked %v; logged at ERROR %+v; want processed, %s naming %q, rejected at ERROR %v",
					tc.session["id"], tc.session["mode"], tc.session["customer"], tc.session["client_reference_id"],
					ev.ProcessedAt, ev.ParkedKey, err, acct, a.CustomerID, cus, linked, errs, acct, tc.names, tc.rejected)
			}
			if tc.names == "" && a.Status != playback.StatusNone {
				t.Fatalf("%s is %s after the checkout, want untouched", acct, a.Status)
			}
		})
	}
}

// TestStripeTriggersPageNoOne: `stripe trigger <type>` for each type the
// endpoint acts on (stripe/stripe-cli pkg/fixtures/triggers,
// testdata/stripe/PROVENANCE.md) makes objects of a fresh customer no
// account links, in stripe/openapi's fixture shapes: a guest's
// payment-mode checkout, a subscription of a customer created without
// metadata, a one-off invoice (the trigger bills an invoice item: the
// fixture's subscription is null), the customer deleted. What a developer
// forwarding them with `stripe listen` sees, and what a Stripe account
// shared with other products sends every day: each is processed or waits
// for its customer's link at WARN, none is an ERROR, which pages.
func TestStripeTriggersPageNoOne(t *testing.T) {
	t.Parallel()
	const cus = "cus_trigger"
	sub := func(status string, mod func(obj)) obj {
		o := mustShape("subscription")
		o["id"], o["customer"], o["status"] = "sub_trigger", cus, status
		o["cancel_at"], o["canceled_at"], o["ended_at"], o["trial_start"], o["trial_end"] = nil, nil, nil, nil, nil
		if mod != nil {
			mod(o)
		}
		return o
	}
	invoice := func(status string, paid bool) obj {
		o := mustShape("invoice")
		o["id"], o["customer"], o["status"], o["paid"], o["attempted"], o["attempt_count"] = "in_trigger", cus, status, paid, true, 1
		return o
	}
	for _, tc := range []struct {
		typ      string
		object   obj
		previous obj
		waits    bool // parked for the customer's link
	}{
		{typ: typeCheckoutCompleted, object: guestCheckout("cs_test_trigger")},
		{typ: typeSubscriptionCreated, object: sub("active", nil), waits: true},
		{typ: typeSubscriptionUpdated, object: sub("active", func(o obj) { o["metadata"] = obj{"foo": "bar"} }),
			previous: obj{"metadata": obj{"foo": nil}}, waits: true},
		{typ: typeSubscriptionDeleted, object: sub("canceled", func(o obj) { o["canceled_at"], o["ended_at"] = at(time.Hour), at(time.Hour) }), waits: true},
		{typ: typeSubscriptionPaused, object: sub("paused", func(o obj) {
			o["trial_settings"] = obj{"end_behavior": obj{"missing_payment_method": "pause"}}
		}), waits: true},
		{typ: typeSubscriptionResumed, object: sub("active", nil), waits: true},
		{typ: typeInvoicePaid, object: invoice("paid", true)},
		{typ: typeInvoicePaymentFailed, object: invoice("open", false)},
		{typ: typeCustomerDeleted, object: customerObj(cus), waits: true},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, noLinkWait)
			id := "evt_trigger_" + tc.typ
			raw, err := json.Marshal(envelopeOf(id, tc.typ, at(time.Hour), tc.object, tc.previous))
			if err != nil {
				t.Fatal(err)
			}
			var errs []logRecord
			for _, r := range h.handleLogged(raw) {
				if r.Level == "ERROR" {
					errs = append(errs, r)
				}
			}
			ev, err := h.inboxEvent(id)
			waits := ev.ProcessedAt.IsZero() && ev.ParkedKey == parkCustomer(cus)
			done := !ev.ProcessedAt.IsZero() && ev.ParkedKey == ""
			if err != nil || len(errs) != 0 || (tc.waits && !waits) || (!tc.waits && !done) {
				t.Fatalf("stripe trigger %s: logged at ERROR %+v; the event processed at %v, parked under %q (%v); "+
					"want no ERROR, the event %s", tc.typ, errs, ev.ProcessedAt, ev.ParkedKey, err,
					map[bool]string{true: "waiting under " + parkCustomer(cus), false: "processed"}[tc.waits])
			}
		})
	}
}

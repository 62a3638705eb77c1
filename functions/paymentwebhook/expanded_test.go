package paymentwebhook

import (
	"context"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestExpandableReferencesAsIDsOrObjects: a checkout session's customer and
// subscription, and a subscription's customer, are expandable (stripe-go
// v76: *Customer, *Subscription): an id string in a webhook, the object
// when read with expand[], null when unset. The object (stripe/openapi's
// fixture, testdata/stripe) names the same customer as its id: the
// checkout links it, the subscription applies to that account, and an
// event of a customer not linked yet waits under that customer's key.
func TestExpandableReferencesAsIDsOrObjects(t *testing.T) {
	t.Parallel()
	const cus, sub = "cus_x", "sub_x"
	expanded := func(name, id string) obj {
		o := mustShape(name)
		o["id"] = id
		return o
	}
	for _, tc := range []struct {
		name     string
		customer any
		sub      any
	}{
		{name: "ids", customer: cus, sub: sub},
		{name: "expanded objects", customer: expanded("customer", cus), sub: expanded("subscription", sub)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			h := newHarness(t, noLinkWait)
			h.account("acct_x")
			s := subObj(sub, cus, "active", "price_std", at(0), at(month))
			s["customer"] = tc.customer
			h.run(stripeEvent("evt_sub_x", typeSubscriptionCreated, at(time.Minute), s))
			early, _ := h.inboxEvent("evt_sub_x")
			co := checkoutObj("cs_x", "acct_x", "", "")
			co["customer"], co["subscription"] = tc.customer, tc.sub
			h.run(stripeEvent("evt_co_x", typeCheckoutCompleted, at(time.Minute), co))
			linked, err := h.store.AccountIDByCustomer(ctx, cus)
			a := h.getAccount("acct_x")
			if early.ParkedKey != parkCustomer(cus) || err != nil || linked != "acct_x" || a.CustomerID != cus ||
				a.Status != playback.StatusActive || a.PlanID != "standard" {
				t.Fatalf("customer %v, subscription %v: the subscription's event first parked under %q; then %s resolves to %q (%v), "+
					"acct_x names %q, %s/%q; want parked under %q, acct_x's, naming it, active/standard",
					tc.customer, tc.sub, early.ParkedKey, cus, linked, err, a.CustomerID, a.Status, a.PlanID, parkCustomer(cus))
			}
		})
	}
}

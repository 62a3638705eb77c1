package paymentwebhook

import (
	"context"
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

// TestLinkRefusesACustomerNoStoreCanKey: a Stripe customer id that is no
// valid customer id (playback.ValidCustomerID) is refused before the
// account is touched, on every store alike. Firestore cannot key the
// link by "__cus__" (reserved) or "cus/1": it wrote the account's
// customer_id, then refused the link; bolt linked it.
func TestLinkRefusesACustomerNoStoreCanKey(t *testing.T) {
	t.Parallel()
	for _, customer := range []string{"__cus__", "cus/1", ".."} {
		t.Run(customer, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.account("acct_k")
			h.run(stripeEvent("evt_co_k", typeCheckoutCompleted, at(0), checkoutObj("cs_k", "acct_k", customer, "")))
			if id, err := h.store.AccountIDByCustomer(context.Background(), customer); !playback.IsCode(err, playback.CodeNotFound) {
				t.Fatalf("customer %q linked to %q (%v)", customer, id, err)
			}
			if a := h.getAccount("acct_k"); a.CustomerID != "" {
				t.Fatalf("account's customer_id = %q, want none", a.CustomerID)
			}
			if ev, err := h.inboxEvent("evt_co_k"); err != nil || ev.ProcessedAt.IsZero() {
				t.Fatalf("the refused event should be processed (rejected): %+v %v", ev, err)
			}
		})
	}
}

// TestNewestCheckoutKeepsTheLink: a subscriber who checks out again as
// another Stripe customer (a new checkout without the old customer) has
// two checkout.session.completed events; Stripe retries the older one
// for days, so it may come last. Whatever the delivery order, the account
// names the customer of the newer checkout, and both customers resolve to
// it (the old one's own events, a cancellation, still apply). Two of one
// second are told apart by the customer id alone, so every order agrees.
// Shapes: testdata/stripe checkout.session (corpus_shapes_test.go).
func TestNewestCheckoutKeepsTheLink(t *testing.T) {
	t.Parallel()
	t0 := at(0)
	for _, tc := range []struct {
		name      string
		oldAt     int64
		provision bool // the checkouts create the account
		want      string
	}{
		{name: "an hour apart", oldAt: t0 - 3600, want: "cus_new"},
		{name: "an hour apart, creating the account", oldAt: t0 - 3600, provision: true, want: "cus_new"},
		{name: "one second", oldAt: t0, want: "cus_old"}, // "cus_old" > "cus_new"
	} {
		for _, order := range []string{"newest first", "oldest first"} {
			t.Run(tc.name+"/"+order, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, func(c *Config, _ *Deps) { c.DefaultTerritory = "DE" })
				if !tc.provision {
					h.account("acct_n")
				}
				old := eventPayload(t, "evt_co_old", typeCheckoutCompleted, tc.oldAt,
					checkoutSession(t, "cs_old", "acct_n", subState{id: "sub_old", customer: "cus_old"}), nil)
				newer := eventPayload(t, "evt_co_new", typeCheckoutCompleted, t0,
					checkoutSession(t, "cs_new", "acct_n", subState{id: "sub_new", customer: "cus_new"}), nil)
				if order == "newest first" {
					h.run(newer)
					h.run(old)
				} else {
					h.run(old)
					h.run(newer)
				}
				if a := h.getAccount("acct_n"); a.CustomerID != tc.want {
					t.Fatalf("account's customer_id = %q, want %q", a.CustomerID, tc.want)
				}
				for _, c := range []string{"cus_old", "cus_new"} {
					if id, err := h.store.AccountIDByCustomer(context.Background(), c); err != nil || id != "acct_n" {
						t.Fatalf("%s resolves to %q (%v), want acct_n", c, id, err)
					}
				}
			})
		}
	}
}

// TestMetadataLinkNamesNoCustomer: a subscription event of the customer a
// subscriber left, newer than the checkout of the one it has now, links
// the left customer by its metadata.account_id (so that its events still
// resolve), but it is no checkout: it must not name the left customer on
// the account, nor make the left customer's late checkout outrank the
// newer one. Before, the link took the subscription event's second as
// news naming the customer, and the account ended on cus_old.
func TestMetadataLinkNamesNoCustomer(t *testing.T) {
	t.Parallel()
	t0 := at(0)
	h := newHarness(t, func(c *Config, _ *Deps) { c.DefaultTerritory = "DE" })
	h.account("acct_n")
	h.run(eventPayload(t, "evt_co_new", typeCheckoutCompleted, t0,
		checkoutSession(t, "cs_new", "acct_n", subState{id: "sub_new", customer: "cus_new"}), nil))
	h.run(stripeEvent("evt_del_old", typeSubscriptionDeleted, t0+60,
		withMeta(subObj("sub_old", "cus_old", "canceled", "price_std", at(-2*month), t0), obj{"account_id": "acct_n"})))
	h.run(eventPayload(t, "evt_co_old", typeCheckoutCompleted, t0-3600,
		checkoutSession(t, "cs_old", "acct_n", subState{id: "sub_old", customer: "cus_old"}), nil))
	if a := h.getAccount("acct_n"); a.CustomerID != "cus_new" {
		t.Fatalf("account's customer_id = %q (clock %d), want cus_new", a.CustomerID, a.CustomerClock)
	}
	if id, err := h.store.AccountIDByCustomer(context.Background(), "cus_old"); err != nil || id != "acct_n" {
		t.Fatalf("cus_old resolves to %q (%v), want acct_n", id, err)
	}
}

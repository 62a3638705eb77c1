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

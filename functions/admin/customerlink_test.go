package admin_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// TestOperatorCustomerLinkIsNewsOfItsSecond: an operator's link (PUT
// /v1/admin/accounts/{id}/customer) is news of the second it is written,
// as an account PUT or an import names a customer (catalogfile's Apply):
// the payment webhook ranks links by that clock (namesCustomer), so the
// link kept a checkout's older clock, and Stripe redelivering that
// checkout (same clock, a greater customer id) took the account back to
// the customer the operator had replaced.
func TestOperatorCustomerLinkIsNewsOfItsSecond(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	ctx := context.Background()
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated)
	// Linked by a checkout: Stripe's news of second 100, object created 90.
	if _, err := h.store.UpdateAccount(ctx, "acct_a", func(a *playback.Account) error {
		a.CustomerID, a.CustomerClock, a.CustomerLinkCreated = "cus_b", 100, 90
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rec, err := h.store.GetRecord(ctx, playback.KindAccount, "acct_a")
	if err != nil {
		t.Fatal(err)
	}
	h.mustDo("PUT", "/v1/admin/accounts/acct_a/customer", `"`+rec.Version+`"`, `{"customer_id":"cus_a"}`, http.StatusOK)
	a, err := h.store.GetAccount(ctx, "acct_a")
	if err != nil {
		t.Fatal(err)
	}
	if a.CustomerID != "cus_a" || a.CustomerClock < h.now.Unix() || a.CustomerLinkCreated != 0 {
		t.Fatalf("after the operator's link: customer %q, clock %d, created %d; want cus_a, the second it was written (>= %d), 0",
			a.CustomerID, a.CustomerClock, a.CustomerLinkCreated, h.now.Unix())
	}
}

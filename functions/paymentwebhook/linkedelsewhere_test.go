package paymentwebhook

import (
	"context"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestCheckoutOfACustomerLinkedElsewhereWaits: a customer bills one
// account. A checkout linking a customer that another account holds (and
// names) to a second account is refused as an operator's link is: the
// link stays, the second account does not name the customer, and the
// event is parked under the customer's held key (not acknowledged and
// lost). Once the first account has another customer, written by a path
// that wakes nothing, Sweep's retry links it.
// Before, the checkout moved the link and the second account named the
// customer while the first still did, deaf to its events.
func TestCheckoutOfACustomerLinkedElsewhereWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t)
	h.linked("acct_first", "cus_shared")
	h.account("acct_second")
	const id = "evt_checkout_second"
	h.run(stripeEvent(id, typeCheckoutCompleted, at(time.Minute), checkoutObj("cs_second", "acct_second", "cus_shared", "")))

	linked, err := h.store.AccountIDByCustomer(ctx, "cus_shared")
	ev, _ := h.inboxEvent(id)
	if second := h.getAccount("acct_second"); err != nil || linked != "acct_first" || second.CustomerID != "" ||
		!ev.ProcessedAt.IsZero() || ev.ParkedKey != parkHeld("cus_shared") {
		t.Fatalf("checkout of acct_first's cus_shared for acct_second: cus_shared resolves to %q (%v), acct_second names %q, "+
			"the event processed at %v, parked under %q; want acct_first's, none, unprocessed under %q",
			linked, err, second.CustomerID, ev.ProcessedAt, ev.ParkedKey, parkHeld("cus_shared"))
	}

	// The operator moves the customer: acct_first is given another.
	h.renameAndSweep("acct_first", "cus_first_new")
	linked, err = h.store.AccountIDByCustomer(ctx, "cus_shared")
	ev, _ = h.inboxEvent(id)
	if second := h.getAccount("acct_second"); err != nil || linked != "acct_second" || second.CustomerID != "cus_shared" || ev.ProcessedAt.IsZero() {
		t.Fatalf("retried once acct_first names another customer: cus_shared resolves to %q (%v), acct_second names %q, processed at %v; "+
			"want acct_second's, named, processed", linked, err, second.CustomerID, ev.ProcessedAt)
	}
}

// renameAndSweep gives account customer as an operator names it
// (playback.Account.NameCustomer) by a store write that wakes nothing (as
// a tool's would), then runs the sweeper a day later: what retries a
// checkout that waited for the customer account held.
func (h *harness) renameAndSweep(account, customer string) {
	h.t.Helper()
	ctx := context.Background()
	if _, err := h.store.UpdateAccount(ctx, account, func(a *playback.Account) error {
		a.NameCustomer(customer, h.clock.Now())
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	h.clock.Set(h.clock.Now().Add(24 * time.Hour))
	if _, err := h.srv.Sweep(ctx); err != nil {
		h.t.Fatal(err)
	}
	h.settle()
}

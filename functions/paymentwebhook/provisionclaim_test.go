package paymentwebhook

import (
	"context"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestCheckoutProvisioningACustomerLinkedElsewhereWaits: a customer bills
// one account, whichever writer names it. A checkout that creates the
// account it names (a new subscriber) for a customer another account
// holds creates nothing: the event waits parked (held), as the
// checkout of an existing account does (TestCheckoutOfACustomerLinkedElsewhereWaits).
// Once the first account names another customer, Sweep's retry creates
// the account and links it.
func TestCheckoutProvisioningACustomerLinkedElsewhereWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, func(c *Config, _ *Deps) { c.DefaultTerritory = "DE" })
	h.linked("acct_first", "cus_shared")
	const id = "evt_checkout_new"
	h.run(stripeEvent(id, typeCheckoutCompleted, at(time.Minute), checkoutObj("cs_new", "acct_new", "cus_shared", "")))

	linked, err := h.store.AccountIDByCustomer(ctx, "cus_shared")
	ev, _ := h.inboxEvent(id)
	_, newErr := h.store.GetAccount(ctx, "acct_new")
	if err != nil || linked != "acct_first" || !playback.IsCode(newErr, playback.CodeNotFound) ||
		!ev.ProcessedAt.IsZero() || ev.ParkedKey != parkHeld("cus_shared") {
		t.Fatalf("checkout of acct_first's cus_shared for acct_new, not created yet: cus_shared resolves to %q (%v), "+
			"acct_new read %+v (%v), the event processed at %v, parked under %q; want acct_first's, acct_new not created, "+
			"unprocessed under %q", linked, err, h.accountOrZero("acct_new"), newErr, ev.ProcessedAt, ev.ParkedKey, parkHeld("cus_shared"))
	}

	h.renameAndSweep("acct_first", "cus_first_new")
	linked, err = h.store.AccountIDByCustomer(ctx, "cus_shared")
	ev, _ = h.inboxEvent(id)
	if created := h.accountOrZero("acct_new"); err != nil || linked != "acct_new" || created.CustomerID != "cus_shared" || ev.ProcessedAt.IsZero() {
		t.Fatalf("retried once acct_first names another customer: cus_shared resolves to %q (%v), acct_new %+v, processed at %v; "+
			"want acct_new created naming it and linked, processed", linked, err, created, ev.ProcessedAt)
	}
}

// accountOrZero is account id as stored, the zero account if it cannot
// be read.
func (h *harness) accountOrZero(id string) playback.Account {
	a, _ := h.store.GetAccount(context.Background(), id)
	return a
}

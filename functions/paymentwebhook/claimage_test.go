package paymentwebhook

import (
	"context"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestCheckoutTakesAStaleClaim: an operator's request that claimed
// cus_stale for acct_a (a create) died before its write. A checkout
// linking cus_stale to acct_b waits parked (held) while the claim may
// still have its write on its way, and links once the claim is
// playback.PendingClaimAge old: before, it waited until someone retried
// that very request.
func TestCheckoutTakesAStaleClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const cus = "cus_stale"
	h := newHarness(t)
	h.account("acct_b")
	t0 := h.clock.Now()
	claim := playback.PendingClaim("acct_a", "", t0)
	if ok, err := h.store.SwapCustomerLink(ctx, cus, playback.CustomerLink{}, claim); !ok || err != nil {
		t.Fatalf("setup: claim %+v: %v %v", claim, ok, err)
	}
	const id = "evt_checkout_stale"
	checkout := stripeEvent(id, typeCheckoutCompleted, at(time.Minute), checkoutObj("cs_stale", "acct_b", cus, ""))
	for _, step := range []struct {
		age       time.Duration // of the claim, when Stripe (re)delivers the checkout
		wantTaken bool
	}{
		{age: 0},
		{age: playback.PendingClaimAge - time.Second},
		{age: playback.PendingClaimAge, wantTaken: true},
	} {
		h.clock.Set(t0.Add(step.age))
		h.run(checkout)
		l, err := h.store.CustomerLink(ctx, cus)
		ev, evErr := h.inboxEvent(id)
		processed := !ev.ProcessedAt.IsZero() || playback.IsCode(evErr, playback.CodeNotFound)
		b := h.getAccount("acct_b")
		switch {
		case !step.wantTaken && (err != nil || l != claim || processed || ev.ParkedKey != parkHeld(cus) ||
			!ev.ParkedAt.Equal(h.clock.Now()) || b.CustomerID != ""):
			t.Fatalf("checkout of %s for acct_b, acct_a's claim %v old: the link %+v (%v); the event processed %v, parked under %q at %v (%v), "+
				"acct_b names %q; want the claim as it was, the event tried then and parked under %q, acct_b untouched",
				cus, step.age, l, err, processed, ev.ParkedKey, ev.ParkedAt, evErr, b.CustomerID, parkHeld(cus))
		case step.wantTaken && (err != nil || l != (playback.CustomerLink{AccountID: "acct_b"}) || !processed || b.CustomerID != cus):
			t.Fatalf("checkout of %s for acct_b, acct_a's claim %v old: the link %+v (%v); the event processed %v, parked under %q (%v), "+
				"acct_b names %q; want acct_b's plain link, the event processed, acct_b naming it",
				cus, step.age, l, err, processed, ev.ParkedKey, evErr, b.CustomerID)
		}
	}
}

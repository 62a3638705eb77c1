package paymentwebhook

import (
	"context"
	"slices"
	"testing"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// TestOneCustomerChecksOutForTwoAccounts: the customer_linked_elsewhere
// lifecycle on Stripe's payloads (testdata/stripe/PROVENANCE.md), in the
// order Stripe sends it, on every store. A subscriber signs up acct_a
// through Checkout (customer.created, the subscription incomplete, its
// first invoice paid, active, the session completed: docWebhooks,
// cliCheckout), and five days later checks out again for acct_b as the
// same Stripe customer (a session created with customer: its id, so no
// customer.created; cliSubCreated, cliPaid). A customer bills one account:
// acct_b's checkout links nothing and waits parked under the customer's held key, acct_b names
// no customer and plays nothing, acct_a keeps its customer and its
// entitlement, and the second subscription, whose customer acct_a holds,
// is acct_a's. Once acct_a is given another customer, the sweeper's retry
// links the customer to acct_b.
func TestOneCustomerChecksOutForTwoAccounts(t *testing.T) {
	t.Parallel()
	for _, st := range corpusStores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			opts := []harnessOption{noLinkWait}
			if st.open != nil {
				opts = append(opts, withStore(st.open(t)))
			}
			h := newHarness(t, opts...)
			l := newLifecycle(t, "twoaccounts", docWebhooks, cliCheckout, cliSubCreated, cliPaid)
			const second = "acct_twoaccounts_b"
			h.account(l.account)
			h.account(second)
			l.signUp(l.sub("_a", stdP, base, month), base)
			again := base.Add(5 * day)
			subB := l.sub("_b", premium, again, month)
			l.paidSignUp(second, "cs_twoaccounts_b", subB, again, false)
			checkoutB := l.events[l.last()].id
			h.clock.Set(l.end)
			for _, ev := range l.events {
				h.run(ev.payload)
			}

			a, b := h.getAccount(l.account), h.getAccount(second)
			linked, err := h.store.AccountIDByCustomer(ctx, l.customer)
			ev, evErr := h.inboxEvent(checkoutB)
			heldB := slices.ContainsFunc(a.Subscriptions, func(s playback.Subscription) bool { return s.ID == subB.id })
			if err != nil || linked != l.account || a.CustomerID != l.customer || !a.Entitled(l.end, testConfig().PastDueGrace) || !heldB ||
				b.CustomerID != "" || b.Status != playback.StatusNone || len(b.Subscriptions) != 0 ||
				evErr != nil || !ev.ProcessedAt.IsZero() || ev.ParkedKey != events.StripeCustomerHeldParkKey(l.customer) {
				t.Fatalf("%s checked out for %s, then for %s: it resolves to %q (%v); %s names %q, %s, holds %s %v; "+
					"%s names %q, %s, %d subscriptions; its checkout processed at %v, parked under %q (%v); "+
					"want %s's, which names it, entitled, holding %s; %s untouched; its checkout unprocessed under %q",
					l.customer, l.account, second, linked, err, l.account, a.CustomerID, a.Status, subB.id, heldB,
					second, b.CustomerID, b.Status, len(b.Subscriptions), ev.ProcessedAt, ev.ParkedKey, evErr,
					l.account, subB.id, second, events.StripeCustomerHeldParkKey(l.customer))
			}

			h.renameAndSweep(l.account, l.customer+"_new")
			linked, err = h.store.AccountIDByCustomer(ctx, l.customer)
			ev, evErr = h.inboxEvent(checkoutB)
			processed := !ev.ProcessedAt.IsZero() || playback.IsCode(evErr, playback.CodeNotFound)
			if b := h.getAccount(second); err != nil || linked != second || b.CustomerID != l.customer || !processed {
				t.Fatalf("retried once %s names another customer: %s resolves to %q (%v), %s names %q, its checkout processed %v; "+
					"want %s's, named, processed", l.account, l.customer, linked, err, second, b.CustomerID, processed, second)
			}
		})
	}
}

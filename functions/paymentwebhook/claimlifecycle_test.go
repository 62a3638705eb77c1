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
// links the customer to acct_b, and the customer's subscriptions go with
// it: acct_b, which the customer now pays for, is entitled by both
// (premium, sub_b's), and acct_a, whose new customer pays nothing, holds
// no subscription that bills it and is not entitled. Before, acct_b was
// linked with status none and no subscriptions while acct_a stayed
// premium on the customer it no longer named, until the subscription's
// next event.
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
			subA := l.sub("_a", stdP, base, month)
			l.signUp(subA, base)
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
			a, b = h.getAccount(l.account), h.getAccount(second)
			grace := testConfig().PastDueGrace
			_, aBilled := a.BillingSubscription()
			if got := subscriptionIDs(b); !b.Entitled(l.end, grace) || b.PlanID != "premium" || !slices.Equal(got, []string{subA.id, subB.id}) ||
				a.Entitled(l.end, grace) || a.Status != playback.StatusNone || aBilled {
				t.Fatalf("%s moved to %s: %s is %s/%q entitled %v holding %v; %s is %s/%q entitled %v, billed by a subscription %v; "+
					"want %s entitled premium holding both of %s's subscriptions, %s none, not entitled, billed by none",
					l.customer, second, second, b.Status, b.PlanID, b.Entitled(l.end, grace), got, l.account, a.Status, a.PlanID,
					a.Entitled(l.end, grace), aBilled, second, l.customer, l.account)
			}
		})
	}
}

// subscriptionIDs are the ids of a's subscriptions, sorted.
func subscriptionIDs(a playback.Account) []string {
	var ids []string
	for _, s := range a.Subscriptions {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestLateEventAfterCustomerMoves: TestOneCustomerChecksOutForTwoAccounts
// until the customer's subscriptions went with it to acct_b; then Stripe
// delivers, late, updates of both subscriptions older than the states
// acct_b adopted (sub_b unpaid the second before its payment, sub_a
// active the second before its sign-up). They route to acct_b, where the
// adopted states, with their clocks, make them stale: acct_b stays
// premium on both, and acct_a, which no longer names the customer, gains
// nothing. Before, acct_b had adopted nothing: the stale unpaid became
// sub_b's state there, while acct_a stayed entitled on the customer's
// subscriptions.
func TestLateEventAfterCustomerMoves(t *testing.T) {
	t.Parallel()
	for _, st := range corpusStores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			opts := []harnessOption{noLinkWait}
			if st.open != nil {
				opts = append(opts, withStore(st.open(t)))
			}
			h := newHarness(t, opts...)
			l := newLifecycle(t, "latemove", docWebhooks, cliCheckout, cliSubCreated, cliPaid)
			const second = "acct_latemove_b"
			h.account(l.account)
			h.account(second)
			subA := l.sub("_a", stdP, base, month)
			l.signUp(subA, base)
			again := base.Add(5 * day)
			subB := l.sub("_b", premium, again, month)
			l.paidSignUp(second, "cs_latemove_b", subB, again, false)
			h.clock.Set(l.end)
			for _, ev := range l.events {
				h.run(ev.payload)
			}
			h.renameAndSweep(l.account, l.customer+"_new")

			h.run(stripeEvent("evt_latemove_b_unpaid", typeSubscriptionUpdated, unix(again)-1,
				subObj(subB.id, l.customer, "unpaid", premium, subB.start, subB.end)))
			h.run(stripeEvent("evt_latemove_a_active", typeSubscriptionUpdated, unix(base)-1,
				subObj(subA.id, l.customer, "active", stdP, subA.start, subA.end)))
			a, b := h.getAccount(l.account), h.getAccount(second)
			grace := testConfig().PastDueGrace
			if !b.Entitled(h.clock.Now(), grace) || b.Status != playback.StatusActive || b.PlanID != "premium" ||
				!slices.Equal(subscriptionIDs(b), []string{subA.id, subB.id}) || a.Entitled(h.clock.Now(), grace) || a.Status != playback.StatusNone {
				t.Fatalf("late updates of %s's subscriptions after it moved to %s: %s is %s/%q entitled %v holding %v; %s is %s/%q entitled %v; "+
					"want %s active/premium on both, %s none",
					l.customer, second, second, b.Status, b.PlanID, b.Entitled(h.clock.Now(), grace), subscriptionIDs(b),
					l.account, a.Status, a.PlanID, a.Entitled(h.clock.Now(), grace), second, l.account)
			}
		})
	}
}

package paymentwebhook

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// listedOther is sub of cus as the hourly listing gives it, the other
// product's.
func listedOther(t *testing.T, sub, cus string) stripeSubscription {
	t.Helper()
	var listed stripeSubscription
	raw, err := json.Marshal(otherSub(sub, cus))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &listed); err != nil {
		t.Fatal(err)
	}
	return listed
}

// TestOtherProductMarkOutlivesLateLink: without an API key the move of
// an unlinked customer's subscription and its stale creation wait parked
// for the link, for good. A link more than STRIPE_INBOX_RETENTION after
// the move wakes both: the move's mark, of a provider second older than
// the retention, must still refuse the stale creation, so it is kept for
// the retention from when it was written.
func TestOtherProductMarkOutlivesLateLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		linkAfter time.Duration
	}{
		{name: "within the retention", linkAfter: 10 * day},
		{name: "past the retention", linkAfter: 40 * day},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, noLinkWait, withProducts(streamingProduct))
			h.account("acct_p")
			h.run(eventPayload(t, "evt_p2", typeSubscriptionUpdated, at(2*time.Hour), otherSub("sub_p", "cus_p"),
				obj{"items": streamingSub("sub_p", "cus_p")["items"]}))
			h.clock.Set(base.Add(3 * time.Hour)) // the stale creation is received after the move
			h.run(stripeEvent("evt_p1", typeSubscriptionCreated, at(time.Hour), streamingSub("sub_p", "cus_p")))
			h.clock.Set(base.Add(tc.linkAfter))
			h.run(stripeEvent("evt_pc", typeCheckoutCompleted, at(tc.linkAfter), checkoutObj("cs_p", "acct_p", "cus_p", "")))
			h.settle()
			a := h.getAccount("acct_p")
			if holds(a, "sub_p") || a.Entitled(h.clock.Now(), testConfig().PastDueGrace) {
				t.Errorf("linked %s after the move: the stale creation put sub_p back (%s/%s), marks %+v",
					tc.linkAfter, a.Status, a.PlanID, a.OtherProducts)
			}
			// It keeps the refused creation's past_due fact: active at 1h.
			want := playback.OtherProductMark{Subscription: "sub_p", Clock: at(2 * time.Hour), Event: "evt_p2", Written: at(tc.linkAfter),
				NotPastDue: at(time.Hour)}
			if len(a.OtherProducts) != 1 || !reflect.DeepEqual(a.OtherProducts[0], want) {
				t.Errorf("marks %+v, want %+v", a.OtherProducts, want)
			}
		})
	}
}

// TestListingMarkIsAsOfTheReadsLowerBound: a listing page is stamped with
// Stripe's Date header, the second of the response, and may have been
// read in the second before. Read just before the move back (t=3h) and
// stamped 3h+1s, it must not refuse the move back's own event.
func TestListingMarkIsAsOfTheReadsLowerBound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withProducts(streamingProduct))
	h.linked("acct_d", "cus_d")
	h.run(stripeEvent("evt_d1", typeSubscriptionCreated, at(time.Hour), streamingSub("sub_d", "cus_d")))
	h.run(eventPayload(t, "evt_d2", typeSubscriptionUpdated, at(2*time.Hour), otherSub("sub_d", "cus_d"),
		obj{"items": streamingSub("sub_d", "cus_d")["items"]}))
	h.clock.Set(base.Add(3*time.Hour + 2*time.Second))
	r := reconciler{s: h.srv, now: h.clock.Now(), announced: map[string]bool{}}
	if err := r.subscription(t.Context(), listedOther(t, "sub_d", "cus_d"), base.Add(3*time.Hour+time.Second)); err != nil {
		t.Fatal(err)
	}
	back := ofProduct(subObj("sub_d", "cus_d", "active", "price_premium", at(0), at(month)), streamingProduct, false)
	h.run(eventPayload(t, "evt_d3", typeSubscriptionUpdated, at(3*time.Hour), back, obj{"items": otherSub("sub_d", "cus_d")["items"]}))
	a := h.getAccount("acct_d")
	wantState(t, a, playback.StatusActive, "premium")
	if len(a.OtherProducts) != 0 {
		t.Errorf("moved back, marks %+v", a.OtherProducts)
	}
}

// TestListingLeavesMarkAlone: the hourly listing (status=all) shows a
// subscription moved away for as long as Stripe keeps it. A sighting of
// the other product that neither drops the subscription nor moves it
// changes no mark: the move's mark is forgotten after the retention by
// one write, and no listing before or after writes the account.
func TestListingLeavesMarkAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withProducts(streamingProduct))
	h.linked("acct_r", "cus_r")
	h.run(eventPayload(t, "evt_r2", typeSubscriptionUpdated, at(2*time.Hour), otherSub("sub_r", "cus_r"),
		obj{"items": streamingSub("sub_r", "cus_r")["items"]}))
	move := h.getAccount("acct_r").OtherProducts
	listed := listedOther(t, "sub_r", "cus_r")
	writes := 0
	for d := 1; d <= 40; d++ {
		now := base.Add(time.Duration(d) * day)
		h.clock.Set(now)
		before := h.getAccount("acct_r")
		r := reconciler{s: h.srv, now: now, announced: map[string]bool{}}
		if err := r.subscription(t.Context(), listed, now); err != nil {
			t.Fatal(err)
		}
		after := h.getAccount("acct_r")
		if !after.UpdatedAt.Equal(before.UpdatedAt) {
			writes++
		}
		if len(after.OtherProducts) != 0 && !reflect.DeepEqual(after.OtherProducts, move) {
			t.Fatalf("day %d: the listing changed the move's mark %+v to %+v", d, move, after.OtherProducts)
		}
	}
	if a := h.getAccount("acct_r"); len(a.OtherProducts) != 0 || writes != 1 {
		t.Errorf("after 40 daily listings: marks %+v, account writes %d, want none and the one forgetting", a.OtherProducts, writes)
	}
}

// TestShortRetentionKeepsMarks: STRIPE_INBOX_RETENTION may be set below
// Stripe's three days of retries; a mark must still refuse a stale event
// Stripe retries, or the inbox's own retries (STRIPE_EVENT_GIVE_UP) apply,
// after the retention.
func TestShortRetentionKeepsMarks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withProducts(streamingProduct), func(c *Config, _ *Deps) { c.InboxRetention = 24 * time.Hour })
	h.linked("acct_e", "cus_e")
	h.run(eventPayload(t, "evt_e2", typeSubscriptionUpdated, at(2*time.Hour), otherSub("sub_e", "cus_e"),
		obj{"items": streamingSub("sub_e", "cus_e")["items"]}))
	for _, now := range []time.Duration{2 * day, 5 * day} {
		h.clock.Set(base.Add(now))
		h.run(stripeEvent("evt_e1_"+now.String(), typeSubscriptionUpdated, at(time.Hour), streamingSub("sub_e", "cus_e")))
		if a := h.getAccount("acct_e"); holds(a, "sub_e") || len(a.OtherProducts) != 1 {
			t.Errorf("retention 24h, a stale event %s later: put sub_e back (%v, %s/%s) or marks %+v",
				now, holds(a, "sub_e"), a.Status, a.PlanID, a.OtherProducts)
		}
	}
}

// TestPastDueFactsOutliveAMoveAway: a subscription past_due since day 1
// (rule 5) is moved to the other product at day 2 and back at day 5,
// past_due throughout. The drop, or the mark refusing the day-1 update,
// must keep that update's past_due facts for the move back, so that in
// every delivery order it is past due since day 1, out of its grace.
func TestPastDueFactsOutliveAMoveAway(t *testing.T) {
	t.Parallel()
	pastDue := func(price, product string) obj {
		return ofProduct(subObj("sub_q", "cus_q", "past_due", price, at(0), at(month)), product, false)
	}
	payloads := [][]byte{
		eventPayload(t, "evt_q0", typeSubscriptionUpdated, at(1*day), pastDue("price_std", streamingProduct), obj{"status": "active"}),
		eventPayload(t, "evt_q1", typeSubscriptionUpdated, at(2*day), pastDue(otherPrice, otherProduct),
			obj{"items": pastDue("price_std", streamingProduct)["items"]}),
		eventPayload(t, "evt_q2", typeSubscriptionUpdated, at(5*day), pastDue("price_std", streamingProduct),
			obj{"items": pastDue(otherPrice, otherProduct)["items"]}),
	}
	now := base.Add(5*day + time.Hour)
	permutations(len(payloads), func(order []int) {
		h := newHarness(t, withProducts(streamingProduct))
		h.linked("acct_q", "cus_q")
		h.clock.Set(now)
		for _, i := range order {
			h.run(payloads[i])
		}
		a := h.getAccount("acct_q")
		if !a.PastDueSince.Equal(base.Add(day)) || a.Entitled(now, testConfig().PastDueGrace) || len(a.OtherProducts) != 0 {
			t.Errorf("order %v: %s/%s past due since %s, entitled %v, marks %+v; want past due since day 1, out of grace",
				order, a.Status, a.PlanID, a.PastDueSince.Sub(base), a.Entitled(now, testConfig().PastDueGrace), a.OtherProducts)
		}
	})
}

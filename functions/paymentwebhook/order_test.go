package paymentwebhook

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

// permutations calls fn with every order of n indexes.
func permutations(n int, fn func([]int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			fn(p)
			return
		}
		for i := k; i < n; i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
}

// TestSameSecondOrderFromPreviousAttributes: the snapshots of one second
// end in the same state whatever order they are merged in, and that state
// is the one previous_attributes chain to.
func TestSameSecondOrderFromPreviousAttributes(t *testing.T) {
	t.Parallel()
	s := &Server{plans: testConfig().PricePlans} // fromSubscription reads only the plans
	const sec = 1_780_000_000
	sub := func(status, price string, cape bool) stripeSubscription {
		raw := subObj("sub_o", "cus_o", status, price, sec, sec+2_592_000)
		raw["cancel_at_period_end"] = cape
		b, _ := json.Marshal(raw)
		var out stripeSubscription
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	snap := func(id, typ string, st stripeSubscription, prev obj) snapshot {
		var p map[string]string
		if prev != nil {
			b, _ := json.Marshal(prev)
			p = previousAttrs(b)
		}
		sn, err := s.fromSubscription(st, id, sec, placeOf(typ), p)
		if err != nil {
			t.Fatal(err)
		}
		return sn
	}
	tests := []struct {
		name   string
		snaps  []snapshot
		status playback.SubscriptionStatus
		plan   string
	}{
		{
			name: "trial ends paused and is resumed",
			snaps: []snapshot{
				snap("evt_z1", typeSubscriptionPaused, sub("paused", "price_std", false), nil),
				snap("evt_a2", typeSubscriptionUpdated, sub("paused", "price_std", false), obj{"status": "trialing"}),
				snap("evt_m3", typeSubscriptionResumed, sub("active", "price_std", false), nil),
				snap("evt_b4", typeSubscriptionUpdated, sub("active", "price_std", false), obj{"status": "paused"}),
			},
			status: playback.StatusActive, plan: "standard",
		},
		{
			name: "upgrade, cancel at period end set and unset, downgrade",
			snaps: []snapshot{
				snap("evt_q1", typeSubscriptionCreated, sub("active", "price_std", false), nil),
				snap("evt_c2", typeSubscriptionUpdated, sub("active", "price_premium", false),
					obj{"items": obj{"data": []obj{{"price": obj{"id": "price_std"}}}}}),
				snap("evt_x3", typeSubscriptionUpdated, sub("active", "price_premium", true), obj{"cancel_at_period_end": false}),
				snap("evt_d4", typeSubscriptionUpdated, sub("active", "price_premium", false), obj{"cancel_at_period_end": true}),
				snap("evt_a5", typeSubscriptionUpdated, sub("active", "price_basic", false),
					obj{"items": obj{"data": []obj{{"price": obj{"id": "price_premium"}}}}}),
			},
			status: playback.StatusActive, plan: "basic",
		},
		{
			name: "deletion is last even when its id sorts first",
			snaps: []snapshot{
				snap("evt_0", typeSubscriptionDeleted, sub("canceled", "price_std", false), nil),
				snap("evt_z", typeSubscriptionUpdated, sub("active", "price_std", true), obj{"cancel_at_period_end": false}),
			},
			status: playback.StatusCanceled, plan: "standard",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var first *playback.Account
			permutations(len(tt.snaps), func(order []int) {
				a := playback.Account{ID: "acct_o", CustomerID: "cus_o"}
				for _, i := range order {
					merge(&a, tt.snaps[i], false)
				}
				// Redelivery changes nothing.
				for _, i := range order {
					if merge(&a, tt.snaps[i], false) {
						t.Fatalf("order %v: a duplicate changed the account", order)
					}
				}
				if a.Status != tt.status || a.PlanID != tt.plan {
					t.Fatalf("order %v: %s/%s, want %s/%s", order, a.Status, a.PlanID, tt.status, tt.plan)
				}
				if first == nil {
					first = &a
				} else if fmt.Sprint(stateOf(*first)) != fmt.Sprint(stateOf(a)) {
					t.Fatalf("order %v ends elsewhere:\n%+v\n%+v", order, *first, a)
				}
			})
		})
	}
}

package playback

import (
	"slices"
	"testing"
	"time"
)

// TestCustomerMoveFoldsAndAdopts: an account is entitled only by the
// subscriptions of the customer it names (SetCustomer refolds), one of
// no known customer is taken for the customer it leaves, and the next
// account linked to that customer adopts them, keeping a newer state it
// holds already (NewerSubscription).
func TestCustomerMoveFoldsAndAdopts(t *testing.T) {
	t.Parallel()
	end := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	sub := func(id, customer string, status SubscriptionStatus, clock int64) Subscription {
		return Subscription{ID: id, Customer: customer, Status: status, PlanID: "premium", Clock: clock, CurrentPeriodEnd: end}
	}
	for _, tc := range []struct {
		name string
		from []Subscription // held by acct_from, which names cus_c, then cus_d
		to   []Subscription // held by acct_to before it links cus_c
		// wantFrom is acct_from's status once it names cus_d; wantTo
		// acct_to's, and the clocks of the subscriptions it holds, once
		// it links cus_c.
		wantFrom, wantTo SubscriptionStatus
		wantToClocks     []int64
	}{
		{name: "the customer's subscription goes with it",
			from:     []Subscription{sub("sub_1", "cus_c", StatusActive, 10)},
			wantFrom: StatusNone, wantTo: StatusActive, wantToClocks: []int64{10}},
		{name: "one of no known customer is the customer's the account leaves",
			from:     []Subscription{sub("sub_1", "", StatusActive, 10)},
			wantFrom: StatusNone, wantTo: StatusActive, wantToClocks: []int64{10}},
		{name: "the new customer's subscription stays and entitles",
			from:     []Subscription{sub("sub_1", "cus_c", StatusActive, 10), sub("sub_2", "cus_d", StatusPastDue, 10)},
			wantFrom: StatusPastDue, wantTo: StatusActive, wantToClocks: []int64{10}},
		{name: "a newer state the new account holds is kept",
			from:     []Subscription{sub("sub_1", "cus_c", StatusActive, 10)},
			to:       []Subscription{sub("sub_1", "cus_c", StatusUnpaid, 20)},
			wantFrom: StatusNone, wantTo: StatusUnpaid, wantToClocks: []int64{20}},
		{name: "an older state the new account holds is replaced",
			from:     []Subscription{sub("sub_1", "cus_c", StatusActive, 30)},
			to:       []Subscription{sub("sub_1", "cus_c", StatusUnpaid, 20)},
			wantFrom: StatusNone, wantTo: StatusActive, wantToClocks: []int64{30}},
		{name: "a read cancellation is final whatever its clock",
			from:     []Subscription{sub("sub_1", "cus_c", StatusActive, 30)},
			to:       []Subscription{sub("sub_1", "cus_c", StatusCanceled, 20)},
			wantFrom: StatusNone, wantTo: StatusCanceled, wantToClocks: []int64{20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			from := Account{ID: "acct_from", CustomerID: "cus_c", Status: StatusNone}
			for _, s := range tc.from {
				from.PutSubscription(s)
			}
			from.NameCustomer("cus_d", end)
			to := Account{ID: "acct_to", CustomerID: "cus_c", Status: StatusNone}
			for _, s := range tc.to {
				to.PutSubscription(s)
			}
			to.AdoptSubscriptions(from, "cus_c")
			var clocks []int64
			for _, s := range to.Subscriptions {
				clocks = append(clocks, s.Clock)
			}
			if from.Status != tc.wantFrom || to.Status != tc.wantTo || !slices.Equal(clocks, tc.wantToClocks) {
				t.Fatalf("acct_from naming cus_d is %s, acct_to linking cus_c is %s holding clocks %v; want %s, %s, %v",
					from.Status, to.Status, clocks, tc.wantFrom, tc.wantTo, tc.wantToClocks)
			}
			if again := to; again.AdoptSubscriptions(from, "cus_c") {
				t.Fatalf("adopting again changed acct_to: %+v", again.Subscriptions)
			}
		})
	}
}

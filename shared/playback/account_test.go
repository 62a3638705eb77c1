package playback

import (
	"reflect"
	"testing"
	"time"
)

func TestPutSubscription(t *testing.T) {
	t.Parallel()
	end := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	basic := Subscription{ID: "sub_a", Status: StatusActive, PlanID: "basic", CurrentPeriodEnd: end, Clock: 10,
		Snapshots: []SubscriptionSnapshot{{Event: "evt_1", Status: StatusActive, PlanID: "basic"}}}
	tests := []struct {
		name        string
		have        []Subscription
		put         Subscription
		changed     bool
		status      SubscriptionStatus
		plan        string
		pastDueFrom time.Time
	}{
		{name: "first subscription", put: basic, changed: true, status: StatusActive, plan: "basic"},
		{name: "identical is no change", have: []Subscription{basic}, put: basic, changed: false, status: StatusActive, plan: "basic"},
		{name: "same id replaced", have: []Subscription{basic},
			put:     Subscription{ID: "sub_a", Status: StatusPastDue, PlanID: "basic", PastDueSince: end.AddDate(0, -1, 0), Clock: 11},
			changed: true, status: StatusPastDue, plan: "basic", pastDueFrom: end.AddDate(0, -1, 0)},
		{name: "the best of several entitles", have: []Subscription{{ID: "sub_b", Status: StatusCanceled, PlanID: "premium", Clock: 12}},
			put: basic, changed: true, status: StatusActive, plan: "basic"},
		// Two past_due subscriptions (a double checkout whose cards both
		// fail): the one that failed last is still in its grace, whatever
		// the other's period says.
		{name: "of several past_due the one that failed last entitles",
			have: []Subscription{{ID: "sub_a", Status: StatusPastDue, PlanID: "premium", PastDueSince: end.AddDate(0, 0, -20),
				CurrentPeriodEnd: end.AddDate(0, 0, 10), Clock: 12}},
			put:     Subscription{ID: "sub_b", Status: StatusPastDue, PlanID: "basic", PastDueSince: end.Add(-time.Hour), CurrentPeriodEnd: end, Clock: 13},
			changed: true, status: StatusPastDue, plan: "basic", pastDueFrom: end.Add(-time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := Account{ID: "acct", Status: StatusNone}
			for _, s := range tt.have {
				a.PutSubscription(s)
			}
			if got := a.PutSubscription(tt.put); got != tt.changed {
				t.Fatalf("changed = %v, want %v", got, tt.changed)
			}
			if a.Status != tt.status || a.PlanID != tt.plan || !a.PastDueSince.Equal(tt.pastDueFrom) {
				t.Fatalf("account %s/%s past due since %v, want %s/%s %v", a.Status, a.PlanID, a.PastDueSince, tt.status, tt.plan, tt.pastDueFrom)
			}
		})
	}
}

func TestDropSubscription(t *testing.T) {
	t.Parallel()
	end := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	ours := Subscription{ID: "sub_a", Status: StatusCanceled, PlanID: "basic", CurrentPeriodEnd: end, Clock: 10}
	other := Subscription{ID: "sub_o", Status: StatusActive, CurrentPeriodEnd: end.AddDate(0, 1, 0), Clock: 11}
	tests := []struct {
		name    string
		have    []Subscription
		drop    string
		changed bool
		status  SubscriptionStatus
		end     time.Time
		left    int
	}{
		{name: "the others decide", have: []Subscription{ours, other}, drop: "sub_o", changed: true, status: StatusCanceled, end: end, left: 1},
		{name: "none left is no subscription", have: []Subscription{other}, drop: "sub_o", changed: true, status: StatusNone, left: 0},
		{name: "absent is no change", have: []Subscription{ours}, drop: "sub_o", changed: false, status: StatusCanceled, end: end, left: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := Account{ID: "acct", Status: StatusNone, PlanID: "basic"}
			for _, s := range tt.have {
				a.PutSubscription(s)
			}
			held := a.Subscriptions
			if got := a.DropSubscription(tt.drop); got != tt.changed {
				t.Fatalf("changed = %v, want %v", got, tt.changed)
			}
			if a.Status != tt.status || a.PlanID != "basic" || !a.CurrentPeriodEnd.Equal(tt.end) || len(a.Subscriptions) != tt.left {
				t.Fatalf("account %s/%s ends %v with %d subscriptions, want %s/basic %v with %d", a.Status, a.PlanID,
					a.CurrentPeriodEnd, len(a.Subscriptions), tt.status, tt.end, tt.left)
			}
			if !reflect.DeepEqual(held, tt.have) {
				t.Fatalf("the slice the account held was changed in place")
			}
		})
	}
}

func TestAccountPlayed(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	tv := Device{ID: "tv", Name: "TV", RegisteredAt: t0.Add(-48 * time.Hour), LastPlayedAt: t0}
	old := Device{ID: "old", RegisteredAt: t0.Add(-48 * time.Hour)} // registered before LastPlayedAt was kept
	for _, tc := range []struct {
		name    string
		id      string
		at      time.Time
		changed bool
		want    []Device
	}{
		{"new device registers", "phone", t0.Add(time.Minute), true,
			[]Device{tv, old, {ID: "phone", Name: "Phone", RegisteredAt: t0.Add(time.Minute), LastPlayedAt: t0.Add(time.Minute)}}},
		{"registered, within the step", "tv", t0.Add(LastPlayedStep - time.Second), false, []Device{tv, old}},
		{"registered, a step on", "tv", t0.Add(LastPlayedStep), true,
			[]Device{{ID: "tv", Name: "TV", RegisteredAt: tv.RegisteredAt, LastPlayedAt: t0.Add(LastPlayedStep)}, old}},
		{"registered, clock behind the record", "tv", t0.Add(-time.Hour), false, []Device{tv, old}},
		{"registered, never recorded", "old", t0, true,
			[]Device{tv, {ID: "old", RegisteredAt: old.RegisteredAt, LastPlayedAt: t0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := Account{ID: "a", Devices: []Device{tv, old}}
			got, changed := a.Played(tc.id, "Phone", tc.at)
			if changed != tc.changed || !reflect.DeepEqual(got.Devices, tc.want) {
				t.Fatalf("Played = %+v, %v; want %+v, %v", got.Devices, changed, tc.want, tc.changed)
			}
			if !reflect.DeepEqual(a.Devices, []Device{tv, old}) {
				t.Fatalf("Played changed the account it was given: %+v", a.Devices)
			}
		})
	}
}

// TestDateUndated: an undated past_due account is dated by its reader only
// when an operator's write left it so. One the payment provider manages
// is dated by its subscriptions' fold, which a reader's date would not
// outlive (the next event folds the date back), so a reader leaves it be.
func TestDateUndated(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	since := now.Add(-time.Hour)
	for _, tc := range []struct {
		name      string
		acct      Account
		wantSince time.Time
		wantDated bool
	}{
		{name: "operator's undated past_due", acct: Account{Status: StatusPastDue}, wantSince: now, wantDated: true},
		{name: "dated past_due", acct: Account{Status: StatusPastDue, PastDueSince: since}, wantSince: since},
		{name: "active", acct: Account{Status: StatusActive}},
		{name: "linked to a customer", acct: Account{Status: StatusPastDue, CustomerID: "cus_1"}},
		{name: "holding subscriptions", acct: Account{Status: StatusPastDue,
			Subscriptions: []Subscription{{ID: "sub_1", Status: StatusPastDue}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, dated := tc.acct.DateUndated(now)
			if dated != tc.wantDated || !got.PastDueSince.Equal(tc.wantSince) {
				t.Errorf("DateUndated = since %v, dated %v; want %v, %v", got.PastDueSince, dated, tc.wantSince, tc.wantDated)
			}
		})
	}
}

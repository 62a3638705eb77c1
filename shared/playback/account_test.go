package playback

import (
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

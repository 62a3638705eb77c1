package paymentwebhook

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestGraceAnnouncesPastDueOutOfGrace: the grace job walks the accounts
// and announces, as reconciliation does for the ones Stripe lists, each
// past_due account beyond its grace, whether a customer links it or not;
// one inside it, or in another status, is not. An account stored
// past_due without a date gets its grace started at the pass, and is
// announced once that grace has run out. Alike on every store.
func TestGraceAnnouncesPastDueOutOfGrace(t *testing.T) {
	t.Parallel()
	for _, st := range corpusStores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			var opts []harnessOption
			if st.open != nil {
				opts = append(opts, withStore(st.open(t)))
			}
			h := newHarness(t, opts...)
			ctx := context.Background()
			now := h.clock.Now()
			pastDue := func(since time.Time) func(*playback.Account) {
				return func(a *playback.Account) {
					a.PlanID, a.Status, a.PastDueSince = "standard", playback.StatusPastDue, since
				}
			}
			h.account("acct_in", pastDue(now.Add(-24*time.Hour)))
			h.account("acct_out", pastDue(now.Add(-73*time.Hour)))
			h.account("acct_linked_out", pastDue(now.Add(-100*time.Hour)), func(a *playback.Account) { a.CustomerID = "cus_l" })
			h.account("acct_undated", pastDue(time.Time{}))
			h.account("acct_active", func(a *playback.Account) { a.PlanID, a.Status = "standard", playback.StatusActive })

			announced := func() []string {
				h.settle()
				var ids []string
				for _, ev := range h.entitlementEvents() {
					if ev.Entitled || ev.Cause != "grace_expired" || ev.Status != string(playback.StatusPastDue) {
						t.Fatalf("entitlement event %+v, want a grace_expired one", ev)
					}
					ids = append(ids, ev.AccountID)
				}
				slices.Sort(ids)
				return ids
			}
			rep, err := h.srv.Grace(ctx)
			if err != nil || rep != (GraceReport{Accounts: 5, Dated: 1, GraceExpired: 2}) {
				t.Fatalf("first pass: %+v %v", rep, err)
			}
			if got, want := announced(), []string{"acct_linked_out", "acct_out"}; !slices.Equal(got, want) {
				t.Fatalf("announced %v, want %v", got, want)
			}
			if got := h.getAccount("acct_undated").PastDueSince; !got.Equal(now) {
				t.Fatalf("undated account's past_due_since after the pass: %v, want %v", got, now)
			}

			// 72 h after the pass that dated it, and the others still out.
			h.clock.Set(now.Add(72*time.Hour + time.Second))
			rep, err = h.srv.Grace(ctx)
			if err != nil || rep != (GraceReport{Accounts: 5, GraceExpired: 4}) {
				t.Fatalf("second pass: %+v %v", rep, err)
			}
			if got, want := announced(), []string{"acct_in", "acct_linked_out", "acct_linked_out", "acct_out", "acct_out", "acct_undated"}; !slices.Equal(got, want) {
				t.Fatalf("announced %v, want %v", got, want)
			}
			if got := h.getAccount("acct_undated").PastDueSince; !got.Equal(now) {
				t.Fatalf("undated account's past_due_since after a second pass: %v, want %v kept", got, now)
			}
		})
	}
}

package authorizeplay_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestHeldAccountPlaysNothing: an operator's hold (Account.Suspended) is
// refused 403 account_suspended whatever billing says: on an account its
// Stripe subscription entitles, and on one billing would refuse anyway
// (the hold's own reason, so support sees why). Nothing is written; once
// lifted, billing's outcome plays again.
func TestHeldAccountPlaysNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, account string
		lifted        int // the play's status once the hold is lifted
	}{
		{name: "entitled by Stripe", account: demo.AccountFamily, lifted: http.StatusCreated},
		{name: "canceled", account: demo.AccountCanceled, lifted: http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			ctx := context.Background()
			hold := func(held bool) {
				t.Helper()
				if _, err := h.store.UpdateAccount(ctx, tc.account, func(a *playback.Account) error {
					if a.CustomerID != "" {
						a.PutSubscription(playback.Subscription{ID: "sub_1", Status: playback.StatusActive, PlanID: a.PlanID,
							Customer: a.CustomerID, Clock: h.now.Unix(), CurrentPeriodEnd: h.now.Add(30 * 24 * time.Hour)})
					}
					a.Suspended = held
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			hold(true)
			before, _ := h.store.GetAccount(ctx, tc.account)
			if rec := h.play(tc.account, "sintel", "tv"); rec.Code != http.StatusForbidden || errorOf(t, rec).Reason != "account_suspended" {
				t.Fatalf("play on a held account: %d %s, want 403 account_suspended", rec.Code, rec.Body)
			}
			after, _ := h.store.GetAccount(ctx, tc.account)
			if active, _ := h.store.ListActiveSessions(ctx, tc.account, h.now); len(after.Devices) != len(before.Devices) || len(active) != 0 {
				t.Fatalf("refused play wrote: devices %d→%d, %d sessions", len(before.Devices), len(after.Devices), len(active))
			}
			hold(false)
			if rec := h.play(tc.account, "sintel", "tv"); rec.Code != tc.lifted {
				t.Fatalf("play once the hold is lifted: %d %s, want %d", rec.Code, rec.Body, tc.lifted)
			}
		})
	}
}

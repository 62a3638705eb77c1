package paymentwebhook

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// TestGraceAnnouncesPastDueOutOfGrace: the grace job announces, as
// reconciliation does for the ones Stripe lists, each past_due account
// beyond its grace, whether a customer links it or not, once; one inside
// it, or in another status, is not read. An account stored past_due
// without a date gets its grace started at the pass, and is announced
// once that grace has run out. Alike on every store.
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
			if err != nil || rep != (GraceReport{Accounts: 3, Dated: 1, GraceExpired: 2}) {
				t.Fatalf("first pass: %+v %v", rep, err)
			}
			if got, want := announced(), []string{"acct_linked_out", "acct_out"}; !slices.Equal(got, want) {
				t.Fatalf("announced %v, want %v", got, want)
			}
			if got := h.getAccount("acct_undated").PastDueSince; !got.Equal(now) {
				t.Fatalf("undated account's past_due_since after the pass: %v, want %v", got, now)
			}

			// 72 h after the pass that dated it, and the others still out,
			// announced already.
			h.clock.Set(now.Add(72*time.Hour + time.Second))
			rep, err = h.srv.Grace(ctx)
			if err != nil || rep != (GraceReport{Accounts: 2, GraceExpired: 2}) {
				t.Fatalf("second pass: %+v %v", rep, err)
			}
			if got, want := announced(), []string{"acct_in", "acct_linked_out", "acct_out", "acct_undated"}; !slices.Equal(got, want) {
				t.Fatalf("announced %v, want %v", got, want)
			}
			if got := h.getAccount("acct_undated").PastDueSince; !got.Equal(now) {
				t.Fatalf("undated account's past_due_since after a second pass: %v, want %v kept", got, now)
			}
		})
	}
}

// graceAnnounced are the accounts announced grace_expired so far, once
// per announcement, sorted.
func graceAnnounced(t *testing.T, h *harness) []string {
	t.Helper()
	h.settle()
	var ids []string
	for _, ev := range h.entitlementEvents() {
		if ev.Cause == "grace_expired" {
			ids = append(ids, ev.AccountID)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestGraceReadsOnlyTheAccountsItAnnounces: a pass reads the past_due
// accounts whose grace has run out, not every account: the one past_due
// account behind many others (more than pages of the walk) is announced,
// and the pass reads it alone, however many others the store holds.
// Alike on every store.
func TestGraceReadsOnlyTheAccountsItAnnounces(t *testing.T) {
	t.Parallel()
	for _, st := range corpusStores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			var opts []harnessOption
			if st.open != nil {
				opts = append(opts, withStore(st.open(t)))
			}
			h := newHarness(t, opts...)
			now := h.clock.Now()
			for i := range 2*gracePage + 10 {
				h.account(fmt.Sprintf("acct_%04d", i), func(a *playback.Account) { a.PlanID, a.Status = "standard", playback.StatusActive })
			}
			h.account("acct_in", func(a *playback.Account) {
				a.PlanID, a.Status, a.PastDueSince = "standard", playback.StatusPastDue, now.Add(-time.Hour)
			})
			h.account("acct_zzz", func(a *playback.Account) {
				a.PlanID, a.Status, a.PastDueSince = "standard", playback.StatusPastDue, now.Add(-73*time.Hour)
			})
			rep, err := h.srv.Grace(context.Background())
			if err != nil || rep != (GraceReport{Accounts: 1, GraceExpired: 1}) {
				t.Fatalf("pass: %+v %v; want one account read and announced", rep, err)
			}
			if got, want := graceAnnounced(t, h), []string{"acct_zzz"}; !slices.Equal(got, want) {
				t.Fatalf("announced %v, want %v", got, want)
			}
		})
	}
}

// TestGraceAnnouncesOncePerEpisode: the hourly pass announces a past_due
// account's grace end once, not again each hour it stays past_due; the
// account's next past_due episode (active in between, past_due again
// with a new date) is announced again once its grace has run out.
func TestGraceAnnouncesOncePerEpisode(t *testing.T) {
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
			h.account("acct_out", func(a *playback.Account) {
				a.PlanID, a.Status, a.PastDueSince = "standard", playback.StatusPastDue, now.Add(-73*time.Hour)
			})
			for hour := range 3 {
				h.clock.Set(now.Add(time.Duration(hour) * time.Hour))
				if _, err := h.srv.Grace(ctx); err != nil {
					t.Fatalf("pass %d: %v", hour, err)
				}
			}
			if got, want := graceAnnounced(t, h), []string{"acct_out"}; !slices.Equal(got, want) {
				t.Fatalf("three hourly passes announced %v, want %v once", got, want)
			}

			// Paid, then past_due again: a new episode.
			later := now.Add(10 * 24 * time.Hour)
			for _, status := range []playback.SubscriptionStatus{playback.StatusActive, playback.StatusPastDue} {
				if _, err := h.store.UpdateAccount(ctx, "acct_out", func(a *playback.Account) error {
					a.Status = status
					*a = a.DatePastDue(later)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			h.clock.Set(later.Add(time.Hour))
			if _, err := h.srv.Grace(ctx); err != nil {
				t.Fatal(err)
			}
			if got, want := graceAnnounced(t, h), []string{"acct_out"}; !slices.Equal(got, want) {
				t.Fatalf("announced %v inside the new episode's grace, want %v (the first episode's)", got, want)
			}
			for hour := range 2 {
				h.clock.Set(later.Add(73*time.Hour + time.Duration(hour)*time.Hour))
				if _, err := h.srv.Grace(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := graceAnnounced(t, h), []string{"acct_out", "acct_out"}; !slices.Equal(got, want) {
				t.Fatalf("the two episodes' grace ends announced %v, want %v, once each", got, want)
			}
		})
	}
}

// TestGracePassIsBounded: a pass reads at most graceRun accounts, saying
// so (More), and the next pass announces the rest, as the announced ones
// have left the listing.
func TestGracePassIsBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	now := h.clock.Now()
	for i := range graceRun + 10 {
		h.account(fmt.Sprintf("acct_%04d", i), func(a *playback.Account) {
			a.PlanID, a.Status, a.PastDueSince = "standard", playback.StatusPastDue, now.Add(-73*time.Hour)
		})
	}
	for _, want := range []GraceReport{{Accounts: graceRun, GraceExpired: graceRun, More: true}, {Accounts: 10, GraceExpired: 10}, {}} {
		if rep, err := h.srv.Grace(context.Background()); err != nil || rep != want {
			t.Fatalf("pass: %+v %v, want %+v", rep, err, want)
		}
	}
	if got := len(graceAnnounced(t, h)); got != graceRun+10 {
		t.Fatalf("announced %d, want %d", got, graceRun+10)
	}
}

// staleListing lists, ahead of its store's listing, records of accounts
// no longer pending (paid), as an index an older release left behind
// would if a store did not check it.
type staleListing struct {
	harnessStore
	stale []playback.Record
}

func (s staleListing) ListGracePending(ctx context.Context, until time.Time, after string, limit int) (playback.RecordPage, error) {
	const end = "s-end"
	if after != end && (after == "" || after[0] == 's') {
		i := 0
		if after != "" {
			fmt.Sscanf(after, "s%d", &i)
			i++
		}
		n := min(limit, len(s.stale)-i)
		next := end
		if i+n < len(s.stale) {
			next = fmt.Sprintf("s%d", i+n-1)
		}
		return playback.RecordPage{Records: s.stale[i : i+n], Next: next}, nil
	}
	return s.harnessStore.ListGracePending(ctx, until, "", limit)
}

// TestGraceBudgetCountsOnlyPendingAccounts: records listed of accounts
// no longer pending (more than a pass's budget) do not use up the pass,
// so the pending account behind them is announced.
func TestGraceBudgetCountsOnlyPendingAccounts(t *testing.T) {
	t.Parallel()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	listing := &staleListing{harnessStore: store}
	h := newHarness(t, withStore(listing))
	now := h.clock.Now()
	for i := range graceRun + 100 {
		id := fmt.Sprintf("acct_paid%04d", i)
		h.account(id, func(a *playback.Account) { a.PlanID, a.Status = "standard", playback.StatusActive })
		listing.stale = append(listing.stale, playback.Record{Kind: playback.KindAccount, ID: id, Version: "v",
			Doc: json.RawMessage(fmt.Sprintf(`{"id":%q,"plan_id":"standard","status":"active","territory":"DE"}`, id))})
	}
	h.account("acct_due", func(a *playback.Account) {
		a.PlanID, a.Status, a.PastDueSince = "standard", playback.StatusPastDue, now.Add(-73*time.Hour)
	})
	if rep, err := h.srv.Grace(context.Background()); err != nil || rep != (GraceReport{Accounts: 1, GraceExpired: 1}) {
		t.Fatalf("pass: %+v %v, want one account read and announced", rep, err)
	}
	if got := graceAnnounced(t, h); !slices.Equal(got, []string{"acct_due"}) {
		t.Fatalf("announced %v, want [acct_due]", got)
	}
}

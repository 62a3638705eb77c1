package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// listGrace pages through ListGracePending up to until with pages of n,
// checking the order and that each record qualifies, and returns the ids
// listed that start with prefix.
func listGrace(t *testing.T, s playback.Store, until time.Time, n int, prefix string) []string {
	t.Helper()
	var ours []string
	last, after := "", ""
	for pages := 0; ; pages++ {
		if pages > 100000 {
			t.Fatal("ListGracePending never ends")
		}
		p := must(s.ListGracePending(context.Background(), until, after, n))(t)
		if len(p.Records) > n {
			t.Fatalf("page of %d records, limit %d", len(p.Records), n)
		}
		for _, r := range p.Records {
			var a playback.Account
			if err := json.Unmarshal(r.Doc, &a); err != nil || r.Kind != playback.KindAccount || r.Version == "" || a.ID != r.ID {
				t.Fatalf("listed record %+v: %v", r, err)
			}
			key := a.GraceKey()
			if key == "" || key >= playback.GraceKeyBefore(until) {
				t.Fatalf("listed account %s (%s since %v, announced %v), not pending by %v", a.ID, a.Status, a.PastDueSince, a.GraceAnnounced, until)
			}
			if key <= last {
				t.Fatalf("account key %q listed after %q", key, last)
			}
			last = key
			if len(r.ID) > len(prefix) && r.ID[:len(prefix)] == prefix {
				ours = append(ours, r.ID)
			}
		}
		if p.Next == "" {
			return ours
		}
		after = p.Next
	}
}

// testGracePending: ListGracePending lists the past_due accounts whose
// grace end is unannounced and began by until, oldest first, undated
// ones first of all, whichever write put them there (PutAccount,
// UpdateAccount, ApplyChanges, an admission's SaveAccount), and drops
// them when a write ends that (another status, the announcement, a
// deletion), or lists them at a new date only (re-dated while past_due).
func testGracePending(t *testing.T, s playback.Store) {
	ctx := context.Background()
	prefix := playback.NewID("gr") + "-"
	// Long ago, so that other tests' accounts (dated now) are not listed
	// by the untils below, whose undated ones are left out by prefix.
	base := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	acct := func(name string, status playback.SubscriptionStatus, since time.Time) playback.Account {
		return playback.Account{ID: prefix + name, PlanID: "standard", Status: status, PastDueSince: since, Territory: "DE"}
	}
	put := func(a playback.Account) {
		t.Helper()
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	pastDue := func(since time.Time) func(*playback.Account) error {
		return func(a *playback.Account) error {
			a.Status, a.PastDueSince = playback.StatusPastDue, since
			return nil
		}
	}
	put(acct("put", playback.StatusPastDue, base.Add(-100*time.Hour)))
	put(acct("update", playback.StatusActive, time.Time{}))
	must(s.UpdateAccount(ctx, prefix+"update", pastDue(base.Add(-80*time.Hour))))(t)
	put(acct("in", playback.StatusPastDue, base.Add(-time.Hour)))
	put(acct("active", playback.StatusActive, time.Time{}))
	announced := acct("announced", playback.StatusPastDue, base.Add(-90*time.Hour))
	announced.GraceAnnounced = &announced.PastDueSince
	put(announced)
	put(acct("paid", playback.StatusPastDue, base.Add(-95*time.Hour)))
	must(s.UpdateAccount(ctx, prefix+"paid", func(a *playback.Account) error {
		a.Status, a.PastDueSince = playback.StatusActive, time.Time{}
		return nil
	}))(t)
	put(acct("told", playback.StatusPastDue, base.Add(-96*time.Hour)))
	must(s.UpdateAccount(ctx, prefix+"told", func(a *playback.Account) error {
		since := a.PastDueSince
		a.GraceAnnounced = &since
		return nil
	}))(t)
	// Re-dated while past_due: listed once, at its new key only.
	put(acct("redated", playback.StatusPastDue, base.Add(-98*time.Hour)))
	must(s.UpdateAccount(ctx, prefix+"redated", pastDue(base.Add(-70*time.Hour))))(t)
	put(acct("gone", playback.StatusPastDue, base.Add(-97*time.Hour)))
	apply(t, s, playback.Change{Kind: playback.KindAccount, ID: prefix + "gone"})
	apply(t, s, playback.Change{Kind: playback.KindAccount, ID: prefix + "apply",
		Doc: doc(t, acct("apply", playback.StatusPastDue, base.Add(-85*time.Hour)))})
	// Undated, then dated by an admission's write.
	put(acct("undated", playback.StatusPastDue, time.Time{}))
	put(acct("admitted", playback.StatusPastDue, time.Time{}))
	at := now()
	r := must(s.ReadAdmission(ctx, prefix+"admitted", at))(t)
	req := onRead(onDevice(lease(prefix+"admitted", 1, at, time.Minute), "tv"), r)
	dated := r.Account.DatePastDue(base.Add(-99 * time.Hour))
	req.SaveAccount = &dated
	must(s.AcquireLease(ctx, req))(t)

	cases := []struct {
		name  string
		until time.Time
		want  []string
	}{
		{"out of grace", base.Add(-72 * time.Hour), []string{"undated", "put", "admitted", "apply", "update"}},
		{"all pending", base, []string{"undated", "put", "admitted", "apply", "update", "redated", "in"}},
		{"none by then", base.Add(-101 * time.Hour), []string{"undated"}},
	}
	for _, c := range cases {
		want := make([]string, len(c.want))
		for i, name := range c.want {
			want[i] = prefix + name
		}
		for _, n := range []int{1, 2, 50} {
			// DynamoDB's index lags its writes: a write a moment ago may
			// not be listed yet.
			var got []string
			for try := 0; try < 50; try++ {
				if got = listGrace(t, s, c.until, n, prefix); slices.Equal(got, want) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, pages of %d: listed %v, want %v", c.name, n, got, want)
			}
		}
	}
	if p := must(s.ListGracePending(ctx, base, "", 0))(t); len(p.Records) != 0 || p.Next != "" {
		t.Errorf("limit 0: %+v, want an empty page", p)
	}
}

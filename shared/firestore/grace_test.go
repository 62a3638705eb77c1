package firestore

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestMigrateGraceIndexesOldAccounts: accounts a release before the grace
// field wrote are not listed by ListGracePending until MigrateGrace has
// run; then the past_due ones are, with their documents as they were,
// and a second run moves nothing.
func TestMigrateGraceIndexesOldAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	if err := s.open(ctx); err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, a := range []playback.Account{
		{ID: "acct_due", PlanID: "standard", Status: playback.StatusPastDue, PastDueSince: since, Territory: "DE"},
		{ID: "acct_undated", PlanID: "standard", Status: playback.StatusPastDue, Territory: "DE"},
		{ID: "acct_active", PlanID: "standard", Status: playback.StatusActive, Territory: "DE"},
	} {
		doc, err := encode(a)
		if err != nil {
			t.Fatal(err)
		}
		fields := docFields(doc, a)
		delete(fields, fieldGrace) // as a release before the field wrote it
		fields[fieldRev] = newRev()
		if _, err := s.col(colAccounts).Doc(a.ID).Set(ctx, fields); err != nil {
			t.Fatal(err)
		}
	}
	listed := func() []string {
		t.Helper()
		p, err := s.ListGracePending(ctx, since, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range p.Records {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if got := listed(); len(got) != 0 {
		t.Fatalf("listed before the migration: %v", got)
	}
	for _, want := range []int{2, 0} {
		if n, err := s.MigrateGrace(ctx); err != nil || n != want {
			t.Fatalf("MigrateGrace = %d, %v; want %d", n, err, want)
		}
	}
	if got, want := listed(), []string{"acct_undated", "acct_due"}; !slices.Equal(got, want) {
		t.Fatalf("listed after the migration: %v, want %v", got, want)
	}
	if a, err := s.GetAccount(ctx, "acct_due"); err != nil || !a.PastDueSince.Equal(since) || a.Status != playback.StatusPastDue {
		t.Fatalf("acct_due after the migration: %+v, %v", a, err)
	}
}

package firestore

import (
	"context"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

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

// TestGraceAfterARollback: a release before the grace field updates an
// account's fields by name and so leaves its grace field as it was; an
// account paid meanwhile still carries its old key. ListGracePending
// does not list it (it checks each document, as DynamoDB does), and
// MigrateGrace sets its field to graceNone, so such accounts stop
// heading the listing.
func TestGraceAfterARollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	if err := s.open(ctx); err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	paid := []string{"acct_paid1", "acct_paid2", "acct_paid3"}
	for i, id := range append(slices.Clone(paid), "acct_due") {
		a := playback.Account{ID: id, PlanID: "standard", Status: playback.StatusPastDue, PastDueSince: since.Add(time.Duration(i-3) * time.Hour), Territory: "DE"}
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range paid {
		a := playback.Account{ID: id, PlanID: "standard", Status: playback.StatusActive, Territory: "DE"}
		doc, err := encode(a)
		if err != nil {
			t.Fatal(err)
		}
		fields := docFields(doc, a)
		delete(fields, fieldGrace) // as the older release's update by field names
		fields[fieldRev] = newRev()
		if _, err := s.col(colAccounts).Doc(id).Set(ctx, fields, firestore.MergeAll); err != nil {
			t.Fatal(err)
		}
	}
	listed := func(n int, all bool) []string {
		t.Helper()
		var ids []string
		for after := ""; ; {
			p, err := s.ListGracePending(ctx, since, after, n)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Records {
				ids = append(ids, r.ID)
			}
			if p.Next == "" || !all {
				return ids
			}
			after = p.Next
		}
	}
	if got := listed(1, true); !slices.Equal(got, []string{"acct_due"}) {
		t.Errorf("listed with stale fields %v, want [acct_due]", got)
	}
	for _, want := range []int{3, 0} {
		if n, err := s.MigrateGrace(ctx); err != nil || n != want {
			t.Fatalf("MigrateGrace = %d, %v; want %d", n, err, want)
		}
	}
	for _, id := range paid {
		st, err := s.read(ctx, s.col(colAccounts).Doc(id))
		if err != nil {
			t.Fatal(err)
		}
		if st.data[fieldGrace] != graceNone {
			t.Errorf("%s after the migration: grace field %v, want %q", id, st.data[fieldGrace], graceNone)
		}
	}
	if got := listed(1, false); !slices.Equal(got, []string{"acct_due"}) {
		t.Errorf("first page of 1 after the migration %v, want [acct_due]", got)
	}
}

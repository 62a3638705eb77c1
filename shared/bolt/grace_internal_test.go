package bolt

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

// TestOpensFilesWrittenBeforeTheGraceIndex: a file whose accounts were
// written before the grace index (no grace_pending bucket) is indexed by
// Open, so its past_due accounts are listed, and the index then follows
// new writes.
func TestOpensFilesWrittenBeforeTheGraceIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, err := Open(path, WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []playback.Account{
		{ID: "acct_due", PlanID: "standard", Status: playback.StatusPastDue, PastDueSince: since, Territory: "DE"},
		{ID: "acct_undated", PlanID: "standard", Status: playback.StatusPastDue, Territory: "DE"},
		{ID: "acct_active", PlanID: "standard", Status: playback.StatusActive, Territory: "DE"},
	} {
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// As a release before the index left the file.
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bucketGrace) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := func() []string {
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
	if got := ids(); len(got) != 2 || got[0] != "acct_undated" || got[1] != "acct_due" {
		t.Fatalf("listed after reopening %v, want [acct_undated acct_due]", got)
	}
	if _, err := s.UpdateAccount(ctx, "acct_due", func(a *playback.Account) error {
		a.Status, a.PastDueSince = playback.StatusActive, time.Time{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := ids(); len(got) != 1 || got[0] != "acct_undated" {
		t.Fatalf("listed after acct_due paid %v, want [acct_undated]", got)
	}
}

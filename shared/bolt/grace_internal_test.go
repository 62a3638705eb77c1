package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
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

// TestGraceAfterARollback: a release before the grace index (or one
// between it and this fix) writes accounts without moving their entries
// in grace_pending. After a rollback to it and an upgrade again, the
// listing names what the documents say: an account deleted or paid
// meanwhile is not listed (its stale entry skipped as the listing reads
// it, and dropped by the next Open), and one that went past_due
// meanwhile is listed once the file is reopened.
func TestGraceAfterARollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rollback.db")
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	acct := func(id string, status playback.SubscriptionStatus) playback.Account {
		a := playback.Account{ID: id, PlanID: "standard", Status: status, Territory: "DE"}
		if status == playback.StatusPastDue {
			a.PastDueSince = since
		}
		return a
	}
	s, err := Open(path, WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []playback.Account{
		acct("acct_gone", playback.StatusPastDue),
		acct("acct_paid", playback.StatusPastDue),
		acct("acct_due", playback.StatusPastDue),
		acct("acct_late", playback.StatusActive),
	} {
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// The older release's writes: documents only, grace_pending untouched.
	old := func(s *Store) {
		t.Helper()
		err := s.db.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketAccounts)
			if err := b.Delete([]byte("acct_gone")); err != nil {
				return err
			}
			for _, a := range []playback.Account{acct("acct_paid", playback.StatusActive), acct("acct_late", playback.StatusPastDue)} {
				raw, err := json.Marshal(a)
				if err != nil {
					return err
				}
				if err := b.Put([]byte(a.ID), raw); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	listed := func(s *Store) []string {
		t.Helper()
		var ids []string
		for after := ""; ; {
			p, err := s.ListGracePending(ctx, since, after, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Records {
				if playback.GraceKeyOf(r.Doc) == "" {
					t.Errorf("listed %s, not pending: %s", r.ID, r.Doc)
				}
				ids = append(ids, r.ID)
			}
			if p.Next == "" {
				return ids
			}
			after = p.Next
		}
	}
	old(s)
	if got := listed(s); !slices.Equal(got, []string{"acct_due"}) {
		t.Errorf("listed with stale entries %v, want [acct_due]", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := listed(s); !slices.Equal(got, []string{"acct_due", "acct_late"}) {
		t.Errorf("listed after reopening %v, want [acct_due acct_late]", got)
	}
	err = s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketGrace).ForEach(func(k, _ []byte) error {
			if id := string(k[bytes.IndexByte(k, '|')+1:]); id != "acct_due" && id != "acct_late" {
				t.Errorf("grace_pending holds %s after reopening", k)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

// Big audit records live in buckets of their own, small ones and those
// written before as plain values; ListAudit pages through all of them,
// newest first, whole, before and after a reopen.
func TestAuditRecordsBigAndSmall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	titles := func(prefix string, n int) []playback.Change {
		var out []playback.Change
		for i := range n {
			c, err := playback.NewChange(playback.KindTitle, playback.Title{ID: fmt.Sprintf("%s%03d", prefix, i),
				Name: "A title with a name long enough to make the record big", AssetPath: "/t/", Manifest: "m"})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, c)
		}
		return out
	}
	// A big record as stores before buckets of their own wrote it.
	old := playback.AuditRecord{ID: playback.AuditID(at), Actor: "old", At: at}
	for _, c := range titles("old", 200) {
		old.Changes = append(old.Changes, playback.AuditChange{Kind: c.Kind, ID: c.ID, Op: playback.OpCreate, After: c.Doc, Version: "v"})
	}
	raw, err := old.AppendJSON(nil)
	if err != nil || len(raw) <= auditInline {
		t.Fatalf("old record of %d bytes (%v), want a big one", len(raw), err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketAudit).Put([]byte(old.ID), raw) }); err != nil {
		t.Fatal(err)
	}
	var want []playback.AuditRecord
	for i, set := range [][]playback.Change{titles("a", 1), titles("b", 300), titles("c", 250), titles("d", 2)} {
		rec, err := s.ApplyChanges(ctx, playback.ChangeSet{Actor: "test", At: at.Add(time.Duration(i+1) * time.Second), Changes: set})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, rec)
	}
	err = s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		for _, rec := range want {
			big := len(rec.Changes) > 100
			if v := b.Get([]byte(rec.ID)); (v == nil) != big || big != (b.Bucket([]byte(rec.ID)) != nil) {
				t.Errorf("audit record of %d changes: stored inline %v, want in a bucket of its own %v", len(rec.Changes), v != nil, big)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want = append([]playback.AuditRecord{old}, want...)
	slices.Reverse(want)
	check := func(s *Store) {
		t.Helper()
		var got []playback.AuditRecord
		for before := ""; ; {
			p, err := s.ListAudit(ctx, before, 2)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p.Records...)
			if before = p.Next; before == "" {
				break
			}
		}
		if len(got) != len(want) {
			t.Fatalf("listed %d audit records, want %d", len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.ID != w.ID || len(g.Changes) != len(w.Changes) || string(g.Changes[len(g.Changes)-1].After) != string(w.Changes[len(w.Changes)-1].After) {
				t.Fatalf("record %d: %s with %d changes, want %s with %d", i, g.ID, len(g.Changes), w.ID, len(w.Changes))
			}
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s)
}

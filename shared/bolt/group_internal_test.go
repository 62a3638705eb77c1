package bolt

import (
	"errors"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

// TestGroupCommitIsolatesFailures drives one shared transaction by hand:
// a function that wrote and then failed, and one that panicked, must not
// cost the others their writes; the failure that saw rolled-back writes
// runs again first in the next transaction, and that outcome stands.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	errFull := errors.New("full")
	put := func(k string) func(*bbolt.Tx) error {
		return func(tx *bbolt.Tx) error { return tx.Bucket(bucketPlans).Put([]byte(k), []byte(k)) }
	}
	bRuns := 0
	newCall := func(fn func(*bbolt.Tx) error) *call { return &call{fn: fn, done: make(chan outcome, 1)} }
	a, c := newCall(put("a")), newCall(put("c"))
	b := newCall(func(tx *bbolt.Tx) error {
		bRuns++
		if err := put("b")(tx); err != nil {
			return err
		}
		return errFull
	})
	d := newCall(func(*bbolt.Tx) error { panic("boom") })

	s.gc.commit([]*call{a, b, c, d})
	for name, cl := range map[string]*call{"a": a, "c": c} {
		if o := <-cl.done; o.err != nil || o.lead || o.panicked != nil {
			t.Errorf("%s: %+v, want committed", name, o)
		}
	}
	if o := <-d.done; o.panicked != "boom" {
		t.Errorf("panicking call got %+v, want its panic", o)
	}
	if len(b.done) != 0 || len(s.gc.queue) != 1 || s.gc.queue[0] != b {
		t.Fatalf("failed call after another's rolled-back write: done %d, queue %v; want it queued first", len(b.done), s.gc.queue)
	}
	q := s.gc.queue
	s.gc.queue = nil
	s.gc.commit(q)
	if o := <-b.done; !errors.Is(o.err, errFull) {
		t.Errorf("failed call run first: %+v, want its error", o)
	}
	if bRuns != 2 {
		t.Errorf("failing function ran %d times, want 2", bRuns)
	}
	err = s.db.View(func(tx *bbolt.Tx) error {
		for k, want := range map[string]bool{"a": true, "b": false, "c": true} {
			if got := tx.Bucket(bucketPlans).Get([]byte(k)) != nil; got != want {
				t.Errorf("key %s stored = %v, want %v", k, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

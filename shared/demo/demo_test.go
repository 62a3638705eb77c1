package demo_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// openStore is an empty store for one test.
func openStore(t *testing.T) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestSeedLeavesWhatExists: seeding again (every local start) keeps what
// an operator changed since (a plan's limits, an account's settings), as
// Seed promises; only what is missing is written.
func TestSeedLeavesWhatExists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	if err := demo.Seed(ctx, s, "http://127.0.0.1:8080", now); err != nil {
		t.Fatal(err)
	}
	plan, err := s.GetPlan(ctx, "standard")
	if err != nil {
		t.Fatal(err)
	}
	plan.MaxStreams = 3
	if err := s.PutPlan(ctx, plan); err != nil {
		t.Fatal(err)
	}
	acct, err := s.GetAccount(ctx, demo.AccountFamily)
	if err != nil {
		t.Fatal(err)
	}
	acct.ParentalCap = 12
	if err := s.PutAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	if err := demo.Seed(ctx, s, "http://127.0.0.1:8080", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p, err := s.GetPlan(ctx, "standard"); err != nil || p.MaxStreams != 3 {
		t.Errorf("plan after a second seed: %+v (%v), want max streams 3", p, err)
	}
	if a, err := s.GetAccount(ctx, demo.AccountFamily); err != nil || a.ParentalCap != 12 {
		t.Errorf("account after a second seed: parental cap %d (%v), want 12", a.ParentalCap, err)
	}
}

// failLink is a store whose LinkCustomer fails: the state a runner killed
// between seeding an account and linking its Stripe customer leaves.
type failLink struct{ *bolt.Store }

func (failLink) LinkCustomer(context.Context, string, string) error {
	return errors.New("killed before the link committed")
}

// TestSeedAfterACrashLinksTheCustomer: a first start killed between two of
// Seed's writes leaves part of the demo data; the next start's Seed
// completes it, so the demo account's Stripe customer resolves.
func TestSeedAfterACrashLinksTheCustomer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	if err := demo.Seed(ctx, failLink{s}, "http://127.0.0.1:8080", now); err == nil {
		t.Fatal("seed with a failing link succeeded")
	}
	if err := demo.Seed(ctx, s, "http://127.0.0.1:8080", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, a := range demo.Accounts(now) {
		if a.CustomerID == "" {
			continue
		}
		if id, err := s.AccountIDByCustomer(ctx, a.CustomerID); err != nil || id != a.ID {
			t.Errorf("customer %s after the restart's seed: %q, %v; want account %s", a.CustomerID, id, err, a.ID)
		}
	}
}

// TestMoveEdges: a runner started on a new address points the demo edges
// still at the old one there, and writes nothing else: an operator's base
// URL, settings and deletions stay.
func TestMoveEdges(t *testing.T) {
	t.Parallel()
	const oldBase, newBase = "http://127.0.0.1:8080", "http://127.0.0.1:9090"
	for _, tc := range []struct {
		name   string
		change func(*playback.Edge) // the operator's, before the move; nil deletes the edge
		want   func(playback.Edge) bool
	}{
		{name: "untouched edge moves", change: func(*playback.Edge) {},
			want: func(e playback.Edge) bool { return e.BaseURL == newBase }},
		{name: "drained edge moves and stays drained", change: func(e *playback.Edge) { e.Disabled, e.Weight = true, 2 },
			want: func(e playback.Edge) bool { return e.BaseURL == newBase && e.Disabled && e.Weight == 2 }},
		{name: "edge pointed elsewhere stays", change: func(e *playback.Edge) { e.BaseURL = "https://cdn.example" },
			want: func(e playback.Edge) bool { return e.BaseURL == "https://cdn.example" }},
		{name: "deleted edge stays deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := openStore(t)
			now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
			if err := demo.Seed(ctx, s, oldBase, now); err != nil {
				t.Fatal(err)
			}
			if tc.change == nil {
				if _, err := s.ApplyChanges(ctx, playback.ChangeSet{Actor: "test", Changes: []playback.Change{
					{Kind: playback.KindEdge, ID: "fra-1"}}}); err != nil { // no Doc: a delete
					t.Fatal(err)
				}
			} else if _, err := s.UpdateEdge(ctx, "fra-1", func(e *playback.Edge) error { tc.change(e); return nil }); err != nil {
				t.Fatal(err)
			}
			bases := func(base string) map[string]string {
				return map[string]string{demo.CDNCloudFront: base, demo.CDNCloudCDN: base}
			}
			if err := demo.MoveEdges(ctx, s, bases(oldBase), bases(newBase)); err != nil {
				t.Fatal(err)
			}
			e, err := s.GetEdge(ctx, "fra-1")
			if tc.change == nil {
				if !playback.IsCode(err, playback.CodeNotFound) {
					t.Errorf("deleted edge after the move: %+v, %v", e, err)
				}
				return
			}
			if err != nil || !tc.want(e) {
				t.Errorf("edge after the move: %+v, %v", e, err)
			}
		})
	}
}

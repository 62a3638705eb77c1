package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// stopsAfterUpdates is a store that stops, as a killed runner does, after
// its first n edge updates.
type stopsAfterUpdates struct {
	demo.Store
	n int
}

var errStopped = errors.New("the runner was killed here")

func (s *stopsAfterUpdates) UpdateEdge(ctx context.Context, id string, fn func(*playback.Edge) error) (playback.Edge, error) {
	if s.n == 0 {
		return playback.Edge{}, errStopped
	}
	s.n--
	return s.Store.UpdateEdge(ctx, id, fn)
}

// TestDemoEdgesFollowAfterAStartStoppedMidMove: a start on a new address
// moves the demo edges one by one and only then records the address; one
// killed after moving some of them (or whose store failed) must not
// strand those at its address, which no runner serves once it is gone:
// the next start moves every demo edge to its own.
func TestDemoEdgesFollowAfterAStartStoppedMidMove(t *testing.T) {
	t.Parallel()
	const first, killed = "http://127.0.0.1:1001", "http://127.0.0.1:1002"
	for _, tc := range []struct {
		name, next string
	}{
		{name: "next start on another address", next: "http://127.0.0.1:1003"},
		{name: "next start back on the first address", next: first},
		{name: "next start on the killed one's address", next: killed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			store, err := bolt.Open(filepath.Join(dir, "playplane.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			start := func(s demo.Store, url string) error {
				a := &App{cfg: Config{DataDir: dir, Seed: new(true)}, now: time.Now, cdnBases: map[string]string{localCloudFront: url, localCloudCDN: url}}
				_, err := a.seed(ctx, s)
				return err
			}
			if err := start(store, first); err != nil {
				t.Fatal(err)
			}
			if err := start(&stopsAfterUpdates{Store: store, n: 1}, killed); !errors.Is(err, errStopped) {
				t.Fatalf("the start stopped mid-move: %v", err)
			}
			if err := start(store, tc.next); err != nil {
				t.Fatal(err)
			}
			for _, id := range demo.EdgeIDs() {
				e, err := store.GetEdge(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if e.BaseURL != tc.next {
					t.Errorf("demo edge %s at %s after the restart, the runner serves %s", id, e.BaseURL, tc.next)
				}
			}
		})
	}
}

// TestDemoDataDirFromBeforeTheRecordStaysSeeded: a data directory seeded by
// a runner from before demo-seeded.json holds the demo records and no
// record. A plain start must go on with it as seeded, moving the demo
// edges to its own address (their health reports come from there), not
// take the demo records for the user's catalogue and leave the edges
// where nothing serves them; likewise one such runner killed mid-seed is
// finished. A single record of the user's makes it theirs.
func TestDemoDataDirFromBeforeTheRecordStaysSeeded(t *testing.T) {
	t.Parallel()
	const before, now = "http://127.0.0.1:2001", "http://127.0.0.1:2002"
	for _, tc := range []struct {
		name string
		// prepare leaves the store as the older runner did.
		prepare    func(t *testing.T, s *bolt.Store)
		wantSeeded bool
	}{
		{name: "seeded whole", prepare: func(t *testing.T, s *bolt.Store) {
			if err := demo.SeedOn(context.Background(), s, map[string]string{localCloudFront: before, localCloudCDN: before}, time.Now()); err != nil {
				t.Fatal(err)
			}
		}, wantSeeded: true},
		{name: "killed after the plans", prepare: func(t *testing.T, s *bolt.Store) {
			for _, p := range demo.Plans {
				if err := s.PutPlan(context.Background(), p); err != nil {
					t.Fatal(err)
				}
			}
		}, wantSeeded: true},
		{name: "a plan of the user's beside the demo's", prepare: func(t *testing.T, s *bolt.Store) {
			if err := s.PutPlan(context.Background(), playback.Plan{ID: "gold", Name: "Gold", MaxStreams: 1, MaxDevices: 1, MaxQuality: playback.QualityHD}); err != nil {
				t.Fatal(err)
			}
			if err := s.PutPlan(context.Background(), demo.Plans[0]); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			store, err := bolt.Open(filepath.Join(dir, "playplane.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			tc.prepare(t, store)
			a := &App{cfg: Config{DataDir: dir}, store: store, log: slog.New(slog.DiscardHandler), now: time.Now, cdnBases: map[string]string{localCloudFront: now, localCloudCDN: now}}
			seeded, err := a.seed(ctx, store)
			if err != nil || seeded != tc.wantSeeded {
				t.Fatalf("seed = %v, %v; want %v", seeded, err, tc.wantSeeded)
			}
			edges, err := store.ListEdges(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.wantSeeded {
				if len(edges) != 0 {
					t.Fatalf("the user's data directory got %d demo edges", len(edges))
				}
				return
			}
			if len(edges) != len(demo.EdgeIDs()) {
				t.Fatalf("%d edges, want the %d demo edges", len(edges), len(demo.EdgeIDs()))
			}
			for _, e := range edges {
				if e.BaseURL != now {
					t.Errorf("demo edge %s at %s, the runner serves %s", e.ID, e.BaseURL, now)
				}
			}
			if _, err := store.GetTitle(ctx, "big-buck-bunny"); err != nil {
				t.Fatalf("demo title after the start: %v", err)
			}
		})
	}
}

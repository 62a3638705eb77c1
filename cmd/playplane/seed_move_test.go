package main

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

package ranker

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering"
)

// countingStore counts the edge table reads of a real store.
type countingStore struct {
	*bolt.Store
	lists atomic.Int64
}

func (s *countingStore) ListEdges(ctx context.Context) ([]playback.Edge, error) {
	s.lists.Add(1)
	return s.Store.ListEdges(ctx)
}

func newTable(t *testing.T) (*edgeTable, *countingStore, time.Time) {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	t0 := time.Now().UTC().Truncate(time.Second)
	if err := demo.SeedOn(context.Background(), store, map[string]string{"local": "http://edge.test"}, t0); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: store}
	return &edgeTable{store: cs, refresh: 5 * time.Second, log: slog.New(slog.DiscardHandler)}, cs, t0
}

func TestEdgeTableRefresh(t *testing.T) {
	t.Parallel()
	tab, store, t0 := newTable(t)
	ctx := context.Background()
	ix, err := tab.index(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{0, time.Second, 4 * time.Second} {
		if again, _ := tab.index(ctx, t0.Add(at)); again != ix {
			t.Fatalf("rebuilt %s after the first build", at)
		}
	}
	if n := store.lists.Load(); n != 1 {
		t.Fatalf("%d reads within the refresh interval", n)
	}
	rebuilt, _ := tab.index(ctx, t0.Add(5*time.Second))
	if rebuilt == ix || store.lists.Load() != 2 {
		t.Fatalf("not rebuilt after the refresh interval (%d reads)", store.lists.Load())
	}
	tab.invalidate()
	if after, _ := tab.index(ctx, t0.Add(6*time.Second)); after == rebuilt || store.lists.Load() != 3 {
		t.Fatal("not rebuilt after invalidate")
	}

	// The store fails: rankings continue on the previous snapshot, which
	// is retried once per refresh interval, not on every request.
	store.Store.Close()
	last := tab.snap.Load().ix
	for i := range 10 {
		got, err := tab.index(ctx, t0.Add(12*time.Second+time.Duration(i)*100*time.Millisecond))
		if err != nil || got != last {
			t.Fatalf("with the store down: %v, same snapshot %v", err, got == last)
		}
	}
	if n := store.lists.Load(); n != 4 {
		t.Fatalf("%d reads with the store down, want one more", n)
	}
}

func TestEdgeTableColdStartFailure(t *testing.T) {
	t.Parallel()
	tab, store, t0 := newTable(t)
	store.Store.Close()
	_, err := tab.index(context.Background(), t0)
	if !playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("err = %v, want unavailable", err)
	}
}

// TestEdgeTableConcurrent ranks from many goroutines while reports are
// applied and the table is rebuilt; run with -race.
func TestEdgeTableConcurrent(t *testing.T) {
	t.Parallel()
	tab, store, t0 := newTable(t)
	tab.refresh = time.Millisecond
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writerGone atomic.Bool
	wg.Go(func() {
		defer writerGone.Store(true)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			clock.Store(t0.Add(time.Duration(i) * time.Millisecond).UnixNano())
			id := []string{"fra-1", "fra-2", "lhr-1"}[i%3]
			_, err := store.UpdateEdge(ctx, id, func(e *playback.Edge) error {
				next, _ := e.Apply(playback.EdgeReport{EdgeID: id, Load: float64(i % 90), Capacity: 100, Healthy: i%7 != 0, ReportedAt: now()}, now())
				*e = next
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			tab.invalidate()
		}
	})
	var picks atomic.Int64
	// The rankers go on until the table has been rebuilt at least once
	// (the writer runs until they are done), not for a while of wall
	// time: on a busy machine they could finish before the writer ran.
	var rankers sync.WaitGroup
	for g := range 8 {
		rankers.Go(func() {
			buf := make([]steering.Choice, 0, steering.MaxResults)
			for i := 0; i < 300 || (store.lists.Load() < 2 && !writerGone.Load()); i++ {
				ix, err := tab.index(ctx, now())
				if err != nil {
					t.Error(err)
					return
				}
				r, err := ix.Pick(steering.Query{Location: steering.Location{Lat: 50, Lon: 8}, Title: fmt.Sprint("t", g, i), Now: now()}, buf)
				if err != nil {
					t.Error(err)
					return
				}
				if len(r.Choices) > 0 {
					picks.Add(1)
				}
			}
		})
	}
	rankers.Wait()
	close(stop)
	wg.Wait()
	if picks.Load() == 0 || store.lists.Load() < 2 {
		t.Fatalf("%d picks, %d table reads", picks.Load(), store.lists.Load())
	}
}

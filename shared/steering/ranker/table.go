package ranker

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering"
)

// edgeTable caches the edge table as a steering.Index. Requests read the
// current snapshot without locking; one request at a time rebuilds it when
// it is older than the refresh interval or a report was applied in this
// process, while the others keep ranking with the previous snapshot.
// Serving a snapshot a few seconds old is safe because Pick drops edges
// whose reports aged past the staleness limit at query time, so a dead
// edge leaves rankings on time even when the store cannot be read.
type edgeTable struct {
	cfg   steering.Config
	store interface {
		ListEdges(context.Context) ([]playback.Edge, error)
	}
	refresh time.Duration
	log     *slog.Logger

	snap atomic.Pointer[snapshot]
	// gen counts reports applied in this process; a snapshot built before
	// the latest one is rebuilt on the next request.
	gen atomic.Uint64
	mu  sync.Mutex // held while rebuilding
}

type snapshot struct {
	ix      *steering.Index
	builtAt time.Time
	gen     uint64
}

func (s *snapshot) fresh(now time.Time, gen uint64, refresh time.Duration) bool {
	return s.gen == gen && now.Sub(s.builtAt) < refresh
}

// index returns the snapshot to rank with at now.
func (t *edgeTable) index(ctx context.Context, now time.Time) (*steering.Index, error) {
	snap := t.snap.Load()
	if snap != nil && snap.fresh(now, t.gen.Load(), t.refresh) {
		return snap.ix, nil
	}
	if snap == nil {
		t.mu.Lock()
	} else if !t.mu.TryLock() {
		return snap.ix, nil // being rebuilt; the previous snapshot serves meanwhile
	}
	defer t.mu.Unlock()
	return t.rebuildLocked(ctx, now)
}

func (t *edgeTable) rebuildLocked(ctx context.Context, now time.Time) (*steering.Index, error) {
	gen := t.gen.Load()
	old := t.snap.Load()
	if old != nil && old.fresh(now, gen, t.refresh) {
		return old.ix, nil
	}
	edges, err := t.store.ListEdges(ctx)
	var ix *steering.Index
	if err == nil {
		ix, err = steering.NewIndex(t.cfg, edges)
	}
	if err != nil {
		if old == nil {
			if playback.ErrorCode(err).Retryable() {
				return nil, playback.Unavailable(err, "edge table unavailable")
			}
			return nil, err
		}
		// Keep ranking with the previous snapshot and try again after a
		// refresh interval rather than on every request.
		t.log.ErrorContext(ctx, "edge table refresh failed; ranking with the previous snapshot",
			"err", err, "snapshot_age", now.Sub(old.builtAt).String())
		t.snap.Store(&snapshot{ix: old.ix, builtAt: now, gen: gen})
		return old.ix, nil
	}
	if len(ix.Rejected) > 0 {
		t.log.WarnContext(ctx, "edges left out of rankings", "rejected", len(ix.Rejected), "first", ix.Rejected[0].Error())
	}
	t.snap.Store(&snapshot{ix: ix, builtAt: now, gen: gen})
	return ix, nil
}

// invalidate makes the next request rebuild the snapshot.
func (t *edgeTable) invalidate() { t.gen.Add(1) }

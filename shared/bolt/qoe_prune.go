package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

// bucketQoEPruned holds keyQoEPruned: the time the views that ended
// before it are gone by (PruneQoEViews), as big-endian Unix nanoseconds.
var bucketQoEPruned = []byte("qoe_views_pruned")

var keyQoEPruned = []byte("ended_before")

// pruneBudget is about how many records (views read, beats deleted) one
// of PruneQoEViews' transactions touches: enough to clear a backlog in
// few commits, few enough that a commit shared with heartbeat batches
// (groupCommit) stays small. A view goes with all its beats at once, so
// one transaction may go past it by one view's beats.
const pruneBudget = 1000

// qoeViewEnd is when the view took, or could take, its last heartbeat:
// its lease's end, past which every heartbeat is refused, or, for a view
// whose reports told none, its last beat's acceptance.
func qoeViewEnd(v playback.QoEView) time.Time {
	if v.LeaseEndsBy.After(v.UpdatedAt) {
		return v.LeaseEndsBy
	}
	return v.UpdatedAt
}

// PruneQoEViews removes the views that ended (qoeViewEnd) more than the
// QoE retention (WithQoERetention) before now, each with its beats, in
// transactions of about pruneBudget records, and returns how many it
// removed. A view still playing stays however long ago it started. From
// then on a report of a view it is not keeping that started before that
// time writes nothing (applyQoEReports, prunedViewOf): it would bring back
// a view of that one heartbeat, with figures the view never had.
func (s *Store) PruneQoEViews(ctx context.Context, now time.Time) (pruned int, err error) {
	before := now.Add(-s.qoeRetention)
	return s.sweep(ctx, "PruneQoEViews", func(tx *bbolt.Tx, from []byte) (int, []byte, error) {
		return pruneQoEViews(tx, before, from, s.pruneBudget)
	})
}

// pruneQoEViews removes, from the view at key from on (the first if nil),
// the views that ended before before, with their beats, until about budget
// records are touched; next is the key to go on from, nil when no view
// left can have ended before before.
func pruneQoEViews(tx *bbolt.Tx, before time.Time, from []byte, budget int) (n int, next []byte, err error) {
	pruned := tx.Bucket(bucketQoEPruned)
	if was := prunedBefore(pruned); before.After(was) {
		if err := pruned.Put(keyQoEPruned, binary.BigEndian.AppendUint64(nil, uint64(before.UnixNano())^1<<63)); err != nil {
			return 0, nil, err
		}
	}
	views, beats := tx.Bucket(bucketQoEViews), tx.Bucket(bucketQoEBeats)
	// Views are in start hour order and none ends before it starts: the
	// first one that started in before's hour or later ends the run.
	end := binary.BigEndian.AppendUint64(nil, uint64(playback.QoEHour(before).Unix()))
	var gone []bucketKey
	c := views.Cursor()
	k, raw := c.First()
	if from != nil {
		k, raw = c.Seek(from)
	}
	touched := 0
	for ; k != nil && bytes.Compare(k[:8], end) <= 0; k, raw = c.Next() {
		if touched >= budget {
			next = bytes.Clone(k)
			break
		}
		touched++
		id := string(k[9:])
		v, err := decode[playback.QoEView](raw, "qoe view", id)
		if err != nil {
			return 0, nil, err
		}
		if !qoeViewEnd(v).Before(before) {
			continue
		}
		n++
		gone = append(gone, bucketKey{bucketQoEViews, bytes.Clone(k)})
		prefix := qoeBeatPrefix(id)
		bc := beats.Cursor()
		for bk, _ := bc.Seek(prefix); bk != nil && bytes.HasPrefix(bk, prefix); bk, _ = bc.Next() {
			gone = append(gone, bucketKey{bucketQoEBeats, bytes.Clone(bk)})
			touched++
		}
	}
	return n, next, deleteAll(tx, gone)
}

// prunedViewOf reports whether rs, the reports of a view not stored, are
// of one PruneQoEViews may have removed: one that started before the
// views it removed had ended. The clouds' warehouse keeps every
// heartbeat, so a late one there joins all the others of its view; here
// they are gone, and a view of it alone would count figures the view
// never had (a late stop of a view that played is an exit before start)
// in an hour the retention no longer covers. The reports' own lease ends
// cannot tell: a heartbeat accepted after the others the view was pruned
// with, delivered after the sweep, left the lease later than the view as
// stored ended, and so maybe after the mark. Every view starts before it
// ends, so every view removed started before the mark; one that started
// after it is new.
//
// The mark only moves forward, so one sweep under a clock that ran ahead
// would drop every new view until real time caught up with it: no view
// counts as pruned that started after atMost, the retention before the
// store's clock (prunedAtMost), by which a sweep with a right clock can
// have removed nothing that ended later.
func prunedViewOf(tx *bbolt.Tx, rs []playback.QoEReport, atMost time.Time) bool {
	before := prunedBefore(tx.Bucket(bucketQoEPruned))
	if before.After(atMost) {
		before = atMost
	}
	for _, r := range rs {
		if !r.SessionStartedAt.Before(before) {
			return false
		}
	}
	return true
}

// prunedAtMost is the latest time before which a sweep at the store's
// clock can have removed the views that ended: prunedViewOf's bound.
func (s *Store) prunedAtMost() time.Time { return s.now().Add(-s.qoeRetention) }

// prunedBefore is the time views that ended before it are gone by
// (keyQoEPruned), zero before the first PruneQoEViews.
func prunedBefore(b *bbolt.Bucket) time.Time {
	raw := b.Get(keyQoEPruned)
	if len(raw) != 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(raw)^1<<63)).UTC()
}

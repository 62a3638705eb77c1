package bolt

import (
	"bytes"
	"context"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

// DefaultRetention is how long sessions and their QoE outlive their end
// unless WithRetention says otherwise: the clouds' default
// (FIRESTORE_RETENTION, DYNAMODB_RETENTION), so a late heartbeat hears
// "gone" as long here as there.
const DefaultRetention = 48 * time.Hour

// WithRetention keeps sessions and their QoE d after they end
// (PruneExpired); 0 is DefaultRetention.
func WithRetention(d time.Duration) Option { return func(o *options) { o.retention = d } }

// expiring is a bucket PruneExpired sweeps, with the clouds' TTL rule of
// its records.
type expiring struct {
	bucket []byte
	// expired reports whether the record k, v is past its expiry at now
	// with the store's retention, and the records of other buckets that
	// go with it.
	expired func(tx *bbolt.Tx, k, v []byte, now time.Time, retention time.Duration) (bool, []bucketKey, error)
}

// bucketKey locates a record: its bucket and key.
type bucketKey struct{ bucket, key []byte }

// expirings are swept in this order: a QoE record is kept while its
// session is, so the sessions go after it.
var expirings = []expiring{
	{bucketQoE, qoeExpired},
	{bucketSessions, sessionExpired},
	{bucketInbox, eventExpired},
}

// sessionExpired: the clouds' sessions expire at the later of the lease's
// expiry and the end, plus the retention; a session holding its lease at
// now has its expiry after now, so it is kept. The account index entry of
// a session whose lease lapsed (no admission of its account dropped it)
// goes with the session.
func sessionExpired(_ *bbolt.Tx, k, v []byte, now time.Time, retention time.Duration) (bool, []bucketKey, error) {
	sess, err := decode[playback.Session](v, "session", string(k))
	if err != nil || now.Before(sess.RetainedFrom().Add(retention)) {
		return false, nil, err
	}
	return true, []bucketKey{{bucketAccountSessions, key(sess.AccountID, sess.ID)}}, nil
}

// qoeExpired: the clouds keep a session's QoE the retention after the
// later of its last update and the write ("as long as the session record
// it describes"). Bolt keeps no write time, so it keeps the QoE while the
// session it describes is kept (the write follows the heartbeat the
// session's lease took), and after that the retention past its last
// update.
func qoeExpired(tx *bbolt.Tx, k, v []byte, now time.Time, retention time.Duration) (bool, []bucketKey, error) {
	q, err := decode[playback.SessionQoE](v, "session_qoe", string(k))
	if err != nil || now.Before(q.UpdatedAt.Add(retention)) {
		return false, nil, err
	}
	if raw := tx.Bucket(bucketSessions).Get(k); raw != nil {
		gone, _, err := sessionExpired(tx, k, raw, now, retention)
		return gone, nil, err
	}
	return true, nil, nil
}

// eventExpired: the clouds' inbox events expire at their ExpiresAt, which
// MarkEventProcessed sets, and a parked event at the end of its wait
// (ParkEvent's expiresAt), with its parked index entry. A redelivery
// before ExpiresAt still finds its event; pending events, and parked ones
// without an end, are kept whatever they carry.
func eventExpired(_ *bbolt.Tx, k, v []byte, now time.Time, _ time.Duration) (bool, []bucketKey, error) {
	ev, err := decode[playback.InboxEvent](v, "event", string(k))
	switch {
	case err != nil || !eventGone(ev, now):
		return false, nil, err
	case ev.ParkExpired(now):
		return true, []bucketKey{{bucketInboxParked, parkIndexKey(ev)}}, nil
	}
	return true, nil, nil
}

// PruneExpired removes what the clouds' TTL would have deleted by now, by
// the store's clock (WithClock), which the inbox's reads hide by too:
// sessions and their QoE the retention (WithRetention) after they ended,
// processed inbox events past their ExpiresAt and parked ones whose wait
// ended, in transactions of about pruneBudget records, and returns how
// many it removed. A session holding its lease stays, and so does its QoE;
// pending inbox events and parked ones without an end stay. Until a sweep
// removes them, reads return such sessions and QoE as they did; the
// inbox's reads already hide such events (eventGone), as the clouds' do.
func (s *Store) PruneExpired(ctx context.Context) (pruned int, err error) {
	now := s.now()
	for _, e := range expirings {
		n, err := s.sweep(ctx, "PruneExpired", func(tx *bbolt.Tx, from []byte) (int, []byte, error) {
			return pruneExpired(tx, e, now, s.retention, from, s.pruneBudget)
		})
		pruned += n
		if err != nil {
			return pruned, err
		}
	}
	return pruned, nil
}

// sweep runs step in one transaction after another, each from the key the
// last one stopped at (nil at first), until step says there is nothing
// left (next nil), and returns how many records the steps removed.
func (s *Store) sweep(ctx context.Context, op string, step func(tx *bbolt.Tx, from []byte) (n int, next []byte, err error)) (removed int, err error) {
	var from []byte
	for {
		var n int
		var next []byte
		if err := s.update(ctx, op, func(tx *bbolt.Tx) (err error) {
			n, next, err = step(tx, from)
			return err
		}); err != nil {
			return removed, err
		}
		removed += n
		if next == nil {
			return removed, nil
		}
		from = next
	}
}

// deleteAll deletes the records gone locates. Sweeps delete after their
// cursor walks: a bbolt cursor may skip the record after one deleted
// under it.
func deleteAll(tx *bbolt.Tx, gone []bucketKey) error {
	for _, g := range gone {
		if err := tx.Bucket(g.bucket).Delete(g.key); err != nil {
			return err
		}
	}
	return nil
}

// pruneExpired removes, from the record at key from on (the first if nil),
// e's records expired at now, with what goes with them, until budget
// records are read; next is the key to go on from, nil at the bucket's
// end.
func pruneExpired(tx *bbolt.Tx, e expiring, now time.Time, retention time.Duration, from []byte, budget int) (n int, next []byte, err error) {
	var gone []bucketKey
	c := tx.Bucket(e.bucket).Cursor()
	k, v := c.First()
	if from != nil {
		k, v = c.Seek(from)
	}
	for read := 0; k != nil; k, v = c.Next() {
		if read >= budget {
			next = bytes.Clone(k)
			break
		}
		read++
		expired, with, err := e.expired(tx, k, v, now, retention)
		if err != nil {
			return 0, nil, err
		}
		if expired {
			n++
			gone = append(append(gone, bucketKey{e.bucket, bytes.Clone(k)}), with...)
		}
	}
	if err := deleteAll(tx, gone); err != nil {
		return 0, nil, err
	}
	return n, next, nil
}

package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

var _ playback.QoEStore = (*Store)(nil)

// bucketQoEViews holds views by start hour, so an hour range is one cursor
// run: big-endian unix hour \x00 sessionID -> QoEView.
var bucketQoEViews = []byte("qoe_views")

func qoeViewKey(hour time.Time, sessionID string) []byte {
	k := make([]byte, 8, 9+len(sessionID))
	binary.BigEndian.PutUint64(k, uint64(hour.Unix()))
	k = append(k, 0)
	return append(k, sessionID...)
}

// ApplyQoEReports folds the reports into their views in one transaction:
// the heartbeat consumer calls it once per batch.
func (s *Store) ApplyQoEReports(ctx context.Context, reports []playback.QoEReport) error {
	if len(reports) == 0 {
		return nil
	}
	return s.update(ctx, "ApplyQoEReports", func(tx *bbolt.Tx) error {
		for _, r := range reports {
			if err := applyQoEReport(tx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// applyQoEReport folds r into its view in tx: ApplyQoEReports, and
// SaveProgressBatch for writes that carry a View.
func applyQoEReport(tx *bbolt.Tx, r playback.QoEReport) error {
	k := qoeViewKey(playback.QoEHour(r.SessionStartedAt), r.SessionID)
	var v playback.QoEView
	if raw := tx.Bucket(bucketQoEViews).Get(k); raw != nil {
		var err error
		if v, err = decode[playback.QoEView](raw, "qoe view", r.SessionID); err != nil {
			return err
		}
	}
	v.Apply(r)
	return put(tx, bucketQoEViews, k, v)
}

// QoEViews lists the views whose start hour is in [from's hour, to).
func (s *Store) QoEViews(ctx context.Context, from, to time.Time) (views []playback.QoEView, err error) {
	err = s.view(ctx, "QoEViews", func(tx *bbolt.Tx) error {
		views = views[:0]
		c := tx.Bucket(bucketQoEViews).Cursor()
		start := qoeViewKey(playback.QoEHour(from), "")
		end := make([]byte, 8)
		binary.BigEndian.PutUint64(end, uint64(to.Unix()))
		for k, raw := c.Seek(start[:8]); k != nil && bytes.Compare(k[:8], end) < 0; k, raw = c.Next() {
			v, err := decode[playback.QoEView](raw, "qoe view", string(k[9:]))
			if err != nil {
				return err
			}
			views = append(views, v)
		}
		return nil
	})
	return views, err
}

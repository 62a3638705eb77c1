package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

var _ playback.QoEStore = (*Store)(nil)

// bucketQoEViews holds views by start hour, so an hour range is one cursor
// run: big-endian unix hour \x00 sessionID -> QoEView.
var bucketQoEViews = []byte("qoe_views")

// bucketQoEBeats holds each view's beats (playback.QoEView.Beats) apart from
// the view, so that a heartbeat writes one small record, not all its
// view's beats again: sessionID \x00 device time \x00 received at (each
// big-endian, order-preserving) -> the beat's figures. A session's beats
// are one cursor run, in QoEBeat order.
var bucketQoEBeats = []byte("qoe_view_beats")

// qoeBeatPrefix starts the keys of a session's beats.
func qoeBeatPrefix(sessionID string) []byte {
	return append(append(make([]byte, 0, len(sessionID)+1+8+8), sessionID...), 0)
}

func qoeBeatKey(sessionID string, b playback.QoEBeat) []byte {
	k := qoeBeatPrefix(sessionID)
	// The sign bit flipped, Unix nanoseconds sort as the times do.
	k = binary.BigEndian.AppendUint64(k, uint64(b.DeviceTime.UnixNano())^1<<63)
	return binary.BigEndian.AppendUint64(k, uint64(b.ReceivedAt.UnixNano())^1<<63)
}

func appendQoEBeat(b []byte, x *playback.QoEBeat) []byte {
	b = binary.AppendVarint(b, x.StartupMS)
	b = binary.AppendVarint(b, x.PlayedMS)
	b = binary.AppendVarint(b, x.RebufferMS)
	b = binary.AppendVarint(b, int64(x.BitrateKbps))
	b = appendString(b, x.CDN)
	b = appendString(b, x.EdgeID)
	var flags byte
	if x.Corrected {
		flags |= beatCorrected
	}
	if c := x.Carried; c != nil {
		flags |= beatCarried
		b = binary.AppendVarint(b, int64(c.Reports))
		b = binary.AppendVarint(b, int64(c.Corrections))
		b = binary.AppendVarint(b, int64(c.PeakBitrateKbps))
		b = binary.AppendUvarint(b, math.Float64bits(c.BitrateKbpsMS))
	}
	return append(b, flags)
}

// A beat record's last byte: beatCorrected, and beatCarried when the
// playback.QoECarried figures come before it. Records written before
// beatCarried end in 0 or 1.
const (
	beatCorrected = 1 << iota
	beatCarried
)

func decodeQoEBeat(k, raw []byte) (playback.QoEBeat, error) {
	if len(k) < 16 || len(raw) == 0 {
		return playback.QoEBeat{}, errShort
	}
	at := func(b []byte) time.Time { return time.Unix(0, int64(binary.BigEndian.Uint64(b)^1<<63)).UTC() }
	x := playback.QoEBeat{DeviceTime: at(k[len(k)-16:]), ReceivedAt: at(k[len(k)-8:])}
	r := reader{b: raw[:len(raw)-1]}
	x.StartupMS, x.PlayedMS, x.RebufferMS = r.varint(), r.varint(), r.varint()
	x.BitrateKbps = int(r.varint())
	x.CDN, x.EdgeID = r.string(), r.string()
	flags := raw[len(raw)-1]
	x.Corrected = flags&beatCorrected != 0
	if flags&beatCarried != 0 {
		x.Carried = &playback.QoECarried{Reports: int(r.varint()), Corrections: int(r.varint()), PeakBitrateKbps: int(r.varint()),
			BitrateKbpsMS: math.Float64frombits(r.uvarint())}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the beat", len(r.b))
	}
	return x, r.err
}

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
		// The consumer hands a session's reports over together: each run
		// of one view's reads and writes the view once. The function runs
		// again when a shared transaction is rolled back (groupCommit), so
		// it walks a copy of the slice header, never the one it was given.
		reports := reports
		for len(reports) > 0 {
			n := 1
			for n < len(reports) && reports[n].SessionID == reports[0].SessionID && reports[n].SessionStartedAt.Equal(reports[0].SessionStartedAt) {
				n++
			}
			if err := applyQoEReports(tx, reports[:n], s.prunedAtMost()); err != nil {
				return err
			}
			reports = reports[n:]
		}
		return nil
	})
}

// applyQoEReports folds rs, reports of one view, into it in tx:
// ApplyQoEReports, and SaveProgressBatch for writes that carry Views. The
// view is stored without its beats (bucketQoEBeats): a beat after every
// other, as heartbeats mostly come, follows the stored figures; one that
// does not (late, out of order) has them computed again from all of the
// view's. A view stored before views kept beats first gets the beat that
// carries its figures (playback.QoEView.Carry), or the first such beat
// would compute them from itself alone. Reports of a view PruneQoEViews
// removed write nothing (prunedViewOf, with its bound prunedAtMost).
func applyQoEReports(tx *bbolt.Tx, rs []playback.QoEReport, prunedAtMost time.Time) error {
	id := rs[0].SessionID
	k := qoeViewKey(playback.QoEHour(rs[0].SessionStartedAt), id)
	var v playback.QoEView
	if raw := tx.Bucket(bucketQoEViews).Get(k); raw != nil {
		var err error
		if v, err = decode[playback.QoEView](raw, "qoe view", id); err != nil {
			return err
		}
	} else if prunedViewOf(tx, rs, prunedAtMost) {
		return nil
	}
	kept := storedBeats{bucket: tx.Bucket(bucketQoEBeats), sessionID: id}
	if carried, ok := v.Carry(); ok {
		// The view's beats are kept apart, so v.Beats is empty whether or
		// not it was stored before views kept beats; one that was has
		// none in the bucket either.
		prefix := qoeBeatPrefix(id)
		if k, _ := kept.bucket.Cursor().Seek(prefix); k == nil || !bytes.HasPrefix(k, prefix) {
			if _, err := kept.Add(carried); err != nil {
				return err
			}
		}
	}
	for _, r := range rs {
		if _, err := v.Fold(kept, r); err != nil {
			return err
		}
	}
	return put(tx, bucketQoEViews, k, v)
}

// storedBeats keeps a view's beats in bucketQoEBeats, apart from the view,
// so that a heartbeat writes one small record, not all its view's beats
// again.
type storedBeats struct {
	bucket    *bbolt.Bucket
	sessionID string
}

var _ playback.QoEBeats = storedBeats{}

func (s storedBeats) Add(b playback.QoEBeat) (bool, error) {
	k := qoeBeatKey(s.sessionID, b)
	if s.bucket.Get(k) != nil {
		return false, nil
	}
	if err := s.bucket.Put(k, appendQoEBeat(nil, &b)); err != nil {
		return false, fmt.Errorf("put qoe beat: %w", err)
	}
	return true, nil
}

// All are the stored beats of the session's view, in QoEBeat order.
func (s storedBeats) All() ([]playback.QoEBeat, error) {
	prefix := qoeBeatPrefix(s.sessionID)
	var out []playback.QoEBeat
	c := s.bucket.Cursor()
	for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
		b, err := decodeQoEBeat(k[len(prefix):], raw)
		if err != nil {
			return nil, fmt.Errorf("decode qoe beat of %q: %w", s.sessionID, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// QoEViews lists the views whose start hour is in [from's hour, to), all
// at once, as QoEViewPage does a page at a time: for tests and tools that
// look at a few views; it is not part of playback.QoEStore, whose readers
// page.
func (s *Store) QoEViews(ctx context.Context, from, to time.Time) (views []playback.QoEView, err error) {
	err = s.view(ctx, "QoEViews", func(tx *bbolt.Tx) error {
		views, err = listQoEViews(tx, from, to, playback.QoEViewMark{}, -1)
		return err
	})
	return views, err
}

// QoEViewPage lists at most limit of the views whose start hour is in
// [from's hour, to) after the view at after, in key order: the keys are QoEViewMark's order (each
// run below is; the runs are in the hours' order).
func (s *Store) QoEViewPage(ctx context.Context, from, to time.Time, after playback.QoEViewMark, limit int) (views []playback.QoEView, err error) {
	if limit <= 0 {
		return nil, nil
	}
	err = s.view(ctx, "QoEViewPage", func(tx *bbolt.Tx) error {
		views, err = listQoEViews(tx, from, to, after, limit)
		return err
	})
	return views, err
}

// listQoEViews lists the views of start hours in [from's hour, to) that
// come after after, limit of them at most (all when limit < 0).
func listQoEViews(tx *bbolt.Tx, from, to time.Time, after playback.QoEViewMark, limit int) ([]playback.QoEView, error) {
	var views []playback.QoEView
	c := tx.Bucket(bucketQoEViews).Cursor()
	var afterKey []byte
	if !after.IsZero() {
		afterKey = qoeViewKey(after.Hour, after.SessionID)
	}
	// The keys' unsigned Unix hours put the hours before Unix 0 after
	// every hour since: a range across it is two cursor runs, the hours
	// before it (to the bucket's end, hi nil) first. Within a run the keys
	// are in the hours' order, so after is a key to seek past in its own
	// run, and a run of the other sign is wholly before or after it.
	key := func(unix int64) []byte { return qoeViewKey(time.Unix(unix, 0), "")[:8] }
	run := func(start int64, hi []byte) error {
		lo := key(start)
		if afterKey != nil {
			switch afterNeg, runNeg := after.Hour.Unix() < 0, start < 0; {
			case !afterNeg && runNeg:
				return nil
			case afterNeg == runNeg && bytes.Compare(afterKey, lo) > 0:
				lo = afterKey
			}
		}
		for k, raw := c.Seek(lo); k != nil && (hi == nil || bytes.Compare(k[:8], hi) < 0); k, raw = c.Next() {
			if limit >= 0 && len(views) >= limit {
				return nil
			}
			if afterKey != nil && bytes.Equal(k, afterKey) {
				continue
			}
			v, err := decode[playback.QoEView](raw, "qoe view", string(k[9:]))
			if err != nil {
				return err
			}
			views = append(views, v)
		}
		return nil
	}
	start, end := playback.QoEHour(from).Unix(), to.Unix()
	if start < 0 && end >= 0 {
		if err := run(start, nil); err != nil {
			return nil, err
		}
		start = 0
	}
	if err := run(start, key(end)); err != nil {
		return nil, err
	}
	return views, nil
}

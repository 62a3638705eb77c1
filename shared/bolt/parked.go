package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

// bucketInboxParked indexes the parked inbox events by source and park key
// in ListParkedEvents' order, so listing a key reads that key's events
// only: a scan of the source decoded every event ever recorded (payload and
// all) on each link, a cost per event that grew with the history.
//
//	len(source) source len(key) key  seconds nanos  id -> nil
//
// The lengths (two bytes each, big-endian) keep "a" and "a\x00b" apart;
// seconds are big-endian with the sign bit flipped and nanos big-endian, so
// byte order is (ParkedAt, ID) order, as playback.CompareParked.
//
// An entry exists exactly while its event is unprocessed and parked under
// that key at that time: every write of bucketInbox that changes either
// keeps it so in the same transaction. Files written before the index are
// indexed once, by the Open that creates the bucket (indexParkedEvents).
var bucketInboxParked = []byte("inbox_parked")

func parkIndexPrefix(source, parkKey string) []byte {
	b := make([]byte, 0, 4+len(source)+len(parkKey)+12)
	b = binary.BigEndian.AppendUint16(b, uint16(len(source)))
	b = append(b, source...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(parkKey)))
	return append(b, parkKey...)
}

func appendParkPosition(b []byte, at time.Time, id string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(at.Unix())^(1<<63))
	b = binary.BigEndian.AppendUint32(b, uint32(at.Nanosecond()))
	return append(b, id...)
}

func parkIndexKey(ev playback.InboxEvent) []byte {
	return appendParkPosition(parkIndexPrefix(ev.Source, ev.ParkedKey), ev.ParkedAt, ev.ID)
}

func parked(ev playback.InboxEvent) bool { return ev.ProcessedAt.IsZero() && ev.ParkedKey != "" }

// putEvent writes ev over old (zero if none) and moves its index entry.
func putEvent(tx *bbolt.Tx, old, ev playback.InboxEvent) error {
	idx := tx.Bucket(bucketInboxParked)
	if parked(old) {
		if err := idx.Delete(parkIndexKey(old)); err != nil {
			return err
		}
	}
	if parked(ev) {
		if len(ev.Source) > 0xffff {
			return fmt.Errorf("bolt: inbox source of %d bytes", len(ev.Source))
		}
		if err := idx.Put(parkIndexKey(ev), nil); err != nil {
			return err
		}
	}
	return put(tx, bucketInbox, key(ev.Source, ev.ID), ev)
}

// indexParkedEvents fills bucketInboxParked from the inbox of a file
// written before it existed. It runs in the transaction that creates the
// bucket, so a crash leaves either both or neither.
func indexParkedEvents(tx *bbolt.Tx) error {
	idx := tx.Bucket(bucketInboxParked)
	return tx.Bucket(bucketInbox).ForEach(func(k, v []byte) error {
		ev, err := decode[playback.InboxEvent](v, "event", string(k))
		if err != nil || !parked(ev) {
			return err
		}
		return idx.Put(parkIndexKey(ev), nil)
	})
}

// listParked reads up to limit events of the index from after, decoding
// only those.
func listParked(tx *bbolt.Tx, source, parkKey string, after playback.ParkCursor, limit int) ([]playback.InboxEvent, error) {
	prefix := parkIndexPrefix(source, parkKey)
	from := appendParkPosition(bytes.Clone(prefix), after.At, after.ID)
	var out []playback.InboxEvent
	c := tx.Bucket(bucketInboxParked).Cursor()
	k, _ := c.Seek(from)
	if bytes.Equal(k, from) {
		k, _ = c.Next() // the cursor is exclusive
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Next() {
		id := string(k[len(prefix)+12:])
		ev, err := get[playback.InboxEvent](tx, bucketInbox, key(source, id), "event", id)
		if err != nil {
			return nil, fmt.Errorf("parked index entry of %s: %w", id, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

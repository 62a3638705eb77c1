package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
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
// that key at that time: every write of bucketInbox goes through putEvent,
// which keeps it so in the same transaction (PruneExpired deletes a parked
// event with its entry; processed events no index holds), and every Open builds it
// again from the inbox (indexInbox).
var bucketInboxParked = []byte("inbox_parked")

// bucketInboxPending indexes the pending events (playback.InboxEvent.Pending)
// by source and ReceivedAt, for the sweeper's ListPendingEvents, which
// scanned the whole inbox too:
//
//	len(source) source  seconds nanos  id -> nil
//
// It is kept and created as bucketInboxParked is.
var bucketInboxPending = []byte("inbox_pending")

// inboxIndexes are the inbox's index buckets, each with the rule of which
// events it holds and under which key.
var inboxIndexes = []struct {
	bucket []byte
	holds  func(playback.InboxEvent) bool
	key    func(playback.InboxEvent) []byte
}{
	{bucketInboxParked, parked, parkIndexKey},
	{bucketInboxPending, playback.InboxEvent.Pending, pendingIndexKey},
}

func sourcePrefix(source string) []byte {
	b := make([]byte, 0, 2+len(source)+12)
	b = binary.BigEndian.AppendUint16(b, uint16(len(source)))
	return append(b, source...)
}

func pendingIndexKey(ev playback.InboxEvent) []byte {
	return appendParkPosition(sourcePrefix(ev.Source), ev.ReceivedAt, ev.ID)
}

func parkIndexPrefix(source, parkKey string) []byte {
	b := binary.BigEndian.AppendUint16(sourcePrefix(source), uint16(len(parkKey)))
	return append(b, parkKey...)
}

// appendParkPosition appends (at, id) so that byte order is time order
// (then id order).
func appendParkPosition(b []byte, at time.Time, id string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(at.Unix())^(1<<63))
	b = binary.BigEndian.AppendUint32(b, uint32(at.Nanosecond()))
	return append(b, id...)
}

// parkPositionLen is the length of what appendParkPosition appends before
// the id: the seconds and the nanoseconds.
const parkPositionLen = 8 + 4

// splitParkEntry reads a parked index entry past its source's prefix
// (sourcePrefix): the park key and the event's id.
func splitParkEntry(rest []byte) (parkKey []byte, id string) {
	keyLen := int(binary.BigEndian.Uint16(rest))
	return rest[2 : 2+keyLen], string(rest[2+keyLen+parkPositionLen:])
}

func parkIndexKey(ev playback.InboxEvent) []byte {
	return appendParkPosition(parkIndexPrefix(ev.Source, ev.ParkedKey), ev.ParkedAt, ev.ID)
}

func parked(ev playback.InboxEvent) bool { return ev.ProcessedAt.IsZero() && ev.ParkedKey != "" }

// putEvent writes ev over old (zero if none) and moves its index entries.
func putEvent(tx *bbolt.Tx, old, ev playback.InboxEvent) error {
	if len(ev.Source) > 0xffff || len(ev.ParkedKey) > 0xffff { // the indexes' two-byte lengths
		return fmt.Errorf("bolt: inbox event %s: source or park key too long", ev.ID)
	}
	for _, ix := range inboxIndexes {
		b := tx.Bucket(ix.bucket)
		if ix.holds(old) {
			if err := b.Delete(ix.key(old)); err != nil {
				return err
			}
		}
		if ix.holds(ev) {
			if err := b.Put(ix.key(ev), nil); err != nil {
				return err
			}
		}
	}
	return put(tx, bucketInbox, key(ev.Source, ev.ID), ev)
}

// indexInbox builds the inbox's index buckets afresh from the inbox, on
// every Open: a file last written by a binary from before the indexes (a
// rollback, then an upgrade again) holds events they lack or list wrongly,
// and trusting an index that exists would leave those events parked or
// pending for good. One decode of the inbox per start costs what a single
// sweep did before the indexes. It runs in Open's transaction, so a crash
// leaves the indexes as they were. It first deletes the parked events whose
// wait ended (playback.InboxStore.ParkEvent): bolt has no TTL, and reads
// have treated them as gone since.
func indexInbox(tx *bbolt.Tx, now time.Time) error {
	if err := dropExpiredParked(tx, now); err != nil {
		return err
	}
	for _, ix := range inboxIndexes {
		if tx.Bucket(ix.bucket) != nil {
			if err := tx.DeleteBucket(ix.bucket); err != nil {
				return err
			}
		}
		b, err := tx.CreateBucket(ix.bucket)
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketInbox).ForEach(func(k, v []byte) error {
			ev, err := decode[playback.InboxEvent](v, "event", string(k))
			if err != nil || !ix.holds(ev) {
				return err
			}
			return b.Put(ix.key(ev), nil)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// dropExpiredParked deletes the inbox events parked past their expiry at
// now, before the indexes are built from the inbox.
func dropExpiredParked(tx *bbolt.Tx, now time.Time) error {
	inbox := tx.Bucket(bucketInbox)
	var expired [][]byte
	err := inbox.ForEach(func(k, v []byte) error {
		ev, err := decode[playback.InboxEvent](v, "event", string(k))
		if err == nil && ev.ParkExpired(now) {
			expired = append(expired, bytes.Clone(k))
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, k := range expired {
		if err := inbox.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// listPending reads up to limit pending events received before before,
// oldest first, decoding only those.
func listPending(tx *bbolt.Tx, source string, before time.Time, limit int) ([]playback.InboxEvent, error) {
	prefix := sourcePrefix(source)
	end := appendParkPosition(bytes.Clone(prefix), before, "")
	var out []playback.InboxEvent
	c := tx.Bucket(bucketInboxPending).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.Compare(k, end) < 0 && len(out) < limit; k, _ = c.Next() {
		id := string(k[len(prefix)+12:])
		ev, err := get[playback.InboxEvent](tx, bucketInbox, key(source, id), "event", id)
		if err != nil {
			return nil, fmt.Errorf("pending index entry of %s: %w", id, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// listParked reads up to limit events of the index from after, decoding
// only those, and leaves out those whose wait ended.
func listParked(tx *bbolt.Tx, source, parkKey string, after playback.ParkCursor, limit int, now time.Time) ([]playback.InboxEvent, error) {
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
		if !ev.ParkExpired(now) {
			out = append(out, ev)
		}
	}
	return out, nil
}

// countParked counts, up to limit, the source's live events parked under
// keys with prefix. The index orders keys by length first, so those with
// prefix are not side by side: it reads the source's entries and skips
// the others' by their key alone.
func countParked(tx *bbolt.Tx, source, prefix string, limit int, now time.Time) (int, error) {
	sp := sourcePrefix(source)
	n := 0
	c := tx.Bucket(bucketInboxParked).Cursor()
	for k, _ := c.Seek(sp); k != nil && bytes.HasPrefix(k, sp) && n < limit; k, _ = c.Next() {
		parkKey, id := splitParkEntry(k[len(sp):])
		if !bytes.HasPrefix(parkKey, []byte(prefix)) {
			continue
		}
		ev, err := get[playback.InboxEvent](tx, bucketInbox, key(source, id), "event", id)
		if err != nil {
			return 0, fmt.Errorf("parked index entry of %s: %w", id, err)
		}
		if !ev.ParkExpired(now) {
			n++
		}
	}
	return n, nil
}

// parkedKeys lists, up to limit, the keys with prefix after after under
// which the source has live parked events, in playback.CompareParkKeys
// order.
func parkedKeys(tx *bbolt.Tx, source, prefix, after string, limit int, now time.Time) ([]string, error) {
	sp := sourcePrefix(source)
	live := map[string]bool{}
	c := tx.Bucket(bucketInboxParked).Cursor()
	for k, _ := c.Seek(sp); k != nil && bytes.HasPrefix(k, sp); k, _ = c.Next() {
		pk, id := splitParkEntry(k[len(sp):])
		parkKey := string(pk)
		if live[parkKey] || !strings.HasPrefix(parkKey, prefix) || after != "" && playback.CompareParkKeys(parkKey, after) <= 0 {
			continue
		}
		ev, err := get[playback.InboxEvent](tx, bucketInbox, key(source, id), "event", id)
		if err != nil {
			return nil, fmt.Errorf("parked index entry of %s: %w", id, err)
		}
		if !ev.ParkExpired(now) {
			live[parkKey] = true
		}
	}
	keys := slices.SortedFunc(maps.Keys(live), playback.CompareParkKeys)
	return keys[:min(len(keys), limit)], nil
}

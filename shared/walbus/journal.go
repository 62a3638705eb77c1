// Package walbus is the durable half of the embedded bus: an append-only
// log file that holds every message the local bus accepted until the
// message's handler acknowledged it (membus takes it as its Journal). A
// runner killed with messages in flight finds them in the log on its next
// start and delivers them again.
//
// Commits are grouped: every Append that arrives while a commit is being
// written joins the next one, so concurrent publishers share one write and
// one fsync. Acknowledgements are appended as records of their own without
// an fsync: losing one to a power cut only redelivers a message, which
// at-least-once delivery allows. When the log has grown well past what is
// still live, it is rewritten with only the live records and renamed over
// the old one.
//
// A power cut in the middle of an fsync may leave any of the pages written
// since the one before on disk, and the others as zeros or garbage, with
// whole records after damaged ones: none of those records was answered
// for, so a restart cuts the log at the first damage. Damage in what an
// fsync had made durable is another matter, and fails Open (DamagedError);
// the log says how far it was durable in records of its own (kindSynced).
package walbus

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/playplane/playplane/shared/atomicfile"
	"github.com/playplane/playplane/shared/playback"
)

// Record kinds.
const (
	kindAppend = 1 // a message accepted on a topic
	kindAck    = 2 // a message's handler acknowledged it
	kindDead   = 3 // a message exhausted its attempts
	// kindSynced says that the log's bytes before an offset were fsynced
	// when it was written. A rewrite begins the log with one (for all of
	// it: it is renamed into place only once durable); a commit begins
	// with one when an fsync since the last one made more durable. Its
	// payload is the kind, the log's id (random, so that a stale page of
	// another log, which a file system may hand out again, says nothing
	// about this one) and the offset, both 8 bytes little-endian.
	kindSynced = 4
	// kindRedrive moves a dead letter back to the messages not yet
	// acknowledged (Redrive); its body is the message's id.
	kindRedrive = 5
)

const syncedLen = 1 + 8 + 8 // a kindSynced record's payload

// A record is its payload's length and CRC-32C, then the payload: kind,
// topic, and the message (append, dead) or its id (ack, redrive); kindSynced has a
// payload of its own. A torn tail —
// what a crash in the middle of a write leaves — fails the length or the
// checksum and ends the log there.
const headerLen = 8

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// maxRecord bounds a record's payload: far above any message the bus
// takes (a heartbeat is a few hundred bytes, a Stripe pointer less).
const maxRecord = 64 << 20

// minCompact is the log size below which it is never rewritten.
const minCompact = 8 << 20

// Journal is a log-file message journal. Its methods are safe for
// concurrent use; it takes no file lock against a second process (the
// runner opens it after the store, whose lock keeps a second runner on the
// same data directory out).
type Journal struct {
	path string
	sync bool
	log  *slog.Logger
	kick chan struct{} // work queued for the committer
	done chan struct{} // the committer has stopped

	mu      sync.Mutex
	next    *group // appends waiting for the next commit
	settles []settle
	closed  bool

	commits, appended atomic.Int64 // for benchmarks: messages per commit

	// Owned by the committer after Open.
	f      *os.File
	size   int64 // bytes of whole records in f
	broken error // a write failed and could not be undone: refuse more
	seq    uint64
	topics map[string]*topicState
	live   int64 // bytes of the live records
	buf    []byte
	// synced is how much of f an fsync made durable, and marked the most a
	// kindSynced record in f says of it; id is f's id in those records.
	synced, marked int64
	id             uint64
	// closeErr is what closing the log said when the committer stopped:
	// Close answers it (a close may report a failed write-back).
	closeErr error

	compactAt int64 // minCompact; lower in tests
	// syncDir makes a rename in the log's directory durable; tests make it
	// fail, which a directory fsync cannot be made to do here.
	syncDir func(dir string) error
	// syncFile makes a log file's writes durable; tests take the file at
	// each one as a power cut would leave it, which a real one cannot be
	// made to do here.
	syncFile func(f *os.File) error
	// logReader is what replay reads the log through; tests make it fail,
	// which a file's reads cannot be made to do here.
	logReader func(f *os.File) io.Reader
}

// topicState is what the log holds live for one topic: encoded messages by
// id, with their order of acceptance.
type topicState struct {
	pending map[string]liveMsg
	dead    map[string]liveMsg
}

type liveMsg struct {
	seq uint64
	raw []byte // the encoded message
}

type group struct {
	since    time.Time // the first append
	appends  []appendReq
	redrives []*redriveReq
	done     chan struct{}
	err      error
}

type appendReq struct {
	topic string
	msgs  []playback.Message
}

// redriveReq asks a commit to move topic's dead letters back to pending;
// the commit says in ids which it moved.
type redriveReq struct {
	topic string
	ids   []string
}

type settle struct {
	topic string
	acked []string
	dead  []playback.Message
}

// Option tunes Open.
type Option func(*Journal)

// WithoutSync skips the fsync of each commit: a journaled message then
// survives a killed process (it is in the page cache when Append returns)
// but not a power loss. It matches the store's bolt.WithoutSync.
func WithoutSync() Option { return func(j *Journal) { j.sync = false } }

// Open reads the log at path (creating it if needed), rewrites it with its
// live records and starts the committer. Only one journal may use a path.
func Open(path string, opts ...Option) (*Journal, error) {
	j := &Journal{path: path, sync: true, log: slog.Default(), kick: make(chan struct{}, 1), done: make(chan struct{}),
		topics: map[string]*topicState{}, compactAt: minCompact, syncDir: atomicfile.SyncDir, syncFile: (*os.File).Sync,
		logReader: func(f *os.File) io.Reader { return f }}
	for _, o := range opts {
		o(j)
	}
	if err := j.replay(); err != nil {
		return nil, fmt.Errorf("walbus.Open %s: %w", path, err)
	}
	if err := j.compact(); err != nil {
		if j.f != nil {
			j.f.Close()
		}
		return nil, fmt.Errorf("walbus.Open %s: %w", path, err)
	}
	go j.commitLoop()
	return j, nil
}

func (j *Journal) topic(name string) *topicState {
	t := j.topics[name]
	if t == nil {
		t = &topicState{pending: map[string]liveMsg{}, dead: map[string]liveMsg{}}
		j.topics[name] = t
	}
	return t
}

// put keeps m as id's message in set (a topic's pending or dead), its
// bytes counted live in place of those of a message it replaces: replay
// and commit keep the count that decides a rewrite the same way.
func (j *Journal) put(set map[string]liveMsg, id string, m liveMsg) {
	j.drop(set, id)
	set[id] = m
	j.live += int64(len(m.raw))
}

// drop forgets id's message in set, and its bytes as live.
func (j *Journal) drop(set map[string]liveMsg, id string) {
	if m, ok := set[id]; ok {
		delete(set, id)
		j.live -= int64(len(m.raw))
	}
}

// replay reads the log into the live set, up to a torn tail, which the
// rewrite after it drops.
func (j *Journal) replay() error {
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(j.logReader(f), 1<<16)
	var hdr [headerLen]byte
	var good int64
	var marks syncMarks
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if torn(err) {
				break // the end, or a torn header
			}
			return fmt.Errorf("read record at %d: %w", good, err)
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n == 0 || n > maxRecord {
			// A torn header's length: no record is empty (its CRC, 0, is
			// what a zeroed tail holds) or this large.
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			if torn(err) {
				break
			}
			return fmt.Errorf("read record at %d: %w", good, err)
		}
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[4:]) {
			break
		}
		if payload[0] == kindSynced {
			marks.read(good, payload)
		} else if err := j.apply(payload); err != nil {
			return fmt.Errorf("record at %d: %w", good, err)
		}
		good += headerLen + int64(n)
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() > good {
		// Whether the damage is a power cut's lies in the whole records
		// after it, if any: a kindSynced one may say the damaged bytes had
		// been fsynced.
		// proof is the record that says so: the rewrite's first (at 0),
		// which says the whole rewrite was, or one after the damage.
		next, whole := int64(-1), 0
		proof, synced := int64(-1), int64(0)
		if marks.synced > good {
			proof, synced = 0, marks.synced
		}
		err := wholeRecords(f, good, st.Size(), func(at int64, p []byte) {
			if next < 0 {
				next = at
			}
			whole++
			if p[0] == kindSynced && marks.read(at, p) && marks.synced > good && proof < 0 {
				proof, synced = at, marks.synced
			}
		})
		if err != nil {
			return fmt.Errorf("look for records after the damaged one at %d: %w", good, err)
		}
		switch {
		case proof >= 0:
			return &DamagedError{Path: j.path, Offset: good, Next: proof, Synced: synced}
		case !marks.known && next >= 0:
			// A log written before kindSynced records cannot tell: a crash
			// cuts only the last write, so a whole record after the
			// damage is taken for damage in what was acknowledged.
			return &DamagedError{Path: j.path, Offset: good, Next: next}
		}
		j.log.Warn("walbus: log ends in a write a crash cut short; dropping it", "path", j.path,
			"good", good, "size", st.Size(), "whole_records_dropped", whole)
	}
	return nil
}

// DamagedError is Open's answer when the log is damaged where it held
// records already acknowledged as durable: Open leaves the file as it is
// rather than drop them, and the operator chooses.
type DamagedError struct {
	Path   string
	Offset int64 // the damaged record: those before it are whole
	// Next is the whole record that tells: a kindSynced one that says the
	// log was durable up to Synced, past Offset (after the damage, or the
	// rewrite's first at 0); or, in a log written before those records
	// (Synced 0), any after the damage.
	Next, Synced int64
}

func (e *DamagedError) Error() string {
	why := fmt.Sprintf("yet a whole record follows at offset %d: not a torn tail", e.Next)
	if e.Synced > 0 {
		why = fmt.Sprintf("yet the record at offset %d says the log had been fsynced up to offset %d: "+
			"acknowledged records are damaged, not a torn write", e.Next, e.Synced)
	}
	return fmt.Sprintf("record at offset %d is damaged, %s, so the log is left as it is; to start anyway, "+
		"cut it at the damage (truncate -s %d %s: the records from there on are not delivered) or move it aside "+
		"(none of its messages are)", e.Offset, why, e.Offset, e.Path)
}

// syncMarks is what a log's kindSynced records say.
type syncMarks struct {
	id     uint64
	known  bool  // the log begins with one: it has them
	synced int64 // the most they say was durable
}

// read takes in the kindSynced record p at offset at, and reports whether
// it is one of this log's.
func (m *syncMarks) read(at int64, p []byte) bool {
	if len(p) != syncedLen {
		return false
	}
	id, synced := binary.LittleEndian.Uint64(p[1:]), int64(binary.LittleEndian.Uint64(p[9:]))
	switch {
	case at == 0:
		m.id, m.known, m.synced = id, true, synced
	case !m.known || id != m.id || synced > at:
		// Only a rewrite's first record is written before what it says
		// was durable (the whole new log is, before it is renamed into
		// place): one that says more is no record of this log.
		return false
	default:
		m.synced = max(m.synced, synced)
	}
	return true
}

func appendSynced(b []byte, id uint64, synced int64) []byte {
	start := len(b)
	b = append(b, make([]byte, headerLen)...)
	b = append(b, kindSynced)
	b = binary.LittleEndian.AppendUint64(b, id)
	b = binary.LittleEndian.AppendUint64(b, uint64(synced))
	sealRecord(b[start:])
	return b
}

// wholeRecords calls fn with every whole record (length and checksum
// right) at or after from in f, of size bytes, in order: one after the
// other, and past damage, from the next one findRecord finds.
func wholeRecords(f *os.File, from, size int64, fn func(at int64, payload []byte)) error {
	var hdr [headerLen]byte
	for at := from; at < size; {
		p, err := func() ([]byte, error) {
			if _, err := f.ReadAt(hdr[:], at); err != nil {
				return nil, err
			}
			n := binary.LittleEndian.Uint32(hdr[:4])
			if n == 0 || n > maxRecord || int64(n) > size-at-headerLen {
				return nil, nil
			}
			p := make([]byte, n)
			if _, err := f.ReadAt(p, at+headerLen); err != nil {
				return nil, err
			}
			if crc32.Checksum(p, crcTable) != binary.LittleEndian.Uint32(hdr[4:]) {
				return nil, nil
			}
			return p, nil
		}()
		if err != nil && !torn(err) {
			return err
		}
		if p != nil {
			fn(at, p)
			at += headerLen + int64(len(p))
			continue
		}
		if at, err = findRecord(f, at+1, size); err != nil || at < 0 {
			return err
		}
	}
	return nil
}

// findRecord returns the offset of the first whole record with a matching
// checksum that starts at or after from in f, of size bytes, or -1 if none
// does. It tries every offset: a damaged length leaves no other way to
// where the next record starts. A record found by chance in other bytes
// needs a plausible length and kind and then a CRC-32C match of 1 in 2^32;
// it fails Open only in a log without kindSynced records (in one with them
// it would need to be one, with the log's id), and a real record is never
// missed.
func findRecord(f *os.File, from, size int64) (int64, error) {
	// The length, checksum and kind of each offset are read from a window of
	// the file. The payloads of the offsets that pass are checksummed in one
	// read each (checkRecords): of the window, for those that end in it, so
	// that the record after a damaged one is found without reading on; of
	// the file, for those that run past it, in batches.
	const window, batch = 1 << 20, 1 << 16
	buf := make([]byte, window)
	var near, far []candidate
	// Found in one, a record may yet come after one in the other.
	either := func(found int64, other []candidate) (int64, error) {
		at, err := checkRecords(f, other)
		if err != nil || at < 0 {
			return found, err
		}
		return min(at, found), nil
	}
	for base := from; base < size-headerLen; {
		w := buf[:min(window, size-base)]
		if _, err := f.ReadAt(w, base); err != nil {
			return -1, err
		}
		// Offsets below last have their header and kind in w.
		last := len(w) - headerLen
		if base+int64(len(w)) < size {
			last = len(w) - 2*headerLen // the rest is the next window's
		}
		near = near[:0]
		for i := 0; i < last; i++ {
			p := base + int64(i)
			n := binary.LittleEndian.Uint32(w[i:])
			if n == 0 || n > maxRecord || int64(n) > size-p-headerLen {
				continue
			}
			if k := w[i+headerLen]; k < kindAppend || k > kindRedrive {
				continue
			}
			c := candidate{at: p, end: p + headerLen + int64(n), sum: binary.LittleEndian.Uint32(w[i+4:])}
			if c.end <= base+int64(len(w)) {
				near = append(near, c)
				continue
			}
			far = append(far, c)
			if len(far) == batch {
				if at, err := checkRecords(f, far); at >= 0 || err != nil {
					return either(at, near)
				}
				far = far[:0]
			}
		}
		if at, err := checkRecords(f, near); at >= 0 || err != nil {
			return either(at, far)
		}
		base += int64(last)
	}
	return checkRecords(f, far)
}

// candidate is an offset whose length and kind could be a record's.
type candidate struct {
	at, end int64 // the header; the end of the payload
	sum     uint32
}

// checkRecords returns the first of cands whose payload has its checksum,
// or -1. Checksumming each payload on its own would read the bytes of
// overlapping ones again and again (a log's worth for each candidate in
// random bytes): instead one pass takes the CRC-32C of the file from the
// first payload's start to every payload's start and end, and the CRC of
// a payload follows from those of its two ends (crcShift).
func checkRecords(f *os.File, cands []candidate) (int64, error) {
	if len(cands) == 0 {
		return -1, nil
	}
	var marks []int64
	for _, c := range cands {
		marks = append(marks, c.at+headerLen, c.end)
	}
	slices.Sort(marks)
	marks = slices.Compact(marks)
	crcs := make([]uint32, len(marks)) // of the file from marks[0] to each mark
	r := bufio.NewReaderSize(io.NewSectionReader(f, marks[0], marks[len(marks)-1]-marks[0]), 1<<16)
	var crc uint32
	for k := 1; k < len(marks); k++ {
		for left := marks[k] - marks[k-1]; left > 0; {
			b, err := r.Peek(int(min(left, int64(r.Size()))))
			if err != nil {
				return -1, err
			}
			crc = crc32.Update(crc, crcTable, b)
			r.Discard(len(b))
			left -= int64(len(b))
		}
		crcs[k] = crc
	}
	crcAt := func(off int64) uint32 {
		k, _ := slices.BinarySearch(marks, off)
		return crcs[k]
	}
	for _, c := range cands {
		start := c.at + headerLen
		if crcAt(c.end)^crcShift(crcAt(start), c.end-start) == c.sum {
			return c.at, nil
		}
	}
	return -1, nil
}

// crcShift returns what the CRC-32C crc of some bytes becomes when n zero
// bytes follow them: crc times x^(8n) modulo the polynomial. A CRC being
// linear, that of a then b is crcShift(crc(a), len(b)) ^ crc(b).
func crcShift(crc uint32, n int64) uint32 {
	for k := 0; n > 0; k, n = k+1, n>>1 {
		if n&1 != 0 {
			crc = gfMul(crc, xPow8[k])
		}
	}
	return crc
}

// xPow8[k] is x^(8*2^k) modulo the polynomial: what 2^k zero bytes
// multiply a CRC by.
var xPow8 = func() (t [64]uint32) {
	x := uint32(1) << 30 // x^1: bit 31 is x^0 in the reflected form
	for range 3 {
		x = gfMul(x, x)
	}
	for k := range t {
		t[k] = x
		x = gfMul(x, x)
	}
	return t
}()

// gfMul returns a*b modulo the Castagnoli polynomial, both in the
// reflected form hash/crc32 keeps CRCs in (bit 31 the coefficient of x^0).
func gfMul(a, b uint32) uint32 {
	var p uint32
	for bit := uint32(1) << 31; bit != 0; bit >>= 1 {
		if a&bit != 0 {
			p ^= b
		}
		b = b>>1 ^ crc32.Castagnoli&-(b&1) // b*x: x^31 wraps round
	}
	return p
}

// torn tells a read that ran into the end of the log (whole, or in the
// middle of a record a crash cut short) from one that failed: only the
// first may end replay, which rewrites the log without what it did not
// read.
func torn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// apply plays one record's payload onto the live set.
func (j *Journal) apply(p []byte) error {
	if len(p) == 0 {
		return errCorrupt
	}
	kind := p[0]
	r := reader{b: p[1:]}
	topic := string(r.bytes())
	if r.err != nil {
		return r.err
	}
	body := r.b
	t := j.topic(topic)
	switch kind {
	case kindAppend, kindDead:
		id, err := decodeID(body)
		if err != nil {
			return err
		}
		j.seq++
		m := liveMsg{seq: j.seq, raw: slices.Clone(body)}
		if kind == kindAppend {
			j.put(t.pending, id, m)
			return nil
		}
		j.drop(t.pending, id)
		j.put(t.dead, id, m)
	case kindAck:
		j.drop(t.pending, string(body))
		return nil
	case kindRedrive:
		j.redrive(t, string(body))
		return nil
	default:
		return fmt.Errorf("%w: record kind %d", errCorrupt, kind)
	}
	return nil
}

func appendRecord(b []byte, kind byte, topic string, body func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, headerLen)...)
	b = append(b, kind)
	b = appendString(b, topic)
	b = body(b)
	sealRecord(b[start:])
	return b
}

// sealRecord fills in the header of the record rec.
func sealRecord(rec []byte) {
	payload := rec[headerLen:]
	binary.LittleEndian.PutUint32(rec, uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(payload, crcTable))
}

// compact writes the live records to a new log, makes it durable and
// renames it over the old one, then continues appending to it.
func (j *Journal) compact() error {
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	type entry struct {
		kind  byte
		topic string
		m     liveMsg
	}
	// j.live is these records' bytes already: put and drop keep it.
	var all []entry
	for name, t := range j.topics {
		for _, m := range t.pending {
			all = append(all, entry{kindAppend, name, m})
		}
		for _, m := range t.dead {
			all = append(all, entry{kindDead, name, m})
		}
	}
	slices.SortFunc(all, func(a, b entry) int { return cmp.Compare(a.m.seq, b.m.seq) })
	// The first record, which says how much of the log is durable, is
	// written last, when that is known.
	id := rand.Uint64()
	w := bufio.NewWriterSize(f, 1<<16)
	size := int64(headerLen + syncedLen)
	if _, err := w.Write(make([]byte, size)); err != nil {
		return fail(err)
	}
	var rec []byte
	for _, e := range all {
		rec = appendRecord(rec[:0], e.kind, e.topic, func(b []byte) []byte { return append(b, e.m.raw...) })
		if _, err := w.Write(rec); err != nil {
			return fail(err)
		}
		size += int64(len(rec))
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if _, err := f.WriteAt(appendSynced(rec[:0], id, size), 0); err != nil {
		return fail(err)
	}
	if err := j.syncFile(f); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fail(err)
	}
	// The new file is the log from here on, whatever happens next: appends
	// to the old one would go to a file no longer at the path.
	if j.f != nil {
		j.f.Close() // its live records are all in the new file
	}
	j.f, j.size, j.synced, j.marked, j.id = f, size, size, size, id
	if err := j.syncDir(filepath.Dir(j.path)); err != nil {
		if !j.sync {
			return err // without fsyncs the journal promises nothing across a power cut
		}
		// A power cut may undo the rename, and with it every record
		// appended to the new file: acknowledge no more appends, as after
		// a failed fsync of the log.
		j.broken = fmt.Errorf("log rewritten but its rename not made durable: %w", err)
		return j.broken
	}
	return nil
}

// Append stores msgs of topic and returns once they are written (and, by
// default, fsynced). A context that ends after the messages joined a
// commit does not take them back: Append then still waits for the commit
// so that its answer is true.
func (j *Journal) Append(ctx context.Context, topic string, msgs []playback.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("walbus.Append: %w", err)
	}
	for i := range msgs {
		// Replay takes a longer record for a torn one.
		if n := messageBound(topic, &msgs[i]); n > maxRecord {
			return playback.Errorf(playback.CodeTooLarge, "message_too_large",
				"walbus.Append: message %s of up to %d bytes, the journal takes at most %d", msgs[i].ID, n, maxRecord)
		}
	}
	return j.join("Append", func(g *group) { g.appends = append(g.appends, appendReq{topic: topic, msgs: msgs}) })
}

// join adds a request to the next commit's group (add, under j.mu) and
// waits for that commit: Append and Redrive answer once what they asked
// for is written, and fsynced unless WithoutSync, in one commit with the
// others'. op names the caller in its error.
func (j *Journal) join(op string, add func(g *group)) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return playback.Unavailable(errors.New("journal closed"), "walbus.%s", op)
	}
	g := j.next
	if g == nil {
		g = &group{since: time.Now(), done: make(chan struct{})}
		j.next = g
	}
	add(g)
	j.mu.Unlock()
	j.wake()
	<-g.done
	if g.err != nil {
		return fmt.Errorf("walbus.%s: %w", op, g.err)
	}
	return nil
}

// Settle records the acknowledged and the dead messages of topic in the
// next commit; it does not wait for it.
func (j *Journal) Settle(topic string, acked []string, dead []playback.Message) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return playback.Unavailable(errors.New("journal closed"), "walbus.Settle")
	}
	j.settles = append(j.settles, settle{topic: topic, acked: acked, dead: dead})
	j.mu.Unlock()
	j.wake()
	return nil
}

func (j *Journal) wake() {
	select {
	case j.kick <- struct{}{}:
	default: // the committer has a wake-up pending and will see our work
	}
}

// commitLoop writes whatever is queued, one commit at a time, until the
// journal closes with nothing left to write.
//
// A commit starts when the first append of a group comes, unless recent
// groups were larger: then it waits a little for as many appends. Without
// that, the publishers a commit releases come back one by one, the first
// one alone starts the next commit, and groups alternate between one
// append and all the others — half the commits carrying one message.
func (j *Journal) commitLoop() {
	defer close(j.done)
	peak := 0                // appends in recent commits, decaying
	var gather time.Duration // how long to wait for them: half a commit
	var lastEnd time.Time    // appends that came during a commit wait from its end
	for {
		<-j.kick
		for {
			j.mu.Lock()
			if g := j.next; g != nil && !j.closed && len(g.appends) < peak {
				if wait := gather - time.Since(later(g.since, lastEnd)); wait > 0 {
					j.mu.Unlock()
					select {
					case <-j.kick:
					case <-time.After(wait):
					}
					continue
				}
			}
			g, settles, closed := j.next, j.settles, j.closed
			j.next, j.settles = nil, nil
			j.mu.Unlock()
			if g == nil && len(settles) == 0 {
				if closed {
					if j.f != nil {
						j.closeErr = j.f.Close()
					}
					return
				}
				break
			}
			start := time.Now()
			err := j.commit(g, settles)
			if g != nil {
				lastEnd = time.Now()
				peak = max(len(g.appends), peak*3/4)
				gather = min(lastEnd.Sub(start)/2, time.Millisecond)
				g.err = err
				close(g.done)
			}
			if err != nil {
				j.log.Error("walbus: commit failed", "err", err)
			}
			if j.broken == nil && j.size > max(j.compactAt, 4*j.live) {
				if err := j.compact(); err != nil {
					j.log.Error("walbus: rewriting the log failed", "err", err)
				}
			}
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// commit writes the group's messages and the settles in one write, and
// fsyncs when the group has messages: a settle alone needs no fsync.
func (j *Journal) commit(g *group, settles []settle) error {
	if j.broken != nil {
		return j.broken
	}
	b := j.buf[:0]
	mark := j.synced > j.marked
	if mark {
		b = appendSynced(b, j.id, j.synced)
	}
	type added struct {
		topic, id string
		at, end   int // the encoded message within b
	}
	var news []added
	if g != nil {
		for _, a := range g.appends {
			for i := range a.msgs {
				m := &a.msgs[i]
				var at, end int
				b = appendRecord(b, kindAppend, a.topic, func(b []byte) []byte {
					at = len(b)
					b = appendMessage(b, m)
					end = len(b)
					return b
				})
				news = append(news, added{a.topic, m.ID, at, end})
			}
		}
	}
	for _, s := range settles {
		for _, id := range s.acked {
			b = appendRecord(b, kindAck, s.topic, func(b []byte) []byte { return append(b, id...) })
		}
		for i := range s.dead {
			b = appendRecord(b, kindDead, s.topic, func(b []byte) []byte { return appendMessage(b, &s.dead[i]) })
		}
	}
	if g != nil {
		// The topic's dead letters before this commit, in the order they
		// died: one dead-lettered by a settle in it stays dead, as replay
		// finds it.
		taken := map[string]bool{} // topics an earlier Redrive in this group moved
		for _, r := range g.redrives {
			r.ids = r.ids[:0]
			t := j.topics[r.topic]
			if t == nil || taken[r.topic] {
				continue
			}
			taken[r.topic] = true
			type dl struct {
				id  string
				seq uint64
			}
			all := make([]dl, 0, len(t.dead))
			for id, m := range t.dead {
				all = append(all, dl{id, m.seq})
			}
			slices.SortFunc(all, func(a, b dl) int { return cmp.Compare(a.seq, b.seq) })
			for _, d := range all {
				r.ids = append(r.ids, d.id)
			}
			for _, id := range r.ids {
				b = appendRecord(b, kindRedrive, r.topic, func(b []byte) []byte { return append(b, id...) })
			}
		}
	}
	j.buf = b
	if _, err := j.f.WriteAt(b, j.size); err != nil {
		// Whatever part of the write landed must not stay in front of the
		// records that come next.
		if terr := j.f.Truncate(j.size); terr != nil {
			j.broken = fmt.Errorf("log write failed and could not be undone: %w", errors.Join(err, terr))
		}
		return err
	}
	if mark {
		j.marked = j.synced
	}
	if g != nil && j.sync {
		if err := j.syncFile(j.f); err != nil {
			// The written records' fate is unknown: refuse further appends
			// rather than answer them over a log that may have lost some.
			j.broken = fmt.Errorf("log fsync failed: %w", err)
			return j.broken
		}
		j.synced = j.size + int64(len(b))
	}
	j.size += int64(len(b))
	j.commits.Add(1)
	j.appended.Add(int64(len(news)))
	for _, a := range news {
		j.seq++
		j.put(j.topic(a.topic).pending, a.id, liveMsg{seq: j.seq, raw: slices.Clone(b[a.at:a.end])})
	}
	for _, s := range settles {
		t := j.topic(s.topic)
		for _, id := range s.acked {
			j.drop(t.pending, id)
		}
		for i := range s.dead {
			id := s.dead[i].ID
			j.drop(t.pending, id)
			j.seq++
			j.put(t.dead, id, liveMsg{seq: j.seq, raw: appendMessage(nil, &s.dead[i])})
		}
	}
	if g != nil {
		for _, r := range g.redrives {
			for _, id := range r.ids {
				j.redrive(j.topic(r.topic), id)
			}
		}
	}
	if cap(j.buf) > 1<<20 {
		j.buf = nil // one huge group should not pin its buffer
	}
	return nil
}

// redrive moves id's dead letter in t, if any, to the pending messages,
// as accepted last.
func (j *Journal) redrive(t *topicState, id string) {
	m, ok := t.dead[id]
	if !ok {
		return
	}
	j.drop(t.dead, id)
	j.seq++
	m.seq = j.seq
	j.put(t.pending, id, m)
}

// Redrive moves the dead letters of topic back to the messages not yet
// acknowledged, under their ids and with their attributes, and returns
// how many it moved once that is as durable as an Append. A bus opened on
// the journal afterwards delivers them from their first attempt; use it
// with no bus on the journal (`playplane redrive` runs with the runner
// stopped), whose own dead letters it would not see.
func (j *Journal) Redrive(ctx context.Context, topic string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("walbus.Redrive: %w", err)
	}
	req := &redriveReq{topic: topic}
	if err := j.join("Redrive", func(g *group) { g.redrives = append(g.redrives, req) }); err != nil {
		return 0, err
	}
	return len(req.ids), nil
}

// Load calls fn for every topic the journal holds messages of, with the
// messages not yet acknowledged, in the order they were accepted, and the
// dead letters. Call it before the bus uses the journal: the committer
// owns the live set once there is work.
func (j *Journal) Load(fn func(topic string, pending, dead []playback.Message)) error {
	decodeAll := func(m map[string]liveMsg) ([]playback.Message, error) {
		ordered := make([]liveMsg, 0, len(m))
		for _, l := range m {
			ordered = append(ordered, l)
		}
		slices.SortFunc(ordered, func(a, b liveMsg) int { return cmp.Compare(a.seq, b.seq) })
		out := make([]playback.Message, len(ordered))
		for i, l := range ordered {
			var err error
			if out[i], err = decodeMessage(l.raw); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	for name, t := range j.topics {
		pending, err := decodeAll(t.pending)
		if err != nil {
			return fmt.Errorf("walbus.Load: topic %s: %w", name, err)
		}
		dead, err := decodeAll(t.dead)
		if err != nil {
			return fmt.Errorf("walbus.Load: topic %s: %w", name, err)
		}
		if len(pending)+len(dead) > 0 {
			fn(name, pending, dead)
		}
	}
	return nil
}

// Close writes what is queued, stops the committer and closes the file.
// Close the bus that uses the journal first.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	j.wake()
	<-j.done
	if j.closeErr != nil {
		return fmt.Errorf("walbus.Close: %w", j.closeErr)
	}
	return nil
}

package walbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

func pendingData(t *testing.T, j *Journal, topic string) []string {
	t.Helper()
	var out []string
	if err := j.Load(func(name string, pending, _ []playback.Message) {
		if name == topic {
			for _, m := range pending {
				out = append(out, string(m.Data))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// appendsAt returns where each append record of the log b starts.
func appendsAt(b []byte) []int {
	var at []int
	for i := 0; i+headerLen < len(b); i += headerLen + int(binary.LittleEndian.Uint32(b[i:])) {
		if b[i+headerLen] == kindAppend {
			at = append(at, i)
		}
	}
	return at
}

func appendN(t *testing.T, j *Journal, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := j.Append(context.Background(), "t", []playback.Message{{ID: fmt.Sprint("m", i), Data: []byte(fmt.Sprint("d", i))}}); err != nil {
			t.Fatal(err)
		}
	}
}

// logOf writes n appends to a new log at path and closes it (and, when
// rewritten, opens and closes it again: Open rewrites the log), and
// returns its bytes and where its append records start.
func logOf(t *testing.T, path string, n int, rewritten bool) ([]byte, []int) {
	t.Helper()
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 0, n)
	j.Close()
	if rewritten {
		if j, err = Open(path); err != nil {
			t.Fatal(err)
		}
		j.Close()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := appendsAt(b)
	if len(at) != n {
		t.Fatalf("log with %d append records, want %d", len(at), n)
	}
	return b, at
}

// TestTornTailIsDropped: what a crash in the middle of a write leaves at the
// end of the log (a partial record, or a whole one with a bad checksum) is
// dropped on open, everything before it kept, and later appends are read
// back after it.
func TestTornTailIsDropped(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		tail func(whole []byte) []byte
	}{
		{"partial header", func(rec []byte) []byte { return rec[:5] }},
		{"partial payload", func(rec []byte) []byte { return rec[:len(rec)-3] }},
		{"bad checksum", func(rec []byte) []byte { r := slices.Clone(rec); r[len(r)-1] ^= 1; return r }},
		// A file extended but its data never written (a power cut on a
		// file system that allocates before it writes) reads as zeros:
		// length 0 and the CRC-32C of nothing, 0, agree.
		{"zeroed tail", func(rec []byte) []byte { return make([]byte, len(rec)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bus.wal")
			j, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, j, 0, 3)
			j.Close()
			rec := appendRecord(nil, kindAppend, "t", func(b []byte) []byte {
				return appendMessage(b, &playback.Message{ID: "torn", Data: []byte("torn")})
			})
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(tc.tail(rec)); err != nil {
				t.Fatal(err)
			}
			f.Close()

			j, err = Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := pendingData(t, j, "t"); !slices.Equal(got, []string{"d0", "d1", "d2"}) {
				t.Fatalf("after a torn tail: %q", got)
			}
			appendN(t, j, 3, 4)
			j.Close()
			j, err = Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if got := pendingData(t, j, "t"); !slices.Equal(got, []string{"d0", "d1", "d2", "d3"}) {
				t.Fatalf("appends after the torn tail: %q", got)
			}
		})
	}
}

// TestCompactionKeepsLiveRecords acknowledges most of what it appends
// until the log is rewritten several times, and finds the file small and
// exactly the unacknowledged messages and the dead letter in it, in order.
func TestCompactionKeepsLiveRecords(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bus.wal")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	j.compactAt = 4 << 10
	var want []string
	for i := range 2000 {
		appendN(t, j, i, i+1)
		switch {
		case i == 7:
			if err := j.Settle("t", nil, []playback.Message{{ID: "m7", Data: []byte("d7")}}); err != nil {
				t.Fatal(err)
			}
		case i%100 == 0:
			want = append(want, fmt.Sprint("d", i)) // never acknowledged
		default:
			if err := j.Settle("t", []string{fmt.Sprint("m", i)}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	j.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 16<<10 {
		t.Fatalf("log is %d bytes: never rewritten", st.Size())
	}
	j, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var dead []string
	var pending []string
	if err := j.Load(func(_ string, p, d []playback.Message) {
		for _, m := range p {
			pending = append(pending, string(m.Data))
		}
		for _, m := range d {
			dead = append(dead, string(m.Data))
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pending, want) || !slices.Equal(dead, []string{"d7"}) {
		t.Fatalf("after compactions: pending %q, dead %q", pending, dead)
	}
}

// TestDeadLettersCountAsLive: dead letters stay in the log, so they are
// part of what a rewrite keeps, not garbage it frees. Counted as garbage,
// a log whose dead letters alone passed the rewrite threshold was
// rewritten (and fsynced whole) after every commit.
func TestDeadLettersCountAsLive(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bus.wal")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	j.compactAt = 4 << 10
	var dead []playback.Message
	for i := range 20 {
		m := playback.Message{ID: fmt.Sprint("dead", i), Data: slices.Repeat([]byte("x"), 300)}
		if err := j.Append(context.Background(), "t", []playback.Message{m}); err != nil {
			t.Fatal(err)
		}
		dead = append(dead, m)
	}
	if err := j.Settle("t", nil, dead); err != nil {
		t.Fatal(err)
	}
	// A little garbage, far less than what is live: no reason to rewrite.
	for i := range 10 {
		appendN(t, j, i, i+1)
		if err := j.Settle("t", []string{fmt.Sprint("m", i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err = Open(path) // rewrites the log with what is live
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if before.Size() < after.Size()+300 {
		t.Fatalf("log of %d bytes, %d of them live: the acknowledged messages' records were rewritten away at once", before.Size(), after.Size())
	}
}

// TestRewriteWhoseDirectoryFsyncFails: the rewrite renames the new log over
// the old one and fsyncs the directory to make the rename durable. When
// that fsync fails, a power cut may undo the rename, and with it every
// record appended to the new file since: a journal that fsyncs its commits
// acknowledges no more appends (as after a failed fsync of the log), while
// one without fsyncs, which promises nothing across a power cut, goes on.
// Either way, what it acknowledged is in the log a restart reads. The
// failure is injected (syncDir): a directory fsync cannot be made to fail
// here.
func TestRewriteWhoseDirectoryFsyncFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		opts        []Option
		wantRefused bool
	}{
		{name: "fsynced commits", wantRefused: true},
		{name: "without fsync", opts: []Option{WithoutSync()}, wantRefused: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bus.wal")
			j, err := Open(path, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			j.compactAt = 4 << 10
			var dirSyncFailed atomic.Bool
			j.syncDir = func(string) error {
				dirSyncFailed.Store(true)
				return errors.New("injected: directory fsync failed")
			}
			// Acknowledged garbage until a rewrite runs and fails its
			// directory fsync (after the commit it follows), then appends
			// that stay pending.
			i := 0
			for ; !dirSyncFailed.Load(); i++ {
				if i == 2000 {
					t.Fatal("no rewrite after 2000 acknowledged messages")
				}
				err := j.Append(context.Background(), "t", []playback.Message{{ID: fmt.Sprint("m", i), Data: []byte("garbage")}})
				if err != nil {
					if !dirSyncFailed.Load() {
						t.Fatal(err)
					}
					break
				}
				if err := j.Settle("t", []string{fmt.Sprint("m", i)}, nil); err != nil {
					t.Fatal(err)
				}
			}
			var acknowledged []string
			refused := 0
			for k := i; k < i+5; k++ {
				err := j.Append(context.Background(), "t", []playback.Message{{ID: fmt.Sprint("m", k), Data: []byte(fmt.Sprint("d", k))}})
				if err != nil {
					refused++
					continue
				}
				acknowledged = append(acknowledged, fmt.Sprint("d", k))
			}
			if got := refused == 5; got != tc.wantRefused {
				t.Fatalf("after the failed directory fsync %d of 5 appends were refused; want all refused: %v", refused, tc.wantRefused)
			}
			j.Close()
			j, err = Open(path, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			got := pendingData(t, j, "t")
			for _, d := range acknowledged {
				if !slices.Contains(got, d) {
					t.Fatalf("acknowledged %q after the failed directory fsync; the log a restart reads holds %q", acknowledged, got)
				}
			}
		})
	}
}

// failingReader reads the log up to after bytes, then fails as a disk
// does: not with an end of file.
type failingReader struct {
	r     io.Reader
	after int
	err   error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, f.err
	}
	n, err := f.r.Read(p[:min(len(p), f.after)])
	f.after -= n
	return n, err
}

// TestReplayReadErrorFailsOpen: a read error in the middle of the log is no
// torn tail. Taken for one, the records after it — acknowledged appends —
// were dropped and the log rewritten without them. Open must fail with the
// error and leave the file as it was. The error is injected (logReader): a
// file cannot be made to fail its reads here.
func TestReplayReadErrorFailsOpen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		after int // bytes read before the error, from the sixth append record
	}{
		{"at a record boundary", 0},
		{"in a header", 3},
		{"in a payload", headerLen + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bus.wal")
			j, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, j, 0, 10)
			j.Close()
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			at := appendsAt(before)
			if len(at) != 10 {
				t.Fatalf("log with %d append records, want 10", len(at))
			}
			upTo := at[5] + tc.after
			injected := errors.New("injected: read error")
			_, err = Open(path, func(j *Journal) {
				j.logReader = func(f *os.File) io.Reader { return &failingReader{r: f, after: upTo, err: injected} }
			})
			if !errors.Is(err, injected) {
				t.Fatalf("Open over a log that fails its reads after %d of %d bytes: %v, want the read error", upTo, len(before), err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(after, before) {
				t.Fatalf("a failed Open changed the log: %d bytes, was %d", len(after), len(before))
			}
		})
	}
}

// TestCloseReturnsTheLogsCloseError: closing the log file is the last
// write the journal makes (a close may report a failed write-back), and
// the runner's shutdown reports Close's error; the journal dropped it and
// answered nil. The file is closed under the journal to make its close
// fail.
func TestCloseReturnsTheLogsCloseError(t *testing.T) {
	t.Parallel()
	j, err := Open(filepath.Join(t.TempDir(), "bus.wal"))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 0, 1)
	j.f.Close() // the committer is idle: nothing queued
	if err := j.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Close after its log's close failed: %v, want %v", err, os.ErrClosed)
	}
}

// TestDamageInsideTheLogFailsOpen: a damaged record (a bad checksum, an
// impossible length) in what an fsync had made durable is no torn tail,
// and taken for one, replay stopped there and the rewrite dropped every
// acknowledged record after it. Each append here is fsynced, and the
// commit after it says so (a kindSynced record): Open must fail with a
// DamagedError naming the file and the damaged record's offset, and leave
// the file as it was. Damage to the last commit, or a last commit cut
// short, is what a power cut in its fsync leaves: still repaired (the
// log cannot tell it from damage after that fsync, nothing having been
// written after it).
func TestDamageInsideTheLogFailsOpen(t *testing.T) {
	t.Parallel()
	const n = 10
	// Each damage takes the log and where its append records start.
	flip := func(rec, off int) func([]byte, []int) []byte {
		return func(b []byte, at []int) []byte { b[at[rec]+off] ^= 0x01; return b }
	}
	set := func(rec, off int, v ...byte) func([]byte, []int) []byte {
		return func(b []byte, at []int) []byte { copy(b[at[rec]+off:], v); return b }
	}
	var kept9 []string
	for i := range n - 1 {
		kept9 = append(kept9, fmt.Sprint("d", i))
	}
	for _, tc := range []struct {
		name    string
		damage  func(b []byte, at []int) []byte
		damaged int      // the append record whose offset Open must name; -1: repaired
		want    []string // when repaired
	}{
		{"payload of a middle record", flip(5, headerLen+3), 5, nil},
		{"checksum of a middle record", flip(5, 4), 5, nil},
		{"length of a middle record, one less", flip(5, 0), 5, nil},
		{"length of a middle record, past the end", flip(5, 2), 5, nil},
		{"length of a middle record, zero", set(5, 0, 0, 0, 0, 0), 5, nil},
		{"length of a middle record, too large", set(5, 3, 0xff), 5, nil},
		{"payload of the first record", flip(0, headerLen+3), 0, nil},
		{"payload of the record before the last", flip(n-2, headerLen+3), n - 2, nil},
		{"payload of the last record", flip(n-1, headerLen+3), -1, kept9},
		{"length of the last record", flip(n-1, 2), -1, kept9},
		{"the last commit's kindSynced record", flip(n-1, -3), -1, kept9},
		{"last record cut short", func(b []byte, _ []int) []byte { return b[:len(b)-3] }, -1, kept9},
		{"last record's header cut short", func(b []byte, at []int) []byte { return b[:at[n-1]+5] }, -1, kept9},
		{"last record zeroed", func(b []byte, at []int) []byte { clear(b[at[n-1]:]); return b }, -1, kept9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bus.wal")
			b, at := logOf(t, path, n, false)
			before := tc.damage(b, at)
			if err := os.WriteFile(path, before, 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := Open(path)
			if tc.damaged < 0 {
				if err != nil {
					t.Fatalf("Open over a torn tail: %v", err)
				}
				defer j.Close()
				if got := pendingData(t, j, "t"); !slices.Equal(got, tc.want) {
					t.Fatalf("after a torn tail: %q, want %q", got, tc.want)
				}
				return
			}
			if err == nil {
				got := pendingData(t, j, "t")
				j.Close()
				t.Fatalf("Open over a log damaged at %d of %d bytes succeeded, holding %q", at[tc.damaged], len(before), got)
			}
			var damaged *DamagedError
			if !errors.As(err, &damaged) || damaged.Offset != int64(at[tc.damaged]) || damaged.Synced <= damaged.Offset || damaged.Path != path {
				t.Fatalf("Open over a log damaged at %d: %v; want a DamagedError at that offset, durable past it", at[tc.damaged], err)
			}
			msg := err.Error()
			if want := fmt.Sprintf("at offset %d is damaged, yet the record at offset %d says the log had been fsynced up to offset %d", damaged.Offset, damaged.Next, damaged.Synced); !strings.Contains(msg, want) {
				t.Fatalf("Open: %v; want %q", err, want)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(after, before) {
				t.Fatalf("a failed Open changed the log: %d bytes, was %d", len(after), len(before))
			}
			if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a failed Open left a rewrite behind: %v", err)
			}
			// The way out the error gives: cut at the damage, then the
			// records before it are delivered.
			cut := fmt.Sprintf("truncate -s %d %s", at[tc.damaged], path)
			if !strings.Contains(msg, cut) {
				t.Fatalf("the error does not say %q: %s", cut, msg)
			}
			if err := os.Truncate(path, int64(at[tc.damaged])); err != nil {
				t.Fatal(err)
			}
			if j, err = Open(path); err != nil {
				t.Fatalf("Open after the cut: %v", err)
			}
			defer j.Close()
			if got, want := pendingData(t, j, "t"), kept9[:tc.damaged]; !slices.Equal(got, want) {
				t.Fatalf("after the cut at %d: %q, want %q", at[tc.damaged], got, want)
			}
		})
	}
}

// TestDamageInARewrittenLogFailsOpen: Open rewrites the log, and its first
// record says the whole rewrite was fsynced before it was renamed into
// place. Damage anywhere in it, the last record included, is damage to
// acknowledged records, not a power cut's, even before any later commit
// writes a kindSynced record of its own: Open must refuse, not cut.
func TestDamageInARewrittenLogFailsOpen(t *testing.T) {
	t.Parallel()
	const n = 10
	for _, rec := range []int{0, 3, n - 1} {
		t.Run(fmt.Sprint("record ", rec), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bus.wal")
			b, at := logOf(t, path, n, true)
			b[at[rec]+headerLen+3] ^= 0x01
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := Open(path)
			if err == nil {
				got := pendingData(t, j, "t")
				j.Close()
				t.Fatalf("Open over a rewritten log damaged at %d of %d bytes succeeded, holding %q", at[rec], len(b), got)
			}
			var damaged *DamagedError
			if !errors.As(err, &damaged) || damaged.Offset != int64(at[rec]) || damaged.Synced <= damaged.Offset {
				t.Fatalf("Open over a rewritten log damaged at %d: %v; want a DamagedError at that offset, durable past it", at[rec], err)
			}
		})
	}
}

// TestCRCOfARangeFromItsEnds: findRecord takes a payload's CRC-32C from
// the CRCs of the file up to its start and its end (crcShift); it must be
// the payload's own, for any lengths.
func TestCRCOfARangeFromItsEnds(t *testing.T) {
	t.Parallel()
	b := make([]byte, 1<<16)
	for i := range b {
		b[i] = byte(i*7 + i>>8*13)
	}
	for _, tc := range []struct {
		name       string
		start, end int
	}{
		{"empty", 100, 100},
		{"one byte", 0, 1},
		{"from the start", 0, 4097},
		{"in the middle", 333, 40000},
		{"to the end", 12345, len(b)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			atStart, atEnd := crc32.Checksum(b[:tc.start], crcTable), crc32.Checksum(b[:tc.end], crcTable)
			got := atEnd ^ crcShift(atStart, int64(tc.end-tc.start))
			if want := crc32.Checksum(b[tc.start:tc.end], crcTable); got != want {
				t.Fatalf("CRC of [%d,%d) from its ends: %08x, want %08x", tc.start, tc.end, got, want)
			}
		})
	}
}

// TestDamageBeforeALargeRecord (logs of records alone, as written before
// kindSynced records): the records findRecord looks for run past
// the window it reads headers from, and the bytes it looks in are random
// (many offsets pass for a header): a damaged record with one after it
// still fails Open, naming where the first one after it starts; the same
// damage in the last record is still a torn tail.
func TestDamageBeforeALargeRecord(t *testing.T) {
	t.Parallel()
	random := make([]byte, 3<<20)
	for i := range random {
		random[i] = byte((i * 2654435761) >> 13)
	}
	rec := func(id string, data []byte) []byte {
		return appendRecord(nil, kindAppend, "t", func(b []byte) []byte {
			return appendMessage(b, &playback.Message{ID: id, Data: data})
		})
	}
	small, medium, big := rec("s", []byte("s")), rec("m", random[:1000]), rec("big", random[:3<<20-100])
	for _, tc := range []struct {
		name    string
		log     [][]byte
		damage  int // into the second record
		follows int // -1: repaired
	}{
		{"big record damaged, a big one after", [][]byte{small, big, big}, len(big) - 10, len(small) + len(big)},
		{"big record damaged, a small one after", [][]byte{small, big, small}, headerLen + 100, len(small) + len(big)},
		{"last big record damaged", [][]byte{small, big}, len(big) / 2, -1},
		// A record that ends past the first window, found with those that
		// end in it, is not the first after the damage.
		{"record damaged, records past a window after", slices.Repeat([][]byte{small, medium}, 1<<20/len(medium)), headerLen + 1, len(small) + len(medium)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bus.wal")
			b := slices.Concat(tc.log...)
			b[len(small)+tc.damage] ^= 0x01
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := Open(path, WithoutSync())
			if tc.follows < 0 {
				if err != nil {
					t.Fatalf("Open over a torn tail: %v", err)
				}
				j.Close()
				return
			}
			if err == nil {
				j.Close()
				t.Fatal("Open over a damaged record with another after it succeeded")
			}
			if want := fmt.Sprintf("at offset %d is damaged, yet a whole record follows at offset %d", len(small), tc.follows); !strings.Contains(err.Error(), want) {
				t.Fatalf("Open: %v; want %q", err, want)
			}
			// A log written before kindSynced records: any whole record
			// after the damage counts as acknowledged.
			if damaged := (*DamagedError)(nil); !errors.As(err, &damaged) || damaged.Offset != int64(len(small)) || damaged.Synced != 0 {
				t.Fatalf("Open: %#v, want a DamagedError at %d without a durable offset", err, len(small))
			}
		})
	}
}

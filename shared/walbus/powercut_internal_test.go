package walbus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

// pageSize is the unit in which a file system writes a file's data back:
// after a power cut, each page written since the last fsync may be on disk
// or not, in any combination, while the file's size already counts them
// (what is not there reads as zeros).
const pageSize = 4096

// powerCut is the log at the start of an fsync: what the previous fsyncs
// made durable, what was written since, and what a restart must find.
type powerCut struct {
	durable, written []byte
	acknowledged     []string // appends answered
	settled          []string // acknowledged by the consumer, maybe not durably
	consumed         []string // of those, the ones whose acknowledgement is durable
}

// images are the files a power cut at c may leave: the durable bytes and,
// of every page written since, any of: none, all, each one alone missing,
// each one alone there, each one garbage, and every cut at a page
// boundary or at a record's end.
func (c powerCut) images() map[string][]byte {
	d, w := len(c.durable), len(c.written)
	out := map[string][]byte{"nothing written since": c.durable, "all written": c.written}
	var pages []int // the starts of the pages written since the last fsync
	for p := d / pageSize * pageSize; p < w; p += pageSize {
		pages = append(pages, p)
	}
	span := func(p int) (int, int) { return max(p, d), min(p+pageSize, w) }
	for _, p := range pages {
		from, to := span(p)
		zeroed := slices.Clone(c.written)
		clear(zeroed[from:to])
		out[fmt.Sprintf("page at %d missing", p)] = zeroed
		garbage := slices.Clone(c.written)
		for i := from; i < to; i++ {
			garbage[i] = byte(i*131 + i>>7)
		}
		out[fmt.Sprintf("page at %d garbage", p)] = garbage
		only := make([]byte, w)
		copy(only, c.durable)
		copy(only[from:to], c.written[from:to])
		out[fmt.Sprintf("only the page at %d", p)] = only
		if to < w {
			out[fmt.Sprintf("cut at %d", to)] = c.written[:to]
		}
	}
	for at := d; at < w; {
		n := int(uint32(c.written[at]) | uint32(c.written[at+1])<<8 | uint32(c.written[at+2])<<16 | uint32(c.written[at+3])<<24)
		at += headerLen + n
		if at < w {
			out[fmt.Sprintf("cut after the record ending at %d", at)] = c.written[:at]
		}
	}
	return out
}

// TestPowerCutKeepsWhatWasAcknowledged publishes and consumes in groups
// whose commits span several pages, and takes the log at the start of each
// fsync as a power cut would leave it (powerCut.images): the durable part
// whole, the rest in any state. Opened after any of them, the journal must
// start, hold every append that was answered, and none whose consumer's
// acknowledgement was durable. An fsync that a power cut interrupts is
// one whose commit nobody was answered for: the bytes it was writing may
// be damaged anywhere, records after the damage included, and recovery
// must cut them rather than refuse to start.
func TestPowerCutKeepsWhatWasAcknowledged(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bus.wal")
	var (
		mu      sync.Mutex
		durable []byte
		cuts    []powerCut
		want    powerCut // as of the last answered append
	)
	j, err := Open(path, func(j *Journal) {
		j.syncFile = func(f *os.File) error {
			log := f == j.f // not a rewrite's new file, which no power cut leaves at the path
			now, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<30))
			if err != nil {
				return err
			}
			mu.Lock()
			if log {
				c := want
				c.durable, c.written = durable, now
				cuts = append(cuts, c)
			}
			mu.Unlock()
			if err := f.Sync(); err != nil {
				return err
			}
			mu.Lock()
			durable = now
			mu.Unlock()
			return nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var settled []string // acknowledged by the consumer, maybe not durably yet
	var prev []string    // the ids of the round before
	next := 0
	for round := range 24 {
		var msgs []playback.Message
		var ids []string
		for k := range 1 + round%4 {
			id := fmt.Sprint("m", next)
			next++
			msgs = append(msgs, playback.Message{ID: id, Data: bytes.Repeat([]byte{byte('a' + k)}, 300+(round*977+k*1531)%2500)})
			ids = append(ids, id)
		}
		queued := slices.Clone(settled) // a settle is written no later than the next commit
		if err := j.Append(ctx, "t", msgs); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		want.acknowledged = append(slices.Clone(want.acknowledged), ids...)
		want.consumed = queued
		mu.Unlock()
		// The consumer acknowledges the messages of the round before
		// with an even number, the others never.
		var acked []string
		for _, id := range prev {
			if id[len(id)-1]%2 == 0 {
				acked = append(acked, id)
			}
		}
		if err := j.Settle("t", acked, nil); err != nil {
			t.Fatal(err)
		}
		settled = append(settled, acked...)
		mu.Lock()
		want.settled = slices.Clone(settled)
		mu.Unlock()
		prev = ids
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if len(cuts) < 24 {
		t.Fatalf("%d fsyncs of the log for 24 appends", len(cuts))
	}
	quiet := func(j *Journal) { j.log = slog.New(slog.DiscardHandler) }
	for i, c := range cuts {
		if !bytes.HasPrefix(c.written, c.durable) {
			t.Fatalf("fsync %d: the log was not appended to", i)
		}
		for name, img := range c.images() {
			p := filepath.Join(t.TempDir(), "cut.wal")
			if err := os.WriteFile(p, img, 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := Open(p, WithoutSync(), quiet)
			if err != nil {
				t.Errorf("power cut in fsync %d (%d bytes durable, %d written), %s: Open: %v", i, len(c.durable), len(c.written), name, err)
				continue
			}
			pending := map[string]bool{}
			if err := j.Load(func(_ string, msgs, _ []playback.Message) {
				for _, m := range msgs {
					pending[m.ID] = true
				}
			}); err != nil {
				t.Fatal(err)
			}
			j.Close()
			for _, id := range c.acknowledged {
				if !pending[id] && !slices.Contains(c.settled, id) {
					t.Errorf("power cut in fsync %d, %s: %s was acknowledged and is lost", i, name, id)
				}
			}
			for _, id := range c.consumed {
				if pending[id] {
					t.Errorf("power cut in fsync %d, %s: %s was consumed (durably) and is delivered again", i, name, id)
				}
			}
		}
	}
}

// captureLog makes a journal log to buf.
func captureLog(buf *bytes.Buffer) Option {
	return func(j *Journal) { j.log = slog.New(slog.NewTextHandler(buf, nil)) }
}

// TestTornLastWriteAtEveryOffset: the last write before a crash, damaged
// from every one of its bytes on: the file cut there; the rest of it
// zeros (a size that counts data never written, as ext4 in data=ordered
// mode may leave after a power cut); the rest of it garbage. And garbage
// after the whole write. Open must start, log that it drops a damaged
// tail, and hold what the log held before the write, or the write too
// where it is whole; appends after the repair are read back after it.
func TestTornLastWriteAtEveryOffset(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		last        func(t *testing.T, j *Journal)
		before, all []string // pending without the last write, with it
	}{
		{"an append", func(t *testing.T, j *Journal) { appendN(t, j, 3, 4) }, []string{"d0", "d1", "d2"}, []string{"d0", "d1", "d2", "d3"}},
		{"a consumer's acknowledgement", func(t *testing.T, j *Journal) {
			if err := j.Settle("t", []string{"m1"}, nil); err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil { // writes it
				t.Fatal(err)
			}
		}, []string{"d0", "d1", "d2"}, []string{"d0", "d2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "bus.wal")
			j, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, j, 0, 3)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tc.last(t, j)
			j.Close()
			all, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(all, before) || len(all) == len(before) {
				t.Fatalf("the last write did not append to the log: %d bytes, were %d", len(all), len(before))
			}
			type image struct {
				name    string
				b       []byte
				damaged bool // bytes past the last whole record
			}
			var images []image
			for k := len(before); k < len(all); k++ {
				zeroed := slices.Clone(all)
				clear(zeroed[k:])
				garbage := slices.Clone(all)
				for i := k; i < len(garbage); i++ {
					garbage[i] = byte(i*151 + 7)
				}
				images = append(images,
					image{fmt.Sprintf("cut at %d", k), all[:k], false},
					image{fmt.Sprintf("zeros from %d", k), zeroed, true},
					image{fmt.Sprintf("garbage from %d", k), garbage, true})
			}
			for _, n := range []int{1, headerLen, 100, pageSize} {
				garbage := slices.Clone(all)
				for i := range n {
					garbage = append(garbage, byte(i*151+7))
				}
				images = append(images, image{fmt.Sprintf("%d bytes of garbage after it", n), garbage, true})
			}
			for i, img := range images {
				p := filepath.Join(dir, fmt.Sprint(i, ".wal"))
				if err := os.WriteFile(p, img.b, 0o600); err != nil {
					t.Fatal(err)
				}
				var logged bytes.Buffer
				j, err := Open(p, captureLog(&logged))
				if err != nil {
					t.Fatalf("%s: Open: %v", img.name, err)
				}
				got := pendingData(t, j, "t")
				whole := strings.HasSuffix(img.name, "after it")
				if want := tc.before; whole && !slices.Equal(got, tc.all) || !whole && !slices.Equal(got, want) {
					t.Errorf("%s: pending %q, want %q (or, whole, %q)", img.name, got, want, tc.all)
				}
				if img.damaged && !strings.Contains(logged.String(), "dropping it") {
					t.Errorf("%s: nothing logged of the damage: %q", img.name, logged.String())
				}
				appendN(t, j, 9, 10)
				j.Close()
				if j, err = Open(p); err != nil {
					t.Fatalf("%s: Open after an append to the repaired log: %v", img.name, err)
				}
				if got := pendingData(t, j, "t"); len(got) == 0 || got[len(got)-1] != "d9" {
					t.Errorf("%s: the append after the repair is not read back: %q", img.name, got)
				}
				j.Close()
			}
		})
	}
}

// TestCrashInARewrite: a rewrite writes the live records to bus.wal.tmp,
// fsyncs it, renames it over the log and fsyncs the directory. A crash
// at any point leaves the old log at the path (the new one partly
// written, or whole but its rename undone by a power cut before the
// directory fsync) or the new one: Open must start on each with the same
// messages and leave no .tmp behind. So must a crash in the rewrite that
// creates the log.
func TestCrashInARewrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oldPath := filepath.Join(dir, "old.wal")
	j, err := Open(oldPath)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 40 {
		appendN(t, j, i, i+1)
		if i%3 == 0 {
			want = append(want, fmt.Sprint("d", i))
			continue
		}
		if err := j.Settle("t", []string{fmt.Sprint("m", i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(oldPath)
	if err != nil {
		t.Fatal(err)
	}
	if j, err = Open(oldPath); err != nil { // rewrites it
		t.Fatal(err)
	}
	j.Close()
	rewritten, err := os.ReadFile(oldPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(rewritten) >= len(old) {
		t.Fatalf("the rewrite is %d bytes, the log was %d", len(rewritten), len(old))
	}
	half := rewritten[:len(rewritten)/2]
	unsynced := slices.Clone(rewritten)
	clear(unsynced[len(unsynced)/3:])
	for _, tc := range []struct {
		name     string
		log, tmp []byte // nil: no such file
		want     []string
	}{
		{"new log partly written", old, half, want},
		{"new log written, not fsynced", old, unsynced, want},
		{"new log whole, not renamed", old, rewritten, want},
		{"renamed", rewritten, nil, want},
		{"the first rewrite partly written", nil, half[:10], nil},
		{"the first rewrite whole, not renamed", nil, rewritten, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bus.wal")
			for p, b := range map[string][]byte{path: tc.log, path + ".tmp": tc.tmp} {
				if b == nil {
					continue
				}
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			j, err := Open(path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer j.Close()
			if got := pendingData(t, j, "t"); !slices.Equal(got, tc.want) {
				t.Fatalf("pending %q, want %q", got, tc.want)
			}
			if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a rewrite's file is left after Open: %v", err)
			}
		})
	}
}

// TestAppendIsAnsweredAfterItsFsync: Append returns only once the fsync
// of the commit that carries its messages returned. The fsync is held
// until the test has looked whether the append was answered.
func TestAppendIsAnsweredAfterItsFsync(t *testing.T) {
	t.Parallel()
	entered, release := make(chan *os.File), make(chan struct{})
	j, err := Open(filepath.Join(t.TempDir(), "bus.wal"), func(j *Journal) {
		j.syncFile = func(f *os.File) error {
			if f == j.f {
				entered <- f
				<-release
			}
			return f.Sync()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce() // before Close, which waits for the committer
	// The group the append joins, made here to be watched: the committer
	// takes it only once the append woke it.
	g := &group{done: make(chan struct{})}
	j.mu.Lock()
	j.next = g
	j.mu.Unlock()
	answered := make(chan error, 1)
	go func() {
		answered <- j.Append(context.Background(), "t", []playback.Message{{ID: "m", Data: []byte("d")}})
	}()
	<-entered
	select {
	case <-g.done:
		t.Fatal("the append was answered before its commit's fsync returned")
	default:
	}
	if len(g.appends) != 1 {
		t.Fatalf("the fsync is of a group of %d appends, want the one", len(g.appends))
	}
	releaseOnce()
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
}

// TestStaleSyncedRecordsSayNothing: a file system may hand a log the
// freed blocks of another (a rewritten log's) where a power cut left
// unwritten pages: a kindSynced record in them that says the damage
// before it had been durable is another log's (another id) or could not
// have been written where it lies (it says more than what precedes it).
// Open must cut the damage as a torn write's, not refuse to start; a
// record of this log that says so does make it refuse.
func TestStaleSyncedRecordsSayNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "bus.wal")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 0, 3)
	id := j.id
	j.Close()
	log, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damaged := append(slices.Clone(log), make([]byte, 100)...) // an unwritten page's zeros
	at := int64(len(damaged))
	for _, tc := range []struct {
		name    string
		mark    []byte
		refused bool
	}{
		{"another log's", appendSynced(nil, id+1, at-50), false},
		{"saying more than precedes it", appendSynced(nil, id, at+1), false},
		{"this log's", appendSynced(nil, id, at-50), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "bus.wal")
			if err := os.WriteFile(p, slices.Concat(damaged, tc.mark), 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := Open(p)
			var de *DamagedError
			if tc.refused {
				if !errors.As(err, &de) || de.Offset != int64(len(log)) || de.Next != at {
					t.Fatalf("Open: %v, want a DamagedError at %d shown by the record at %d", err, len(log), at)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer j.Close()
			if got := pendingData(t, j, "t"); !slices.Equal(got, []string{"d0", "d1", "d2"}) {
				t.Fatalf("pending %q", got)
			}
		})
	}
}

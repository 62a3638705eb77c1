package walbus

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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
		// The consumer acknowledges every other message of the round
		// before, the rest never.
		if round > 0 {
			var acked []string
			for _, id := range want.acknowledged[len(want.acknowledged)-len(ids)-1-(round-1)%4:][:1+(round-1)%4] {
				if n := len(id); id[n-1]%2 == 0 {
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
		}
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

package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

// TestOpensFilesWrittenBeforeTheParkedIndex writes an inbox the way files
// were written before the inbox's indexes (JSON events, no index buckets)
// and checks that Open indexes it: the parked events list in order under
// their key, the pending one as pending, and the indexes then follow new
// writes.
func TestOpensFilesWrittenBeforeTheParkedIndex(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.db")
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old := []playback.InboxEvent{
		{Source: "stripe", ID: "evt_b", ParkedKey: "customer:cus_1", ParkedAt: at},
		{Source: "stripe", ID: "evt_a", ParkedKey: "customer:cus_1", ParkedAt: at.Add(time.Second)},
		{Source: "stripe", ID: "evt_c", ParkedKey: "customer:cus_1", ParkedAt: at},
		{Source: "stripe", ID: "evt_done", ProcessedAt: at},
		{Source: "stripe", ID: "evt_pending"},
		{Source: "stripe", ID: "evt_other", ParkedKey: "customer:cus_2", ParkedAt: at},
		{Source: "other", ID: "evt_d", ParkedKey: "customer:cus_1", ParkedAt: at},
	}
	writeInboxRaw(t, path, old)

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	list := func(source, key string) string {
		t.Helper()
		got, err := s.ListParkedEvents(ctx, source, key, playback.ParkCursor{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		ids := ""
		for _, ev := range got {
			if string(ev.Payload) != `{"id":"`+ev.ID+`"}` {
				t.Errorf("%s: payload %q", ev.ID, ev.Payload)
			}
			ids += ev.ID + " "
		}
		return ids
	}
	for _, c := range []struct{ source, key, want string }{
		{"stripe", "customer:cus_1", "evt_b evt_c evt_a "},
		{"stripe", "customer:cus_2", "evt_other "},
		{"other", "customer:cus_1", "evt_d "},
		{"stripe", "customer:cus_3", ""},
	} {
		if got := list(c.source, c.key); got != c.want {
			t.Errorf("%s %s: listed %q, want %q", c.source, c.key, got, c.want)
		}
	}
	pending := func() string {
		t.Helper()
		got, err := s.ListPendingEvents(ctx, "stripe", at.Add(time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		ids := ""
		for _, ev := range got {
			ids += ev.ID + " "
		}
		return ids
	}
	if got, want := pending(), "evt_pending "; got != want {
		t.Errorf("pending: listed %q, want %q", got, want)
	}
	if err := s.MarkEventProcessed(ctx, "stripe", "evt_b", at, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.ParkEvent(ctx, "stripe", "evt_a", "customer:cus_2", at, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, want := list("stripe", "customer:cus_1"), "evt_c "; got != want {
		t.Errorf("after processing and moving: listed %q, want %q", got, want)
	}
	if got, want := list("stripe", "customer:cus_2"), "evt_a evt_other "; got != want {
		t.Errorf("after moving: listed %q, want %q", got, want)
	}
	if _, _, err := s.RecordEvent(ctx, playback.InboxEvent{Source: "stripe", ID: "evt_new", ReceivedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkEventProcessed(ctx, "stripe", "evt_pending", at, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, want := pending(), "evt_new "; got != want {
		t.Errorf("pending after recording and processing: listed %q, want %q", got, want)
	}
	// Opening again must not index twice (nor lose what the index holds).
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	if got, want := list("stripe", "customer:cus_2"), "evt_a evt_other "; got != want {
		t.Errorf("reopened: listed %q, want %q", got, want)
	}
	if got, want := pending(), "evt_new "; got != want {
		t.Errorf("reopened: pending %q, want %q", got, want)
	}

	// A rollback: a binary from before the indexes writes the inbox
	// alone (it processes evt_a, parks evt_new, records evt_late), then
	// the upgrade opens the file again. Its lists must be the inbox's.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	writeInboxRaw(t, path, []playback.InboxEvent{
		{Source: "stripe", ID: "evt_a", ProcessedAt: at},
		{Source: "stripe", ID: "evt_new", ParkedKey: "customer:cus_2", ParkedAt: at.Add(time.Minute), ReceivedAt: at},
		{Source: "stripe", ID: "evt_late", ReceivedAt: at.Add(time.Second)},
	})
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	if got, want := list("stripe", "customer:cus_2"), "evt_other evt_new "; got != want {
		t.Errorf("after a rollback's writes: listed %q, want %q", got, want)
	}
	if got, want := pending(), "evt_late "; got != want {
		t.Errorf("after a rollback's writes: pending %q, want %q", got, want)
	}
}

// writeInboxRaw writes evs into the inbox bucket of the file at path as a
// binary from before the inbox indexes did: the inbox alone, each payload
// naming its event.
func writeInboxRaw(t *testing.T, path string, evs []playback.InboxEvent) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("inbox"))
		if err != nil {
			return err
		}
		for _, ev := range evs {
			ev.Payload = []byte(`{"id":"` + ev.ID + `"}`)
			raw, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(ev.Source+"\x00"+ev.ID), raw); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestParkIndexKeepsKeysApart: park keys may hold any byte but "|", so a
// key must not list the events of a longer key it is a prefix of.
func TestParkIndexKeepsKeysApart(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, k := range []string{"a", "a\x00b", "a\x00"} {
		id := fmt.Sprintf("evt_%d", i)
		if _, _, err := s.RecordEvent(ctx, playback.InboxEvent{Source: "s", ID: id, ReceivedAt: at}); err != nil {
			t.Fatal(err)
		}
		if err := s.ParkEvent(ctx, "s", id, k, at, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a", "a\x00b", "a\x00"} {
		got, err := s.ListParkedEvents(ctx, "s", k, playback.ParkCursor{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ParkedKey != k {
			t.Errorf("key %q listed %+v", k, got)
		}
	}
}

// BenchmarkInboxLists lists what a link's wake lists (one customer's
// parked events) and what a sweep lists (the pending events) with n events
// of the source stored, most of them processed or parked under other
// customers. The cost of a list must not grow with n: compare ns/op and
// allocs/op of stored=1000 and stored=10000 of the same run.
func BenchmarkInboxLists(b *testing.B) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, n := range []int{1000, 10000} {
		s, err := Open(filepath.Join(b.TempDir(), "b.db"), WithoutSync())
		if err != nil {
			b.Fatal(err)
		}
		payload := make([]byte, 2000) // a Stripe event is a few kilobytes
		for i := range payload {
			payload[i] = 'x'
		}
		err = s.db.Update(func(tx *bbolt.Tx) error {
			for i := range n {
				ev := playback.InboxEvent{Source: "stripe", ID: fmt.Sprintf("evt_%06d", i), Payload: payload,
					ReceivedAt: at.Add(time.Duration(i) * time.Millisecond)}
				switch {
				case i < 5:
					ev.ParkedKey, ev.ParkedAt = "customer:cus_x", at.Add(time.Duration(i))
				case i < 10: // pending
				case i%2 == 0:
					ev.ParkedKey, ev.ParkedAt = fmt.Sprintf("customer:cus_%d", i), at
				default:
					ev.ProcessedAt = at
				}
				if err := putEvent(tx, playback.InboxEvent{}, ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		lists := []struct {
			name string
			list func() ([]playback.InboxEvent, error)
		}{
			{"parked", func() ([]playback.InboxEvent, error) {
				return s.ListParkedEvents(ctx, "stripe", "customer:cus_x", playback.ParkCursor{}, 100)
			}},
			{"pending", func() ([]playback.InboxEvent, error) {
				return s.ListPendingEvents(ctx, "stripe", at.Add(time.Hour), 100)
			}},
		}
		for _, l := range lists {
			b.Run(fmt.Sprintf("%s/stored=%d", l.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if got, err := l.list(); err != nil || len(got) != 5 {
						b.Fatalf("listed %d, %v", len(got), err)
					}
				}
			})
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOpenDropsExpiredParkedEvents: bolt has no TTL, so the file keeps a
// parked event whose wait ended until the next Open deletes it (reads
// treat it as gone from its expiry on); a processed event past its
// ExpiresAt and a parked one within its expiry stay.
func TestOpenDropsExpiredParkedEvents(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "db")
	now := time.Now()
	writeInboxRaw(t, path, []playback.InboxEvent{
		{Source: "stripe", ID: "evt_expired", ParkedKey: "customer:cus_x", ParkedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)},
		{Source: "stripe", ID: "evt_waits", ParkedKey: "customer:cus_x", ParkedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)},
		{Source: "stripe", ID: "evt_done", ProcessedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)},
	})
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var kept []string
	err = s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketInbox).ForEach(func(k, _ []byte) error {
			kept = append(kept, string(k[len("stripe\x00"):]))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(kept) != "[evt_done evt_waits]" {
		t.Fatalf("inbox after Open holds %v, want evt_done evt_waits", kept)
	}
}

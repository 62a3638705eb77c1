package bolt

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

// TestPruneExpired: the clouds' TTL deletes sessions and their QoE the
// retention after they end, and processed inbox events at their
// ExpiresAt; bolt kept every one for ever, so a runner's file grew with
// every play, every heartbeat session's QoE and every Stripe event. After
// the sweep the records past the clouds' rule are gone; those within it,
// a session that still holds its lease (and its QoE), and every
// unprocessed event, pending or parked, remain as they were.
func TestPruneExpired(t *testing.T) {
	t.Parallel()
	const retention = 48 * time.Hour
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	// The reads after the sweep judge the inbox's expiries by the store's
	// clock: the sweep's.
	s, err := Open(filepath.Join(t.TempDir(), "expire.db"), WithRetention(retention), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.pruneBudget = 3 // a few records per transaction: the sweep resumes
	ctx := t.Context()
	const ttl = 2 * time.Minute

	acquireFor := func(id string, at time.Time, ttl time.Duration) {
		t.Helper()
		req := playback.LeaseRequest{SessionID: id, AccountID: "acct_" + id, DeviceID: "tv", TitleID: "t", Limit: 5, TTL: ttl, Now: at}
		if _, err := s.AcquireLease(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	end := func(id string, at time.Time) {
		t.Helper()
		if _, err := s.EndSession(ctx, id, playback.EndStopped, at); err != nil {
			t.Fatal(err)
		}
	}
	acquire := func(id string, at time.Time) { t.Helper(); acquireFor(id, at, ttl) }
	// Ended more than the retention ago.
	acquire("ended_old", now.Add(-72*time.Hour))
	end("ended_old", now.Add(-71*time.Hour))
	// Never ended: its lease lapsed more than the retention ago, and no
	// admission of its account dropped it from the account's index.
	acquire("lapsed_old", now.Add(-72*time.Hour))
	// Ended early, with a lease that would have run until a second less
	// than the retention ago: kept as long as its lease could have run.
	acquireFor("ended_edge", now.Add(-retention-time.Hour), time.Hour+time.Second)
	end("ended_edge", now.Add(-retention-time.Hour+time.Minute))
	// Lapsed a second less than the retention ago.
	acquire("lapsed_edge", now.Add(-retention+time.Second-ttl))
	// Started long ago and playing still.
	acquireFor("playing", now.Add(-72*time.Hour), 72*time.Hour+ttl)

	qoe := func(id string, updated time.Time) {
		t.Helper()
		q := playback.SessionQoE{SessionID: id, AccountID: "acct_" + id, TitleID: "t", DeviceTime: updated, Heartbeats: 1, UpdatedAt: updated}
		if _, _, err := s.SaveSessionQoE(ctx, q, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	qoe("ended_old", now.Add(-71*time.Hour))
	// QoE lives as long as the session it describes: these are old, their
	// sessions are not.
	qoe("ended_edge", now.Add(-72*time.Hour))
	qoe("playing", now.Add(-72*time.Hour))
	// Of sessions not stored: by their last update.
	qoe("orphan_old", now.Add(-retention-time.Second))
	qoe("orphan_edge", now.Add(-retention+time.Second))

	const src = "stripe"
	record := func(ev playback.InboxEvent) {
		t.Helper()
		ev.Source, ev.Payload = src, []byte(`{}`)
		if _, _, err := s.RecordEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	processed := func(id string, at, expires time.Time) {
		t.Helper()
		record(playback.InboxEvent{ID: id, ReceivedAt: at})
		if err := s.MarkEventProcessed(ctx, src, id, at, expires); err != nil {
			t.Fatal(err)
		}
	}
	old := now.Add(-60 * 24 * time.Hour)
	processed("evt_expired", old, now.Add(-time.Second))
	processed("evt_within", old, now.Add(time.Second))
	// The clouds set no TTL without an expiry.
	processed("evt_no_expiry", old, time.Time{})
	record(playback.InboxEvent{ID: "evt_pending", ReceivedAt: old})
	// An unprocessed event recorded with an expiry: not the sweep's.
	record(playback.InboxEvent{ID: "evt_pending_expiry", ReceivedAt: old, ExpiresAt: old})
	record(playback.InboxEvent{ID: "evt_parked", ReceivedAt: old})
	if err := s.ParkEvent(ctx, src, "evt_parked", "customer:cus_1", old, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// A parked event whose wait ended is gone as an expired processed one
	// is (playback.InboxStore.ParkEvent), with its index entry.
	record(playback.InboxEvent{ID: "evt_parked_expired", ReceivedAt: old})
	if err := s.ParkEvent(ctx, src, "evt_parked_expired", "customer:cus_1", old, old.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	n, err := s.PruneExpired(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gone := map[string][]string{
		"session": {"ended_old", "lapsed_old"},
		"qoe":     {"ended_old", "orphan_old"},
		"event":   {"evt_expired", "evt_parked_expired"},
	}
	kept := map[string][]string{
		"session": {"ended_edge", "lapsed_edge", "playing"},
		"qoe":     {"ended_edge", "playing", "orphan_edge"},
		"event":   {"evt_within", "evt_no_expiry", "evt_pending", "evt_pending_expiry", "evt_parked"},
	}
	read := map[string]func(id string) error{
		"session": func(id string) error { _, err := s.GetSession(ctx, id); return err },
		"qoe":     func(id string) error { _, err := s.GetSessionQoE(ctx, id); return err },
		"event":   func(id string) error { _, err := s.GetEvent(ctx, src, id); return err },
	}
	want := 0
	for kind, ids := range gone {
		want += len(ids)
		for _, id := range ids {
			if err := read[kind](id); !playback.IsCode(err, playback.CodeNotFound) {
				t.Errorf("%s %s after the sweep: %v, want not found", kind, id, err)
			}
		}
	}
	for kind, ids := range kept {
		for _, id := range ids {
			if err := read[kind](id); err != nil {
				t.Errorf("%s %s after the sweep: %v, want kept", kind, id, err)
			}
		}
	}
	if n != want {
		t.Errorf("pruned %d records, want %d", n, want)
	}

	// The index entries of the sessions removed go with them; the
	// others' stay, so the lease still holds and counts.
	var indexed []string
	if err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketAccountSessions).ForEach(func(k, _ []byte) error {
			indexed = append(indexed, string(k))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"lapsed_old", "lapsed_edge", "playing"} {
		k := string(key("acct_"+id, id))
		found := false
		for _, x := range indexed {
			found = found || x == k
		}
		if found != (id != "lapsed_old") {
			t.Errorf("account index entry of %s kept: %v", id, found)
		}
	}
	if active, err := s.ListActiveSessions(ctx, "acct_playing", now); err != nil || len(active) != 1 {
		t.Errorf("active sessions of the playing account: %v, %v", active, err)
	}
	if _, err := s.RenewLease(ctx, "playing", ttl, 20*time.Second, now.Add(time.Second)); err != nil {
		t.Errorf("renewal of the playing session: %v", err)
	}

	// What an unprocessed event is, it still is.
	pending, err := s.ListPendingEvents(ctx, src, now, 10)
	if err != nil || len(pending) != 2 || pending[0].ID != "evt_pending" || pending[1].ID != "evt_pending_expiry" {
		t.Errorf("pending after the sweep: %+v, %v", pending, err)
	}
	var parkIndex int
	if err := s.db.View(func(tx *bbolt.Tx) error { parkIndex = tx.Bucket(bucketInboxParked).Stats().KeyN; return nil }); err != nil || parkIndex != 1 {
		t.Errorf("parked index entries after the sweep: %d, %v; want evt_parked's alone", parkIndex, err)
	}
	parked, err := s.ListParkedEvents(ctx, src, "customer:cus_1", playback.ParkCursor{}, 10)
	if err != nil || len(parked) != 1 || parked[0].ID != "evt_parked" {
		t.Errorf("parked after the sweep: %+v, %v", parked, err)
	}
	// A redelivery within the retention is a duplicate still; past it, a
	// new event, as where TTL deleted it.
	if _, created, err := s.RecordEvent(ctx, playback.InboxEvent{Source: src, ID: "evt_within", ReceivedAt: now}); err != nil || created {
		t.Errorf("redelivery of an event within its retention: created %v, %v", created, err)
	}
	if _, created, err := s.RecordEvent(ctx, playback.InboxEvent{Source: src, ID: "evt_expired", ReceivedAt: now}); err != nil || !created {
		t.Errorf("redelivery of an expired event: created %v, %v", created, err)
	}

	if again, err := s.PruneExpired(ctx); err != nil || again != 0 {
		t.Errorf("a second sweep at the same time pruned %d, %v", again, err)
	}
}

// TestRetentionDefault: sessions and their QoE are kept as long as the
// clouds keep them by default (FIRESTORE_RETENTION, DYNAMODB_RETENTION).
func TestRetentionDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []Option
		want time.Duration
		fail bool
	}{
		{name: "unset", want: 48 * time.Hour},
		{name: "zero", opts: []Option{WithRetention(0)}, want: 48 * time.Hour},
		{name: "set", opts: []Option{WithRetention(time.Hour)}, want: time.Hour},
		{name: "negative", opts: []Option{WithRetention(-time.Hour)}, fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(filepath.Join(t.TempDir(), "db"), tc.opts...)
			if tc.fail {
				if err == nil {
					_ = s.Close()
					t.Fatal("opened")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.retention != tc.want {
				t.Fatalf("retention %v, want %v", s.retention, tc.want)
			}
		})
	}
}

// TestPruneExpiredTakesTheStoreClock: the sweep removed by a clock its
// caller passed while reads hid by the store's (WithClock), so the two
// could disagree on what was gone. It now judges by the store's clock:
// what reads still return it keeps, and what they hide it removes.
func TestPruneExpiredTakesTheStoreClock(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	clock := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	s, err := Open(filepath.Join(t.TempDir(), "clock.db"), WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	const src = "stripe"
	end := now().Add(time.Hour)
	for _, id := range []string{"evt_processed", "evt_parked"} {
		if _, _, err := s.RecordEvent(ctx, playback.InboxEvent{Source: src, ID: id, ReceivedAt: now(), Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MarkEventProcessed(ctx, src, "evt_processed", now(), end); err != nil {
		t.Fatal(err)
	}
	if err := s.ParkEvent(ctx, src, "evt_parked", "customer:cus_1", now(), end); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneExpired(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before the expiry removed %d, %v; want none", n, err)
	}
	for _, id := range []string{"evt_processed", "evt_parked"} {
		if _, err := s.GetEvent(ctx, src, id); err != nil {
			t.Fatalf("%s before its expiry: %v", id, err)
		}
	}
	mu.Lock()
	clock = end
	mu.Unlock()
	if n, err := s.PruneExpired(ctx); err != nil || n != 2 {
		t.Fatalf("sweep at the expiry removed %d, %v; want both events", n, err)
	}
}

package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// TestRunnerPrunesExpiredRecords: the runner kept every session, session
// QoE and processed Stripe event for ever. Started over a file with a
// session that ended longer than the retention ago, its QoE and a
// processed event past its expiry, it removes them and keeps a session
// that ended since.
func TestRunnerPrunesExpiredRecords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	now := time.Now().UTC()
	s, err := bolt.Open(filepath.Join(dir, "playplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	for id, ended := range map[string]time.Time{"ses_gone": now.Add(-72 * time.Hour), "ses_kept": now.Add(-time.Hour)} {
		req := playback.LeaseRequest{SessionID: id, AccountID: "acct_" + id, DeviceID: "tv", TitleID: "t", Limit: 1, TTL: time.Minute,
			Now: ended.Add(-time.Minute)}
		if _, err := s.AcquireLease(ctx, req); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EndSession(ctx, id, playback.EndStopped, ended); err != nil {
			t.Fatal(err)
		}
	}
	q := playback.SessionQoE{SessionID: "ses_gone", DeviceTime: now.Add(-72 * time.Hour), UpdatedAt: now.Add(-72 * time.Hour)}
	if _, _, err := s.SaveSessionQoE(ctx, q, time.Time{}); err != nil {
		t.Fatal(err)
	}
	ev := playback.InboxEvent{Source: "stripe", ID: "evt_gone", ReceivedAt: now.Add(-31 * 24 * time.Hour), Payload: []byte(`{}`)}
	if _, _, err := s.RecordEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkEventProcessed(ctx, ev.Source, ev.ID, ev.ReceivedAt, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	cfg := Config{DataDir: dir, PublicURL: "http://127.0.0.1:1", Issuer: "playplane-local", Audience: "playplane",
		SweepEvery: 30 * time.Second, ReconcileEvery: time.Hour}
	app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	// The start's sweep runs beside the serving.
	var left []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		left = left[:0]
		if _, err := app.store.GetSession(ctx, "ses_gone"); !playback.IsCode(err, playback.CodeNotFound) {
			left = append(left, "session")
		}
		if _, err := app.store.GetSessionQoE(ctx, "ses_gone"); !playback.IsCode(err, playback.CodeNotFound) {
			left = append(left, "qoe")
		}
		if _, err := app.store.GetEvent(ctx, ev.Source, ev.ID); !playback.IsCode(err, playback.CodeNotFound) {
			left = append(left, "event")
		}
		if len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Fatalf("after the runner's start, still stored: %v", left)
	}
	if _, err := app.store.GetSession(ctx, "ses_kept"); err != nil {
		t.Fatalf("session ended an hour ago: %v", err)
	}
}

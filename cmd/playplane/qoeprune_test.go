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

// TestRunnerPrunesQoEViewsPastRetention: the runner kept every QoE view
// for ever. Started over a file with a view that ended longer than
// QOE_RETENTION ago and one that ended since, it removes the first and
// keeps the second.
func TestRunnerPrunesQoEViewsPastRetention(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now().UTC()
	rep := func(id string, started time.Time) playback.QoEReport {
		at := started.Add(time.Minute)
		return playback.QoEReport{SessionID: id, TitleID: "t", SessionStartedAt: started, ReceivedAt: at, DeviceTime: at,
			LeaseEndsBy: at.Add(2 * time.Minute), QoE: playback.QoE{StartupMS: 700, PlayedMS: 50_000}}
	}
	s, err := bolt.Open(filepath.Join(dir, "playplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = s.ApplyQoEReports(t.Context(), []playback.QoEReport{rep("gone", now.Add(-72*time.Hour)), rep("kept", now.Add(-24*time.Hour))})
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	cfg := Config{DataDir: dir, PublicURL: "http://127.0.0.1:1", Issuer: "playplane-local", Audience: "playplane",
		SweepEvery: 30 * time.Second, ReconcileEvery: time.Hour, QoERetention: 48 * time.Hour}
	app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	// The start's sweep runs beside the serving.
	var ids []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		views, err := app.store.QoEViews(t.Context(), now.Add(-73*time.Hour), now)
		if err != nil {
			t.Fatal(err)
		}
		ids = ids[:0]
		for _, v := range views {
			ids = append(ids, v.SessionID)
		}
		if len(ids) == 1 && ids[0] == "kept" {
			return
		}
	}
	t.Fatalf("views after the runner's start: %v, want [kept]", ids)
}

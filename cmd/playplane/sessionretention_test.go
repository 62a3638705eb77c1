package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// TestSessionRetentionSetting: the runner pruned sessions 48 h after they
// ended whatever its environment said (bolt.WithRetention had no
// variable). SESSION_RETENTION sets it; one shorter than
// HEARTBEAT_STOP_GRACE is refused at start, since a stop sent within the
// grace reads its ended session to save the player's final position.
func TestSessionRetentionSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		vars map[string]string // the functions' variables
		// gone are the sessions pruned at start, of ses_72h, ses_2h and
		// ses_30m (each ended that long ago); the others stay.
		gone []string
		// refused names what the start's error must mention; nil: it starts.
		refused []string
	}{
		{name: "unset", gone: []string{"ses_72h"}},
		{name: "set", env: map[string]string{"SESSION_RETENTION": "1h"}, gone: []string{"ses_2h", "ses_72h"}},
		{name: "shorter than the stop grace", env: map[string]string{"SESSION_RETENTION": "10s"},
			refused: []string{"SESSION_RETENTION 10s", "HEARTBEAT_STOP_GRACE 30s"}},
		{name: "shorter than a stop grace set", env: map[string]string{"SESSION_RETENTION": "1h"},
			vars: map[string]string{"HEARTBEAT_STOP_GRACE": "2h"}, refused: []string{"SESSION_RETENTION 1h0m0s", "HEARTBEAT_STOP_GRACE 2h0m0s"}},
		{name: "as long as the stop grace", env: map[string]string{"SESSION_RETENTION": "1h"},
			vars: map[string]string{"HEARTBEAT_STOP_GRACE": "1h"}, gone: []string{"ses_2h", "ses_72h"}},
		{name: "negative", env: map[string]string{"SESSION_RETENTION": "-1h"}, refused: []string{"retention -1h0m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ctx := t.Context()
			now := time.Now().UTC()
			s, err := bolt.Open(filepath.Join(dir, "playplane.db"))
			if err != nil {
				t.Fatal(err)
			}
			ended := map[string]time.Duration{"ses_72h": 72 * time.Hour, "ses_2h": 2 * time.Hour, "ses_30m": 30 * time.Minute}
			for id, ago := range ended {
				req := playback.LeaseRequest{SessionID: id, AccountID: "acct_" + id, DeviceID: "tv", TitleID: "t", Limit: 1,
					TTL: time.Minute, Now: now.Add(-ago - time.Minute)}
				if _, err := s.AcquireLease(ctx, req); err != nil {
					t.Fatal(err)
				}
				if _, err := s.EndSession(ctx, id, playback.EndStopped, now.Add(-ago)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			// As realMain reads it.
			env := map[string]string{"DATA_DIR": dir, "PUBLIC_URL": "http://127.0.0.1:1", "SEED": "false"}
			for k, v := range tc.env {
				env[k] = v
			}
			var cfg Config
			if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &cfg, Lookuper: envconfig.MapLookuper(env)}); err != nil {
				t.Fatal(err)
			}
			cfg.vars = tc.vars
			app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if tc.refused != nil {
				if err == nil {
					app.Close()
					t.Fatalf("started with %v %v; want it refused naming %q", tc.env, tc.vars, tc.refused)
				}
				for _, want := range tc.refused {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("refused with %q; want it to name %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close()
			// The start's sweep runs beside the serving.
			stored := func() (ids []string) {
				for id := range ended {
					if _, err := app.store.GetSession(ctx, id); !playback.IsCode(err, playback.CodeNotFound) {
						ids = append(ids, id)
					}
				}
				slices.Sort(ids)
				return ids
			}
			var want []string
			for id := range ended {
				if !slices.Contains(tc.gone, id) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			var got []string
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if got = stored(); slices.Equal(got, want) {
					return
				}
			}
			t.Fatalf("sessions after the runner's start with %v: %v, want %v", tc.env, got, want)
		})
	}
}

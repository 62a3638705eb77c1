package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// startSeed starts the runner on dataDir as `SEED=<seed> make run` does.
func startSeed(t *testing.T, dataDir string, seed bool) *localRun {
	t.Helper()
	return startLocalConfig(t, dataDir, func(cfg *Config) { cfg.Seed = new(seed) })
}

// TestUnseededDataDirIsNotSeededLater: a data directory a user started
// with SEED=false (README, Bring your own catalogue), or one that already
// holds their records, keeps only their records when a later start is a
// plain `make run`: the demo plans, titles, accounts and edges would mix
// into their catalogue. SEED=true asks for them and gets them.
func TestUnseededDataDirIsNotSeededLater(t *testing.T) {
	t.Parallel()
	userPlan := playback.Plan{ID: "gold", Name: "Gold", MaxStreams: 3, MaxDevices: 3, MaxQuality: playback.QualityHD}
	tests := []struct {
		name string
		// first prepares the data directory; then is the later start.
		first      func(t *testing.T, dir string)
		then       func(t *testing.T, dir string) *localRun
		wantSeeded bool
	}{
		{name: "first started with SEED=false, then a plain start",
			first: func(t *testing.T, dir string) { startSeed(t, dir, false).stop() },
			then:  startLocal},
		{name: "holds the user's records and no seed record, then a plain start",
			first: func(t *testing.T, dir string) {
				r := startSeed(t, dir, false)
				if err := r.app.store.PutPlan(context.Background(), userPlan); err != nil {
					t.Fatal(err)
				}
				r.stop()
				// As a data directory from before the record, or one
				// `make import` filled: only the store tells.
				for _, name := range []string{"demo-seeded.json"} {
					if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
						t.Fatal(err)
					}
				}
			},
			then: startLocal},
		{name: "first started with SEED=false, then SEED=true",
			first:      func(t *testing.T, dir string) { startSeed(t, dir, false).stop() },
			then:       func(t *testing.T, dir string) *localRun { return startSeed(t, dir, true) },
			wantSeeded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tt.first(t, dir)
			r := tt.then(t, dir)
			ctx := context.Background()
			seeded := map[string]bool{}
			if _, err := r.app.store.GetPlan(ctx, demo.Plans[0].ID); err == nil {
				seeded["plan "+demo.Plans[0].ID] = true
			}
			if _, err := r.app.store.GetTitle(ctx, "big-buck-bunny"); err == nil {
				seeded["title big-buck-bunny"] = true
			}
			if _, err := r.app.store.GetAccount(ctx, demo.AccountFamily); err == nil {
				seeded["account "+demo.AccountFamily] = true
			}
			edges, err := r.app.store.ListEdges(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(edges) > 0 {
				seeded["edges"] = true
			}
			if tt.wantSeeded && len(seeded) != 4 {
				t.Fatalf("SEED=true seeded only %v", seeded)
			}
			if !tt.wantSeeded && len(seeded) > 0 {
				t.Fatalf("a plain start seeded the user's data directory: %v", seeded)
			}
		})
	}
}

// TestSeedVariable: SEED unset is not SEED=true (a plain start leaves a
// user's data directory unseeded, an explicit SEED=true seeds it).
func TestSeedVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want *bool
	}{
		{name: "unset", env: map[string]string{}, want: nil},
		{name: "true", env: map[string]string{"SEED": "true"}, want: new(true)},
		{name: "false", env: map[string]string{"SEED": "false"}, want: new(false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cfg Config
			if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &cfg, Lookuper: envconfig.MapLookuper(tt.env)}); err != nil {
				t.Fatal(err)
			}
			if (cfg.Seed == nil) != (tt.want == nil) || cfg.Seed != nil && *cfg.Seed != *tt.want {
				t.Fatalf("SEED %v: Seed %v, want %v", tt.env, cfg.Seed, tt.want)
			}
		})
	}
}

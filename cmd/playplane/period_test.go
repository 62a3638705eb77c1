package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestNegativeJobPeriodIsRefused: a negative STRIPE_SWEEP_EVERY or
// STRIPE_RECONCILE_EVERY is a configuration error NewApp reports, not a
// ticker panicking in a job's goroutine, which took the runner down with
// its store still open.
func TestNegativeJobPeriodIsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
	}{
		{name: "sweep", cfg: func(c *Config) { c.SweepEvery = -time.Second }},
		{name: "reconcile", cfg: func(c *Config) { c.ReconcileEvery = -time.Hour }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := Config{DataDir: dir, PublicURL: "http://127.0.0.1:1", Issuer: "playplane-local", Audience: "playplane",
				SweepEvery: 30 * time.Second, ReconcileEvery: time.Hour,
				vars: map[string]string{"STRIPE_API_KEY": "sk_test_x", "STRIPE_API_URL": "http://127.0.0.1:1"}}
			tc.cfg(&cfg)
			app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				app.Close()
				t.Fatalf("NewApp with %+v: no error", cfg)
			}
			if _, err := os.Stat(filepath.Join(dir, "playplane.db")); err == nil {
				t.Errorf("the store was opened before the configuration was checked")
			}
		})
	}
}

package heartbeat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// TestLeasesJobReportsTheCount: the scheduled leases job counts what the
// store holds at the function's now and records it as the
// playplane.leases.active gauge, which the invocation's flush writes as an
// EMF line; lapsed leases leave it with no write of their own. Without a
// counter (the local runner) the job cannot run. Not parallel: telemetry
// is process-wide.
func TestLeasesJobReportsTheCount(t *testing.T) {
	ctx := context.Background()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	bus := membus.New(membus.Config{})
	t.Cleanup(func() { _ = bus.Close() })
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	now := t0
	acct := playback.NewID("acct")
	for _, ttl := range []time.Duration{2 * time.Minute, 10 * time.Minute} {
		if _, err := store.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct,
			DeviceID: playback.NewID("dev"), TitleID: "t", Limit: 3, TTL: ttl, Now: t0}); err != nil {
			t.Fatal(err)
		}
	}
	deps := heartbeat.Deps{Store: store, Bus: bus, Tokens: auth.NewDevKeyring(), Identity: &auth.Verifier{},
		Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
	off, err := heartbeat.New(defaultConfig(), deps)
	if err != nil {
		t.Fatal(err)
	}
	if off.CanRun(heartbeat.JobLeases) {
		t.Fatal("the leases job can run without a counter")
	}
	deps.Leases = store
	srv, err := heartbeat.New(defaultConfig(), deps)
	if err != nil {
		t.Fatal(err)
	}
	if !srv.CanRun(heartbeat.JobLeases) {
		t.Fatal("the leases job cannot run with a counter")
	}

	var out bytes.Buffer
	p, err := telemetry.Setup(ctx, telemetry.Options{Service: "heartbeat", Metrics: telemetry.SinkEMF, EMFOut: &out,
		Lookup: envconfig.MapLookuper(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	gauge := func(at time.Time) any {
		t.Helper()
		now = at
		out.Reset()
		if _, err := srv.Jobs()[heartbeat.JobLeases](ctx); err != nil {
			t.Fatal(err)
		}
		if err := telemetry.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		var v any
		for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("EMF line %s: %v", line, err)
			}
			if x, ok := m[telemetry.MetricLeasesActive]; ok {
				v = x
			}
		}
		return v
	}
	if got := gauge(t0.Add(time.Minute)); got != 2.0 {
		t.Fatalf("gauge %v, want 2 (lines %s)", got, out.String())
	}
	if got := gauge(t0.Add(3 * time.Minute)); got != 1.0 {
		t.Fatalf("gauge %v after one lease lapsed, want 1 (lines %s)", got, out.String())
	}
}

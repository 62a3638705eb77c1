package catalogfile

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering"
)

func TestStoreZonesFollowsUploads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openBolt(t)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	z, err := steering.OpenStoreZones(ctx, s, steering.StoreZonesConfig{Poll: time.Minute, Log: log, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr("10.1.2.3")
	if _, ok := z.Current().Lookup(addr); ok || z.Version() != 0 {
		t.Fatal("zones before any upload")
	}
	if _, err := UploadCoverageZones(ctx, s, []byte(`{"coverageZones":{"fra":{"network":["10.0.0.0/8"]}}}`), "ops", now(), 0); err != nil {
		t.Fatal(err)
	}
	// Not due yet: the version in hand stays.
	if _, ok := z.Current().Lookup(addr); ok {
		t.Fatal("read the store before the poll interval")
	}
	clock.Add(int64(time.Minute))
	waitZone(t, z, addr, "fra")

	// A refused upload never becomes a version; a good one replaces it.
	if _, err := UploadCoverageZones(ctx, s, []byte(`{"coverageZones":{"x":{"network":["10.0.0.0/99"]}}}`), "ops", now(), 0); !playback.IsCode(err, playback.CodeInvalid) {
		t.Fatalf("bad upload: %v", err)
	}
	if _, err := UploadCoverageZones(ctx, s, []byte(`{"coverageZones":{"lhr":{"network":["10.0.0.0/8"]}}}`), "ops", now(), 1); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(time.Minute))
	waitZone(t, z, addr, "lhr")
	if z.Version() != 2 {
		t.Fatalf("version %d, want 2", z.Version())
	}

	// A version written around the check (straight to the store) that does
	// not parse is skipped: the last good one stays.
	if _, err := s.PutCoverageZones(ctx, playback.CoverageZonesUpload{Data: []byte(`{"coverageZones":{"x":{"network":["bad"]}}}`),
		Actor: "ops", At: now()}); err != nil {
		t.Fatal(err)
	}
	if took, err := z.Refresh(ctx); err != nil || took {
		t.Fatalf("Refresh of a bad version = %v, %v", took, err)
	}
	if zone, ok := z.Current().Lookup(addr); !ok || zone.Name != "lhr" {
		t.Fatalf("after a bad version: %+v %v", zone, ok)
	}
}

// waitZone polls Current (which reads the store in the background) until
// addr is in zone name.
func waitZone(t *testing.T, z *steering.StoreZones, addr netip.Addr, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if zone, ok := z.Current().Lookup(addr); ok && zone.Name == name {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("zone %q never served", name)
}

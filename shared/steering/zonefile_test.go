package steering

import (
	"bytes"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestZoneFileKeepsTheLastGoodVersion(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "czf.json")
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		mtime = mtime.Add(time.Second)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	clock := t0
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func() { mu.Lock(); clock = clock.Add(11 * time.Second); mu.Unlock() }
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))

	write(`{"revision": "r1", "coverageZones": {"fra": {"network": ["10.0.0.0/8"]}}}`)
	f, err := OpenZoneFile(ZoneFileConfig{Path: path, Poll: 10 * time.Second, Log: log, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	zone := func() string {
		z, _ := f.Current().Lookup(netip.MustParseAddr("10.1.1.1"))
		return z.Name
	}
	if zone() != "fra" {
		t.Fatalf("zone = %q", zone())
	}
	write(`{"revision": "r2", "coverageZones": {"ams": {"network": ["10.0.0.0/8"]}}}`)
	if zone() != "fra" {
		t.Fatal("reloaded before the poll interval")
	}
	advance()
	if zone() != "ams" {
		t.Fatalf("after the poll interval zone = %q, want the new file's", zone())
	}
	write(`{"revision": "r3", "coverageZones": {"lhr": {"network": ["10.0.0.0/33"]}}}`)
	advance()
	if zone() != "ams" || f.Current().Revision != "r2" {
		t.Fatalf("a refused file replaced the last good one: %q %q", zone(), f.Current().Revision)
	}
	logMu.Lock()
	if !strings.Contains(logs.String(), "refused") {
		t.Errorf("refusal not logged: %s", logs.String())
	}
	logMu.Unlock()
	write(`{"revision": "r4", "coverageZones": {"lhr": {"network": ["10.0.0.0/8"]}}}`)
	if changed, err := f.Reload(); !changed || err != nil || zone() != "lhr" {
		t.Fatalf("Reload = %v, %v; zone %q", changed, err, zone())
	}
	// Concurrent lookups while the file changes see a whole version.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if z := zone(); z != "lhr" && z != "muc" {
					t.Errorf("zone = %q", z)
				}
			}
		})
	}
	write(`{"revision": "r5", "coverageZones": {"muc": {"network": ["10.0.0.0/8"]}}}`)
	advance()
	wg.Wait()
	if _, err := OpenZoneFile(ZoneFileConfig{Path: filepath.Join(t.TempDir(), "missing.json")}); err == nil {
		t.Error("a missing file opened")
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestZoneFileStartRefused: a file that does not parse at start fails the
// open unless StartRefused, which opens it with no zones and the refusal
// in Err, once; a version that loads clears it.
func TestZoneFileStartRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "czf.json")
	if err := os.WriteFile(path, []byte(`{"coverageZones": {"fra": {"network": ["10.0.0.0/33"]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenZoneFile(ZoneFileConfig{Path: path}); err == nil {
		t.Fatal("a refused file opened without StartRefused")
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))
	clock := t0
	f, err := OpenZoneFile(ZoneFileConfig{Path: path, Poll: time.Second, StartRefused: true, Log: log, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	if f.Current() != nil || f.Err() == nil || !strings.Contains(f.Err().Error(), "czf.json") {
		t.Fatalf("current %v, err %v", f.Current(), f.Err())
	}
	clock = clock.Add(2 * time.Second)
	_ = f.Current() // an unchanged refused file is not read or logged again
	logMu.Lock()
	if n := strings.Count(logs.String(), "coverage zone file refused"); n != 1 {
		t.Fatalf("%d refusals logged, want 1:\n%s", n, logs.String())
	}
	logMu.Unlock()
	if err := os.WriteFile(path, []byte(`{"revision": "r2", "coverageZones": {"fra": {"network": ["10.0.0.0/8"]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if changed, err := f.Reload(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if cz := f.Current(); cz == nil || cz.Revision != "r2" || f.Err() != nil {
		t.Fatalf("after a good version: %+v, err %v", cz, f.Err())
	}
}

// TestZoneFileStatFailurePasses: a look at the file that cannot stat it
// (here: moved away a moment, which keeps its modification time and
// size) is reported by Err, and the next look that finds the same file
// reports that file's own verdict again. Err kept the stat error, so
// Problems showed a failure long gone.
func TestZoneFileStatFailurePasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		wantErr    string // "" = nil
	}{
		{"loaded version", `{"revision": "r1", "coverageZones": {"fra": {"network": ["10.0.0.0/8"]}}}`, ""},
		{"refused version", `{"revision": "r1", "coverageZones": {"fra": {"network": ["10.0.0.0/33"]}}}`, "10.0.0.0/33"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "czf.json")
			if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := OpenZoneFile(ZoneFileConfig{Path: path, StartRefused: true, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			away := filepath.Join(dir, "away.json")
			if err := os.Rename(path, away); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Reload(); err == nil || f.Err() == nil {
				t.Fatalf("Reload of a missing file: %v, Err %v", err, f.Err())
			}
			if err := os.Rename(away, path); err != nil {
				t.Fatal(err)
			}
			if changed, err := f.Reload(); changed || err != nil {
				t.Fatalf("Reload of the unchanged file = %v, %v", changed, err)
			}
			got := f.Err()
			if tc.wantErr == "" && got != nil || tc.wantErr != "" && (got == nil || !strings.Contains(got.Error(), tc.wantErr)) {
				t.Fatalf("Err = %v, want the file's own verdict (%q)", got, tc.wantErr)
			}
		})
	}
}

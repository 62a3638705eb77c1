package pickedge_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/playback"
)

// TestCoverageZoneFileIsHotSwapped rewrites the coverage zone file under a
// running pick edge: a new version takes effect after the poll interval, a
// version Traffic Router would refuse is ignored and the last good one
// keeps answering.
func TestCoverageZoneFileIsHotSwapped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "czf.json")
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		mtime = mtime.Add(time.Minute)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"revision": "v1", "coverageZones": {"fra": {"network": ["203.0.113.0/24"], "coordinates": {"latitude": 50.1, "longitude": 8.7}}}}`)
	h := newHarness(t, options{env: map[string]string{"PICKEDGE_COVERAGE_ZONE_FILE": path, "PICKEDGE_ZONE_FILE_POLL": "1s"}})
	id, token := h.session("sintel")
	first := func() (string, string) {
		resp := h.mustPick(id, token, clientFra)
		return resp.Edges[0].PoP, resp.Location.Zone
	}
	if pop, zone := first(); pop != "fra" || zone != "fra" {
		t.Fatalf("v1: first PoP %s, zone %s", pop, zone)
	}
	write(`{"revision": "v2", "coverageZones": {"lhr": {"network": ["203.0.113.0/24"], "coordinates": {"latitude": 51.5, "longitude": -0.1}}}}`)
	h.at(2 * time.Second)
	if pop, zone := first(); pop != "lhr" || zone != "lhr" {
		t.Fatalf("v2: first PoP %s, zone %s", pop, zone)
	}
	write(`{"revision": "v3", "coverageZones": {"iad": {"network": ["203.0.113.0/40"]}}}`)
	h.at(4 * time.Second)
	if pop, zone := first(); pop != "lhr" || zone != "lhr" {
		t.Fatalf("a refused v3 replaced v2: first PoP %s, zone %s", pop, zone)
	}
}

// TestCacheGroupBackups reads Traffic Router cache group settings: the
// zone's group without a usable edge sends its clients to its backup. The
// file is read as the coverage zone file is: one saved with a byte order
// mark starts pick edge too.
func TestCacheGroupBackups(t *testing.T) {
	t.Parallel()
	const body = `{"edgeLocations": {"fra": {"backupLocations": {"list": ["iad"]}}}}`
	for _, tt := range []struct{ name, file string }{
		{name: "utf-8", file: body},
		{name: "utf-8 with a byte order mark", file: "\ufeff" + body},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			groups := filepath.Join(t.TempDir(), "crconfig.json")
			if err := os.WriteFile(groups, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, options{env: map[string]string{"PICKEDGE_CACHE_GROUPS_FILE": groups}})
			id, token := h.session("sintel")
			h.at(time.Second)
			h.setHealth(false, "fra-1", "fra-2", "fra-isp-1")
			resp := h.mustPick(id, token, clientFra)
			if resp.Edges[0].PoP != "iad" || resp.Result != "CZ_BACKUP" || !resp.Degraded {
				t.Fatalf("first PoP %s (%s, degraded %v), want the backup iad", resp.Edges[0].PoP, resp.Result, resp.Degraded)
			}
		})
	}
}

// TestEdgesOfferOnlyWhereTheRulesSendTheClient: /edges is the list an API
// client fails over down, so past the first PoP it names the PoPs Traffic
// Router's rules send the client to when the ones above are down: the
// zone's group, its backups (CZ-only ones too), then the group closest to
// the zone, and with fallbackToClosest false nothing past the backups.
func TestEdgesOfferOnlyWhereTheRulesSendTheClient(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, groups string
		want         []string // PoPs in order
	}{
		{name: "fallbackToClosest false: the zone's group and its backups",
			groups: `{"edgeLocations": {"fra": {"backupLocations": {"list": ["iad"], "fallbackToClosest": false}}}}`,
			want:   []string{"fra", "iad"}},
		{name: "a CZ-only backup before the group closest to the zone",
			groups: `{"edgeLocations": {"fra": {"backupLocations": {"list": ["iad"], "fallbackToClosest": true}},
				"iad": {"localizationMethods": ["CZ"]}}}`,
			want: []string{"fra", "iad"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			groups := filepath.Join(t.TempDir(), "crconfig.json")
			if err := os.WriteFile(groups, []byte(tt.groups), 0o600); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, options{env: map[string]string{"PICKEDGE_CACHE_GROUPS_FILE": groups}})
			id, token := h.session("sintel")
			resp := h.mustPick(id, token, clientFra)
			var pops []string
			for _, e := range resp.Edges {
				if len(pops) == 0 || pops[len(pops)-1] != e.PoP {
					pops = append(pops, e.PoP)
				}
			}
			if !slices.Equal(pops, tt.want) {
				t.Fatalf("edges %s: PoPs %v, want %v", edgeSummary(resp), pops, tt.want)
			}
		})
	}
}

// TestIPv6DownReportSteersIPv6ClientsAway: an edge reporting it cannot
// serve over IPv6 (through the signed report, the bus and the store) stops
// serving IPv6 clients, as Traffic Router's per-version availability does.
func TestIPv6DownReportSteersIPv6ClientsAway(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	id, token := h.session("sintel")
	if resp := h.mustPick(id, token, clientIad6); resp.Edges[0].PoP != "iad" {
		t.Fatalf("before: first PoP %s", resp.Edges[0].PoP)
	}
	h.at(time.Second)
	for _, e := range []string{"iad-1", "iad-2"} {
		rec := h.report(e, playback.EdgeReport{EdgeID: e, Load: 10, Capacity: 100, Healthy: true, IPv6Down: true, ReportedAt: h.clock()})
		if rec.Code != http.StatusAccepted {
			t.Fatalf("report %s: %d %s", e, rec.Code, rec.Body)
		}
	}
	h.idle()
	resp := h.mustPick(id, token, clientIad6)
	if resp.Edges[0].PoP == "iad" || slices.ContainsFunc(resp.Edges, func(e pickedge.EdgeChoice) bool { return e.PoP == "iad" }) {
		t.Fatalf("after: ranking %s still offers iad to an IPv6 client", edgeSummary(resp))
	}
	if resp.Result != "CZ_BACKUP" || !resp.Degraded {
		t.Fatalf("result %s degraded %v, want the group closest to the zone and a short TTL", resp.Result, resp.Degraded)
	}
}

// TestCoverageZonesFromTheStore serves the coverage zone versions operators
// upload (admin API, import) with no file configured: each new version is
// in service after the poll interval without a restart, and a stored
// version that does not parse (written around the upload's check) leaves
// the last good one in service.
func TestCoverageZonesFromTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// No file: the store serves the zones (GeoIP still places the client
	// until a version names its network).
	h := newHarness(t, options{zoneStore: true, env: map[string]string{"PICKEDGE_COVERAGE_ZONE_FILE": "", "PICKEDGE_ZONE_FILE_POLL": "1s"}})
	id, token := h.session("sintel")
	zone := func() string { return h.mustPick(id, token, clientFra).Location.Zone }
	if z := zone(); z != "" {
		t.Fatalf("zone %q before any upload", z)
	}
	// waitZone moves the clock past the poll and asks until the
	// background read has brought want (or the wall-clock bound passes).
	step := time.Duration(0)
	waitZone := func(want string) string {
		t.Helper()
		var got string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			step += 2 * time.Second
			h.at(step)
			if got = zone(); got == want {
				break
			}
		}
		return got
	}
	upload := func(body string) {
		t.Helper()
		if _, err := catalogfile.UploadCoverageZones(ctx, h.store, []byte(body), "admin:test", h.clock(), 0); err != nil {
			t.Fatal(err)
		}
	}
	upload(`{"coverageZones": {"fra": {"network": ["203.0.113.0/24"], "coordinates": {"latitude": 50.1, "longitude": 8.7}}}}`)
	if z := waitZone("fra"); z != "fra" {
		t.Fatalf("v1: zone %q", z)
	}
	if _, err := h.store.PutCoverageZones(ctx, playback.CoverageZonesUpload{Data: []byte(`{"coverageZones": {"iad": {"network": ["203.0.113.0/40"]}}}`),
		Actor: "raw", At: h.clock()}); err != nil {
		t.Fatal(err)
	}
	// Several polls later the bad version 2 has been read and skipped.
	for range 5 {
		step += 2 * time.Second
		h.at(step)
		if z := zone(); z != "fra" {
			t.Fatalf("a version that does not parse replaced v1: zone %q", z)
		}
		time.Sleep(20 * time.Millisecond)
	}
	upload(`{"coverageZones": {"lhr": {"network": ["203.0.113.0/24"], "coordinates": {"latitude": 51.5, "longitude": -0.1}}}}`)
	if z := waitZone("lhr"); z != "lhr" {
		t.Fatalf("v3: zone %q", z)
	}
	if resp := h.mustPick(id, token, clientFra); resp.Edges[0].PoP != "lhr" {
		t.Fatalf("v3: first PoP %s", resp.Edges[0].PoP)
	}
}

// TestCoverageZonesStoreReadRetried: without polling
// (PICKEDGE_ZONE_FILE_POLL=0) the store's coverage zones are read once per
// instance. When that read fails (the store briefly unreachable at a cold
// start) requests are answered by GeoIP meanwhile, never 5xx, and a
// request after a backoff reads again until a read answers: one failed
// read must not leave the instance without zones for its whole life.
func TestCoverageZonesStoreReadRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{zoneStore: true, zoneReadFailures: 2,
		env: map[string]string{"PICKEDGE_COVERAGE_ZONE_FILE": "", "PICKEDGE_ZONE_FILE_POLL": "0"}})
	if _, err := catalogfile.UploadCoverageZones(context.Background(), h.store,
		[]byte(`{"coverageZones": {"fra": {"network": ["203.0.113.0/24"], "coordinates": {"latitude": 50.1, "longitude": 8.7}}}}`),
		"admin:test", h.clock(), 0); err != nil {
		t.Fatal(err)
	}
	id, token := h.session("sintel")
	zone := func() string { return h.mustPick(id, token, clientFra).Location.Zone }
	if z := zone(); z != "" {
		t.Fatalf("zone %q from a read that failed", z)
	}
	// The clock moves a second a step, inside the edges' staleness, then
	// holds while a read in flight ends.
	var got string
	step := time.Duration(0)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if step < 20*time.Second {
			step += time.Second
			h.at(step)
		}
		if got = zone(); got == "fra" {
			break
		}
	}
	if got != "fra" {
		t.Fatalf("zone %q after the store came back (%d reads): a failed read left the instance without coverage zones", got, h.zones.reads.Load())
	}
	// Reads stop once one answered, and failed ones did not pile up.
	if n := h.zones.reads.Load(); n != 3 {
		t.Fatalf("%d reads of the store, want 2 failed and 1 answered", n)
	}
}

// TestRefusedCoverageZoneFileAtStart: a coverage zone file that does not
// parse at start does not stop pick edge. It serves with the operators'
// last good upload from the store (or GeoIP alone without one), reports
// the refusal in Problems, and takes the file into service once a version
// of it loads.
func TestRefusedCoverageZoneFileAtStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		zoneStore bool
		wantZone  string // before the file is mended
	}{
		{name: "the store's last good version serves", zoneStore: true, wantZone: "fra"},
		{name: "no store: GeoIP alone", wantZone: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "czf.json")
			mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			write := func(body string) {
				t.Helper()
				if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				mtime = mtime.Add(time.Minute)
				if err := os.Chtimes(path, mtime, mtime); err != nil {
					t.Fatal(err)
				}
			}
			write(`{"revision": "bad", "coverageZones": {"iad": {"network": ["203.0.113.0/40"]}}}`)
			h := newHarness(t, options{zoneStore: tc.zoneStore,
				env: map[string]string{"PICKEDGE_COVERAGE_ZONE_FILE": path, "PICKEDGE_ZONE_FILE_POLL": "1s"}})
			problems := h.srv.Problems()
			if len(problems) != 1 || !strings.Contains(problems[0], "czf.json") {
				t.Fatalf("problems %q, want the refused file", problems)
			}
			if tc.zoneStore {
				if _, err := catalogfile.UploadCoverageZones(context.Background(), h.store,
					[]byte(`{"coverageZones": {"fra": {"network": ["203.0.113.0/24"], "coordinates": {"latitude": 50.1, "longitude": 8.7}}}}`),
					"admin:test", h.clock(), 0); err != nil {
					t.Fatal(err)
				}
			}
			id, token := h.session("sintel")
			if z := h.mustPick(id, token, clientFra).Location.Zone; z != tc.wantZone {
				t.Fatalf("zone %q with the file refused, want %q", z, tc.wantZone)
			}
			// The mended file takes over at the next poll; nothing is left
			// to report.
			write(`{"revision": "v2", "coverageZones": {"lhr": {"network": ["203.0.113.0/24"], "coordinates": {"latitude": 51.5, "longitude": -0.1}}}}`)
			h.at(2 * time.Second)
			if resp := h.mustPick(id, token, clientFra); resp.Location.Zone != "lhr" || resp.Edges[0].PoP != "lhr" {
				t.Fatalf("mended file: zone %q, first PoP %s", resp.Location.Zone, resp.Edges[0].PoP)
			}
			if p := h.srv.Problems(); len(p) != 0 {
				t.Fatalf("problems after the mend: %q", p)
			}
		})
	}
}

package steering

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

// Traffic Router parity corpus, part 2: which cache group (PoP) a client is
// sent to. Each row is a client address against a coverage zone file, a
// deep coverage zone file, cache group settings (CRConfig edgeLocations) and
// an edge table, run through Locator and Pick with the default Config; want
// is the cache group Traffic Router's TrafficRouter.selectCaches answers
// (traffic_router/core/src/main/java/.../core/router/TrafficRouter.java at
// apache/trafficcontrol 991a4243: selectCaches, getCoverageZoneCacheLocation,
// getClosestCacheLocation, getCachesByGeo, getSupportingCaches), or the
// refusal it ends in. An edge that is down stands for a cache Traffic
// Router finds unavailable; a PoP without usable edges for a group with no
// supporting caches.

var (
	// 12.23.34.0/24 is CoverageZoneTest's client network; GeoIP puts it
	// in London, far from every group, so only the zone can explain an
	// answer near Denver.
	parityCities = []cityFixture{
		{cidr: "12.23.32.0/21", lat: 51.51, lon: -0.13, country: "GB"},
		{cidr: "8.8.8.0/24", lat: 37.42, lon: -122.08, country: "US"},
		{cidr: "81.0.0.0/8", lat: 52.52, lon: 13.40, country: "DE"},
		{cidr: "2001:db8:99::/48", lat: 37.42, lon: -122.08, country: "US"},
	}
	parityASNs = []asnFixture{{cidr: "81.0.0.0/8", asn: 3320}}
)

type parityEdge struct {
	id, pop  string
	lat, lon float64
	down     bool
	load     float64 // of a capacity of 100; 0 stands for 10
	noIPv6   bool
	ipv6Down bool
	asns     []uint32
}

type selectRow struct {
	name, source string
	czf, dczf    string
	groups       string // edgeLocations JSON
	edges        []parityEdge
	addr         string
	wantPoP      string // first PoP of the ranking
	wantEdge     string // first edge, when the row is about edges
	wantResult   string
	wantReason   string // reason of the refusal instead of a ranking
}

// CoverageZoneTest's groups: a client zone east-cache-group at (40, -101);
// far-east (40, -101.5) is nearest but GEO-only; east (40, -100) has no
// supporting cache; west (40, -105) does.
var czTestEdges = []parityEdge{
	{id: "far-east-cache-1", pop: "far-east-cache-group", lat: 40, lon: -101.5},
	{id: "east-cache-1", pop: "east-cache-group", lat: 40, lon: -100, down: true},
	{id: "west-cache-1", pop: "west-cache-group", lat: 40, lon: -105},
}

const (
	czTestCZF    = `{"coverageZones": {"east-cache-group": {"network": ["12.23.34.0/24"], "coordinates": {"latitude": 40.0, "longitude": -101}}}}`
	czTestGroups = `{"edgeLocations": {"far-east-cache-group": {"latitude": 40, "longitude": -101.5, "localizationMethods": ["GEO"]}}}`
)

// Groups for the rest: fra (the zone's own), muc and ams (backups), lhr.
var europe = []parityEdge{
	{id: "fra-1", pop: "fra", lat: 50.11, lon: 8.68},
	{id: "muc-1", pop: "muc", lat: 48.14, lon: 11.58},
	{id: "ams-1", pop: "ams", lat: 52.37, lon: 4.90},
	{id: "lhr-1", pop: "lhr", lat: 51.47, lon: -0.45},
	{id: "sjc-1", pop: "sjc", lat: 37.36, lon: -121.93},
}

func withDown(edges []parityEdge, ids ...string) []parityEdge {
	out := slices.Clone(edges)
	for i := range out {
		if slices.Contains(ids, out[i].id) {
			out[i].down = true
		}
	}
	return out
}

const euroCZF = `{"coverageZones": {
  "fra": {"network": ["12.23.34.0/24"], "network6": ["2001:db8:f::/48"], "coordinates": {"latitude": 50.11, "longitude": 8.68}},
  "nocoords": {"network": ["12.23.35.0/24"]},
  "half": {"network": ["12.23.36.0/24"], "coordinates": {"latitude": 48.14}},
  "ghost": {"network": ["12.23.37.0/24"], "coordinates": {"latitude": 48.2, "longitude": 11.6}},
  "mapped": {"network6": ["0:0:0:0:0:ffff:a4f:3700/24"]}}}`

var selectCorpus = []selectRow{
	{name: "zone group without supporting caches: closest CZ-enabled group to the zone", source: "TR test CoverageZoneTest.trafficRouterReturnsNearestCacheGroupForDeliveryService",
		czf: czTestCZF, groups: czTestGroups, edges: czTestEdges, addr: "12.23.34.45", wantPoP: "west-cache-group", wantResult: ResultCZBackup},
	{name: "zone group with a usable edge is final however far the client's GeoIP is", source: "TR src getCoverageZoneCacheLocation: supporting caches → return",
		czf: euroCZF, edges: europe, addr: "12.23.34.45", wantPoP: "fra", wantResult: ResultCZ},
	{name: "zone group that disallows CZ: no cache, no GeoIP fallback", source: "TR src getCoverageZoneCacheLocation: !isEnabledFor(CZ) → continueGeo=false",
		czf: euroCZF, groups: `{"edgeLocations": {"fra": {"localizationMethods": ["GEO"]}}}`, edges: europe, addr: "12.23.34.45", wantReason: "no_edge_for_client"},
	{name: "zone group down: first backup that allows CZ and has caches", source: "TR src getCoverageZoneCacheLocation: backupCacheGroups loop",
		czf: euroCZF, groups: `{"edgeLocations": {"fra": {"backupLocations": {"list": ["lhr", "ams"], "fallbackToClosest": true}}, "lhr": {"localizationMethods": ["GEO"]}}}`,
		edges: withDown(europe, "fra-1"), addr: "12.23.34.45", wantPoP: "ams", wantResult: ResultCZBackup},
	{name: "backups in list order, not by distance", source: "TR src getCoverageZoneCacheLocation: backupCacheGroups loop",
		czf: euroCZF, groups: `{"edgeLocations": {"fra": {"backupLocations": {"list": ["lhr", "muc"]}}}}`,
		edges: withDown(europe, "fra-1"), addr: "12.23.34.45", wantPoP: "lhr", wantResult: ResultCZBackup},
	{name: "backups down and fallbackToClosest false: no cache", source: "TR src getCoverageZoneCacheLocation: !isUseClosestGeoLoc → continueGeo=false",
		czf: euroCZF, groups: `{"edgeLocations": {"fra": {"backupLocations": {"list": ["ams"], "fallbackToClosest": false}}}}`,
		edges: withDown(europe, "fra-1", "ams-1"), addr: "12.23.34.45", wantReason: "no_edge_for_client"},
	{name: "a backup list without fallbackToClosest defaults to false", source: "TR src ConfigHandler.parseLocationConfig: optBoolean(fallbackToClosest, false)",
		czf: euroCZF, groups: `{"edgeLocations": {"fra": {"backupLocations": {"list": ["ams"]}}}}`,
		edges: withDown(europe, "fra-1", "ams-1"), addr: "12.23.34.45", wantReason: "no_edge_for_client"},
	{name: "backups down and fallbackToClosest true: closest to the zone", source: "TR src getCoverageZoneCacheLocation → getClosestCacheLocation",
		czf: euroCZF, groups: `{"edgeLocations": {"fra": {"backupLocations": {"list": ["ams"], "fallbackToClosest": true}}}}`,
		edges: withDown(europe, "fra-1", "ams-1"), addr: "12.23.34.45", wantPoP: "muc", wantResult: ResultCZBackup},
	{name: "backupLocations without a list: closest to the zone", source: "TR src ConfigHandler.parseLocationConfig: useClosestOnBackupFailure stays true",
		czf: euroCZF, groups: `{"edgeLocations": {"fra": {"backupLocations": {}}}}`,
		edges: withDown(europe, "fra-1"), addr: "12.23.34.45", wantPoP: "muc", wantResult: ResultCZBackup},
	{name: "zone naming no group, with coordinates: the group closest to them", source: "TR src getCoverageZoneCacheLocation: getCacheLocationById null → closest",
		czf: euroCZF, edges: europe, addr: "12.23.37.1", wantPoP: "muc", wantResult: ResultCZBackup},
	{name: "closest to the zone skips groups that disallow CZ", source: "TR src filterEnabledLocations(CZ)",
		czf: euroCZF, groups: `{"edgeLocations": {"muc": {"localizationMethods": ["GEO", "DEEP_CZ"]}}}`, edges: europe, addr: "12.23.37.1", wantPoP: "fra", wantResult: ResultCZBackup},
	{name: "zone without coordinates and no group: GeoIP", source: "TR src getClosestCacheLocation(null) → null → selectCachesByGeo",
		czf: euroCZF, edges: europe, addr: "12.23.35.1", wantPoP: "lhr", wantResult: ResultGeo},
	{name: "half-given coordinates are none: GeoIP", source: "TR src NetworkNode.generateTree needs latitude and longitude",
		czf: euroCZF, edges: europe, addr: "12.23.36.1", wantPoP: "lhr", wantResult: ResultGeo},
	{name: "no CZ-enabled group anywhere: GeoIP among GEO-enabled groups", source: "TR src closest null → selectCachesByGeo (continueGeo true)",
		czf: euroCZF, groups: `{"edgeLocations": {"fra": {"localizationMethods": ["GEO"]}, "muc": {"localizationMethods": ["GEO"]}, "ams": {"localizationMethods": ["GEO"]}, "lhr": {"localizationMethods": ["GEO"]}, "sjc": {"localizationMethods": ["GEO"]}}}`,
		edges: europe, addr: "12.23.37.1", wantPoP: "lhr", wantResult: ResultGeo},
	{name: "geo skips groups that disallow GEO", source: "TR src getCachesByGeo: filterEnabledLocations(GEO)",
		groups: `{"edgeLocations": {"sjc": {"localizationMethods": ["CZ"]}}}`, edges: europe, addr: "8.8.8.8", wantPoP: "lhr", wantResult: ResultGeo},
	{name: "ipv4-mapped network6 entry is no catch-all: 8.8.8.8 goes by GeoIP", source: "TR src SuperNode.getNetwork (issue: 8.8.8.8)",
		czf: euroCZF, edges: europe, addr: "8.8.8.8", wantPoP: "sjc", wantResult: ResultGeo},
	{name: "isp-embedded group does not outrank a zone hit", source: "TR src selectCaches: a CZ result returns before GEO",
		czf:   `{"coverageZones": {"fra": {"network": ["81.0.0.0/8"], "coordinates": {"latitude": 50.11, "longitude": 8.68}}}}`,
		edges: append(slices.Clone(europe), parityEdge{id: "isp-1", pop: "ber-isp", lat: 52.52, lon: 13.40, asns: []uint32{3320}}),
		addr:  "81.1.1.1", wantPoP: "fra", wantResult: ResultCZ},
	{name: "a cache whose load equals its capacity stays available", source: "TM src health.EvalInterface: unavailable only when maxBandwidth < kbpsOut (\"maximum bandwidth exceeded\")",
		czf: euroCZF, edges: []parityEdge{{id: "fra-1", pop: "fra", lat: 50.11, lon: 8.68, load: 100}, {id: "muc-1", pop: "muc", lat: 48.14, lon: 11.58}},
		addr: "12.23.34.45", wantPoP: "fra", wantResult: ResultCZ},
	{name: "a cache whose load exceeds its capacity is unavailable", source: "TM src health.EvalInterface: maxBandwidth < kbpsOut → unavailable",
		czf: euroCZF, edges: []parityEdge{{id: "fra-1", pop: "fra", lat: 50.11, lon: 8.68, load: 100.5}, {id: "muc-1", pop: "muc", lat: 48.14, lon: 11.58}},
		addr: "12.23.34.45", wantPoP: "muc", wantResult: ResultCZBackup},
	{name: "ipv6 client: groups without ipv6-available caches are skipped", source: "TR src getSupportingCaches: cache.isAvailable(requestVersion)",
		czf: euroCZF, edges: []parityEdge{{id: "fra-1", pop: "fra", lat: 50.11, lon: 8.68, noIPv6: true}, {id: "muc-1", pop: "muc", lat: 48.14, lon: 11.58}},
		addr: "2001:db8:f::1", wantPoP: "muc", wantResult: ResultCZBackup},
	{name: "ipv4 client still uses the ipv4-only group", source: "TR src getSupportingCaches: cache.isAvailable(IPV4ONLY)",
		czf: euroCZF, edges: []parityEdge{{id: "fra-1", pop: "fra", lat: 50.11, lon: 8.68, noIPv6: true}, {id: "muc-1", pop: "muc", lat: 48.14, lon: 11.58}},
		addr: "12.23.34.45", wantPoP: "fra", wantResult: ResultCZ},
	{name: "ipv6 client: a group whose edges report ipv6 down is skipped", source: "TR src getSupportingCaches: cache.isAvailable(IPV6ONLY) from Traffic Monitor's per-version availability",
		czf: euroCZF, edges: []parityEdge{{id: "fra-1", pop: "fra", lat: 50.11, lon: 8.68, ipv6Down: true}, {id: "muc-1", pop: "muc", lat: 48.14, lon: 11.58}},
		addr: "2001:db8:f::1", wantPoP: "muc", wantResult: ResultCZBackup},
	{name: "deep zone with an available cache: that cache first", source: "TR src selectCaches: useDeep and deep caches → DEEP_CZ",
		czf: euroCZF, dczf: `{"deepCoverageZones": {"isp-deep": {"network": ["12.23.34.0/25"], "caches": ["deep-1", "missing"]}}}`,
		edges: append(slices.Clone(europe), parityEdge{id: "deep-1", pop: "ber-isp", lat: 52.52, lon: 13.40}),
		addr:  "12.23.34.45", wantPoP: "deep.isp-deep", wantEdge: "deep-1", wantResult: ResultDeepCZ},
	{name: "deep zone decides before the coverage zone's refusals", source: "TR src selectCaches: the deep location is looked at first",
		czf: euroCZF, groups: `{"edgeLocations": {"fra": {"localizationMethods": ["GEO"]}}}`, dczf: `{"deepCoverageZones": {"isp-deep": {"network": ["12.23.34.0/25"], "caches": ["deep-1"]}}}`,
		edges: append(slices.Clone(europe), parityEdge{id: "deep-1", pop: "ber-isp", lat: 52.52, lon: 13.40}),
		addr:  "12.23.34.45", wantPoP: "deep.isp-deep", wantEdge: "deep-1", wantResult: ResultDeepCZ},
	{name: "deep zone whose caches are down: the regular coverage zone", source: "TR src selectCaches: no deep caches → getCoverageZoneCacheLocation",
		czf: euroCZF, dczf: `{"deepCoverageZones": {"isp-deep": {"network": ["12.23.34.0/25"], "caches": ["deep-1"]}}}`,
		edges: append(slices.Clone(europe), parityEdge{id: "deep-1", pop: "ber-isp", lat: 52.52, lon: 13.40, down: true}),
		addr:  "12.23.34.45", wantPoP: "fra", wantResult: ResultCZ},
	{name: "deep caches of a DEEP_CZ-only group serve while no other group can", source: "TR src selectCaches: the deep location (\"deep.\" + zone, every method) answers before CZ and GEO are looked at",
		czf: euroCZF, groups: `{"edgeLocations": {"ber-isp": {"localizationMethods": ["DEEP_CZ"]}}}`, dczf: `{"deepCoverageZones": {"isp-deep": {"network": ["12.23.34.0/25"], "caches": ["deep-1"]}}}`,
		edges: append(withDown(europe, "fra-1", "muc-1", "ams-1", "lhr-1", "sjc-1"), parityEdge{id: "deep-1", pop: "ber-isp", lat: 52.52, lon: 13.40}),
		addr:  "12.23.34.45", wantPoP: "deep.isp-deep", wantEdge: "deep-1", wantResult: ResultDeepCZ},
}

func TestPickMatchesTrafficRouter(t *testing.T) {
	t.Parallel()
	geo, err := NewGeoIP(cityDB(t, parityCities...), asnDB(t, parityASNs...))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range selectCorpus {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			src := LocatorSources{GeoIP: geo}
			if row.czf != "" {
				cz, err := ParseCoverageZones([]byte(row.czf))
				if err != nil {
					t.Fatal(err)
				}
				src.Zones = cz
			}
			if row.dczf != "" {
				cz, err := ParseDeepCoverageZones([]byte(row.dczf))
				if err != nil {
					t.Fatal(err)
				}
				src.DeepZones = cz
			}
			var cfg Config
			if row.groups != "" {
				groups, err := ParseCacheGroups([]byte(row.groups))
				if err != nil {
					t.Fatal(err)
				}
				cfg.CacheGroups = groups
			}
			var edges []playback.Edge
			for _, e := range row.edges {
				load := cmp.Or(e.load, 10)
				edges = append(edges, playback.Edge{ID: e.id, CDN: "tr", PoP: e.pop, BaseURL: "https://" + e.id + ".example.net",
					Lat: e.lat, Lon: e.lon, Capacity: 100, Load: load, Healthy: !e.down, NoIPv6: e.noIPv6, IPv6Down: e.ipv6Down, ASNs: e.asns, ReportedAt: t0})
			}
			ix := mustIndex(t, cfg, edges)
			locator, err := NewLocatorWith(src, Location{Lat: 50, Lon: 10})
			if err != nil {
				t.Fatal(err)
			}
			loc, err := locator.Locate(netip.MustParseAddr(row.addr))
			if err != nil {
				t.Fatal(err)
			}
			r, err := ix.Pick(Query{Location: loc, Title: "t", Now: t0}, nil)
			if row.wantReason != "" {
				var pe *playback.Error
				if !errors.As(err, &pe) || pe.Reason != row.wantReason {
					t.Fatalf("[%s] Pick = %v, %v; Traffic Router refuses (%s)", row.source, pops(r.Choices), err, row.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatalf("[%s] %v", row.source, err)
			}
			if got := r.Choices[0].PoP; got != row.wantPoP || r.Result != row.wantResult {
				t.Fatalf("[%s] first PoP %s (%s), Traffic Router answers %s (%s); ranking %v, location %+v",
					row.source, got, r.Result, row.wantPoP, row.wantResult, pops(r.Choices), loc)
			}
			if row.wantEdge != "" && r.Choices[0].EdgeID != row.wantEdge {
				t.Fatalf("[%s] first edge %s, want %s", row.source, r.Choices[0].EdgeID, row.wantEdge)
			}
		})
	}
}

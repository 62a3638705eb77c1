package steering

import (
	"slices"
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

// TestFallbackEdgesFollowTrafficRouterRules: the ranked edges after the
// first (pickedge's /edges answer) are where an API client fails over, so
// each CDN's part must list the PoPs Traffic Router's rules send this
// client to on that CDN, in their order: its coverage zone's group, the
// group's backups by name (getCoverageZoneCacheLocation), then, unless
// fallbackToClosest is false, the CZ-enabled groups closest to the zone's
// coordinates, and only once no CZ-enabled group is left the groups that
// allow GEO (selectCachesByGeo). Ranking the rest by the method that chose
// the first PoP missed CZ-only groups and listed GEO groups the client
// may not use.
func TestFallbackEdgesFollowTrafficRouterRules(t *testing.T) {
	t.Parallel()
	zoneAt := func(zone string, at place) Location {
		return Location{Lat: at.lat, Lon: at.lon, Source: SourceCoverageZone, Zone: zone}
	}
	muc := place{48.14, 11.58}
	for _, tc := range []struct {
		name   string
		groups map[string]CacheGroup
		edges  []playback.Edge
		loc    Location
		want   []string
	}{
		{name: "the zone's CZ-only group on the lighter CDN comes first there",
			groups: map[string]CacheGroup{"fra": {FallbackToClosest: true, Methods: MethodCZ}},
			edges:  []playback.Edge{edge("a-fra", "a", "fra", fra), edge("b-fra", "b", "fra", fra), edge("b-par", "b", "par", par)},
			loc:    zoneAt("fra", fra), want: []string{"a/fra", "b/fra", "b/par"}},
		{name: "the zone's group on the lighter CDN before that CDN's PoPs nearer the client (default settings)",
			edges: []playback.Edge{edge("a-fra", "a", "fra", fra), edge("b-fra", "b", "fra", fra),
				edge("b-par", "b", "par", par), edge("b-ams", "b", "ams", ams)},
			loc: Location{Lat: par.lat, Lon: par.lon, Source: SourceGeoIP, Zone: "fra"}, want: []string{"a/fra", "b/fra", "b/par"}},
		{name: "fallbackToClosest false lists the zone's group and its backups only",
			groups: map[string]CacheGroup{"fra": {Backups: []string{"par"}}},
			edges: []playback.Edge{edge("a-fra", "a", "fra", fra), edge("a-par", "a", "par", par),
				edge("a-ams", "a", "ams", ams), edge("b-ams", "b", "ams", ams)},
			loc: zoneAt("fra", fra), want: []string{"a/fra", "a/par"}},
		{name: "a CZ-only backup before the group closest to the zone",
			groups: map[string]CacheGroup{"fra": {Backups: []string{"par"}, FallbackToClosest: true}, "par": {Methods: MethodCZ}},
			edges:  []playback.Edge{edge("a-fra", "a", "fra", fra), edge("a-par", "a", "par", par), edge("a-ams", "a", "ams", ams)},
			loc:    zoneAt("fra", fra), want: []string{"a/fra", "a/par"}},
		{name: "closest to the zone on one CDN, GEO on a CDN without CZ groups",
			groups: map[string]CacheGroup{"ams": {FallbackToClosest: true, Methods: MethodGeo}},
			edges:  []playback.Edge{edge("a-muc", "a", "muc", muc), edge("b-ams", "b", "ams", ams)},
			loc:    zoneAt("ghost", muc), want: []string{"a/muc", "b/ams"}},
		{name: "CZ-only groups closest to the zone, no GEO group while one is left",
			groups: map[string]CacheGroup{"muc": {Methods: MethodCZ}, "ber": {Methods: MethodCZ}, "fra": {Methods: MethodGeo}},
			edges: []playback.Edge{edge("a-muc", "a", "muc", muc), edge("a-ber", "a", "ber", ber),
				edge("a-fra", "a", "fra", fra)},
			loc: zoneAt("ghost", muc), want: []string{"a/muc", "a/ber"}},
		{name: "deep edges, then nothing when the zone's group forbids CZ",
			groups: map[string]CacheGroup{"fra": {FallbackToClosest: true, Methods: MethodGeo | MethodDeepCZ}},
			edges:  []playback.Edge{edge("a-isp", "a", "isp", ber), edge("a-fra", "a", "fra", fra), edge("a-par", "a", "par", par)},
			loc: func() Location {
				l := zoneAt("fra", fra)
				l.DeepZone, l.DeepCaches = "isp-deep", []string{"a-isp"}
				return l
			}(), want: []string{"a/deep.isp-deep"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{CacheGroups: tc.groups, CDNWeights: map[string]float64{"a": 2, "b": 1}, MaxResults: MaxResults}
			r, err := mustIndex(t, cfg, tc.edges).Pick(Query{Location: tc.loc, Title: "t", Now: t0}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := pops(r.Choices); !slices.Equal(got, tc.want) {
				t.Errorf("choices %v (%s), want %v", got, r.Result, tc.want)
			}
		})
	}
}

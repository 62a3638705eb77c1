package steering

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
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
		pops   int // Config.PoPsPerCDN, when not the default
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
		{name: "a PoP whose usable edges are all listed as deep caches leaves its place to the next",
			edges: []playback.Edge{edge("a-fra", "a", "fra", fra), edge("a-par", "a", "par", par)},
			loc: func() Location {
				l := frankfurt
				l.DeepZone, l.DeepCaches = "isp-deep", []string{"a-fra"}
				return l
			}(), pops: 1, want: []string{"a/deep.isp-deep", "a/par"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{CacheGroups: tc.groups, CDNWeights: map[string]float64{"a": 2, "b": 1}, MaxResults: MaxResults, PoPsPerCDN: tc.pops}
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

// TestFallbackEdgesAreWhereTheClientFailsOver checks that rule on random
// tables, cache group settings and clients, CDN by CDN as the pathways
// are (TestPathwaysNameEveryCDNThatCouldServeTheClientAlone): each PoP a
// CDN's part lists is the one Pick, given only that CDN's edges with the
// PoPs listed above it (and the listed deep edges) down, chooses first,
// with the same first edges; and when the part ends before PoPsPerCDN
// PoPs with room left in the list, Pick finds that CDN nothing more.
func TestFallbackEdgesAreWhereTheClientFailsOver(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	names := []string{"fra", "muc", "ams", "lhr", "par", "nyc"}
	cdns := []string{"a", "b", "c"}
	failures := 0
	for iter := 0; iter < 3000 && failures < 5; iter++ {
		edges, groups, loc := randomCase(rng, names, cdns, randomShape{skipPoP: 3, maxEdges: 3, unhealthy: 4, backups: 2})
		cfg := Config{CacheGroups: groups, CDNWeights: map[string]float64{"a": 3, "b": 2, "c": 1},
			EdgesPerPoP: 1 + rng.IntN(3), PoPsPerCDN: 1 + rng.IntN(MaxPoPsPerCDN), MaxResults: MaxResults}
		if rng.IntN(4) == 0 {
			cfg.MaxResults = 1 + rng.IntN(8)
		}
		q := Query{Location: loc, Title: "t", Now: t0}
		r, err := mustIndex(t, cfg, edges).Pick(q, nil)
		if err != nil {
			continue
		}
		if msg := failsOver(t, cfg, edges, q, r.Choices); msg != "" {
			failures++
			t.Errorf("%s\n choices %v (%s); client %+v, groups %+v, shape %d/%d/%d",
				msg, pops(r.Choices), r.Result, loc, groups, cfg.MaxResults, cfg.PoPsPerCDN, cfg.EdgesPerPoP)
		}
	}
}

// failsOver answers what is wrong with choices as a failover list for q,
// or "".
func failsOver(t *testing.T, cfg Config, edges []playback.Edge, q Query, choices []Choice) string {
	down := map[string]bool{}
	for _, c := range choices {
		if strings.HasPrefix(c.PoP, "deep.") {
			down[c.EdgeID] = true
		}
	}
	// Past its deep caches the client goes where its zone and GeoIP send it.
	q.Location.DeepZone, q.Location.DeepCaches = "", nil
	cdns := map[string]bool{}
	for _, e := range edges {
		cdns[e.CDN] = true
	}
	for cdn := range cdns {
		type part struct {
			pop string
			ids []string
		}
		var listed []part
		for _, c := range choices {
			if c.CDN != cdn || strings.HasPrefix(c.PoP, "deep.") {
				continue
			}
			if len(listed) == 0 || listed[len(listed)-1].pop != c.PoP {
				listed = append(listed, part{pop: c.PoP})
			}
			listed[len(listed)-1].ids = append(listed[len(listed)-1].ids, c.EdgeID)
		}
		gone := maps.Clone(down)
		alone := func() ([]Choice, error) {
			var only []playback.Edge
			for _, e := range edges {
				if e.CDN == cdn {
					if gone[e.ID] || gone[e.CDN+"/"+e.PoP] {
						e.Healthy = false
					}
					only = append(only, e)
				}
			}
			r, err := mustIndex(t, cfg, only).Pick(q, nil)
			return r.Choices, err
		}
		for j, p := range listed {
			got, err := alone()
			if err != nil {
				return fmt.Sprintf("%s lists %s as its PoP %d, but with the PoPs above it down Pick alone finds none (%v)", cdn, p.pop, j+1, err)
			}
			if got[0].PoP != p.pop {
				return fmt.Sprintf("%s lists %s as its PoP %d, but with the PoPs above it down Pick alone goes to %s", cdn, p.pop, j+1, got[0].PoP)
			}
			if first := ids(got)[:min(len(got), len(p.ids))]; !slices.Equal(first, p.ids) {
				return fmt.Sprintf("%s lists edges %v of %s, Pick alone %v", cdn, p.ids, p.pop, first)
			}
			gone[cdn+"/"+p.pop] = true
		}
		if len(listed) < cfg.PoPsPerCDN && len(choices) < cfg.MaxResults {
			if got, err := alone(); err == nil {
				return fmt.Sprintf("%s lists %v, leaving out %s where Pick alone goes next", cdn, listed, got[0].PoP)
			}
		}
	}
	return ""
}

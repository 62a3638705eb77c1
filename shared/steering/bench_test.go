package steering

import (
	"fmt"
	"math"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// The goals: Pick over 1k edges ≤ 5 µs and over 10k ≤ 50 µs with no
// allocation beyond the result. Run beside it: the floor, a scan of one
// precomputed unit vector per PoP for the nearest (Pick reads at least every
// PoP's vector: that is the least any ranking must do), on the same tables;
// and a naive baseline, haversine to every usable edge, which is what Pick
// is meant to beat, not a floor.

var benchTables = []struct {
	name         string
	pops, perPoP int
}{
	{"edges=1000", 100, 10},
	{"edges=10000", 1000, 10},
	{"edges=10000/one-per-pop", 10000, 1},
}

func benchQueries() []Query {
	locs := randomLocations(99, 1024)
	qs := make([]Query, len(locs))
	for i, l := range locs {
		qs[i] = Query{Location: l, Title: fmt.Sprint("title-", i%300), Now: t0}
	}
	return qs
}

func BenchmarkPick(b *testing.B) {
	qs := benchQueries()
	for _, tb := range benchTables {
		ix, err := NewIndex(Config{}, randomTable(42, tb.pops, tb.perPoP, "cloudfront", "cloudcdn", "local"))
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]Choice, 0, MaxResults)
		b.Run(tb.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := ix.Pick(qs[i&1023], buf); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	// Clients a coverage zone places, at their zone's PoP: the ranking
	// closest to the zone (MethodCZ), which the GeoIP tables above never
	// take.
	ix, err := NewIndex(Config{}, randomTable(42, 100, 10, "cloudfront", "cloudcdn", "local"))
	if err != nil {
		b.Fatal(err)
	}
	zoned := make([]Query, len(qs))
	for i, q := range qs {
		zoned[i] = q
		zoned[i].Location.Source, zoned[i].Location.Zone = SourceCoverageZone, fmt.Sprint("p", i%100)
	}
	buf := make([]Choice, 0, MaxResults)
	b.Run("edges=1000/coverage-zone", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := ix.Pick(zoned[i&1023], buf); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	// More CDNs than fit on Pick's stack: the per-CDN scratch is pooled.
	var cdns []string
	for i := range 40 {
		cdns = append(cdns, fmt.Sprintf("cdn%02d", i))
	}
	ix, err = NewIndex(Config{}, randomTable(42, 100, 10, cdns...))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("edges=1000/cdns=40", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := ix.Pick(qs[i&1023], buf); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkNearestHaversine is the naive baseline, not a floor: one pass
// over a []playback.Edge computing haversine to each usable edge.
func BenchmarkNearestHaversine(b *testing.B) {
	qs := benchQueries()
	edges := randomTable(42, 1000, 10, "cloudfront", "cloudcdn", "local")
	b.Run("edges=10000", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			q := qs[i&1023]
			i++
			cut := q.Now.Add(-30 * time.Second)
			best, bestKm := -1, math.Inf(1)
			for j := range edges {
				e := &edges[j]
				if !e.Healthy || e.Capacity <= 0 || e.Load > e.Capacity || e.LastHeard().Before(cut) {
					continue
				}
				if d := haversineKm(q.Location.Lat, q.Location.Lon, e.Lat, e.Lon); d < bestKm {
					best, bestKm = j, d
				}
			}
			if best < 0 {
				b.Fatal("no edge")
			}
		}
	})
}

// BenchmarkNearestUnitVector is Pick's floor on each of its tables: the
// nearest PoP by one dot product per PoP over precomputed unit vectors in a
// flat slice, with no health, load or freshness check and no ranking.
func BenchmarkNearestUnitVector(b *testing.B) {
	qs := benchQueries()
	for _, tb := range benchTables {
		edges := randomTable(42, tb.pops, tb.perPoP, "cloudfront", "cloudcdn", "local")
		type place struct{ lat, lon float64 }
		seen := map[place]bool{}
		var vs []vec3
		for _, e := range edges {
			if p := (place{e.Lat, e.Lon}); !seen[p] {
				seen[p] = true
				vs = append(vs, unitVector(e.Lat, e.Lon))
			}
		}
		b.Run(tb.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				q := qs[i&1023]
				i++
				c := unitVector(q.Location.Lat, q.Location.Lon)
				best, bestDot := -1, -2.0
				for j := range vs {
					if d := vs[j].dot(c); d > bestDot {
						best, bestDot = j, d
					}
				}
				if best < 0 {
					b.Fatal("no edge")
				}
			}
			b.ReportMetric(float64(len(vs)), "pops")
		})
	}
}

func BenchmarkNewIndex(b *testing.B) {
	edges := randomTable(42, 1000, 10, "cloudfront", "cloudcdn", "local")
	b.Run("edges=10000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NewIndex(Config{}, edges); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCoverageLookup(b *testing.B) {
	var zones []byte
	zones = append(zones, `{"coverageZones": {`...)
	for z := range 1000 {
		if z > 0 {
			zones = append(zones, ',')
		}
		zones = fmt.Appendf(zones, `"z%d": {"network": [`, z)
		for n := range 20 {
			if n > 0 {
				zones = append(zones, ',')
			}
			zones = fmt.Appendf(zones, `"%d.%d.%d.0/24"`, 10+z%200, z/200, n)
		}
		zones = fmt.Appendf(zones, `], "network6": ["2001:db8:%x::/48"]}`, z)
	}
	zones = append(zones, "}}"...)
	cz, err := ParseCoverageZones(zones)
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("10.0.5.9"), netip.MustParseAddr("2001:db8:3e7::1"), netip.MustParseAddr("8.8.8.8")}
	b.Run("prefixes=21000", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			cz.Lookup(addrs[i%3])
			i++
		}
	})
}

func BenchmarkLocate(b *testing.B) {
	geo, err := NewGeoIP(cityDB(b, geoCities...), asnDB(b, geoASNs...))
	if err != nil {
		b.Fatal(err)
	}
	cz, err := ParseCoverageZones([]byte(atcCoverageFile))
	if err != nil {
		b.Fatal(err)
	}
	loc, err := NewLocator(cz, geo, Location{Lat: 50, Lon: 10})
	if err != nil {
		b.Fatal(err)
	}
	addr := netip.MustParseAddr("198.51.100.7")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := loc.Locate(addr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClientIP(b *testing.B) {
	c, err := NewClientIP(ClientIPConfig{TrustedProxies: []string{"10.0.0.0/8", "2001:db8:c::/48"}})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:443"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.0.0.2")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.FromRequest(r); err != nil {
			b.Fatal(err)
		}
	}
}

package steering

import (
	"net/http/httptest"
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

// TestRequestToManifest runs the whole path: a request through our load
// balancer, the client located by the coverage zone file although GeoIP
// places it elsewhere, edges ranked, the manifest written.
func TestRequestToManifest(t *testing.T) {
	t.Parallel()
	clientIP, err := NewClientIP(ClientIPConfig{TrustedProxies: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	geo, err := NewGeoIP(cityDB(t, geoCities...), asnDB(t, geoASNs...))
	if err != nil {
		t.Fatal(err)
	}
	cz, err := ParseCoverageZones([]byte(`{"coverageZones": {"par": {"network": ["198.51.100.0/25"], "coordinates": {"latitude": 48.86, "longitude": 2.35}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	locator, err := NewLocator(cz, geo, Location{Lat: 50, Lon: 10})
	if err != nil {
		t.Fatal(err)
	}
	ix := mustIndex(t, Config{}, []playback.Edge{
		edge("fra-a", "cloudfront", "fra", fra), edge("par-a", "cloudcdn", "par", par), edge("ber-a", "cloudfront", "ber", ber),
	})

	for _, tt := range []struct {
		name, xff, wantEdge string
		wantPathways        []string
	}{
		// GeoIP says Berlin; the coverage zone file says Paris.
		{name: "coverage zone", xff: "6.6.6.6, 198.51.100.7", wantEdge: "par-a", wantPathways: []string{"cloudcdn", "cloudfront"}},
		// Same ISP, outside the zone: GeoIP's Berlin.
		{name: "geoip", xff: "198.51.100.200", wantEdge: "ber-a", wantPathways: []string{"cloudfront", "cloudcdn"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/pick?title=t1", nil)
			r.RemoteAddr = "10.0.0.1:41000"
			r.Header.Set("X-Forwarded-For", tt.xff)
			addr, err := clientIP.FromRequest(r)
			if err != nil {
				t.Fatal(err)
			}
			loc, err := locator.Locate(addr)
			if err != nil {
				t.Fatal(err)
			}
			ranking, err := ix.Pick(Query{Location: loc, Title: "t1", Now: t0}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ranking.Choices[0].EdgeID != tt.wantEdge {
				t.Fatalf("first = %s, want %s (%+v)", ranking.Choices[0].EdgeID, tt.wantEdge, loc)
			}
			m, err := HLSManifest(&ranking, "/steer")
			if err != nil {
				t.Fatal(err)
			}
			if len(m.PathwayPriority) != len(tt.wantPathways) || m.PathwayPriority[0] != tt.wantPathways[0] {
				t.Fatalf("pathways = %v, want %v", m.PathwayPriority, tt.wantPathways)
			}
		})
	}
}

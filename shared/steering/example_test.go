package steering_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering"
)

// The pick-edge flow: client address, location, ranking, steering manifest.
// Build the Index again whenever the edge table changes.
func Example() {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	edges := []playback.Edge{
		{ID: "cf-fra-1", CDN: "cloudfront", PoP: "fra", BaseURL: "https://fra1.cf.example", Lat: 50.11, Lon: 8.68, Capacity: 100, Load: 20, Healthy: true, ReportedAt: now},
		{ID: "cf-fra-2", CDN: "cloudfront", PoP: "fra", BaseURL: "https://fra2.cf.example", Lat: 50.11, Lon: 8.68, Capacity: 100, Load: 30, Healthy: true, ReportedAt: now},
		{ID: "gc-lhr-1", CDN: "cloudcdn", PoP: "lhr", BaseURL: "https://lhr1.gc.example", Lat: 51.47, Lon: -0.45, Capacity: 100, Load: 10, Healthy: true, ReportedAt: now},
	}
	ix, err := steering.NewIndex(steering.Config{EdgesPerPoP: 1}, edges)
	if err != nil {
		panic(err)
	}
	zones, err := steering.ParseCoverageZones([]byte(`{"coverageZones": {"fra": {"network": ["203.0.113.0/24"], "coordinates": {"latitude": 50.1, "longitude": 8.7}}}}`))
	if err != nil {
		panic(err)
	}
	locator, err := steering.NewLocator(zones, nil, steering.Location{Lat: 51.5, Lon: -0.1})
	if err != nil {
		panic(err)
	}
	clientIP, err := steering.NewClientIP(steering.ClientIPConfig{TrustedProxies: []string{"10.0.0.0/8"}})
	if err != nil {
		panic(err)
	}

	r := httptest.NewRequest("GET", "/pick?title=t1", nil)
	r.RemoteAddr = "10.0.0.7:40000"                         // our load balancer
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.9") // a spoofed entry, then the client
	addr, err := clientIP.FromRequest(r)
	if err != nil {
		panic(err)
	}
	loc, _ := locator.Locate(addr) // an error here is a GeoIP decode failure, for the log
	ranking, err := ix.Pick(steering.Query{Location: loc, Title: "t1", Now: now}, make([]steering.Choice, 0, steering.MaxResults))
	if errors.Is(err, steering.ErrNoHealthyEdge) {
		// Answer 503 with Retry-After: playback.AsError(err).RetryAfter.
		return
	}
	for _, c := range ranking.Choices {
		fmt.Println(c.CDN, c.PoP, c.EdgeID, c.BaseURL)
	}
	m, err := steering.HLSManifest(&ranking, "/steer?title=t1")
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(m)
	fmt.Println(addr, loc.Source, string(b))
	// Output:
	// cloudfront fra cf-fra-1 https://fra1.cf.example
	// cloudcdn lhr gc-lhr-1 https://lhr1.gc.example
	// 203.0.113.9 coverage_zone {"VERSION":1,"TTL":300,"RELOAD-URI":"/steer?title=t1","PATHWAY-PRIORITY":["cloudfront","cloudcdn"]}
}

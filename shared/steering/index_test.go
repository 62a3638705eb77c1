package steering

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type place struct{ lat, lon float64 }

var (
	fra       = place{50.11, 8.68}
	ams       = place{52.37, 4.90}
	par       = place{48.86, 2.35}
	ber       = place{52.52, 13.40}
	nyc       = place{40.71, -74.0}
	frankfurt = Location{Lat: 50.0, Lon: 8.5} // the client, a few km from fra
)

type edgeOpt func(*playback.Edge)

func edge(id, cdn, pop string, at place, opts ...edgeOpt) playback.Edge {
	e := playback.Edge{
		ID: id, CDN: cdn, PoP: pop, BaseURL: "https://" + id + ".example.net",
		Lat: at.lat, Lon: at.lon, Capacity: 100, Load: 10, Healthy: true, ReportedAt: t0.Add(-time.Second),
	}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func stale(e *playback.Edge)     { e.ReportedAt = t0.Add(-time.Hour) }
func unhealthy(e *playback.Edge) { e.Healthy = false }
func disabled(e *playback.Edge)  { e.Disabled = true }
func full(e *playback.Edge)      { e.Load = e.Capacity + 1 } // past it: at it still serves
func noIPv6(e *playback.Edge)    { e.NoIPv6 = true }
func ipv6Down(e *playback.Edge)  { e.IPv6Down = true }
func load(l float64) edgeOpt     { return func(e *playback.Edge) { e.Load = l } }
func asns(a ...uint32) edgeOpt   { return func(e *playback.Edge) { e.ASNs = a } }
func hot(t ...string) edgeOpt    { return func(e *playback.Edge) { e.HotTitles = t } }
func rebuffer(r float64) edgeOpt { return func(e *playback.Edge) { e.RebufferRatio = r } }
func reported(d time.Duration) edgeOpt {
	return func(e *playback.Edge) { e.ReportedAt = t0.Add(d) }
}

// heard sets the server's receive time of the edge's report, beside the
// edge's own clock that reported sets.
func heard(d time.Duration) edgeOpt {
	return func(e *playback.Edge) { e.ReceivedAt = t0.Add(d) }
}

// pops lists the cdn/pop of the choices, collapsing runs.
func pops(choices []Choice) []string {
	var out []string
	for _, c := range choices {
		s := c.CDN + "/" + c.PoP
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

func ids(choices []Choice) []string {
	var out []string
	for _, c := range choices {
		out = append(out, c.EdgeID)
	}
	return out
}

func mustIndex(t testing.TB, cfg Config, edges []playback.Edge) *Index {
	t.Helper()
	ix, err := NewIndex(cfg, edges)
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Rejected) > 0 {
		t.Fatalf("rejected edges: %v", ix.Rejected)
	}
	return ix
}

func TestPickRules(t *testing.T) {
	t.Parallel()
	threePoPs := []playback.Edge{
		edge("fra-a", "cloudfront", "fra", fra), edge("fra-b", "cloudfront", "fra", fra), edge("fra-c", "cloudfront", "fra", fra),
		edge("par-a", "cloudfront", "par", par), edge("par-b", "cloudfront", "par", par),
		edge("nyc-a", "cloudfront", "nyc", nyc),
	}
	with := func(base []playback.Edge, id string, opts ...edgeOpt) []playback.Edge {
		out := slices.Clone(base)
		for i := range out {
			if out[i].ID == id || (strings.HasSuffix(id, "*") && strings.HasPrefix(out[i].ID, strings.TrimSuffix(id, "*"))) {
				for _, o := range opts {
					o(&out[i])
				}
			}
		}
		return out
	}
	multiCDN := []playback.Edge{
		edge("cf-fra-a", "cloudfront", "fra", fra), edge("cf-fra-b", "cloudfront", "fra", fra),
		edge("gc-par-a", "cloudcdn", "par", par), edge("gc-par-b", "cloudcdn", "par", par),
		edge("fa-nyc-a", "fastly", "nyc", nyc),
	}
	weights := map[string]float64{"cloudfront": 3, "fastly": 2, "cloudcdn": 1}

	tests := []struct {
		name         string
		cfg          Config
		edges        []playback.Edge
		loc          Location
		title        string
		now          time.Time
		wantPoPs     []string
		wantPathways []string
		wantFirst    string // edge id, when the rule decides it
		wantAbsent   []string
		wantLen      int
		wantDegraded bool
	}{
		{name: "nearest pop first, then the next pop of the same cdn", edges: threePoPs, loc: frankfurt,
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par"}, wantPathways: []string{"cloudfront"}, wantLen: 4},
		{name: "stale edge dropped", edges: with(threePoPs, "fra-a", stale), loc: frankfurt,
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par"}, wantAbsent: []string{"fra-a"}},
		{name: "edge gone stale since the index was built is dropped",
			edges: with(threePoPs, "fra-a", reported(-20*time.Second)), now: t0.Add(15 * time.Second), loc: frankfurt,
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par"}, wantAbsent: []string{"fra-a"}},
		{name: "pop whose embedded edge went stale since the build loses the asn preference",
			edges: with(with(threePoPs, "par-a", asns(3320), reported(-20*time.Second)), "par-b", reported(10*time.Second)),
			now:   t0.Add(15 * time.Second), loc: Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, ASN: 3320},
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par"}, wantAbsent: []string{"par-a"}},
		// Freshness is the server's receive time, whatever the edge's clock
		// said: one 45 s behind serves, one 60 s ahead goes stale.
		{name: "edge whose clock lags is fresh by its receive time",
			edges: with(with(threePoPs, "fra-*", stale), "fra-a", reported(-46*time.Second), heard(-time.Second)), loc: frankfurt,
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par"}, wantFirst: "fra-a"},
		{name: "edge whose clock runs ahead goes stale by its receive time",
			edges: with(threePoPs, "fra-*", reported(29*time.Second), heard(-31*time.Second)), loc: frankfurt,
			wantPoPs: []string{"cloudfront/par", "cloudfront/nyc"}, wantDegraded: true},
		{name: "over-capacity edge dropped", edges: with(threePoPs, "fra-b", full), loc: frankfurt,
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par"}, wantAbsent: []string{"fra-b"}},
		{name: "pop whose edges are exactly at capacity still serves", edges: with(threePoPs, "fra-*", load(100)), loc: frankfurt,
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par"}},
		{name: "unhealthy edge dropped", edges: with(threePoPs, "fra-c", unhealthy), loc: frankfurt,
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par"}, wantAbsent: []string{"fra-c"}},
		{name: "stale pop: fall back to the next pop, short ttl", edges: with(threePoPs, "fra-*", stale), loc: frankfurt,
			wantPoPs: []string{"cloudfront/par", "cloudfront/nyc"}, wantDegraded: true},
		{name: "full pop: fall back to the next pop", edges: with(threePoPs, "fra-*", full), loc: frankfurt,
			wantPoPs: []string{"cloudfront/par", "cloudfront/nyc"}, wantDegraded: true},
		// An operator's drain (Edge.Disabled on every edge of a PoP) is no
		// outage to come back from soon: like a drained CDN (weight 0),
		// whose PoPs leave the index, it leaves the TTL alone.
		{name: "drained pop: the next pop, full ttl", edges: with(threePoPs, "fra-*", disabled), loc: frankfurt,
			wantPoPs: []string{"cloudfront/par", "cloudfront/nyc"}},
		{name: "the coverage zone's pop drained: full ttl", edges: with(threePoPs, "fra-*", disabled),
			loc: Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, Zone: "fra"}, wantPoPs: []string{"cloudfront/par", "cloudfront/nyc"}},
		{name: "pop partly drained, the rest unhealthy: down, short ttl", edges: with(with(threePoPs, "fra-a", disabled), "fra-*", unhealthy),
			loc: frankfurt, wantPoPs: []string{"cloudfront/par", "cloudfront/nyc"}, wantDegraded: true},
		{name: "the coverage zone's pop partly drained, the rest unhealthy: short ttl", edges: with(with(threePoPs, "fra-a", disabled), "fra-*", unhealthy),
			loc: Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, Zone: "fra"}, wantPoPs: []string{"cloudfront/par", "cloudfront/nyc"}, wantDegraded: true},
		// An edge configured without IPv6 (Edge.NoIPv6) will never serve
		// IPv6 clients, as a drained one will never serve anybody: no
		// recovery to come back for. An IPv6 outage it reports is one.
		{name: "pop serving no ipv6 by configuration: ipv6 clients get the next pop, full ttl", edges: with(threePoPs, "fra-*", noIPv6),
			loc: Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, IPv6: true}, wantPoPs: []string{"cloudfront/par", "cloudfront/nyc"}},
		{name: "the coverage zone's pop serves no ipv6 by configuration: full ttl", edges: with(threePoPs, "fra-*", noIPv6),
			loc: Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, IPv6: true, Zone: "fra"}, wantPoPs: []string{"cloudfront/par", "cloudfront/nyc"}},
		{name: "pop reporting ipv6 down: ipv6 clients get the next pop, short ttl", edges: with(threePoPs, "fra-*", ipv6Down),
			loc: Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, IPv6: true}, wantPoPs: []string{"cloudfront/par", "cloudfront/nyc"}, wantDegraded: true},
		{name: "pop with ipv6 configured off on some edges, down on the rest: short ttl", edges: with(with(threePoPs, "fra-a", noIPv6), "fra-*", ipv6Down),
			loc: Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, IPv6: true}, wantPoPs: []string{"cloudfront/par", "cloudfront/nyc"}, wantDegraded: true},
		// The deep coverage zone's edges are the client's home before its
		// coverage zone (Traffic Router looks at them first): while they
		// are down the answer is one to come back from soon.
		{name: "the deep coverage zone's edges down: the coverage zone's pop, short ttl",
			edges:    append(slices.Clone(threePoPs), edge("deep-a", "cloudfront", "ber-isp", ber, unhealthy)),
			loc:      Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, Zone: "fra", DeepZone: "isp", DeepCaches: []string{"deep-a"}},
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par"}, wantDegraded: true},
		{name: "the deep coverage zone's edges drained: the coverage zone's pop, full ttl",
			edges:    append(slices.Clone(threePoPs), edge("deep-a", "cloudfront", "ber-isp", ber, disabled)),
			loc:      Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, Zone: "fra", DeepZone: "isp", DeepCaches: []string{"deep-a"}},
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par"}},
		{name: "the deep coverage zone's edges serve no ipv6 by configuration: full ttl",
			edges:    append(slices.Clone(threePoPs), edge("deep-a", "cloudfront", "ber-isp", ber, noIPv6)),
			loc:      Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, IPv6: true, Zone: "fra", DeepZone: "isp", DeepCaches: []string{"deep-a"}},
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par"}},
		{name: "asn match first: embedded caches beat a nearer pop (option)", cfg: Config{ASNBonusKm: 40000},
			edges:    append(slices.Clone(threePoPs), edge("isp-a", "cloudfront", "ber-isp", ber, asns(3320)), edge("isp-b", "cloudfront", "ber-isp", ber, asns(3320))),
			loc:      Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, ASN: 3320},
			wantPoPs: []string{"cloudfront/ber-isp", "cloudfront/fra"}},
		{name: "no isp preference by default, as in traffic router",
			edges:    append(slices.Clone(threePoPs), edge("isp-a", "cloudfront", "ber-isp", ber, asns(3320)), edge("isp-b", "cloudfront", "ber-isp", ber, asns(3320))),
			loc:      Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, ASN: 3320},
			wantPoPs: []string{"cloudfront/fra", "cloudfront/ber-isp"}},
		{name: "a coverage zone hit beats embedded caches even with the isp option", cfg: Config{ASNBonusKm: 40000},
			edges:    append(slices.Clone(threePoPs), edge("isp-a", "cloudfront", "ber-isp", ber, asns(3320))),
			loc:      Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, ASN: 3320, Zone: "par"},
			wantPoPs: []string{"cloudfront/par", "cloudfront/fra"}},
		// Traffic Router's fallback to the group closest to the zone is
		// coverage zone routing too: the client was not located by GeoIP.
		{name: "the pop closest to the zone, not embedded caches, when the zone's pop is down (isp option)", cfg: Config{ASNBonusKm: 40000},
			edges:    append(with(threePoPs, "fra-*", unhealthy), edge("isp-a", "cloudfront", "nyc-isp", nyc, asns(3320))),
			loc:      Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, Source: SourceCoverageZone, Zone: "fra", ASN: 3320, GeoLat: nyc.lat, GeoLon: nyc.lon, GeoSource: SourceGeoIP},
			wantPoPs: []string{"cloudfront/par", "cloudfront/nyc"}, wantDegraded: true},
		{name: "embedded caches are not preferred for other isps", cfg: Config{ASNBonusKm: 40000},
			edges:    append(slices.Clone(threePoPs), edge("isp-a", "cloudfront", "ber-isp", ber, asns(3320))),
			loc:      Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, ASN: 1234},
			wantPoPs: []string{"cloudfront/fra", "cloudfront/ber-isp"}},
		{name: "embedded edge first within its pop (option)", cfg: Config{ASNBonusKm: 1}, edges: with(threePoPs, "fra-c", asns(3320)),
			loc: Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, ASN: 3320}, wantFirst: "fra-c"},
		{name: "coverage zone names the pop", edges: threePoPs,
			loc: Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, Zone: "par"}, wantPoPs: []string{"cloudfront/par", "cloudfront/fra"}},
		{name: "coverage zone names a pop outside the nearest ones", edges: threePoPs,
			loc: Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, Zone: "nyc"}, wantPoPs: []string{"cloudfront/nyc", "cloudfront/fra"}},
		{name: "no load penalty by default, as in traffic router",
			edges: []playback.Edge{
				edge("fra-a", "cloudfront", "fra", fra, load(95)), edge("fra-b", "cloudfront", "fra", fra, load(95)),
				edge("ams-a", "cloudfront", "ams", ams, load(10)),
			}, loc: frankfurt, wantPoPs: []string{"cloudfront/fra", "cloudfront/ams"}},
		{name: "loaded pop loses to a less loaded one nearby (option)", cfg: Config{LoadPenaltyKm: 1000},
			edges: []playback.Edge{
				edge("fra-a", "cloudfront", "fra", fra, load(95)), edge("fra-b", "cloudfront", "fra", fra, load(95)),
				edge("ams-a", "cloudfront", "ams", ams, load(10)),
			}, loc: frankfurt, wantPoPs: []string{"cloudfront/ams", "cloudfront/fra"}},
		{name: "fall back to other cdns by configured weight", cfg: Config{CDNWeights: weights}, edges: multiCDN, loc: frankfurt,
			wantPoPs: []string{"cloudfront/fra", "fastly/nyc", "cloudcdn/par"}, wantPathways: []string{"cloudfront", "fastly", "cloudcdn"}},
		{name: "primary cdn down: best remaining pop leads, the rest by weight",
			cfg: Config{CDNWeights: weights}, edges: with(multiCDN, "cf-*", unhealthy), loc: frankfurt,
			wantPoPs: []string{"cloudcdn/par", "fastly/nyc"}, wantPathways: []string{"cloudcdn", "fastly"}, wantDegraded: true},
		// The zone's PoP on the heavier CDN is where the client goes back
		// to once it recovers, as the nearer PoP is for GeoIP's clients.
		{name: "the coverage zone's pop down on the heavier cdn: its pop on the next cdn, short ttl",
			cfg: Config{CDNWeights: weights}, edges: with(append(slices.Clone(multiCDN), edge("gc-fra-a", "cloudcdn", "fra", fra)), "cf-*", unhealthy),
			loc:      Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, Zone: "fra"},
			wantPoPs: []string{"cloudcdn/fra", "cloudcdn/par", "fastly/nyc"}, wantPathways: []string{"cloudcdn", "fastly"}, wantDegraded: true},
		{name: "the coverage zone's pop drained on the heavier cdn: its pop on the next cdn, full ttl",
			cfg: Config{CDNWeights: weights}, edges: with(append(slices.Clone(multiCDN), edge("gc-fra-a", "cloudcdn", "fra", fra)), "cf-*", disabled),
			loc:      Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, Zone: "fra"},
			wantPoPs: []string{"cloudcdn/fra", "cloudcdn/par", "fastly/nyc"}, wantPathways: []string{"cloudcdn", "fastly"}},
		{name: "drained cdn is never picked", cfg: Config{CDNWeights: map[string]float64{"cloudfront": 0}}, edges: multiCDN, loc: frankfurt,
			wantPoPs: []string{"cloudcdn/par", "fastly/nyc"}, wantPathways: []string{"cloudcdn", "fastly"}},
		{name: "max results caps the list", cfg: Config{MaxResults: 3}, edges: threePoPs, loc: frankfurt,
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par"}, wantLen: 3},
		{name: "one edge per pop, three pops", cfg: Config{EdgesPerPoP: 1, PoPsPerCDN: 3}, edges: threePoPs, loc: frankfurt,
			wantPoPs: []string{"cloudfront/fra", "cloudfront/par", "cloudfront/nyc"}, wantLen: 3},
		{name: "hot title boost", cfg: Config{HotTitleBoost: 1e9}, edges: with(threePoPs, "fra-b", hot("t-hot")), loc: frankfurt,
			title: "t-hot", wantFirst: "fra-b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ix := mustIndex(t, tt.cfg, tt.edges)
			now := tt.now
			if now.IsZero() {
				now = t0
			}
			r, err := ix.Pick(Query{Location: tt.loc, Title: cmpOr(tt.title, "title-1"), Now: now}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantPoPs != nil && !slices.Equal(pops(r.Choices), tt.wantPoPs) {
				t.Errorf("pops = %v, want %v (choices %v)", pops(r.Choices), tt.wantPoPs, ids(r.Choices))
			}
			if tt.wantPathways != nil && !slices.Equal(r.AppendPathways(nil), tt.wantPathways) {
				t.Errorf("pathways = %v, want %v", r.AppendPathways(nil), tt.wantPathways)
			}
			if tt.wantFirst != "" && r.Choices[0].EdgeID != tt.wantFirst {
				t.Errorf("first = %s, want %s (choices %v)", r.Choices[0].EdgeID, tt.wantFirst, ids(r.Choices))
			}
			for _, id := range tt.wantAbsent {
				if slices.Contains(ids(r.Choices), id) {
					t.Errorf("%s picked: %v", id, ids(r.Choices))
				}
			}
			if tt.wantLen != 0 && len(r.Choices) != tt.wantLen {
				t.Errorf("len = %d, want %d: %v", len(r.Choices), tt.wantLen, ids(r.Choices))
			}
			wantTTL := 300 * time.Second
			if tt.wantDegraded {
				wantTTL = 30 * time.Second
			}
			if r.Degraded != tt.wantDegraded || r.TTL != wantTTL {
				t.Errorf("degraded, ttl = %v, %v; want %v, %v", r.Degraded, r.TTL, tt.wantDegraded, wantTTL)
			}
			seen := map[string]bool{}
			for _, c := range r.Choices {
				if seen[c.EdgeID] {
					t.Errorf("%s listed twice", c.EdgeID)
				}
				seen[c.EdgeID] = true
				if c.BaseURL != "https://"+c.EdgeID+".example.net" {
					t.Errorf("base url of %s = %s", c.EdgeID, c.BaseURL)
				}
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestDegradedTTLNeverExceedsTTL: the degraded TTL is there to bring
// clients back sooner; with STEERING_TTL set below its default it must not
// keep them away longer than a healthy answer would.
func TestDegradedTTLNeverExceedsTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      Config
		degraded bool
		wantTTL  time.Duration
	}{
		{name: "ttl below the default degraded ttl, degraded", cfg: Config{TTL: 20 * time.Second}, degraded: true, wantTTL: 20 * time.Second},
		{name: "ttl below the default degraded ttl, healthy", cfg: Config{TTL: 20 * time.Second}, wantTTL: 20 * time.Second},
		{name: "defaults, degraded", degraded: true, wantTTL: 30 * time.Second},
		{name: "shorter degraded ttl kept", cfg: Config{TTL: 20 * time.Second, DegradedTTL: 5 * time.Second}, degraded: true, wantTTL: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			edges := []playback.Edge{edge("fra-a", "cloudfront", "fra", fra), edge("par-a", "cloudfront", "par", par)}
			if tt.degraded {
				unhealthy(&edges[0])
			}
			r, err := mustIndex(t, tt.cfg, edges).Pick(Query{Location: frankfurt, Title: "t", Now: t0}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Degraded != tt.degraded || r.TTL != tt.wantTTL {
				t.Fatalf("degraded, ttl = %v, %v; want %v, %v", r.Degraded, r.TTL, tt.degraded, tt.wantTTL)
			}
		})
	}
}

func TestPickNoHealthyEdge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edges []playback.Edge
	}{
		{name: "all disabled by the operator", edges: []playback.Edge{edge("a", "cloudfront", "fra", fra, disabled), edge("b", "cloudcdn", "par", par, disabled)}},
		{name: "all unhealthy", edges: []playback.Edge{edge("a", "cloudfront", "fra", fra, unhealthy), edge("b", "cloudcdn", "par", par, unhealthy)}},
		{name: "all stale", edges: []playback.Edge{edge("a", "cloudfront", "fra", fra, stale), edge("b", "cloudcdn", "par", par, stale)}},
		{name: "all full", edges: []playback.Edge{edge("a", "cloudfront", "fra", fra, full), edge("b", "cloudcdn", "par", par, full)}},
		{name: "mixed", edges: []playback.Edge{edge("a", "cloudfront", "fra", fra, full), edge("b", "cloudcdn", "par", par, stale), edge("c", "local", "nyc", nyc, unhealthy)}},
		{name: "empty table", edges: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ix := mustIndex(t, Config{RetryAfter: 7 * time.Second}, tt.edges)
			_, err := ix.Pick(Query{Location: frankfurt, Title: "x", Now: t0}, nil)
			if !errors.Is(err, ErrNoHealthyEdge) {
				t.Fatalf("err = %v, want ErrNoHealthyEdge", err)
			}
			e := playback.AsError(err)
			if e.Code != playback.CodeUnavailable || httpx.Status(e.Code) != http.StatusServiceUnavailable || e.RetryAfter != 7*time.Second {
				t.Fatalf("error = %+v, want unavailable (503) with retry-after 7s", e)
			}
		})
	}
}

func TestPickRejectsBadQueries(t *testing.T) {
	t.Parallel()
	ix := mustIndex(t, Config{}, []playback.Edge{edge("a", "cloudfront", "fra", fra)})
	for _, q := range []Query{
		{Location: frankfurt},
		{Location: Location{Lat: math.NaN()}, Now: t0},
		{Location: Location{Lat: 10, Lon: 200}, Now: t0},
	} {
		if _, err := ix.Pick(q, nil); err == nil || errors.Is(err, ErrNoHealthyEdge) {
			t.Errorf("Pick(%+v) err = %v", q, err)
		}
	}
}

func TestNewIndexValidation(t *testing.T) {
	t.Parallel()
	ix, err := NewIndex(Config{}, []playback.Edge{
		edge("good", "cloudfront", "fra", fra),
		edge("good", "cloudfront", "fra", fra),
		edge("bad-cdn", "cloud front", "fra", fra),
		edge("", "cloudfront", "fra", fra),
		edge("bad-lat", "cloudfront", "fra", place{95, 0}),
		edge("neg-load", "cloudfront", "fra", fra, load(-1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Rejected) != 5 {
		t.Fatalf("rejected = %v, want 5 errors", ix.Rejected)
	}
	r, err := ix.Pick(Query{Location: frankfurt, Now: t0}, nil)
	if err != nil || !slices.Equal(ids(r.Choices), []string{"good"}) {
		t.Fatalf("Pick = %v, %v", ids(r.Choices), err)
	}

	for _, tt := range []struct {
		name  string
		cfg   Config
		edges []playback.Edge
	}{
		{name: "too many results", cfg: Config{MaxResults: MaxResults + 1}},
		{name: "too many edges per pop", cfg: Config{EdgesPerPoP: MaxEdgesPerPoP + 1}},
		{name: "too many pops per cdn", cfg: Config{PoPsPerCDN: MaxPoPsPerCDN + 1}},
		{name: "negative staleness", cfg: Config{Staleness: -time.Second}},
		{name: "sub-second ttl", cfg: Config{TTL: time.Millisecond}},
		{name: "hot boost below one", cfg: Config{HotTitleBoost: 0.5}},
		{name: "infinite weight", cfg: Config{CDNWeights: map[string]float64{"x": math.Inf(1)}}},
		{name: "nan penalty", cfg: Config{LoadPenaltyKm: math.NaN()}},
		{name: "negative bonus", cfg: Config{ASNBonusKm: -1}},
	} {
		if _, err := NewIndex(tt.cfg, tt.edges); err == nil {
			t.Errorf("%s: NewIndex accepted it", tt.name)
		}
	}
}

// randomTable is a deterministic edge table: nPoPs PoPs spread over the
// inhabited latitudes, perPoP edges each, CDNs assigned round-robin.
func randomTable(seed uint64, nPoPs, perPoP int, cdns ...string) []playback.Edge {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	edges := make([]playback.Edge, 0, nPoPs*perPoP)
	for p := range nPoPs {
		at := place{rng.Float64()*120 - 50, rng.Float64()*360 - 180}
		cdn := cdns[p%len(cdns)]
		for e := range perPoP {
			edges = append(edges, playback.Edge{
				ID: fmt.Sprintf("%s-p%d-e%d", cdn, p, e), CDN: cdn, PoP: fmt.Sprintf("p%d", p),
				BaseURL: fmt.Sprintf("https://e%d.p%d.%s.example.net", e, p, cdn),
				Lat:     at.lat, Lon: at.lon, Capacity: 100, Load: rng.Float64() * 80,
				Healthy: rng.IntN(20) != 0, ReportedAt: t0.Add(-time.Duration(rng.IntN(20_000)) * time.Millisecond),
			})
		}
	}
	return edges
}

func randomLocations(seed uint64, n int) []Location {
	rng := rand.New(rand.NewPCG(seed, 7))
	locs := make([]Location, n)
	for i := range locs {
		locs[i] = Location{Lat: rng.Float64()*120 - 50, Lon: rng.Float64()*360 - 180}
	}
	return locs
}

// TestPickStable checks that a title's picks depend only on the healthy set:
// not on the order of the table, the index instance, or the passing of time
// within the staleness window.
func TestPickStable(t *testing.T) {
	t.Parallel()
	edges := randomTable(1, 60, 8, "cloudfront", "cloudcdn", "local")
	ix := mustIndex(t, Config{}, edges)
	shuffled := slices.Clone(edges)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	ix2 := mustIndex(t, Config{}, shuffled)
	for i, loc := range randomLocations(5, 300) {
		title := fmt.Sprint("title-", i%40)
		q := Query{Location: loc, Title: title, Now: t0}
		a, err := ix.Pick(q, nil)
		if err != nil {
			t.Fatal(err)
		}
		q2 := q
		q2.Now = t0.Add(9 * time.Second) // every edge reported within the last 20s stays fresh
		b, err := ix2.Pick(q2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(a.Choices), ids(b.Choices)) {
			t.Fatalf("%s at %+v: %v then %v", title, loc, ids(a.Choices), ids(b.Choices))
		}
	}
}

// TestPickMovesOnlyViewersOfRemovedEdge is the rendezvous property: when an
// edge leaves, the titles it served move and no other title does.
func TestPickMovesOnlyViewersOfRemovedEdge(t *testing.T) {
	t.Parallel()
	// Loads are zero so a PoP's cost does not change when it loses an edge.
	edges := randomTable(11, 30, 10, "cloudfront", "cloudcdn")
	for i := range edges {
		edges[i].Load, edges[i].Healthy = 0, true
	}
	before := mustIndex(t, Config{}, edges)
	locs := randomLocations(13, 50)
	const titles = 200
	firstPick := func(ix *Index, loc Location, title string) Choice {
		r, err := ix.Pick(Query{Location: loc, Title: title, Now: t0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r.Choices[0]
	}
	// Remove the edge that is the first pick of the first viewer, so that
	// the removal matters to someone.
	removed := firstPick(before, locs[0], "title-0")
	after := mustIndex(t, Config{}, slices.DeleteFunc(slices.Clone(edges), func(e playback.Edge) bool { return e.ID == removed.EdgeID }))
	moved, servedByRemoved := 0, 0
	for _, loc := range locs {
		for i := range titles {
			title := fmt.Sprint("title-", i)
			a, b := firstPick(before, loc, title), firstPick(after, loc, title)
			if a.EdgeID == removed.EdgeID {
				servedByRemoved++
				if b.PoP != a.PoP || b.CDN != a.CDN {
					t.Errorf("%s: viewer of the removed edge left its PoP %s for %s", title, a.PoP, b.PoP)
				}
			}
			if a.EdgeID != b.EdgeID {
				moved++
				if a.EdgeID != removed.EdgeID {
					t.Fatalf("%s at %+v moved from %s to %s, though only %s left", title, loc, a.EdgeID, b.EdgeID, removed.EdgeID)
				}
			}
		}
	}
	if servedByRemoved == 0 || moved != servedByRemoved {
		t.Fatalf("moved %d, served by removed edge %d", moved, servedByRemoved)
	}
}

// TestRendezvousSpreadsByCapacity checks the weighting: an edge with twice
// the capacity wins about twice the titles.
func TestRendezvousSpreadsByCapacity(t *testing.T) {
	t.Parallel()
	edges := []playback.Edge{
		edge("small-1", "cloudfront", "fra", fra), edge("small-2", "cloudfront", "fra", fra),
		edge("big", "cloudfront", "fra", fra, func(e *playback.Edge) { e.Capacity = 200 }),
	}
	ix := mustIndex(t, Config{}, edges)
	wins := map[string]int{}
	const n = 20000
	for i := range n {
		r, err := ix.Pick(Query{Location: frankfurt, Title: fmt.Sprint("t", i), Now: t0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wins[r.Choices[0].EdgeID]++
	}
	// Expected shares 1/4, 1/4, 1/2; allow ±2 points.
	if share := float64(wins["big"]) / n; math.Abs(share-0.5) > 0.02 {
		t.Errorf("big edge won %.3f of titles, want 0.5 (%v)", share, wins)
	}
	if share := float64(wins["small-1"]) / n; math.Abs(share-0.25) > 0.02 {
		t.Errorf("small edge won %.3f of titles, want 0.25 (%v)", share, wins)
	}
}

// An operator's weight scales an edge's share as capacity does: weight 3 on
// one of two equal edges gives it three quarters of the titles.
func TestRendezvousSpreadsByOperatorWeight(t *testing.T) {
	t.Parallel()
	ix := mustIndex(t, Config{}, []playback.Edge{
		edge("plain", "cloudfront", "fra", fra),
		edge("weighted", "cloudfront", "fra", fra, func(e *playback.Edge) { e.Weight = 3 }),
	})
	wins := map[string]int{}
	const n = 20000
	for i := range n {
		r, err := ix.Pick(Query{Location: frankfurt, Title: fmt.Sprint("t", i), Now: t0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wins[r.Choices[0].EdgeID]++
	}
	if share := float64(wins["weighted"]) / n; math.Abs(share-0.75) > 0.02 {
		t.Errorf("weighted edge won %.3f of titles, want 0.75 (%v)", share, wins)
	}
}

func TestQoETerm(t *testing.T) {
	t.Parallel()
	t.Run("edge with high rebuffer ratio loses rank within its pop", func(t *testing.T) {
		t.Parallel()
		edges := []playback.Edge{
			edge("a", "cloudfront", "fra", fra), edge("b", "cloudfront", "fra", fra), edge("c", "cloudfront", "fra", fra),
			edge("bad", "cloudfront", "fra", fra, rebuffer(0.2)),
		}
		off, on := mustIndex(t, Config{}, edges), mustIndex(t, Config{QoE: true}, edges)
		firstOff, firstOn := 0, 0
		for i := range 4000 {
			q := Query{Location: frankfurt, Title: fmt.Sprint("t", i), Now: t0}
			a, err := off.Pick(q, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := on.Pick(q, nil)
			if err != nil {
				t.Fatal(err)
			}
			if a.Choices[0].EdgeID == "bad" {
				firstOff++
			}
			if b.Choices[0].EdgeID == "bad" {
				firstOn++
				if a.Choices[0].EdgeID != "bad" {
					t.Fatalf("t%d: QoE term promoted the bad edge", i)
				}
			}
			if a.Choices[0].EdgeID != "bad" && b.Choices[0].EdgeID != a.Choices[0].EdgeID {
				t.Fatalf("t%d: QoE term moved a title that the bad edge was not serving", i)
			}
		}
		// Off: a quarter of the titles. On: weight 1/21, about 1.6%.
		if firstOff < 800 || firstOn > firstOff/8 {
			t.Fatalf("bad edge first for %d titles with QoE off, %d with it on", firstOff, firstOn)
		}
	})
	t.Run("pop with high rebuffer ratio loses to a slightly farther one", func(t *testing.T) {
		t.Parallel()
		edges := []playback.Edge{
			edge("fra-a", "cloudfront", "fra", fra, rebuffer(0.1)), edge("fra-b", "cloudfront", "fra", fra, rebuffer(0.1)),
			edge("ams-a", "cloudfront", "ams", ams),
		}
		for _, tt := range []struct {
			qoe  bool
			want string
		}{{false, "fra"}, {true, "ams"}} {
			r, err := mustIndex(t, Config{QoE: tt.qoe}, edges).Pick(Query{Location: frankfurt, Title: "t", Now: t0}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Choices[0].PoP != tt.want {
				t.Errorf("QoE %v: first pop %s, want %s", tt.qoe, r.Choices[0].PoP, tt.want)
			}
		}
	})
	t.Run("low throughput counts too", func(t *testing.T) {
		t.Parallel()
		slow := func(e *playback.Edge) { e.ThroughputKbps = 300 }
		edges := []playback.Edge{edge("fra-a", "cloudfront", "fra", fra, slow), edge("ams-a", "cloudfront", "ams", ams)}
		r, err := mustIndex(t, Config{QoE: true}, edges).Pick(Query{Location: frankfurt, Title: "t", Now: t0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Choices[0].PoP != "ams" {
			t.Errorf("first pop %s, want ams", r.Choices[0].PoP)
		}
	})
}

// Not parallel: testing.AllocsPerRun refuses to run in parallel tests.
func TestPickReusesResultSlice(t *testing.T) {
	ix := mustIndex(t, Config{}, randomTable(21, 50, 5, "cloudfront", "cloudcdn"))
	buf := make([]Choice, 0, MaxResults)
	q := Query{Location: frankfurt, Title: "t", Now: t0}
	allocs := testing.AllocsPerRun(100, func() {
		r, err := ix.Pick(q, buf)
		if err != nil || len(r.Choices) == 0 || &r.Choices[0] != &buf[:1][0] {
			panic("Pick did not fill the given slice")
		}
	})
	if allocs != 0 {
		t.Fatalf("Pick allocated %v times per call with a reusable slice", allocs)
	}
}

func TestScoresAndDistances(t *testing.T) {
	t.Parallel()
	ix := mustIndex(t, Config{}, []playback.Edge{edge("fra-a", "cloudfront", "fra", fra), edge("nyc-a", "cloudfront", "nyc", nyc)})
	r, err := ix.Pick(Query{Location: frankfurt, Title: "t", Now: t0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Choices {
		var at place
		if c.PoP == "fra" {
			at = fra
		} else {
			at = nyc
		}
		want := haversineKm(frankfurt.Lat, frankfurt.Lon, at.lat, at.lon)
		if math.Abs(c.DistanceKm-want)/want > 0.06 { // chord vs arc: 1.5% at 6,000 km… within 6%
			t.Errorf("%s: distance %.0f km, haversine %.0f km", c.PoP, c.DistanceKm, want)
		}
	}
	if r.Choices[0].Score <= r.Choices[1].Score {
		t.Errorf("scores not decreasing: %+v", r.Choices)
	}
}

func TestPickConcurrent(t *testing.T) {
	t.Parallel()
	ix := mustIndex(t, Config{}, randomTable(31, 40, 6, "cloudfront", "cloudcdn"))
	locs := randomLocations(32, 64)
	want := make([][]string, len(locs))
	for i, loc := range locs {
		r, err := ix.Pick(Query{Location: loc, Title: fmt.Sprint("t", i), Now: t0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = ids(r.Choices)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			buf := make([]Choice, 0, MaxResults)
			for n := range 200 {
				i := (g*200 + n) % len(locs)
				r, err := ix.Pick(Query{Location: locs[i], Title: fmt.Sprint("t", i), Now: t0}, buf)
				if err == nil && !slices.Equal(ids(r.Choices), want[i]) {
					err = fmt.Errorf("query %d: %v, want %v", i, ids(r.Choices), want[i])
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestPickMatchesExhaustiveRanking compares Pick's PoP order with a plain
// implementation of the rules that scores every PoP: the pruning in Pick
// must never change the answer.
func TestPickMatchesExhaustiveRanking(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(41, 42))
	edges := randomTable(43, 300, 3, "cloudfront", "cloudcdn", "local")
	for i := range edges {
		switch rng.IntN(10) {
		case 0:
			edges[i].ASNs = []uint32{uint32(100 + rng.IntN(3))}
		case 1:
			edges[i].ReportedAt = t0.Add(-25 * time.Second) // stale at t0+10s, not at t0
		case 2:
			edges[i].RebufferRatio = rng.Float64() * 0.1
		case 3:
			edges[i].NoIPv6 = true
		case 4:
			edges[i].IPv4Down = true
		}
	}
	for _, cfg := range []Config{
		{EdgesPerPoP: 1, PoPsPerCDN: 3, MaxResults: MaxResults, CDNWeights: map[string]float64{"local": 5, "cloudcdn": 2}},
		{EdgesPerPoP: 1, PoPsPerCDN: 1, MaxResults: MaxResults, QoE: true},
		{EdgesPerPoP: 1, PoPsPerCDN: 4, MaxResults: MaxResults, LoadPenaltyKm: 5000},
		{EdgesPerPoP: 1, PoPsPerCDN: 2, MaxResults: MaxResults, ASNBonusKm: 40000},
	} {
		ix := mustIndex(t, cfg, edges)
		cfg = cfg.withDefaults()
		for n, loc := range randomLocations(44, 300) {
			if n%3 == 0 {
				loc.ASN = uint32(100 + rng.IntN(4))
			}
			if n%5 == 0 {
				loc.Zone = fmt.Sprint("p", rng.IntN(300))
			}
			loc.IPv6 = n%7 < 3
			now := t0
			if n%2 == 0 {
				now = t0.Add(10 * time.Second)
			}
			r, err := ix.Pick(Query{Location: loc, Title: "t", Now: now}, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := exhaustiveRanking(cfg, edges, loc, now)
			if got := pops(r.Choices); !slices.Equal(got, want) {
				t.Fatalf("cfg %+v, %+v:\n got %v\nwant %v", cfg, loc, got, want)
			}
		}
	}
}

func exhaustiveRanking(cfg Config, edges []playback.Edge, loc Location, now time.Time) []string {
	type pop struct {
		cdn, name           string
		at                  vec3
		load, capacity, qoe float64
		embedded            bool
		cost                float64
	}
	byKey := map[string]*pop{}
	var keys []string
	for _, e := range edges {
		if w, ok := cfg.CDNWeights[e.CDN]; ok && w <= 0 {
			continue
		}
		if !e.Healthy || e.Capacity <= 0 || e.Load > e.Capacity || e.LastHeard().Before(now.Add(-cfg.Staleness)) {
			continue
		}
		if loc.IPv6 && (e.NoIPv6 || e.IPv6Down) || !loc.IPv6 && (e.NoIPv4 || e.IPv4Down) {
			continue
		}
		key := e.CDN + "/" + e.PoP
		p := byKey[key]
		if p == nil {
			p = &pop{cdn: e.CDN, name: e.PoP, at: unitVector(e.Lat, e.Lon)}
			byKey[key] = p
			keys = append(keys, key)
		}
		p.load += e.Load
		p.capacity += e.Capacity
		p.qoe += cfg.qoeFactor(e.RebufferRatio, e.ThroughputKbps) * e.Capacity
		p.embedded = p.embedded || (loc.ASN != 0 && slices.Contains(e.ASNs, loc.ASN))
	}
	zoneHit := false
	for _, key := range keys {
		zoneHit = zoneHit || (loc.Zone != "" && byKey[key].name == loc.Zone)
	}
	perCDN := map[string][]*pop{}
	for _, key := range keys {
		p := byKey[key]
		p.cost = chordKm(p.at.dot(unitVector(loc.Lat, loc.Lon))) + cfg.LoadPenaltyKm*p.load/p.capacity
		if cfg.QoE {
			p.cost += cfg.QoEPenaltyKm * (1 - p.qoe/p.capacity)
		}
		if p.embedded && !zoneHit {
			p.cost -= cfg.ASNBonusKm
		}
		perCDN[p.cdn] = append(perCDN[p.cdn], p)
	}
	var cdns []string
	for cdn, ps := range perCDN {
		slices.SortStableFunc(ps, func(a, b *pop) int { return cmpFloat(a.cost, b.cost) })
		perCDN[cdn] = ps[:min(len(ps), cfg.PoPsPerCDN)]
		cdns = append(cdns, cdn)
	}
	weight := func(cdn string) float64 {
		if w, ok := cfg.CDNWeights[cdn]; ok {
			return w
		}
		return 1
	}
	slices.SortFunc(cdns, func(a, b string) int {
		if c := cmpFloat(weight(b), weight(a)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	primary := ""
	for _, cdn := range cdns {
		if primary == "" || perCDN[cdn][0].cost < perCDN[primary][0].cost {
			primary = cdn
		}
	}
	// A usable PoP named by the client's coverage zone comes first, in the
	// first CDN by weight that has one (Traffic Router: a zone hit is final).
	for _, cdn := range cdns {
		if z := byKey[cdn+"/"+loc.Zone]; z != nil {
			primary = cdn
			ps := slices.DeleteFunc(slices.Clone(perCDN[cdn]), func(p *pop) bool { return p == z })
			perCDN[cdn] = append([]*pop{z}, ps...)[:min(len(ps)+1, cfg.PoPsPerCDN)]
			break
		}
	}
	var out []string
	for _, cdn := range append([]string{primary}, slices.DeleteFunc(cdns, func(c string) bool { return c == primary })...) {
		for _, p := range perCDN[cdn] {
			out = append(out, cdn+"/"+p.name)
		}
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestManyCDNs: the number of CDNs is no product limit; beyond the 16 that
// fit on Pick's stack the scratch comes from a pool, and the ranking is
// the same as the exhaustive one.
func TestManyCDNs(t *testing.T) {
	t.Parallel()
	var cdns []string
	for i := range 40 {
		cdns = append(cdns, fmt.Sprintf("cdn%02d", i))
	}
	edges := randomTable(7, 400, 2, cdns...)
	cfg := Config{EdgesPerPoP: 1, PoPsPerCDN: 1, MaxResults: MaxResults}
	ix := mustIndex(t, cfg, edges)
	for _, loc := range randomLocations(8, 50) {
		r, err := ix.Pick(Query{Location: loc, Title: "t", Now: t0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := exhaustiveRanking(cfg.withDefaults(), edges, loc, t0)
		if got := pops(r.Choices); !slices.Equal(got, want[:min(len(want), MaxResults)]) {
			t.Fatalf("%+v:\n got %v\nwant %v", loc, got, want)
		}
		if p := r.AppendPathways(nil); len(p) != 40 {
			t.Fatalf("pathways = %v, want all 40 CDNs", p)
		}
	}
}

// A deep coverage zone's edge leads the list and its CDN the pathways,
// and is not repeated under its own PoP.
func TestDeepEdgeLeadsPathways(t *testing.T) {
	t.Parallel()
	ix := mustIndex(t, Config{EdgesPerPoP: 2}, []playback.Edge{
		edge("cf-fra-a", "cloudfront", "fra", fra), edge("cf-fra-b", "cloudfront", "fra", fra),
		edge("isp-1", "ispcdn", "ber", ber), edge("isp-2", "ispcdn", "ber", ber),
	})
	loc := frankfurt
	loc.DeepZone, loc.DeepCaches = "ber-deep", []string{"isp-1"}
	r, err := ix.Pick(Query{Location: loc, Title: "t", Now: t0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(r.Choices); got[0] != "isp-1" || r.Result != ResultDeepCZ || slices.Index(got[1:], "isp-1") >= 0 {
		t.Fatalf("choices %v (%s)", got, r.Result)
	}
	if p := r.AppendPathways(nil); !slices.Equal(p, []string{"ispcdn", "cloudfront"}) {
		t.Fatalf("pathways %v", p)
	}
}

// TestPickScoreOfAPoPAtTheClientIsZero: a viewer located at a PoP (a
// coverage zone's, or GeoIP on the PoP's city) costs it nothing, and the
// score, the negated cost, must read 0: a negative zero reaches pickedge's
// answer as "score":-0, which surprises whoever reads it.
func TestPickScoreOfAPoPAtTheClientIsZero(t *testing.T) {
	t.Parallel()
	ix := mustIndex(t, Config{}, []playback.Edge{edge("fra-1", "local", "fra", fra), edge("ams-1", "local", "ams", ams)})
	r, err := ix.Pick(Query{Location: Location{Lat: fra.lat, Lon: fra.lon}, Title: "bbb", Now: t0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Choices) == 0 || r.Choices[0].EdgeID != "fra-1" {
		t.Fatalf("choices %v, want fra-1 first", ids(r.Choices))
	}
	if s := r.Choices[0].Score; s != 0 || math.Signbit(s) {
		t.Fatalf("score at the PoP: %v (sign bit %v), want +0", s, math.Signbit(s))
	}
}

// TestPathwaysListEveryCDNTheClientCanBeSentTo: the pathway priority
// (HLS PATHWAY-PRIORITY, DASH service locations) must name every CDN
// Pick would send this client to were the CDNs before it down: hls.js
// fails over only between listed pathways, and only when two or more are
// listed (content-steering-controller onError: pathwayPriority.length >
// 1). A client its coverage zone places may be sent to its zone's group
// and its backups, to the CZ-enabled group closest to the zone's
// coordinates and, when those fail, to groups that allow GEO; with
// fallbackToClosest false to its zone's group and backups only (Traffic
// Router's getCoverageZoneCacheLocation, then selectCachesByGeo). A
// client GeoIP places may go to groups that allow GEO, and a client of a
// deep coverage zone to its deep caches whatever their groups allow
// (selectCaches). Offering a CDN the rules keep the client off sends it
// to caches its operator reserved for others.
func TestPathwaysListEveryCDNTheClientCanBeSentTo(t *testing.T) {
	t.Parallel()
	muc := place{48.14, 11.58}
	zoneAt := func(zone string, at place) Location {
		return Location{Lat: at.lat, Lon: at.lon, Source: SourceCoverageZone, Zone: zone}
	}
	deepIn := func(loc Location, zone string, caches ...string) Location {
		loc.DeepZone, loc.DeepCaches = zone, caches
		return loc
	}
	for _, tc := range []struct {
		name   string
		groups map[string]CacheGroup
		edges  []playback.Edge
		loc    Location
		down   string // the edge whose failure moves the client to the second pathway
		want   []string
	}{
		{name: "the zone's CZ-only group on the lighter CDN too",
			groups: map[string]CacheGroup{"fra": {FallbackToClosest: true, Methods: MethodCZ}},
			edges:  []playback.Edge{edge("a-fra", "a", "fra", fra), edge("b-fra", "b", "fra", fra)},
			loc:    zoneAt("fra", fra), down: "a-fra", want: []string{"a", "b"}},
		{name: "closest to the zone, then a GEO-only group on the lighter CDN",
			groups: map[string]CacheGroup{"ams": {FallbackToClosest: true, Methods: MethodGeo}},
			edges:  []playback.Edge{edge("a-muc", "a", "muc", muc), edge("b-ams", "b", "ams", ams)},
			loc:    zoneAt("ghost", muc), down: "a-muc", want: []string{"a", "b"}},
		{name: "a deep coverage zone's edge on the lighter CDN, in a DEEP_CZ-only group",
			groups: map[string]CacheGroup{"isp": {FallbackToClosest: true, Methods: MethodDeepCZ}},
			edges:  []playback.Edge{edge("a-isp", "a", "isp", ber), edge("b-isp", "b", "isp", ber), edge("a-fra", "a", "fra", fra)},
			loc:    deepIn(frankfurt, "isp-deep", "a-isp", "b-isp"), down: "a-isp", want: []string{"a", "b"}},
		{name: "a zone without coordinates reaches no CZ-only group but its own and its backups",
			groups: map[string]CacheGroup{"muc": {FallbackToClosest: true, Methods: MethodCZ}},
			edges:  []playback.Edge{edge("a-fra", "a", "fra", fra), edge("b-muc", "b", "muc", muc)},
			loc:    Location{Lat: frankfurt.Lat, Lon: frankfurt.Lon, Zone: "ghost"}, want: []string{"a"}},
		{name: "fallbackToClosest false keeps the client on its zone's group and backups",
			groups: map[string]CacheGroup{"fra": {Backups: []string{"muc"}}},
			edges:  []playback.Edge{edge("a-fra", "a", "fra", fra), edge("b-ams", "b", "ams", ams)},
			loc:    zoneAt("fra", fra), want: []string{"a"}},
		{name: "a backup group on the lighter CDN",
			groups: map[string]CacheGroup{"fra": {Backups: []string{"muc"}}, "muc": {Methods: MethodCZ}},
			edges:  []playback.Edge{edge("a-fra", "a", "fra", fra), edge("b-muc", "b", "muc", muc)},
			loc:    zoneAt("fra", fra), down: "a-fra", want: []string{"a", "b"}},
		{name: "a client GeoIP places is never sent to a CZ-only group",
			groups: map[string]CacheGroup{"muc": {FallbackToClosest: true, Methods: MethodCZ}},
			edges:  []playback.Edge{edge("a-fra", "a", "fra", fra), edge("b-muc", "b", "muc", muc)},
			loc:    frankfurt, want: []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{CacheGroups: tc.groups, CDNWeights: map[string]float64{"a": 2, "b": 1}}
			r, err := mustIndex(t, cfg, tc.edges).Pick(Query{Location: tc.loc, Title: "t", Now: t0}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.AppendPathways(nil); !slices.Equal(got, tc.want) {
				t.Errorf("pathways %v (%s, choices %v), want %v", got, r.Result, pops(r.Choices), tc.want)
			}
			if tc.down == "" {
				return
			}
			// The listed fallback is where Pick itself sends the client
			// once the first pathway's PoP is down.
			edges := slices.Clone(tc.edges)
			for i := range edges {
				if edges[i].ID == tc.down {
					edges[i].Healthy = false
				}
			}
			r, err = mustIndex(t, cfg, edges).Pick(Query{Location: tc.loc, Title: "t", Now: t0}, nil)
			if err != nil || r.Choices[0].CDN != tc.want[1] {
				t.Fatalf("with %s down: choices %v, %v; want %s first", tc.down, pops(r.Choices), err, tc.want[1])
			}
		})
	}
}

// TestPathwaysNameEveryCDNThatCouldServeTheClientAlone checks the rule of
// TestPathwaysListEveryCDNTheClientCanBeSentTo on random tables, cache
// group settings and clients: a CDN on which Pick, given only that CDN's
// edges, finds the client a PoP is one the client can fail over to, so
// the pathways must name it; one on which it finds none (Traffic Router's
// rules keep the client off it: a CZ-only group outside the zone's
// reach, fallbackToClosest false) must not be offered.
func TestPathwaysNameEveryCDNThatCouldServeTheClientAlone(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(42, 99))
	names := []string{"fra", "muc", "ams", "lhr", "par", "nyc"}
	cdns := []string{"a", "b", "c"}
	failures := 0
	for iter := 0; iter < 3000 && failures < 5; iter++ {
		edges, groups, loc := randomCase(rng, names, cdns, randomShape{skipPoP: 2, maxEdges: 2, unhealthy: 3, backups: 1})
		cfg := Config{CacheGroups: groups, CDNWeights: map[string]float64{"a": 3, "b": 2, "c": 1}}
		q := Query{Location: loc, Title: "t", Now: t0}
		r, err := mustIndex(t, cfg, edges).Pick(q, nil)
		if err != nil {
			continue
		}
		listed := r.AppendPathways(nil)
		for _, c := range cdns {
			only := slices.DeleteFunc(slices.Clone(edges), func(e playback.Edge) bool { return e.CDN != c })
			if c == listed[0] || len(only) == 0 {
				continue
			}
			alone, err := mustIndex(t, cfg, only).Pick(q, nil)
			if serves := err == nil; serves != slices.Contains(listed, c) {
				failures++
				t.Errorf("pathways %v (%s, %v): %s listed %v, but alone it serves %v (%s, %v); client %+v, groups %+v",
					listed, r.Result, pops(r.Choices), c, !serves, pops(alone.Choices), alone.Result, err, loc, groups)
			}
		}
	}
}

// randomShape sets how randomCase draws a table: a PoP of a CDN is left out
// one time in skipPoP, has 1 to maxEdges edges, each unhealthy one time in
// unhealthy, and a group with backups names backups of them.
type randomShape struct{ skipPoP, maxEdges, unhealthy, backups int }

// randomCase draws the edges of cdns at PoPs names, their cache groups and
// a client (zone, GeoIP point, deep caches) for the property tests.
func randomCase(rng *rand.Rand, names, cdns []string, shape randomShape) ([]playback.Edge, map[string]CacheGroup, Location) {
	var edges []playback.Edge
	for _, cdn := range cdns {
		for _, n := range names {
			if rng.IntN(shape.skipPoP) == 0 {
				continue
			}
			at := place{float64(rng.IntN(60)), float64(rng.IntN(60))}
			for e := range 1 + rng.IntN(shape.maxEdges) {
				edges = append(edges, edge(fmt.Sprintf("%s-%s-%d", cdn, n, e), cdn, n, at, func(e *playback.Edge) {
					e.Healthy, e.NoIPv6 = rng.IntN(shape.unhealthy) != 0, rng.IntN(4) == 0
				}))
			}
		}
	}
	groups := map[string]CacheGroup{}
	for _, n := range names {
		if rng.IntN(2) == 0 {
			continue
		}
		g := CacheGroup{FallbackToClosest: true, Methods: Methods(rng.IntN(8))}
		if rng.IntN(3) == 0 {
			for range shape.backups {
				g.Backups = append(g.Backups, names[rng.IntN(len(names))])
			}
			g.FallbackToClosest = rng.IntN(2) == 0
		}
		groups[n] = g
	}
	loc := Location{Lat: float64(rng.IntN(60)), Lon: float64(rng.IntN(60)), IPv6: rng.IntN(3) == 0}
	switch rng.IntN(3) {
	case 0:
		loc.Zone = names[rng.IntN(len(names))]
	case 1:
		loc.Zone = "ghost" // names no group
	}
	if loc.Zone != "" && rng.IntN(2) == 0 {
		loc.GeoLat, loc.GeoLon, loc.GeoSource = loc.Lat, loc.Lon, SourceGeoIP
		loc.Lat, loc.Lon, loc.Source = float64(rng.IntN(60)), float64(rng.IntN(60)), SourceCoverageZone
	}
	if rng.IntN(4) == 0 {
		loc.DeepZone = "deep"
		for _, e := range edges {
			if rng.IntN(6) == 0 {
				loc.DeepCaches = append(loc.DeepCaches, e.ID)
			}
		}
	}
	return edges, groups, loc
}

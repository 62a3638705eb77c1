package pickedge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/sqs"
	"github.com/playplane/playplane/shared/steering"
	"github.com/playplane/playplane/shared/steering/ranker"
)

func TestPickEdgesLocatesClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	id, token := h.session("sintel")
	for _, tc := range []struct {
		name     string
		client   string
		viaProxy bool
		source   steering.Source
		zone     string
		country  string
		firstPoP string
		first    string // first edge, when the rule fixes it
	}{
		{name: "coverage zone through the trusted proxy", client: clientFra, viaProxy: true, source: steering.SourceCoverageZone, zone: "fra", firstPoP: "fra"},
		{name: "coverage zone, ipv6 peer", client: clientIad6, source: steering.SourceCoverageZone, zone: "iad", firstPoP: "iad"},
		{name: "geoip", client: clientLondon, source: steering.SourceGeoIP, country: "GB", firstPoP: "lhr", first: "lhr-1"},
		// Traffic Router has no ISP preference: the nearer PoP wins over the
		// edge embedded in the client's ISP (STEERING_ASN_BONUS_KM turns
		// the preference on; see TestRankingRules).
		{name: "geoip asn match", client: clientLondonISP, source: steering.SourceGeoIP, country: "GB", firstPoP: "lhr", first: "lhr-1"},
		{name: "default location", client: clientUnknown, source: steering.SourceDefault, firstPoP: "iad"},
		// An untrusted peer's X-Forwarded-For is not believed.
		{name: "spoofed forwarded-for", client: clientUnknown, source: steering.SourceDefault, firstPoP: "iad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+id+"/edges", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			if tc.name == "spoofed forwarded-for" {
				req.Header.Set("X-Forwarded-For", clientFra)
			}
			rec := h.request(req, tc.client, tc.viaProxy)
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			var resp pickedge.EdgesResponse
			decodeStrict(t, rec.Body.Bytes(), &resp)
			if resp.Location != (pickedge.ClientLocation{Source: tc.source, Zone: tc.zone, Country: tc.country}) {
				t.Errorf("location %+v", resp.Location)
			}
			if len(resp.Edges) == 0 || resp.Edges[0].PoP != tc.firstPoP || (tc.first != "" && resp.Edges[0].ID != tc.first) {
				t.Fatalf("ranking %s, want %s first", edgeSummary(resp), tc.firstPoP)
			}
			// The chosen PoP's best two edges, then the next PoP of the CDN.
			if len(resp.Edges) < 3 || resp.Edges[1].PoP != tc.firstPoP && tc.firstPoP != "lhr" || resp.Edges[len(resp.Edges)-1].PoP == tc.firstPoP {
				t.Errorf("ranking %s does not fall back to another PoP", edgeSummary(resp))
			}
			for i, e := range resp.Edges {
				if e.CDN != "local" || e.BaseURL != "http://edge.test" || (i > 0 && e.Score > resp.Edges[i-1].Score) {
					t.Errorf("edge %d %+v out of order", i, e)
				}
			}
			if resp.TTLSeconds != 300 || resp.Degraded || !slices.Equal(resp.Pathways, []string{"local"}) {
				t.Errorf("ttl %d degraded %v pathways %v", resp.TTLSeconds, resp.Degraded, resp.Pathways)
			}
			// Absolute on the API's host, as players would otherwise resolve
			// a path against the page's or a CDN's.
			if resp.SteeringURI != "http://example.com/v1/steering/"+id+"?format=hls&token="+token ||
				resp.DASHSteeringURI != "http://example.com/v1/steering/"+id+"?format=dash&token="+token {
				t.Errorf("steering uris %q %q", resp.SteeringURI, resp.DASHSteeringURI)
			}
		})
	}
}

func TestPickEdgesRejects(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	id, token := h.session("sintel")
	otherID, _ := h.session("tears-of-steel")
	ended, endedToken := h.session("big-buck-bunny")
	if _, err := h.store.EndSession(context.Background(), ended, playback.EndByUser, h.clock()); err != nil {
		t.Fatal(err)
	}
	lapsed, err := h.store.AcquireLease(context.Background(), playback.LeaseRequest{SessionID: playback.NewID("ses"),
		AccountID: demo.AccountFamily, DeviceID: "lapsed", TitleID: "sintel", Limit: 1000, TTL: time.Second, Now: h.t0.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := h.tokens.Issue(auth.PlaybackClaims{SessionID: otherID, AccountID: demo.AccountSolo, TitleID: "sintel",
		IssuedAt: h.t0, ExpiresAt: h.t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := h.tokens.Issue(auth.PlaybackClaims{SessionID: id, AccountID: demo.AccountFamily, TitleID: "sintel",
		IssuedAt: h.t0.Add(-2 * time.Hour), ExpiresAt: h.t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	forged := auth.NewDevKeyring()
	forgedToken, err := forged.Issue(auth.PlaybackClaims{SessionID: id, AccountID: demo.AccountFamily, TitleID: "sintel",
		IssuedAt: h.t0, ExpiresAt: h.t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, session, token string
		status               int
		reason               string
		endReason            string // the 410's details.end_reason: why the session is over
	}{
		{"no token", id, "", 401, auth.ReasonTokenMissing, ""},
		{"forged token", id, forgedToken, 401, auth.ReasonTokenSignature, ""},
		{"expired token", id, expired, 401, auth.ReasonTokenExpired, ""},
		{"token of another session", otherID, token, 403, "session_mismatch", ""},
		{"token of another account", otherID, foreign, 403, "session_mismatch", ""},
		{"ended session", ended, endedToken, 410, "session_ended", playback.EndByUser},
		{"lapsed lease", lapsed.ID, h.token(lapsed.ID, "sintel"), 410, "lease_expired", playback.EndLapsed},
		{"unknown session", "ses_never", h.token("ses_never", "sintel"), 410, "session_not_found", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := h.pick(tc.session, tc.token, clientFra)
			e := errorOf(t, rec)
			details, _ := e.Details.(map[string]any)
			if got, _ := details["end_reason"].(string); rec.Code != tc.status || e.Reason != tc.reason || got != tc.endReason {
				t.Fatalf("%d %s, want %d %s, end_reason %q", rec.Code, rec.Body, tc.status, tc.reason, tc.endReason)
			}
		})
	}
	t.Run("query parameter", func(t *testing.T) {
		t.Parallel()
		req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+id+"/edges?cdn=cloudfront", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := h.request(req, clientFra, false)
		if e := errorOf(t, rec); rec.Code != http.StatusBadRequest || e.Reason != playback.ReasonUnknownParameter {
			t.Fatalf("%d %s, want 400 %s", rec.Code, rec.Body, playback.ReasonUnknownParameter)
		}
	})
}

func TestStaleEdgesDropOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	id, token := h.session("sintel")
	if first := h.mustPick(id, token, clientFra).Edges[0]; first.PoP != "fra" {
		t.Fatalf("first pick %+v", first)
	}
	// Only lhr-1 keeps reporting; the other edges' reports age past the
	// 30 s staleness limit.
	h.at(25 * time.Second)
	h.setHealth(true, "lhr-1")
	h.at(31 * time.Second)
	resp := h.mustPick(id, token, clientFra)
	if !slices.Equal(edgeIDs(resp), []string{"lhr-1"}) {
		t.Fatalf("after fra and iad went stale: %s", edgeSummary(resp))
	}
	// A nearer PoP is down: the client is told to come back soon.
	if !resp.Degraded || resp.TTLSeconds != 30 {
		t.Errorf("degraded %v ttl %d", resp.Degraded, resp.TTLSeconds)
	}
	h.at(56 * time.Second)
	rec := h.pick(id, token, clientFra)
	if e := errorOf(t, rec); rec.Code != http.StatusServiceUnavailable || e.Reason != "no_healthy_edge" || rec.Header().Get("Retry-After") != "10" {
		t.Fatalf("all stale: %d %s Retry-After %q", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	// Fresh reports bring the edges back.
	h.setHealth(true, "fra-1")
	if resp := h.mustPick(id, token, clientFra); !slices.Equal(edgeIDs(resp), []string{"fra-1"}) {
		t.Fatalf("after fra-1 reported: %s", edgeSummary(resp))
	}
}

func TestAllEdgesUnhealthy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	id, token := h.session("sintel")
	var all []string
	for _, e := range demo.EdgesOn(oneCDN, h.t0) {
		all = append(all, e.ID)
	}
	h.at(time.Second)
	h.setHealth(false, all...)
	for _, client := range []string{clientFra, clientLondon, clientUnknown} {
		rec := h.pick(id, token, client)
		e := errorOf(t, rec)
		if rec.Code != http.StatusServiceUnavailable || e.Code != playback.CodeUnavailable || e.Reason != "no_healthy_edge" {
			t.Fatalf("%s: %d %s", client, rec.Code, rec.Body)
		}
		if ra := rec.Header().Get("Retry-After"); ra != "10" {
			t.Fatalf("Retry-After %q", ra)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/v1/steering/"+id+"?token="+token, nil)
	if rec := h.request(req, clientFra, false); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("steering: %d %s", rec.Code, rec.Body)
	}
	// Over capacity counts as unusable too.
	h.at(2 * time.Second)
	for _, edge := range all {
		if rec := h.report(edge, playback.EdgeReport{EdgeID: edge, Load: 101, Capacity: 100, Healthy: true, ReportedAt: h.clock()}); rec.Code != http.StatusAccepted {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	h.idle()
	if rec := h.pick(id, token, clientFra); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("all over capacity: %d %s", rec.Code, rec.Body)
	}
}

// multiCDN adds CloudFront and Cloud CDN edges beside the demo's local CDN.
// CloudFront's Frankfurt edges are the least loaded, so a Frankfurt client
// lands on CloudFront; the weights order the fallback pathways.
func multiCDN(weights string) options {
	mk := func(id, cdn, pop string, lat, lon, load float64) playback.Edge {
		return playback.Edge{ID: id, CDN: cdn, PoP: pop, BaseURL: "https://" + id + "." + cdn + ".example", Lat: lat, Lon: lon,
			Capacity: 100, Load: load, Healthy: true}
	}
	return options{
		env: map[string]string{"STEERING_CDN_WEIGHTS": weights},
		edges: []playback.Edge{
			mk("cf-fra-1", "cloudfront", "fra", 50.11, 8.68, 5),
			mk("cf-fra-2", "cloudfront", "fra", 50.11, 8.68, 5),
			mk("cf-iad-1", "cloudfront", "iad", 38.95, -77.45, 5),
			mk("gc-lhr-1", "cloudcdn", "lhr", 51.47, -0.45, 5),
			mk("gc-ams-1", "cloudcdn", "ams", 52.31, 4.76, 5),
		},
	}
}

func TestMultiCDNPathways(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		weights   string
		unhealthy []string
		pathways  []string
		cdns      []string // CDN of each ranked edge
	}{
		{name: "cloudfront first, fallbacks by weight", weights: "cloudfront:3,cloudcdn:2,local:1",
			pathways: []string{"cloudfront", "cloudcdn", "local"},
			cdns:     []string{"cloudfront", "cloudfront", "cloudfront", "cloudcdn", "cloudcdn", "local", "local", "local"}},
		{name: "weights reorder the fallbacks", weights: "cloudfront:3,cloudcdn:1,local:2",
			pathways: []string{"cloudfront", "local", "cloudcdn"},
			cdns:     []string{"cloudfront", "cloudfront", "cloudfront", "local", "local", "local", "cloudcdn", "cloudcdn"}},
		{name: "zero weight drains a cdn", weights: "cloudfront:3,cloudcdn:0,local:1",
			pathways: []string{"cloudfront", "local"},
			cdns:     []string{"cloudfront", "cloudfront", "cloudfront", "local", "local", "local"}},
		{name: "cloudfront down: its pathway goes, the nearest cdn leads", weights: "cloudfront:3,cloudcdn:2,local:1",
			unhealthy: []string{"cf-fra-1", "cf-fra-2", "cf-iad-1"},
			pathways:  []string{"local", "cloudcdn"},
			cdns:      []string{"local", "local", "local", "cloudcdn", "cloudcdn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, multiCDN(tc.weights))
			id, token := h.session("sintel")
			if len(tc.unhealthy) > 0 {
				h.at(time.Second)
				h.setHealth(false, tc.unhealthy...)
			}
			resp := h.mustPick(id, token, clientFra)
			var cdns []string
			for _, e := range resp.Edges {
				cdns = append(cdns, e.CDN)
			}
			if !slices.Equal(resp.Pathways, tc.pathways) || !slices.Equal(cdns, tc.cdns) {
				t.Fatalf("pathways %v, ranking %s", resp.Pathways, edgeSummary(resp))
			}
			m := steeringManifest(t, h, resp.SteeringURI, clientFra)
			if !slices.Equal(m.PathwayPriority, tc.pathways) {
				t.Fatalf("PATHWAY-PRIORITY %v, want %v", m.PathwayPriority, tc.pathways)
			}
		})
	}
}

func steeringManifest(t *testing.T, h *harness, uri, client string) steering.SteeringManifest {
	t.Helper()
	rec := h.request(httptest.NewRequest(http.MethodGet, uri, nil), client, false)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", uri, rec.Code, rec.Body)
	}
	var m steering.SteeringManifest
	decodeStrict(t, rec.Body.Bytes(), &m)
	return m
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	good := pickedge.Config{Config: ranker.Config{Refresh: time.Second}, SignatureTolerance: time.Minute, MaxReportBody: 1024}
	deps := pickedge.Deps{Store: h.store, Bus: h.bus, Tokens: h.tokens}
	// SQS as deployed: messages of at most 256 KiB by default.
	sqsBus, err := sqs.NewDeferred(context.Background(), sqs.Config{}, func() *awssqs.Client { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*pickedge.Config, *pickedge.Deps)
		want string
	}{
		{"no store", func(_ *pickedge.Config, d *pickedge.Deps) { d.Store = nil }, "Store"},
		{"no bus", func(_ *pickedge.Config, d *pickedge.Deps) { d.Bus = nil }, "Bus"},
		{"no tokens", func(_ *pickedge.Config, d *pickedge.Deps) { d.Tokens = nil }, "Tokens"},
		// What a wiring getter that failed would hand over: not == nil.
		{"typed nil store", func(_ *pickedge.Config, d *pickedge.Deps) { d.Store = (*bolt.Store)(nil) }, "Store"},
		{"typed nil bus", func(_ *pickedge.Config, d *pickedge.Deps) { d.Bus = (*membus.Bus)(nil) }, "Bus"},
		{"zero refresh", func(c *pickedge.Config, _ *pickedge.Deps) { c.Refresh = 0 }, "positive"},
		{"huge body", func(c *pickedge.Config, _ *pickedge.Deps) { c.MaxReportBody = 2 << 20 }, "1 MiB"},
		// A report the bus cannot carry would pass its signature check and
		// then fail to publish.
		{"body over the bus's message limit", func(c *pickedge.Config, d *pickedge.Deps) {
			c.MaxReportBody, d.Bus = 512<<10, sqsBus
		}, "MaxReportBody"},
		{"body filling the bus's message, no room for the envelope", func(c *pickedge.Config, d *pickedge.Deps) {
			c.MaxReportBody, d.Bus = 256<<10, sqsBus
		}, "MaxReportBody"},
		{"bad steering config", func(c *pickedge.Config, _ *pickedge.Deps) { c.Steering.EdgesPerPoP = 99 }, "EdgesPerPoP"},
		{"bad proxy", func(c *pickedge.Config, _ *pickedge.Deps) { c.Viewer.TrustedProxies = []string{"10.0.0.0/99"} }, "trusted proxy"},
		{"bad default", func(c *pickedge.Config, _ *pickedge.Deps) { c.DefaultLat = 91 }, "default location"},
		{"missing zone file", func(c *pickedge.Config, _ *pickedge.Deps) { c.CoverageZoneFile = "/nonexistent/czf.json" }, "OpenZoneFile"},
		{"missing geoip", func(c *pickedge.Config, _ *pickedge.Deps) { c.Viewer.GeoIPCityDB = "/nonexistent/city.mmdb" }, "OpenGeoIP"},
		{"asn without city", func(c *pickedge.Config, _ *pickedge.Deps) { c.Viewer.GeoIPASNDB = "/nonexistent/asn.mmdb" }, "City"},
		{"short edge key", func(c *pickedge.Config, _ *pickedge.Deps) { c.EdgeKeys = "fra-1=c2hvcnQ=" }, "at least"},
		{"relative public url", func(c *pickedge.Config, _ *pickedge.Deps) { c.PublicURL = "api.example.com" }, "PublicURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, d := good, deps
			tc.edit(&cfg, &d)
			if _, err := pickedge.New(cfg, d); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	// The default body, and the largest SQS's default message carries.
	for _, body := range []int64{65536, 240 << 10} {
		cfg, d := good, deps
		cfg.MaxReportBody, d.Bus = body, sqsBus
		srv, err := pickedge.New(cfg, d)
		if err != nil {
			t.Fatalf("MaxReportBody %d on SQS: %v", body, err)
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := pickedge.New(good, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRankingRules drives each candidate rule through health reports, for a
// London client whose nearest PoP is lhr (one edge) and next is fra.
func TestRankingRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		env      map[string]string
		client   string
		lhr      playback.EdgeReport
		firstPoP string
		lhrGone  bool
	}{
		{name: "nearest pop first", lhr: playback.EdgeReport{Load: 10, Capacity: 100, Healthy: true}, firstPoP: "lhr"},
		// Traffic Router ignores load below capacity.
		{name: "no load penalty by default", lhr: playback.EdgeReport{Load: 95, Capacity: 100, Healthy: true}, firstPoP: "lhr"},
		// 95% utilisation costs 950 km: fra, 640 km away and 10% loaded, wins.
		{name: "load headroom (option)", env: map[string]string{"STEERING_LOAD_PENALTY_KM": "1000"},
			lhr: playback.EdgeReport{Load: 95, Capacity: 100, Healthy: true}, firstPoP: "fra"},
		// The edge embedded in the client's ISP wins over the nearer PoP.
		{name: "isp preference (option)", env: map[string]string{"STEERING_ASN_BONUS_KM": "40000"}, client: clientLondonISP,
			lhr: playback.EdgeReport{Load: 10, Capacity: 100, Healthy: true}, firstPoP: "fra"},
		// Traffic Monitor marks a cache down once its load exceeds its limit, not at it.
		{name: "at capacity", lhr: playback.EdgeReport{Load: 100, Capacity: 100, Healthy: true}, firstPoP: "lhr"},
		{name: "over capacity", lhr: playback.EdgeReport{Load: 101, Capacity: 100, Healthy: true}, firstPoP: "fra", lhrGone: true},
		{name: "unhealthy", lhr: playback.EdgeReport{Load: 10, Capacity: 100, Healthy: false}, firstPoP: "fra", lhrGone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, options{env: tc.env})
			id, token := h.session("sintel")
			h.at(time.Second)
			tc.lhr.EdgeID, tc.lhr.ReportedAt = "lhr-1", h.clock()
			if rec := h.report("lhr-1", tc.lhr); rec.Code != http.StatusAccepted {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			h.idle()
			client := clientLondon
			if tc.client != "" {
				client = tc.client
			}
			resp := h.mustPick(id, token, client)
			if resp.Edges[0].PoP != tc.firstPoP || slices.Contains(edgeIDs(resp), "lhr-1") == tc.lhrGone {
				t.Fatalf("ranking %s", edgeSummary(resp))
			}
		})
	}
}

package authorizeplay_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/steering"
	"github.com/playplane/playplane/shared/steering/geoiptest"
)

func country(iso string) mmdbtype.Map {
	return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(iso)}}
}

// Viewers of the licensing tests, by documentation network.
const (
	viewerDE   = "198.51.100.10"
	viewerUS   = "203.0.113.10"
	viewerFR   = "192.0.2.10"
	viewerJP   = "100.64.0.10"
	viewerVPN  = "203.0.113.200" // a US address the anonymous-IP database lists as a VPN
	viewerNone = "100.100.0.10"  // in no database
	frontDoor  = "10.0.0.7:443"
)

func licensingDBs(t testing.TB) (city, anon string) {
	dir := t.TempDir()
	city = geoiptest.Write(t, dir, "GeoIP2-City", map[string]mmdbtype.Map{
		"198.51.100.0/24": country("DE"), "203.0.113.0/24": country("US"), "192.0.2.0/24": country("FR"),
		"100.64.0.0/16": country("JP"),
	})
	anon = geoiptest.Write(t, dir, "GeoIP2-Anonymous-IP", map[string]mmdbtype.Map{
		"203.0.113.192/26": {"is_anonymous": mmdbtype.Bool(true), "is_anonymous_vpn": mmdbtype.Bool(true)},
	})
	return city, anon
}

// TestLicensingByViewerLocation plays through the HTTP route with the
// viewer's address forwarded by a trusted proxy (or not), GeoIP and
// anonymous-IP databases built here, and the front door's country header.
func TestLicensingByViewerLocation(t *testing.T) {
	t.Parallel()
	city, anon := licensingDBs(t)
	viaFrontDoor := func(addr string) func(*http.Request) {
		return func(r *http.Request) {
			r.RemoteAddr = frontDoor
			r.Header.Set("X-Forwarded-For", "6.6.6.6, "+addr) // the leftmost entry is the client's own claim
		}
	}
	direct := func(addr string) func(*http.Request) {
		return func(r *http.Request) { r.RemoteAddr = addr + ":50000" }
	}
	header := func(c string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("CloudFront-Viewer-Country", c) }
	}
	for _, tc := range []struct {
		name, account, title string
		req                  []func(*http.Request)
		status               int
		reason               string
	}{
		{"DE account at home", demo.AccountFamily, "tears-of-steel", []func(*http.Request){viaFrontDoor(viewerDE)}, 201, ""},
		{"DE account in Japan: not licensed there", demo.AccountFamily, "tears-of-steel", []func(*http.Request){viaFrontDoor(viewerJP)}, 403, "not_licensed_in_viewer_country"},
		{"DE account in the US plays what is licensed in the US", demo.AccountFamily, "us-exclusive", []func(*http.Request){viaFrontDoor(viewerUS)}, 201, ""},
		{"DE account in France keeps the DE catalogue (EU portability)", demo.AccountFamily, "tears-of-steel", []func(*http.Request){viaFrontDoor(viewerFR)}, 201, ""},
		{"DE account in France, title licensed in neither", demo.AccountFamily, "us-exclusive", []func(*http.Request){viaFrontDoor(viewerFR)}, 403, "not_licensed_at_home_or_in_viewer_country"},
		{"US subscriber abroad loses US-only titles", demo.AccountSolo, "us-exclusive", []func(*http.Request){viaFrontDoor(viewerFR)}, 403, "not_licensed_in_viewer_country"},
		{"US subscriber at home", demo.AccountSolo, "us-exclusive", []func(*http.Request){viaFrontDoor(viewerUS)}, 201, ""},
		{"front door country header wins over GeoIP", demo.AccountSolo, "us-exclusive", []func(*http.Request){viaFrontDoor(viewerJP), header("us")}, 201, ""},
		{"country header from an untrusted peer is ignored", demo.AccountSolo, "us-exclusive", []func(*http.Request){direct(viewerJP), header("US")}, 403, "not_licensed_in_viewer_country"},
		{"forwarded-for from an untrusted peer is ignored", demo.AccountSolo, "us-exclusive", []func(*http.Request){direct(viewerJP), func(r *http.Request) { r.Header.Set("X-Forwarded-For", viewerUS) }}, 403, "not_licensed_in_viewer_country"},
		{"anonymous proxy refused", demo.AccountSolo, "us-exclusive", []func(*http.Request){viaFrontDoor(viewerVPN)}, 403, "anonymous_proxy"},
		{"viewer nobody can place", demo.AccountSolo, "us-exclusive", []func(*http.Request){viaFrontDoor(viewerNone)}, 403, "viewer_location_unknown"},
		// A placeholder code (GeoIP legacy's EU, Europe) is no country: as
		// if the front door had sent no header, GeoIP decides, and where it
		// knows nothing either the play is refused as for a viewer nobody
		// can place.
		{"placeholder country header: GeoIP's country decides", demo.AccountFamily, "tears-of-steel", []func(*http.Request){viaFrontDoor(viewerDE), header("EU")}, 201, ""},
		{"placeholder country header and no GeoIP answer: location unknown", demo.AccountSolo, "us-exclusive", []func(*http.Request){viaFrontDoor(viewerNone), header("EU")}, 403, "viewer_location_unknown"},
		{"asia/pacific placeholder and no GeoIP answer: location unknown", demo.AccountSolo, "us-exclusive", []func(*http.Request){viaFrontDoor(viewerNone), header("AP")}, 403, "viewer_location_unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessWith(t, func(c *authorizeplay.Config) {
				c.Viewer.TrustedProxies = []string{"10.0.0.0/8"}
				c.Viewer.CountryHeader = "CloudFront-Viewer-Country"
				c.Viewer.GeoIPCityDB, c.Viewer.GeoIPAnonymousDB = city, anon
				c.RefuseAnonymousProxies = true
			})
			rec := h.do(http.MethodPost, "/v1/play", h.token(tc.account), `{"title_id":"`+tc.title+`","device_id":"d1"}`, tc.req...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.reason == "" {
				return
			}
			e := errorOf(t, rec)
			if e.Reason != tc.reason || !strings.Contains(rec.Body.String(), `"home_territory"`) {
				t.Fatalf("error %+v (%s), want reason %s with the home territory", e, rec.Body, tc.reason)
			}
			active, _ := h.store.ListActiveSessions(context.Background(), tc.account, h.now)
			if len(active) != 0 {
				t.Fatalf("a refused play holds %d sessions", len(active))
			}
		})
	}
}

// Without a location source (the local default), the account's home
// territory decides, as before.
func TestLicensingFallsBackToTheHomeTerritory(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := h.do(http.MethodPost, "/v1/play", h.token(demo.AccountFamily), `{"title_id":"us-exclusive","device_id":"d1"}`,
		func(r *http.Request) { r.RemoteAddr = viewerUS + ":1234" })
	if e := errorOf(t, rec); rec.Code != 403 || e.Reason != "not_licensed" {
		t.Fatalf("got %d %+v", rec.Code, e)
	}
}

func TestNewValidatesLicensing(t *testing.T) {
	t.Parallel()
	_, anon := licensingDBs(t)
	for name, cfg := range map[string]authorizeplay.Config{
		"anonymous refusal without a database": {RefuseAnonymousProxies: true},
		"missing city database":                {Viewer: viewerCfg("/nonexistent/city.mmdb")},
		// The anonymous-IP database is read beside the City database's
		// lookup (steering.ViewerConfig.OpenGeoIP, which pick edge's start
		// refuses the same settings with): alone it would refuse nothing.
		"anonymous refusal without a city database": {RefuseAnonymousProxies: true,
			Viewer: steering.ViewerConfig{GeoIPAnonymousDB: anon}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg.LeaseTTL, cfg.TokenTTL, cfg.MaxBody = 1, 1, 1
			h := newHarness(t)
			if _, err := authorizeplay.New(cfg, authorizeplay.Deps{Store: h.store, Identity: stubIdentity{}, Tokens: h.tokens}); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

func viewerCfg(city string) steering.ViewerConfig { return steering.ViewerConfig{GeoIPCityDB: city} }

type stubIdentity struct{}

func (stubIdentity) Authenticate(*http.Request) (auth.Identity, error) { return auth.Identity{}, nil }

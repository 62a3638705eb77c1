package authorizeplay_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/fnenv/fnenvtest"
)

// TestCatalogueLocatesCaller: given a location source (a GeoIP City
// database, or a front door's country header), authorizeplay licenses by
// where the caller's address is, so it reads pickedge's
// PICKEDGE_TRUSTED_HOPS, and its catalogue entry must be LocatesCaller:
// the GCP stack tells exactly those functions to believe Google's front
// end and load balancer (catalog.GCPFrontEndHops). Without that, pickedge
// placed a viewer behind the load balancer where they are while
// authorizeplay placed them at Google's front end, licensing every viewer
// by the front end's country, or by none (the country header from an
// untrusted peer).
func TestCatalogueLocatesCaller(t *testing.T) {
	t.Parallel()
	fn, ok := catalog.FunctionByName("authorizeplay")
	if !ok {
		t.Fatal("no authorizeplay in the catalogue")
	}
	city, _ := licensingDBs(t)
	env := &fnenvtest.Recorder{Vars: map[string]string{"PICKEDGE_GEOIP_CITY_DB": city}, Needs: map[string][]string{
		fnenvtest.GetStore: {}, fnenvtest.GetKeyring: {}, fnenvtest.GetIdentity: {},
	}}
	srv, err := authorizeplay.Build(context.Background(), env)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if !env.WasRead(catalog.EnvPickEdgeTrustedHops) {
		t.Fatalf("Build with a GeoIP database does not read %s", catalog.EnvPickEdgeTrustedHops)
	}
	if !fn.LocatesCaller {
		t.Errorf("authorizeplay locates its caller for licensing, but its catalogue entry has LocatesCaller false: "+
			"the GCP stack does not give it %s=%s as it gives pickedge", catalog.EnvPickEdgeTrustedHops, catalog.GCPFrontEndHops)
	}
}

// TestLicensingBehindTheGoogleLoadBalancer: with the hops the GCP stack
// sets on callers it locates, a viewer behind the load balancer is
// licensed where they are, and their own X-Forwarded-For claim is not
// believed.
func TestLicensingBehindTheGoogleLoadBalancer(t *testing.T) {
	t.Parallel()
	city, _ := licensingDBs(t)
	behindLB := func(claim, client string) func(*http.Request) {
		return func(r *http.Request) {
			r.RemoteAddr = "169.254.1.1:40000" // Cloud Run's front end
			r.Header.Set("X-Forwarded-For", claim+client+", 34.120.0.1")
		}
	}
	for _, tc := range []struct {
		name   string
		req    func(*http.Request)
		status int
	}{
		{"US viewer", behindLB("", viewerUS), http.StatusCreated},
		{"JP viewer claiming a US address", behindLB(viewerUS+", ", viewerJP), http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessWith(t, func(c *authorizeplay.Config) {
				c.Viewer.TrustedHops = 2 // catalog.GCPFrontEndHops
				c.Viewer.GeoIPCityDB = city
			})
			rec := h.do(http.MethodPost, "/v1/play", h.token(demo.AccountSolo), `{"title_id":"us-exclusive","device_id":"d1"}`, tc.req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
		})
	}
}

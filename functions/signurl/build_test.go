package signurl_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/fnenv/fnenvtest"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// TestOneCDNRanksNothing: signing for one CDN (every deployed stack), a
// session starts on that CDN without a ranking. New ignores a Steering it
// is handed (it is never asked), and Build over the local runner's edge
// table makes none: its stores are asked for neither the edge table nor a
// coverage zone version, at build or on any request. Two CDNs, over the
// same table, do read it: the counts can tell.
func TestOneCDNRanksNothing(t *testing.T) {
	t.Parallel()
	t.Run("New", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		steer := &fixedSteering{ranked: []string{cdnCFECDSA, cdnCDN}}
		srv, err := signurl.New(signurl.Config{Grace: 30 * time.Second, MaxTTL: 10 * time.Minute, MaxBody: 1024,
			CDNBases: map[string]string{cdnCDN: h.edge.URL}},
			signurl.Deps{Store: h.store, Tokens: h.tokens, Signers: map[string]playback.URLSigner{cdnCDN: h.signers[cdnCDN]},
				Now: h.clock.now, Steering: steer})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		srv.Register(mux)
		h.h = httpx.Middleware(slog.New(slog.DiscardHandler), mux)
		for range 3 {
			sess, token := h.session(accountA, titleID, time.Hour)
			rec := h.sign(sess.ID, token, "")
			if g := decodeGrant(t, rec.Code, rec.Body.Bytes()); g.CDN != cdnCDN {
				t.Errorf("urls answer cdn %q, want the one CDN %q", g.CDN, cdnCDN)
			}
		}
		steer.mu.Lock()
		asked := slices.Clone(steer.titles)
		steer.mu.Unlock()
		if len(asked) != 0 {
			t.Errorf("one CDN asked the ranking %d times (titles %q)", len(asked), asked)
		}
		// It still owns what it was handed.
		if err := srv.Close(); err != nil || !steer.closed {
			t.Errorf("Close: %v, ranking closed %v", err, steer.closed)
		}
	})
	for _, tt := range []struct {
		name      string
		cdns      []string
		wantReads bool
	}{
		{name: "Build, one CDN", cdns: []string{demo.CDNCloudCDN}},
		{name: "Build, the other CDN", cdns: []string{demo.CDNCloudFront}},
		{name: "Build, two CDNs (control)", cdns: []string{demo.CDNCloudFront, demo.CDNCloudCDN}, wantReads: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, tt.cdns, nil)
			if n := r.signurlReads.edges.Load() + r.signurlReads.zones.Load(); n != 0 {
				t.Errorf("Build read the edge table or zones %d times", n)
			}
			starts := map[string]bool{}
			for _, viewer := range []string{viewerFra, viewerLondon, viewerUnknown} {
				sess, token := r.session()
				g := r.sign(sess.ID, token, "", viewer)
				pathway, _ := r.master(g.Manifests.HLS, viewer)
				u, err := url.Parse(g.Manifests.DASH)
				if err != nil {
					t.Fatal(err)
				}
				if rec := r.do(r.signurl, httptestGet(u.RequestURI()), viewer); rec.Code != http.StatusOK {
					t.Fatalf("DASH: %d %s", rec.Code, rec.Body)
				}
				if len(tt.cdns) == 1 && (g.CDN != tt.cdns[0] || pathway != tt.cdns[0]) {
					t.Errorf("%s: urls answer cdn %q, playlist PATHWAY-ID %q, want the one CDN %q", viewer, g.CDN, pathway, tt.cdns[0])
				}
				starts[g.CDN] = true
				r.clock.add(2 * time.Second) // past PICKEDGE_REFRESH: a ranking would reload
			}
			edges, zones := r.signurlReads.edges.Load(), r.signurlReads.zones.Load()
			if got := edges > 0; got != tt.wantReads {
				t.Errorf("signurl read the edge table %d times and zones %d times over %d starts; want reads: %v",
					edges, zones, 3, tt.wantReads)
			}
			if tt.wantReads && len(starts) != 2 {
				t.Errorf("two CDNs started on %v only: the control does not rank", starts)
			}
		})
	}
}

func httptestGet(target string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	return req
}

// stackVars is what the stacks (infra/stack) set on signurl delivering
// with d: its one CDN's base and key variables, the key itself as the
// platform resolves the secret, and the platform's getters' variables.
func stackVars(t *testing.T, d catalog.Delivery) map[string]string {
	keys := testKeys()
	if keys.err != nil {
		t.Fatal(keys.err)
	}
	vars := map[string]string{
		catalog.EnvSignURLCDNBases:      d.CDNBasesValue("https://" + d.Name + ".example.com"),
		catalog.EnvSignURLDefaultCDN:    d.Name,
		d.ActiveKeyEnv:                  "k1",
		d.KeysEnv:                       d.KeysValue("k1"),
		catalog.SecretPlaybackTokenKeys: auth.NewDevKeyring().Spec(),
		catalog.EnvDynamoTable:          "playplane",
	}
	switch d.Name {
	case catalog.DeliveryCloudFront:
		vars[d.SigningSecret] = pemOf(t, keys.cfECDSA.Signer)
	case catalog.DeliveryCloudCDN:
		vars[d.SigningSecret] = cloudcdn.EncodeKey(keys.cdn.Secret)
	default:
		t.Fatalf("no key for delivery %s: add one here", d.Name)
	}
	return vars
}

// TestCatalogueLocatesCallerIsWhetherBuildLocates pins signurl's
// catalogue entry (not LocatesCaller, so no stack sets
// PICKEDGE_TRUSTED_HOPS on it) to its reason: over what a stack gives it,
// one CDN of catalog.Deliveries, its Build reads no PICKEDGE_* or
// STEERING_* variable, so the stacks' TestStackSetsWhatEachBuildReads
// would refuse the variable; given two CDNs it ranks for the viewer, and
// reads PICKEDGE_TRUSTED_HOPS like pickedge. If either changes, so must
// the entry (and its comment).
func TestCatalogueLocatesCallerIsWhetherBuildLocates(t *testing.T) {
	t.Parallel()
	fn, ok := catalog.FunctionByName("signurl")
	if !ok {
		t.Fatal("no signurl in the catalogue")
	}
	build := func(t *testing.T, vars map[string]string) *fnenvtest.Recorder {
		t.Helper()
		env := &fnenvtest.Recorder{Vars: vars, Needs: map[string][]string{
			fnenvtest.GetStore:   {catalog.EnvDynamoTable},
			fnenvtest.GetKeyring: {catalog.SecretPlaybackTokenKeys},
		}}
		srv, err := signurl.Build(context.Background(), env)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		return env
	}
	both := map[string]string{}
	var bases []string
	for _, d := range catalog.Deliveries {
		t.Run(d.Name, func(t *testing.T) {
			vars := stackVars(t, d)
			env := build(t, vars)
			if got := env.WasRead(catalog.EnvPickEdgeTrustedHops); got != fn.LocatesCaller {
				t.Errorf("signurl delivering with %s alone reads %s: %v; its catalogue entry has LocatesCaller %v",
					d.Name, catalog.EnvPickEdgeTrustedHops, got, fn.LocatesCaller)
			}
			var ranking []string
			for _, name := range env.Read() {
				if strings.HasPrefix(name, "PICKEDGE_") || strings.HasPrefix(name, "STEERING_") {
					ranking = append(ranking, name)
				}
			}
			if len(ranking) > 0 {
				t.Errorf("signurl delivering with %s alone reads the ranking's variables %v", d.Name, ranking)
			}
			for k, v := range vars {
				both[k] = v
			}
			bases = append(bases, vars[catalog.EnvSignURLCDNBases])
		})
	}
	if t.Failed() {
		return
	}
	// A stack given a second CDN by hand.
	slices.Sort(bases)
	both[catalog.EnvSignURLCDNBases] = strings.Join(bases, ",")
	if env := build(t, both); !env.WasRead(catalog.EnvPickEdgeTrustedHops) {
		t.Errorf("signurl with two CDNs does not read %s: the catalogue's comment is stale", catalog.EnvPickEdgeTrustedHops)
	}
}

package signurl_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/fnenv/fnenvtest"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering/geoiptest"
)

// Viewers of the parity tests, located as pickedge's own tests locate
// them (the same coverage zone file and GeoIP databases).
const (
	viewerFra       = "203.0.113.9"    // coverage zone fra
	viewerLondon    = "198.51.100.7"   // GeoIP: London
	viewerLondonISP = "198.51.100.200" // GeoIP: London, in AS3320, where fra-isp-1 is embedded
	viewerUnknown   = "192.0.2.55"     // in no database: the default location (Ashburn)
)

// platformEnv is an fnenv.Env over one bbolt store, one bus and one
// keyring, as the local runner hands every function the same ones: both
// functions are built by their own Build over the same variables.
type platformEnv struct {
	*fnenvtest.Recorder
	store  *bolt.Store
	bus    playback.Publisher
	tokens *auth.Keyring
	now    func() time.Time
	// reads counts the edge table and coverage zone reads of the stores
	// handed out while it is set: newRig points it at each function's
	// own counts before its Build.
	reads *storeReads
}

// storeReads counts what ranking reads of a store.
type storeReads struct{ edges, zones atomic.Int64 }

var _ fnenv.Env = (*platformEnv)(nil)

// countingStore is the store, counting its edge table and coverage zone
// reads: what ranking costs.
type countingStore struct {
	*bolt.Store
	reads *storeReads
}

func (s countingStore) ListEdges(ctx context.Context) ([]playback.Edge, error) {
	s.reads.edges.Add(1)
	return s.Store.ListEdges(ctx)
}

func (s countingStore) GetCoverageZones(ctx context.Context, version int64) (playback.CoverageZones, error) {
	s.reads.zones.Add(1)
	return s.Store.GetCoverageZones(ctx, version)
}

func (e *platformEnv) Store(context.Context) (playback.Store, error) {
	return countingStore{Store: e.store, reads: e.reads}, nil
}
func (e *platformEnv) Bus(context.Context) (playback.Publisher, error) { return e.bus, nil }
func (e *platformEnv) Keyring() (*auth.Keyring, error)                 { return e.tokens, nil }
func (e *platformEnv) Now() time.Time                                  { return e.now() }

// rig is signurl and pickedge built over one platformEnv, with the demo
// edges on the two local CDNs.
type rig struct {
	t                 *testing.T
	env               *platformEnv
	clock             *clock
	signurl, pickedge http.Handler
	signurlSrv        *signurl.Server
	// signurlReads and pickedgeReads are what each function's stores
	// were asked.
	signurlReads, pickedgeReads storeReads
}

// locationVars writes the coverage zone file and GeoLite2-style City and
// ASN databases pickedge's tests use, and returns the variables naming
// them.
func locationVars(t *testing.T) map[string]string {
	dir := t.TempDir()
	zones := filepath.Join(dir, "czf.json")
	if err := os.WriteFile(zones, []byte(`{"revision": "test-1", "coverageZones": {
  "fra": {"network": ["203.0.113.0/24"], "coordinates": {"latitude": 50.1, "longitude": 8.7}}
}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	london := mmdbtype.Map{
		"country":  mmdbtype.Map{"iso_code": mmdbtype.String("GB")},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(51.51), "longitude": mmdbtype.Float64(-0.13), "accuracy_radius": mmdbtype.Uint16(20)},
	}
	city := geoiptest.Write(t, dir, "GeoLite2-City", map[string]mmdbtype.Map{"198.51.100.0/24": london})
	asn := geoiptest.Write(t, dir, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"198.51.100.128/25": {"autonomous_system_number": mmdbtype.Uint32(3320), "autonomous_system_organization": mmdbtype.String("Example ISP")},
	})
	return map[string]string{"PICKEDGE_COVERAGE_ZONE_FILE": zones, "PICKEDGE_GEOIP_CITY_DB": city, "PICKEDGE_GEOIP_ASN_DB": asn}
}

// signerVars are the variables of a CloudFront signer for
// demo.CDNCloudFront and a Cloud CDN one for demo.CDNCloudCDN, for those of
// cdns.
func signerVars(t *testing.T, cdns []string) map[string]string {
	keys := testKeys()
	if keys.err != nil {
		t.Fatal(keys.err)
	}
	vars := map[string]string{
		"SIGNURL_SIGNER_NAMES": signurl.CDNCloudFront + "=" + demo.CDNCloudFront + "," + signurl.CDNCloudCDN + "=" + demo.CDNCloudCDN,
	}
	if slices.Contains(cdns, demo.CDNCloudFront) {
		vars["CLOUDFRONT_KEYS"] = keys.cfECDSA.ID + "=env:CF_KEY"
		vars["CLOUDFRONT_ACTIVE_KEY_ID"] = keys.cfECDSA.ID
		vars["CF_KEY"] = pemOf(t, keys.cfECDSA.Signer)
	}
	if slices.Contains(cdns, demo.CDNCloudCDN) {
		vars["CLOUDCDN_KEYS"] = keys.cdn.Name + "=env:CDN_KEY"
		vars["CLOUDCDN_ACTIVE_KEY_NAME"] = keys.cdn.Name
		vars["CDN_KEY"] = cloudcdn.EncodeKey(keys.cdn.Secret)
	}
	return vars
}

// newRig seeds the demo data with the demo edges on cdns (the local
// runner's two, or one), serves the ladder title's stored objects as the
// origin, and builds signurl (signing for cdns) and pickedge with their
// own Builds over one env of vars plus extra.
func newRig(t *testing.T, cdns []string, extra map[string]string) *rig {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	ctx := context.Background()
	bases := map[string]string{}
	for _, c := range cdns {
		bases[c] = "http://edge.test"
	}
	if err := demo.SeedOn(ctx, store, bases, now); err != nil {
		t.Fatal(err)
	}
	if err := store.PutTitle(ctx, playback.Title{ID: ladderTitle, Name: "Ladder", AssetPath: "/titles/" + ladderTitle + "/",
		Manifest: "master.m3u8", Renditions: slices.Clone(demo.Ladder)}); err != nil {
		t.Fatal(err)
	}
	objects := storedObjects(ladderTitle, 2)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := objects[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(origin.Close)

	var pairs []string
	for _, c := range slices.Sorted(maps.Keys(bases)) {
		pairs = append(pairs, c+"="+bases[c])
	}
	vars := map[string]string{
		"SIGNURL_CDN_BASES":    strings.Join(pairs, ","),
		"SIGNURL_DEFAULT_CDN":  cdns[0],
		"SIGNURL_ORIGIN_URL":   origin.URL,
		"PUBLIC_API_URL":       "http://api.test",
		"PICKEDGE_DEFAULT_LAT": "38.9",
		"PICKEDGE_DEFAULT_LON": "-77.0",
		"PICKEDGE_REFRESH":     "1s",
	}
	maps.Copy(vars, locationVars(t))
	maps.Copy(vars, signerVars(t, cdns))
	maps.Copy(vars, extra)
	bus := membus.New(membus.Config{})
	t.Cleanup(func() { bus.Close() })
	c := newClock(now)
	r := &rig{t: t, clock: c, env: &platformEnv{Recorder: &fnenvtest.Recorder{Vars: vars}, store: store, bus: bus,
		tokens: auth.NewDevKeyring(), now: c.now}}
	r.env.reads = &r.signurlReads
	su, err := signurl.Build(ctx, r.env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { su.Close() })
	r.env.reads = &r.pickedgeReads
	pe, err := pickedge.Build(ctx, r.env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pe.Close() })
	r.signurlSrv = su
	for _, f := range []struct {
		fn  fnenv.Function
		dst *http.Handler
	}{{su, &r.signurl}, {pe, &r.pickedge}} {
		mux := http.NewServeMux()
		f.fn.Register(mux)
		*f.dst = httpx.Middleware(slog.New(slog.DiscardHandler), mux)
	}
	return r
}

// session admits a session on the ladder title and issues its playback
// token.
func (r *rig) session() (playback.Session, string) {
	r.t.Helper()
	now := r.clock.now()
	sess, err := r.env.store.AcquireLease(context.Background(), playback.LeaseRequest{SessionID: playback.NewID("ses"),
		AccountID: demo.AccountFamily, DeviceID: playback.NewID("dev"), TitleID: ladderTitle, Limit: 100, TTL: time.Hour, Now: now})
	if err != nil {
		r.t.Fatal(err)
	}
	tok, err := r.env.tokens.Issue(auth.PlaybackClaims{SessionID: sess.ID, AccountID: sess.AccountID, TitleID: ladderTitle,
		DeviceID: sess.DeviceID, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		r.t.Fatal(err)
	}
	return sess, tok
}

// do serves req on h as from viewer.
func (r *rig) do(h http.Handler, req *http.Request, viewer string) *httptest.ResponseRecorder {
	req.RemoteAddr = net.JoinHostPort(viewer, "40000")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// sign is POST /urls with body, from viewer.
func (r *rig) sign(id, token, body, viewer string) signurl.URLsResponse {
	r.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+id+"/urls", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := r.do(r.signurl, req, viewer)
	return decodeGrant(r.t, rec.Code, rec.Body.Bytes())
}

// edges is pickedge's POST /edges answer for the session, from viewer.
func (r *rig) edges(id, token, viewer string) pickedge.EdgesResponse {
	r.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+id+"/edges", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := r.do(r.pickedge, req, viewer)
	if rec.Code != http.StatusOK {
		r.t.Fatalf("edges: %d %s", rec.Code, rec.Body)
	}
	var resp pickedge.EdgesResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		r.t.Fatal(err)
	}
	return resp
}

// steer fetches a steering URI (absolute on the API's public URL) from
// pickedge as a player at viewer would, and returns its priority.
func (r *rig) steer(uri, viewer string) []string {
	p, _ := r.steerReload(uri, viewer)
	return p
}

// steerReload is steer, also returning the answer's RELOAD-URI.
func (r *rig) steerReload(uri, viewer string) ([]string, string) {
	r.t.Helper()
	rec := r.do(r.pickedge, httptest.NewRequest(http.MethodGet, uri, nil), viewer)
	if rec.Code != http.StatusOK {
		r.t.Fatalf("GET %s: %d %s", uri, rec.Code, rec.Body)
	}
	var m struct {
		Priority []string `json:"PATHWAY-PRIORITY"`
		Reload   string   `json:"RELOAD-URI"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || len(m.Priority) == 0 {
		r.t.Fatalf("steering manifest %s: %v", rec.Body, err)
	}
	return m.Priority, m.Reload
}

// master fetches the personalized multivariant playlist at uri from
// signurl, as a player at viewer, and returns its default PATHWAY-ID and
// steering SERVER-URI.
func (r *rig) master(uri, viewer string) (pathway, serverURI string) {
	r.t.Helper()
	rec := r.do(r.signurl, httptest.NewRequest(http.MethodGet, uri, nil), viewer)
	if rec.Code != http.StatusOK {
		r.t.Fatalf("GET %s: %d %s", uri, rec.Code, rec.Body)
	}
	steering, _ := parseMaster(r.t, rec.Body.Bytes())
	return attrValue(steering, "PATHWAY-ID"), attrValue(steering, "SERVER-URI")
}

// markCDN reports every edge of cdn with healthy, now.
func (r *rig) markCDN(cdn string, healthy bool) {
	r.t.Helper()
	ctx := context.Background()
	edges, err := r.env.store.ListEdges(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range edges {
		if e.CDN == cdn {
			e.Healthy, e.ReportedAt = healthy, r.clock.now()
			if err := r.env.store.PutEdge(ctx, e); err != nil {
				r.t.Fatal(err)
			}
		}
	}
}

// TestStartIsTheFirstSteeringAnswer holds functions/signurl's start
// pathway to functions/pickedge's first answer for the same session, both
// built by their own Build over one store, one edge table and one set of
// variables (the local runner's two CDNs): the urls answer's cdn, the
// personalized multivariant playlist's default PATHWAY-ID, pickedge's
// /edges pathways[0], and the first PATHWAY-PRIORITY the playlist's
// SERVER-URI answers. The viewers are located by coverage zone, GeoIP (an
// ASN-embedded edge included) and the default location, with every edge
// healthy and with the first choice's CDN down. Either function ranking
// on its own (another configuration, another pick from the ranking) fails
// it.
func TestStartIsTheFirstSteeringAnswer(t *testing.T) {
	t.Parallel()
	var starts = struct {
		seen map[string]bool
		ch   chan string
	}{seen: map[string]bool{}, ch: make(chan string, 64)}
	t.Cleanup(func() {
		close(starts.ch)
		for s := range starts.ch {
			starts.seen[s] = true
		}
		// A constant start (the default CDN, say) must not pass: the
		// rows between them start on both CDNs.
		if !t.Failed() && len(starts.seen) != 2 {
			t.Errorf("the rows start on %v only: they do not tell a ranking from a constant", slices.Sorted(maps.Keys(starts.seen)))
		}
	})
	for _, tt := range []struct {
		name    string
		viewer  string
		weights string // STEERING_CDN_WEIGHTS
		asnKm   string // STEERING_ASN_BONUS_KM
		// london moves the default location from Ashburn to London, whose
		// PoP's CDN is another: a viewer located by the wrong means (or
		// not at all) on one side then starts elsewhere.
		london bool
		// topDown reports every edge of the first answer's CDN unhealthy,
		// then asks again once both copies of the edge table have
		// reloaded.
		topDown bool
	}{
		{name: "coverage zone, all healthy", viewer: viewerFra},
		{name: "GeoIP, all healthy", viewer: viewerLondon},
		// fra-isp-1 (Cloud CDN) wins over London's Cloudfront PoP.
		{name: "GeoIP with an ASN-embedded edge", viewer: viewerLondonISP, asnKm: "40000"},
		{name: "default location", viewer: viewerUnknown},
		{name: "default location London", viewer: viewerUnknown, london: true},
		{name: "coverage zone, default location London", viewer: viewerFra, london: true},
		{name: "coverage zone, weights favour cloudfront", viewer: viewerFra,
			weights: demo.CDNCloudFront + ":3," + demo.CDNCloudCDN + ":1"},
		{name: "coverage zone, the first choice's CDN down", viewer: viewerFra, topDown: true},
		{name: "GeoIP, the first choice's CDN down", viewer: viewerLondon, topDown: true},
		{name: "default location, the first choice's CDN down", viewer: viewerUnknown, topDown: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			extra := map[string]string{}
			if tt.weights != "" {
				extra["STEERING_CDN_WEIGHTS"] = tt.weights
			}
			if tt.asnKm != "" {
				extra["STEERING_ASN_BONUS_KM"] = tt.asnKm
			}
			if tt.london {
				extra["PICKEDGE_DEFAULT_LAT"], extra["PICKEDGE_DEFAULT_LON"] = "51.5", "-0.12"
			}
			r := newRig(t, []string{demo.CDNCloudFront, demo.CDNCloudCDN}, extra)
			check := func() string {
				t.Helper()
				sess, token := r.session()
				g := r.sign(sess.ID, token, "", tt.viewer)
				if g.Manifests == nil {
					t.Fatalf("no personalized manifests in %+v", g)
				}
				pathway, serverURI := r.master(g.Manifests.HLS, tt.viewer)
				picked := r.edges(sess.ID, token, tt.viewer)
				// The ranking's own answer (the app's steering_uri, which
				// names no start), and the first answer to the playlist's
				// SERVER-URI.
				ranking := r.steer(picked.SteeringURI, tt.viewer)
				first := r.steer(serverURI, tt.viewer)
				if g.CDN != pathway || pathway != picked.Pathways[0] || pathway != ranking[0] || pathway != first[0] {
					t.Errorf("urls answer cdn %q, playlist PATHWAY-ID %q; pickedge /edges pathways %v, its steering answer %v, first answer to the playlist's %v",
						g.CDN, pathway, picked.Pathways, ranking, first)
				}
				starts.ch <- g.CDN
				return g.CDN
			}
			top := check()
			if !tt.topDown {
				return
			}
			r.markCDN(top, false)
			r.clock.add(2 * time.Second) // past PICKEDGE_REFRESH: both copies reload
			if now := check(); now == top {
				t.Errorf("with every %s edge down the session still starts on it", top)
			}
		})
	}
}

// TestNamedStartIsKeptByTheFirstAnswer: a session whose request names a
// CDN the steering server does not rank first starts there, and the first
// steering answer to the URI its manifests (and the urls answer) name
// keeps it first while it has a usable edge, so the player does not
// switch pathways while loading its first segment (hls.js 1.7.4 stalls
// for good on that); the answer after it, to its RELOAD-URI, is the
// ranking's. A named CDN with no usable edge starts there all the same (the
// request wins), and the first answer moves the player off it.
func TestNamedStartIsKeptByTheFirstAnswer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		viewer string
		down   bool // the named CDN's edges report unhealthy
	}{
		{name: "coverage zone", viewer: viewerFra},
		{name: "GeoIP", viewer: viewerLondon},
		{name: "default location", viewer: viewerUnknown},
		{name: "the named CDN down", viewer: viewerFra, down: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cdns := []string{demo.CDNCloudFront, demo.CDNCloudCDN}
			r := newRig(t, cdns, nil)
			sess, token := r.session()
			top := r.edges(sess.ID, token, tt.viewer).Pathways[0]
			named := cdns[0]
			if named == top {
				named = cdns[1]
			}
			if tt.down {
				r.markCDN(named, false)
				r.clock.add(2 * time.Second) // past PICKEDGE_REFRESH
				if got := r.edges(sess.ID, token, tt.viewer).Pathways; slices.Contains(got, named) {
					t.Fatalf("the ranking still has %s: %v", named, got)
				}
			}
			g := r.sign(sess.ID, token, `{"cdn":"`+named+`"}`, tt.viewer)
			pathway, serverURI := r.master(g.Manifests.HLS, tt.viewer)
			if g.CDN != named || pathway != named {
				t.Fatalf("named %s: urls answer cdn %q, playlist PATHWAY-ID %q", named, g.CDN, pathway)
			}
			want := named
			if tt.down {
				want = top
			}
			for _, uri := range []string{serverURI, g.SteeringURI} {
				first, reload := r.steerReload(uri, tt.viewer)
				if first[0] != want {
					t.Errorf("first answer to %s: %v, want %s first", uri, first, want)
				}
				if next := r.steer(reload, tt.viewer); next[0] != top {
					t.Errorf("next answer %v, want the ranking's %s first", next, top)
				}
			}
		})
	}
}

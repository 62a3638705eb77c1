package signurl_test

import (
	"context"
	"crypto"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/playurl"
)

// The stored objects of a title with the sd/hd/uhd ladder, laid out as the
// packager stores them (docs/manifests.md): relative URIs everywhere.
const ladderTitle = "ladder-film"

func storedObjects(titleID string, segments int) map[string][]byte {
	prefix := "/titles/" + titleID + "/"
	objects := map[string][]byte{
		prefix + "master.m3u8": []byte(`#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.42c01e",FRAME-RATE=30.000
sd/media.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.4d401f",FRAME-RATE=30.000
hd/media.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=12000000,RESOLUTION=3840x2160,CODECS="avc1.640033",FRAME-RATE=30.000
uhd/media.m3u8
`),
		prefix + "manifest.mpd": []byte(`<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT6S" minBufferTime="PT2S">
  <Period id="0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">
      <SegmentTemplate timescale="1000" duration="2000" startNumber="1" media="$RepresentationID$/seg$Number$.m4s" initialization="$RepresentationID$/init.mp4"/>
      <Representation id="sd" bandwidth="800000" width="640" height="360" codecs="avc1.42c01e"/>
      <Representation id="hd" bandwidth="3000000" width="1280" height="720" codecs="avc1.4d401f"/>
      <Representation id="uhd" bandwidth="12000000" width="3840" height="2160" codecs="avc1.640033"></Representation>
    </AdaptationSet>
  </Period>
</MPD>
`),
	}
	for _, r := range demo.Ladder {
		var media strings.Builder
		media.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n")
		for n := 1; n <= segments; n++ {
			fmt.Fprintf(&media, "#EXTINF:2.000,\nseg%d.m4s\n", n)
			objects[fmt.Sprintf("%s%s/seg%d.m4s", prefix, r.Path, n)] = []byte(r.Path + " segment")
		}
		media.WriteString("#EXT-X-ENDLIST\n")
		objects[prefix+r.Path+"/media.m3u8"] = []byte(media.String())
		objects[prefix+r.Path+"/init.mp4"] = []byte(r.Path + " init")
	}
	return objects
}

// mapOrigin is an Origin over stored objects that counts its reads.
type mapOrigin struct {
	objects map[string][]byte
	reads   atomic.Int64
}

func (o *mapOrigin) Get(_ context.Context, path string) ([]byte, error) {
	o.reads.Add(1)
	b, ok := o.objects[path]
	if !ok {
		return nil, playback.NotFound("object", path)
	}
	return b, nil
}

// objectEdge is a CDN over stored objects: it serves an object only to a
// request that the CloudFront or the Cloud CDN verifier (the local edge's
// verification code) accepts, like the real CDNs serving a bucket
// unchanged.
func objectEdge(t testing.TB, objects map[string][]byte, now func() time.Time) *httptest.Server {
	t.Helper()
	keys := testKeys()
	cfPublic := map[string]crypto.PublicKey{keys.cfECDSA.ID: keys.cfECDSA.Signer.Public(), keys.cfRSA.ID: keys.cfRSA.Signer.Public()}
	cf, err := cloudfront.NewVerifier(cfPublic, now)
	if err != nil {
		t.Fatal(err)
	}
	cdn, err := cloudcdn.NewVerifier([]cloudcdn.Key{keys.cdn}, now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpx.Middleware(slog.New(slog.DiscardHandler), httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		_, errCF := cf.VerifyRequest(r, netip.Addr{})
		_, errCDN := cdn.VerifyRequest(r, netip.Addr{})
		if errCF != nil && errCDN != nil {
			return playback.Errorf(playback.CodeForbidden, "signature_invalid", "cloudfront: %v; cloudcdn: %v", errCF, errCDN)
		}
		b, ok := objects[r.URL.Path]
		if !ok {
			return playback.NotFound("object", r.URL.Path)
		}
		_, _ = w.Write(b)
		return nil
	})))
	t.Cleanup(srv.Close)
	return srv
}

// manifestHarness serves signurl with every test CDN based at one object
// edge (or at base when given) and manifests read from origin.
type manifestHarness struct {
	*harness
	objects map[string][]byte
	origin  *mapOrigin
	cdnEdge *httptest.Server
	api     *httptest.Server
}

func newManifestHarness(t testing.TB, segments int, edgeBase string) *manifestHarness {
	t.Helper()
	return newSteeredManifestHarness(t, segments, edgeBase, nil)
}

// newSteeredManifestHarness is newManifestHarness with the steering
// server's ranking (nil: none).
func newSteeredManifestHarness(t testing.TB, segments int, edgeBase string, steering signurl.Steering) *manifestHarness {
	t.Helper()
	return newSteeredManifestHarnessOver(t, segments, edgeBase, steering, nil)
}

// newSteeredManifestHarnessOver is newSteeredManifestHarness with the
// server reading the store through wrap (nil: directly).
func newSteeredManifestHarnessOver(t testing.TB, segments int, edgeBase string, steering signurl.Steering, wrap func(signurl.Store) signurl.Store) *manifestHarness {
	t.Helper()
	h := newHarness(t)
	ctx := context.Background()
	title := playback.Title{ID: ladderTitle, Name: "Ladder", AssetPath: "/titles/" + ladderTitle + "/", Manifest: "master.m3u8",
		Renditions: slices.Clone(demo.Ladder)}
	if err := h.store.PutTitle(ctx, title); err != nil {
		t.Fatal(err)
	}
	m := &manifestHarness{harness: h, objects: storedObjects(ladderTitle, segments)}
	m.origin = &mapOrigin{objects: m.objects}
	m.cdnEdge = objectEdge(t, m.objects, h.edgeNow.now)
	if edgeBase == "" {
		edgeBase = m.cdnEdge.URL
	}
	mux := http.NewServeMux()
	m.api = httptest.NewServer(httpx.Middleware(slog.New(slog.DiscardHandler), mux))
	t.Cleanup(m.api.Close)
	cfg := signurl.Config{DefaultCDN: cdnCFECDSA, Grace: 30 * time.Second, MaxTTL: 10 * time.Minute, MaxBody: 1024,
		CDNBases: map[string]string{cdnCFECDSA: edgeBase, cdnCFRSA: edgeBase, cdnCDN: edgeBase}, PublicURL: m.api.URL}
	var store signurl.Store = h.store
	if wrap != nil {
		store = wrap(store)
	}
	srv, err := signurl.New(cfg, signurl.Deps{Store: store, Tokens: h.tokens, Signers: h.signers, Now: h.clock.now, Origin: m.origin,
		Steering: steering})
	if err != nil {
		t.Fatal(err)
	}
	srv.Register(mux)
	h.srv, h.h = srv, mux
	return m
}

// get GETs rawURL, sending cookies whatever their path.
func (m *manifestHarness) get(rawURL string, cookies []signurl.Cookie) fetched {
	m.t.Helper()
	return fetch(m.t, nil, rawURL, cookies)
}

// hlsVariant is one EXT-X-STREAM-INF of a personalized multivariant playlist.
type hlsVariant struct {
	attrs string
	uri   string
}

func parseMaster(t testing.TB, body []byte) (steering string, variants []hlsVariant) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	for i := 0; i < len(lines); i++ {
		switch line := lines[i]; {
		case strings.HasPrefix(line, "#EXT-X-CONTENT-STEERING:"):
			steering = line
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			if i+1 >= len(lines) {
				t.Fatalf("variant without URI:\n%s", body)
			}
			variants = append(variants, hlsVariant{attrs: line, uri: lines[i+1]})
			i++
		}
	}
	return steering, variants
}

func attrValue(attrs, name string) string {
	_, v, ok := strings.Cut(attrs, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, `"`)
	return v
}

// mpd is what the tests read of a personalized MPD.
type mpd struct {
	BaseURLs []struct {
		ServiceLocation string `xml:"serviceLocation,attr"`
		URL             string `xml:",chardata"`
	} `xml:"BaseURL"`
	Steering struct {
		Default string `xml:"defaultServiceLocation,attr"`
		URL     string `xml:",chardata"`
	} `xml:"ContentSteering"`
	Sets []struct {
		Template       segmentTemplate `xml:"SegmentTemplate"`
		Representation []struct {
			ID       string           `xml:"id,attr"`
			Template *segmentTemplate `xml:"SegmentTemplate"`
		} `xml:"Representation"`
	} `xml:"Period>AdaptationSet"`
}

type segmentTemplate struct {
	Media          string `xml:"media,attr"`
	Initialization string `xml:"initialization,attr"`
	StartNumber    int    `xml:"startNumber,attr"`
	Duration       int    `xml:"duration,attr"`
}

// dashURL resolves a SegmentTemplate URL the way a DASH client does.
func dashURL(t testing.TB, base, template, id string, number int) string {
	t.Helper()
	rel := strings.NewReplacer("$RepresentationID$", id, "$Number$", fmt.Sprint(number), "$$", "$").Replace(template)
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(rel)
	if err != nil {
		t.Fatal(err)
	}
	return b.ResolveReference(r).String()
}

// TestPersonalizedManifests plays each plan's personalized HLS and DASH
// manifests through an edge that checks signatures with the local edge's
// verifiers, for every CDN and both grant styles: every allowed rendition
// plays on its pathways, the others are absent, and one signature serves a
// whole rendition on one pathway.
func TestPersonalizedManifests(t *testing.T) {
	t.Parallel()
	m := newManifestHarness(t, 3, "")
	for _, plan := range []struct {
		account string
		allowed []string
	}{
		{demo.AccountSolo, []string{"sd"}},         // basic: SD
		{demo.AccountFamily, []string{"sd", "hd"}}, // standard: HD
		{demo.AccountKids, []string{"sd", "hd", "uhd"}},
	} {
		for _, cdn := range allCDNs {
			for _, grant := range []string{signurl.GrantQuery, signurl.GrantCookie} {
				t.Run(plan.account+"/"+cdn+"/"+grant, func(t *testing.T) {
					t.Parallel()
					sess, token := m.session(plan.account, ladderTitle, time.Hour)
					rec := m.sign(sess.ID, token, `{"cdn":"`+cdn+`","grant":"`+grant+`"}`)
					g := decodeGrant(t, rec.Code, rec.Body.Bytes())
					checkGrant(t, m, g, cdn, grant, plan.allowed)
					playHLS(t, m, g, cdn, grant, plan.allowed)
					playDASH(t, m, g, cdn, grant, plan.allowed)
				})
			}
		}
	}
}

func checkGrant(t *testing.T, m *manifestHarness, g signurl.URLsResponse, cdn, grant string, allowed []string) {
	t.Helper()
	if g.Manifests == nil || g.ManifestURL != g.Manifests.HLS || g.QueryParams != "" || g.CDN != cdn || g.Grant != grant {
		t.Fatalf("urls answer %+v: want manifests, manifest_url = manifests.hls, no title-wide query", g)
	}
	for _, u := range []string{g.Manifests.HLS, g.Manifests.DASH, g.SteeringURI} {
		if !strings.HasPrefix(u, m.api.URL+"/v1/") || !strings.Contains(u, "token=m1.") {
			t.Fatalf("%q is not an absolute API URL with a manifest credential", u)
		}
	}
	if !strings.HasPrefix(g.SteeringURI, m.api.URL+"/v1/steering/") {
		t.Fatalf("steering_uri %q", g.SteeringURI)
	}
	// One grant per allowed rendition folder, none wider.
	paths := map[string]bool{}
	for _, c := range g.Cookies {
		paths[c.Path] = true
	}
	var want []string
	for _, r := range allowed {
		want = append(want, "/titles/"+ladderTitle+"/"+r+"/")
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for p := range paths {
			if !yield(p) {
				return
			}
		}
	}); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("cookie paths %v, want %v", got, want)
	}
}

// cookiesFor is what a browser sends to rawURL of the answer's cookies
// with cookie grants: those whose path covers the URL's.
func cookiesFor(g signurl.URLsResponse, grant, rawURL string) []signurl.Cookie {
	if grant != signurl.GrantCookie {
		return nil
	}
	u, _ := url.Parse(rawURL)
	var out []signurl.Cookie
	for _, c := range g.Cookies {
		if strings.HasPrefix(u.Path, c.Path) {
			out = append(out, c)
		}
	}
	return out
}

// allCookies is what an attacker sends: every cookie, whatever its path.
func allCookies(g signurl.URLsResponse, grant string) []signurl.Cookie {
	if grant != signurl.GrantCookie {
		return nil
	}
	return g.Cookies
}

func playHLS(t *testing.T, m *manifestHarness, g signurl.URLsResponse, cdn, grant string, allowed []string) {
	t.Helper()
	master := m.get(g.Manifests.HLS, nil)
	if master.status != http.StatusOK || master.ctype != "application/vnd.apple.mpegurl" {
		t.Fatalf("master: %d %s %s", master.status, master.ctype, master.body)
	}
	steering, variants := parseMaster(t, master.body)
	if attrValue(steering, "PATHWAY-ID") != cdn || !strings.HasPrefix(attrValue(steering, "SERVER-URI"), m.api.URL+"/v1/steering/") ||
		steeringStart(t, attrValue(steering, "SERVER-URI")) != cdn {
		t.Fatalf("EXT-X-CONTENT-STEERING %q, want the absolute steering URI and pathway %s, its start", steering, cdn)
	}
	if len(variants) != len(allowed)*len(allCDNs) {
		t.Fatalf("%d variants, want %d renditions x %d pathways:\n%s", len(variants), len(allowed), len(allCDNs), master.body)
	}
	for _, v := range variants {
		pathway, rendition := attrValue(v.attrs, "PATHWAY-ID"), attrValue(v.attrs, "STABLE-VARIANT-ID")
		if !slices.Contains(allowed, rendition) || !slices.Contains(allCDNs, pathway) {
			t.Fatalf("variant %q of rendition %q on pathway %q", v.attrs, rendition, pathway)
		}
		if !strings.HasPrefix(v.uri, m.api.URL+"/v1/manifests/") {
			t.Fatalf("variant URI %q is not absolute on the API", v.uri)
		}
		media := m.get(v.uri, nil)
		if media.status != http.StatusOK {
			t.Fatalf("media playlist %s: %d %s", v.uri, media.status, media.body)
		}
		uris := playlistURIs(media.body)
		mapURI := attrValue(string(media.body), "URI")
		queries := map[string]bool{}
		folder := m.cdnEdge.URL + "/titles/" + ladderTitle + "/" + rendition + "/"
		for _, u := range append(uris, mapURI) {
			if !strings.HasPrefix(u, folder) {
				t.Fatalf("URI %q is not absolute in %s", u, folder)
			}
			_, q, _ := strings.Cut(u, "?")
			queries[q] = true
		}
		if grant == signurl.GrantQuery && (len(queries) != 1 || queries[""]) {
			t.Fatalf("%d distinct signatures in one media playlist, want one: %v", len(queries), queries)
		}
		if grant == signurl.GrantCookie && !queries[""] || len(queries) != 1 {
			t.Fatalf("cookie grants write bare URIs, got %v", queries)
		}
		if grant == signurl.GrantCookie && pathway != cdn {
			continue // the answer's cookies are the chosen CDN's
		}
		for _, u := range append(uris, mapURI) {
			if f := m.get(u, cookiesFor(g, grant, u)); f.status != http.StatusOK || !strings.HasPrefix(string(f.body), rendition+" ") {
				t.Fatalf("%s on %s: %d %s", u, pathway, f.status, f.body)
			}
		}
		// A guessed URL of a rendition above the cap, with this grant,
		// is refused at the edge.
		if !slices.Contains(allowed, "uhd") {
			guess := strings.Replace(uris[0], "/"+rendition+"/", "/uhd/", 1)
			if f := m.get(guess, allCookies(g, grant)); f.status != http.StatusForbidden {
				t.Fatalf("guessed UHD %s: %d, want 403", guess, f.status)
			}
		}
	}
	// The media playlists of renditions above the cap are refused.
	if !slices.Contains(allowed, "uhd") {
		uhd := strings.Replace(variants[0].uri, "/"+attrValue(variants[0].attrs, "STABLE-VARIANT-ID")+"?", "/uhd?", 1)
		if f := m.get(uhd, nil); f.status != http.StatusForbidden || f.reason != "rendition_not_allowed" {
			t.Fatalf("UHD media playlist %s: %d %s", uhd, f.status, f.reason)
		}
	}
}

func playDASH(t *testing.T, m *manifestHarness, g signurl.URLsResponse, cdn, grant string, allowed []string) {
	t.Helper()
	f := m.get(g.Manifests.DASH, nil)
	if f.status != http.StatusOK || f.ctype != "application/dash+xml" {
		t.Fatalf("mpd: %d %s %s", f.status, f.ctype, f.body)
	}
	var doc mpd
	if err := xml.Unmarshal(f.body, &doc); err != nil {
		t.Fatalf("mpd does not parse: %v\n%s", err, f.body)
	}
	if doc.Steering.Default != cdn || !strings.HasPrefix(doc.Steering.URL, m.api.URL+"/v1/steering/") || !strings.Contains(doc.Steering.URL, "format=dash") ||
		steeringStart(t, doc.Steering.URL) != cdn {
		t.Fatalf("ContentSteering %+v, want the start %s", doc.Steering, cdn)
	}
	wantPathways := allCDNs
	if grant == signurl.GrantQuery {
		wantPathways = []string{cdn}
	}
	var locations []string
	for _, b := range doc.BaseURLs {
		locations = append(locations, b.ServiceLocation)
		if b.URL != m.cdnEdge.URL+"/titles/"+ladderTitle+"/" {
			t.Fatalf("BaseURL %q", b.URL)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(locations)), slices.Sorted(slices.Values(wantPathways))) || locations[0] != cdn {
		t.Fatalf("BaseURL serviceLocations %v, want %v starting with %s", locations, wantPathways, cdn)
	}
	var ids []string
	for _, set := range doc.Sets {
		for _, rep := range set.Representation {
			ids = append(ids, rep.ID)
			tmpl := set.Template
			if rep.Template != nil {
				tmpl = *rep.Template
			}
			if grant == signurl.GrantQuery && (rep.Template == nil || !strings.Contains(rep.Template.Media, "?")) {
				t.Fatalf("query grant without a Representation template of its own: %+v", rep)
			}
			for _, u := range []string{
				dashURL(t, doc.BaseURLs[0].URL, tmpl.Initialization, rep.ID, 0),
				dashURL(t, doc.BaseURLs[0].URL, tmpl.Media, rep.ID, 1),
				dashURL(t, doc.BaseURLs[0].URL, tmpl.Media, rep.ID, 3),
			} {
				if f := m.get(u, cookiesFor(g, grant, u)); f.status != http.StatusOK || !strings.HasPrefix(string(f.body), rep.ID+" ") {
					t.Fatalf("DASH %s: %d %s", u, f.status, f.body)
				}
			}
			if !slices.Contains(allowed, "uhd") {
				guess := strings.Replace(dashURL(t, doc.BaseURLs[0].URL, tmpl.Media, rep.ID, 1), "/"+rep.ID+"/", "/uhd/", 1)
				if f := m.get(guess, allCookies(g, grant)); f.status != http.StatusForbidden {
					t.Fatalf("guessed UHD %s: %d, want 403", guess, f.status)
				}
			}
		}
	}
	if !slices.Equal(ids, allowed) {
		t.Fatalf("Representations %v, want %v", ids, allowed)
	}
}

// TestCapHoldsAtTheLocalEdge asks the local edge itself (shared/localedge,
// the runner's CDN stand-in) for a UHD segment with a basic plan's grants:
// refused with 403, while the same grant's own rendition passes the
// signature check.
func TestCapHoldsAtTheLocalEdge(t *testing.T) {
	t.Parallel()
	probe := newHarness(t)
	m := newManifestHarness(t, 3, probe.edge.URL)
	// The edge verifies with the probe harness's keys, which are the
	// shared test keys, and its clock.
	for _, cdn := range allCDNs {
		t.Run(cdn, func(t *testing.T) {
			t.Parallel()
			sess, token := m.session(demo.AccountSolo, ladderTitle, time.Hour)
			g := m.grant(sess.ID, token, cdn)
			master := m.get(g.Manifests.HLS, nil)
			_, variants := parseMaster(t, master.body)
			var media fetched
			for _, v := range variants {
				if attrValue(v.attrs, "PATHWAY-ID") == cdn {
					media = m.get(v.uri, nil)
				}
			}
			uris := playlistURIs(media.body)
			if len(uris) == 0 || !strings.HasPrefix(uris[0], probe.edge.URL+"/titles/"+ladderTitle+"/sd/") {
				t.Fatalf("media playlist %d %s", media.status, media.body)
			}
			for _, tc := range []struct {
				name    string
				url     string
				cookies []signurl.Cookie
				want    int
			}{
				{"sd segment, query", uris[0], nil, http.StatusOK},
				{"uhd segment, sd query", strings.Replace(uris[0], "/sd/", "/uhd/", 1), nil, http.StatusForbidden},
				{"hd segment, sd query", strings.Replace(uris[0], "/sd/", "/hd/", 1), nil, http.StatusForbidden},
				{"title root, sd query", strings.Replace(uris[0], "/sd/", "/", 1), nil, http.StatusForbidden},
				{"uhd segment, sd cookies", probe.edge.URL + "/titles/" + ladderTitle + "/uhd/seg1.m4s", g.Cookies, http.StatusForbidden},
				{"sd segment, sd cookies", probe.edge.URL + "/titles/" + ladderTitle + "/sd/seg1.m4s", g.Cookies, http.StatusOK},
			} {
				f := m.get(tc.url, tc.cookies)
				if f.status != tc.want {
					t.Errorf("%s: %s = %d %s, want %d", tc.name, tc.url, f.status, f.reason, tc.want)
				}
			}
		})
	}
}

// TestManifestRefusals: bad credentials, another session's credential,
// bad parameters and ended sessions get a typed 4xx, no manifest, and
// change nothing.
func TestManifestRefusals(t *testing.T) {
	t.Parallel()
	m := newManifestHarness(t, 3, "")
	sess, token := m.session(demo.AccountSolo, ladderTitle, time.Hour)
	g := m.grant(sess.ID, token, cdnCFECDSA)
	other, otherToken := m.session(demo.AccountFamily, ladderTitle, time.Hour)
	og := m.grant(other.ID, otherToken, cdnCFECDSA)
	ended, endedToken := m.session(demo.AccountKids, ladderTitle, time.Hour)
	eg := m.grant(ended.ID, endedToken, cdnCFECDSA)
	if _, err := m.store.EndSession(context.Background(), ended.ID, playback.EndByUser, m.clock.now()); err != nil {
		t.Fatal(err)
	}

	cred := func(u string) string { v, _ := url.Parse(u); return v.Query().Get("token") }
	withQuery := func(u, key, value string) string {
		v, _ := url.Parse(u)
		q := v.Query()
		if value == "" {
			q.Del(key)
		} else {
			q.Set(key, value)
		}
		v.RawQuery = q.Encode()
		return v.String()
	}
	forged := []byte(cred(g.Manifests.HLS))
	forged[len(forged)-3] ^= 1
	api := m.api.URL + "/v1/manifests/"
	for _, tc := range []struct {
		name   string
		url    string
		status int
		reason string
	}{
		{"no credential", withQuery(g.Manifests.HLS, "token", ""), 401, "token_missing"},
		{"forged credential", withQuery(g.Manifests.HLS, "token", string(forged)), 401, "token_signature"},
		{"playback token instead", withQuery(g.Manifests.DASH, "token", token), 401, "token_malformed"},
		{"another session's credential", api + sess.ID + "/hls?token=" + url.QueryEscape(cred(og.Manifests.HLS)), 403, "token_session_mismatch"},
		{"another session's media playlist", api + other.ID + "/hls/" + cdnCFECDSA + "/sd?token=" + url.QueryEscape(cred(g.Manifests.HLS)), 403, "token_session_mismatch"},
		{"unknown cdn", withQuery(g.Manifests.HLS, "cdn", "akamai"), 400, "unknown_cdn"},
		{"unknown pathway", api + sess.ID + "/hls/akamai/sd?token=" + url.QueryEscape(cred(g.Manifests.HLS)), 400, "unknown_cdn"},
		{"bad grant style", withQuery(g.Manifests.DASH, "grant", "header"), 400, "grant_style"},
		{"rendition above the cap", api + sess.ID + "/hls/" + cdnCFECDSA + "/uhd?token=" + url.QueryEscape(cred(g.Manifests.HLS)), 403, "rendition_not_allowed"},
		{"rendition not in the ladder", api + sess.ID + "/hls/" + cdnCFECDSA + "/4k?token=" + url.QueryEscape(cred(g.Manifests.HLS)), 403, "rendition_not_allowed"},
		{"ended session", eg.Manifests.HLS, 410, "session_ended"},
		{"ended session, DASH", eg.Manifests.DASH, 410, "session_ended"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := must(m.store.GetSession(context.Background(), sess.ID))(t)
			reads := m.origin.reads.Load()
			f := m.get(tc.url, nil)
			if f.status != tc.status || f.reason != tc.reason {
				t.Fatalf("%s: %d %s (%s), want %d %s", tc.url, f.status, f.reason, f.body, tc.status, tc.reason)
			}
			if tc.status == 410 && !strings.Contains(string(f.body), `"end_reason":"`+playback.EndByUser+`"`) {
				t.Fatalf("the 410 does not say why the session is over: %s", f.body)
			}
			if strings.Contains(string(f.body), "#EXTM3U") || strings.Contains(string(f.body), "<MPD") {
				t.Fatalf("a refusal carries a manifest: %s", f.body)
			}
			if after := must(m.store.GetSession(context.Background(), sess.ID))(t); after != before {
				t.Fatalf("session changed: %+v -> %+v", before, after)
			}
			if tc.status != 403 || tc.reason != "rendition_not_allowed" {
				if n := m.origin.reads.Load() - reads; n != 0 {
					t.Fatalf("the origin was read %d times for a refused request", n)
				}
			}
		})
	}

	// The credential lives as long as the grants, then stops.
	t.Run("expired credential", func(t *testing.T) {
		m.clock.add(11 * time.Minute)
		defer m.clock.add(-11 * time.Minute)
		f := m.get(g.Manifests.HLS, nil)
		if f.status != 401 || f.reason != "token_expired" {
			t.Fatalf("%d %s, want 401 token_expired", f.status, f.reason)
		}
	})
}

// removingStore answers a title's or an account's read as the store does
// once an operator removed the record, after remove names its kind.
type removingStore struct {
	signurl.Store
	remove *atomic.Pointer[playback.Kind]
}

func (s removingStore) GetTitle(ctx context.Context, id string) (playback.Title, error) {
	if k := s.remove.Load(); k != nil && *k == playback.KindTitle {
		return playback.Title{}, playback.NotFound(string(playback.KindTitle), id)
	}
	return s.Store.GetTitle(ctx, id)
}

func (s removingStore) GetAccount(ctx context.Context, id string) (playback.Account, error) {
	if k := s.remove.Load(); k != nil && *k == playback.KindAccount {
		return playback.Account{}, playback.NotFound(string(playback.KindAccount), id)
	}
	return s.Store.GetAccount(ctx, id)
}

// TestManifestOfARemovedTitleOrAccount: a session's title or account
// removed since the play is 404 title_not_found or account_not_found on
// every manifest route, reasons playback.ManifestNotFounds (and so the
// document) lists.
func TestManifestOfARemovedTitleOrAccount(t *testing.T) {
	t.Parallel()
	for _, kind := range []playback.Kind{playback.KindTitle, playback.KindAccount} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			var remove atomic.Pointer[playback.Kind]
			m := newSteeredManifestHarnessOver(t, 3, "", nil, func(s signurl.Store) signurl.Store { return removingStore{Store: s, remove: &remove} })
			sess, token := m.session(demo.AccountSolo, ladderTitle, time.Hour)
			g := m.grant(sess.ID, token, cdnCFECDSA)
			remove.Store(&kind)
			want := string(kind) + "_not_found"
			if !slices.Contains(playback.ManifestNotFounds, want) {
				t.Fatalf("playback.ManifestNotFounds %v lacks %s", playback.ManifestNotFounds, want)
			}
			hls, _ := url.Parse(g.Manifests.HLS)
			media := m.api.URL + "/v1/manifests/" + sess.ID + "/hls/" + cdnCFECDSA + "/sd?token=" + url.QueryEscape(hls.Query().Get("token"))
			for _, u := range []string{g.Manifests.HLS, g.Manifests.DASH, media} {
				if f := m.get(u, nil); f.status != 404 || f.reason != want {
					t.Fatalf("%s: %d %s (%s), want 404 %s", u, f.status, f.reason, f.body, want)
				}
			}
		})
	}
}

// TestManifestOfAnAccountWithoutItsPlan: a session whose account's plan_id
// names no plan ("" or a plan since deleted) is refused its manifest as
// authorize play refuses the play, 403 plan_missing: the account's
// configuration, not the request's, and a retry meets it again.
func TestManifestOfAnAccountWithoutItsPlan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, planID string }{
		{name: "no plan", planID: ""},
		{name: "deleted plan", planID: "plan_deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newManifestHarness(t, 3, "")
			sess, token := m.session(demo.AccountSolo, ladderTitle, time.Hour)
			g := m.grant(sess.ID, token, cdnCFECDSA)
			if _, err := m.store.UpdateAccount(context.Background(), demo.AccountSolo, func(a *playback.Account) error {
				a.PlanID = tc.planID
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for _, u := range []string{g.Manifests.HLS, g.Manifests.DASH} {
				if f := m.get(u, nil); f.status != 403 || f.reason != playback.ReasonPlanMissing {
					t.Fatalf("%s: %d %s (%s), want 403 %s", u, f.status, f.reason, f.body, playback.ReasonPlanMissing)
				}
			}
		})
	}
}

// TestManifestsOfATitleThatCannotBeSigned: a title whose stored asset path
// is another title's folder (written before catalogue writes checked it,
// or straight into the store) is refused by the manifest routes as by urls,
// 403 title_not_signable as the play is (an operator fixes the catalogue
// entry; a retry meets it again), and no grant for that folder is signed: the
// manifests' grants, per rendition folder under the asset path, would
// otherwise reach the other title's renditions.
func TestManifestsOfATitleThatCannotBeSigned(t *testing.T) {
	t.Parallel()
	m := newManifestHarness(t, 3, "")
	ctx := context.Background()
	borrower := playback.Title{ID: "borrower", Name: "Borrower", AssetPath: "/titles/" + ladderTitle + "/", Manifest: "master.m3u8",
		Renditions: slices.Clone(demo.Ladder)}
	if err := m.store.PutTitle(ctx, borrower); err != nil {
		t.Fatal(err)
	}
	sess, token := m.session(demo.AccountSolo, borrower.ID, time.Hour)
	if rec := m.sign(sess.ID, token, ""); rec.Code != 403 || errorOf(t, rec.Code, rec.Body.Bytes()).Reason != playback.ReasonTitleNotSignable {
		t.Fatalf("urls: %d %s, want 403 title_not_signable", rec.Code, rec.Body)
	}
	now := m.clock.now()
	cred, err := m.tokens.IssueManifest(auth.PlaybackClaims{SessionID: sess.ID, AccountID: demo.AccountSolo, TitleID: borrower.ID,
		IssuedAt: now, ExpiresAt: now.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	api := m.api.URL + "/v1/manifests/" + sess.ID
	q := "?token=" + url.QueryEscape(cred)
	for _, u := range []string{api + "/hls" + q, api + "/hls/" + cdnCFECDSA + "/sd" + q, api + "/hls/" + cdnCDN + "/sd" + q, api + "/dash" + q} {
		f := m.get(u, nil)
		if f.status != 403 || f.reason != playback.ReasonTitleNotSignable {
			t.Errorf("%s: %d %s, want 403 title_not_signable:\n%s", u, f.status, f.reason, f.body)
		}
		if strings.Contains(string(f.body), "Signature=") {
			t.Errorf("%s: the refusal carries a grant:\n%s", u, f.body)
		}
	}
}

// TestUnsupportedManifestsAreNotRetried: a stored manifest the personalizer
// cannot handle is answered 500 manifest_unsupported on every try until an
// operator fixes the catalogue, so the answer offers no retry: no
// Retry-After and no "retry later" (they were the 500's defaults).
func TestUnsupportedManifestsAreNotRetried(t *testing.T) {
	t.Parallel()
	m := newManifestHarness(t, 3, "")
	prefix := "/titles/" + ladderTitle + "/"
	m.objects[prefix+"sd/media.m3u8"] = []byte(strings.Replace(string(m.objects[prefix+"sd/media.m3u8"]), "\nseg1.m4s", "\n../../other/sd/seg1.m4s", 1))
	m.objects[prefix+"manifest.mpd"] = []byte(strings.Replace(string(m.objects[prefix+"manifest.mpd"]), "<Period", "<BaseURL>https://elsewhere.example/</BaseURL><Period", 1))
	sess, token := m.session(demo.AccountFamily, ladderTitle, time.Hour)
	g := m.grant(sess.ID, token, cdnCFECDSA)
	_, variants := parseMaster(t, m.get(g.Manifests.HLS, nil).body)
	// A second title whose MPD's segments climb out of its folder.
	climber := playback.Title{ID: "climber", Name: "Climber", AssetPath: "/titles/climber/", Manifest: "master.m3u8", Renditions: slices.Clone(demo.Ladder)}
	if err := m.store.PutTitle(context.Background(), climber); err != nil {
		t.Fatal(err)
	}
	maps.Copy(m.objects, storedObjects(climber.ID, 3))
	m.objects[climber.AssetPath+"manifest.mpd"] = []byte(strings.Replace(string(m.objects[climber.AssetPath+"manifest.mpd"]),
		`media="$RepresentationID$/`, `media="../`+ladderTitle+`/$RepresentationID$/`, 1))
	climbSess, climbToken := m.session(demo.AccountFamily, climber.ID, time.Hour)
	climb := m.grant(climbSess.ID, climbToken, cdnCFECDSA)
	for _, tc := range []struct{ name, url string }{
		{"HLS media playlist climbing out of the title's folder", variants[0].uri},
		{"MPD with an MPD-level BaseURL", g.Manifests.DASH},
		{"MPD whose segments climb out of the title's folder", climb.Manifests.DASH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			e := errorOf(t, resp.StatusCode, body)
			if resp.StatusCode != 500 || e.Reason != "manifest_unsupported" {
				t.Fatalf("%d %s, want 500 manifest_unsupported", resp.StatusCode, body)
			}
			if ra := resp.Header.Get("Retry-After"); ra != "" || strings.Contains(e.Message, "retry later") {
				t.Fatalf("Retry-After %q, message %q: a retry meets the same manifest", ra, e.Message)
			}
		})
	}
}

func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestOriginThroughTheCDN reads the stored manifests the default way,
// through the default CDN with each fetch signed for its folder, for each
// kind of signer.
func TestOriginThroughTheCDN(t *testing.T) {
	t.Parallel()
	m := newManifestHarness(t, 2, "")
	for _, cdn := range allCDNs {
		t.Run(cdn, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			api := httptest.NewServer(mux)
			t.Cleanup(api.Close)
			srv, err := signurl.New(signurl.Config{DefaultCDN: cdn, Grace: 30 * time.Second, MaxTTL: 10 * time.Minute, MaxBody: 1024,
				CDNBases: map[string]string{cdn: m.cdnEdge.URL}, OriginCacheTTL: time.Minute},
				signurl.Deps{Store: m.store, Tokens: m.tokens, Signers: map[string]playback.URLSigner{cdn: m.signers[cdn]}, Now: m.clock.now})
			if err != nil {
				t.Fatal(err)
			}
			srv.Register(mux)
			sess, token := m.session(demo.AccountFamily, ladderTitle, time.Hour)
			req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+sess.ID+"/urls", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			g := decodeGrant(t, rec.Code, rec.Body.Bytes())
			for _, u := range []string{g.Manifests.HLS, g.Manifests.DASH} {
				u = strings.Replace(u, "http://example.com", api.URL, 1) // the request named no host
				if f := m.get(u, nil); f.status != http.StatusOK {
					t.Fatalf("%s: %d %s", u, f.status, f.body)
				}
			}
		})
	}
}

// TestHTTPOriginCache: a stored manifest is fetched once per TTL, and the
// origin's answers map to the right errors.
func TestHTTPOriginCache(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/titles/a/master.m3u8":
			_, _ = w.Write([]byte("#EXTM3U\n"))
		case "/titles/a/denied.m3u8":
			w.WriteHeader(http.StatusForbidden)
		case "/titles/a/flaky.m3u8":
			w.WriteHeader(http.StatusBadGateway)
		case "/titles/a/slow.m3u8":
			w.WriteHeader(http.StatusRequestTimeout)
		case "/titles/a/huge.m3u8":
			_, _ = w.Write(make([]byte, 4<<20+1))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	clk := newClock(time.Now())
	o := &signurl.HTTPOrigin{Base: srv.URL, Client: srv.Client(), TTL: time.Minute, Max: 4, Now: clk.now}
	ctx := context.Background()
	for range 3 {
		if b, err := o.Get(ctx, "/titles/a/master.m3u8"); err != nil || string(b) != "#EXTM3U\n" {
			t.Fatalf("%q %v", b, err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d origin fetches within the TTL, want 1", n)
	}
	clk.add(time.Minute)
	if _, err := o.Get(ctx, "/titles/a/master.m3u8"); err != nil || hits.Load() != 2 {
		t.Fatalf("after the TTL: %v, %d fetches, want 2", err, hits.Load())
	}
	// A refusal or an object too large is the same on every try until an
	// operator acts, so its 500 offers no retry (playback.NoRetry); a
	// failing or slow origin may answer the next try.
	for _, tc := range []struct {
		path    string
		code    playback.Code
		reason  string
		noRetry bool
	}{
		{"/titles/a/none.m3u8", playback.CodeNotFound, "manifest_not_stored", false},
		{"/titles/a/denied.m3u8", playback.CodeInternal, "origin_refused", true},
		{"/titles/a/huge.m3u8", playback.CodeInternal, "manifest_too_large", true},
		{"/titles/a/flaky.m3u8", playback.CodeUnavailable, "dependency_unavailable", false},
		{"/titles/a/slow.m3u8", playback.CodeUnavailable, "dependency_unavailable", false},
	} {
		_, err := o.Get(ctx, tc.path)
		pe := playback.AsError(err)
		if pe == nil || pe.Code != tc.code || pe.Reason != tc.reason {
			t.Errorf("%s: %v, want %s/%s", tc.path, err, tc.code, tc.reason)
			continue
		}
		if noRetry := pe.RetryAfter == playback.NoRetry; noRetry != tc.noRetry {
			t.Errorf("%s: %s with RetryAfter %v: no retry %v, want %v", tc.path, tc.reason, pe.RetryAfter, noRetry, tc.noRetry)
		}
	}
}

// TestHTTPOriginDeploymentFaultsAreNotRetried: an origin base URL that is
// no URL, or a signer refusing the origin fetch's grant, fails every fetch
// the same way until an operator fixes the deployment, so the 500 offers no
// retry.
func TestHTTPOriginDeploymentFaultsAreNotRetried(t *testing.T) {
	t.Parallel()
	refuse := func(context.Context, string) (string, error) { return "", errors.New("key refused") }
	for _, tc := range []struct {
		name   string
		origin *signurl.HTTPOrigin
		reason string
	}{
		{"base is no URL", &signurl.HTTPOrigin{Base: "http://[::1", Client: http.DefaultClient, TTL: time.Minute, Now: time.Now}, "origin_url"},
		{"signer refuses", &signurl.HTTPOrigin{Base: "http://127.0.0.1:9", Client: http.DefaultClient, TTL: time.Minute, Now: time.Now, Sign: refuse}, "origin_sign_failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := tc.origin.Get(context.Background(), "/titles/a/master.m3u8")
			pe := playback.AsError(err)
			if pe == nil || pe.Reason != tc.reason {
				t.Fatalf("%v, want %s", err, tc.reason)
			}
			if pe.RetryAfter != playback.NoRetry {
				t.Fatalf("%s with RetryAfter %v: every fetch meets the same fault", pe.Reason, pe.RetryAfter)
			}
		})
	}
}

// steeringStart is the start pathway a steering URI names
// (playurl.SteeringStart), read as pickedge reads it, so a URI whose
// query the manifest's escaping broke names none.
func steeringStart(t *testing.T, uri string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatalf("steering URI %q: %v", uri, err)
	}
	return u.Query().Get(playurl.SteeringStart)
}

// failingTransport fails every request before any answer, as a CDN that
// cannot be reached does, or with its context's error as net/http's
// transport does.
type failingTransport struct{}

func (failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("dial tcp 192.0.2.1:443: connect: connection refused")
}

// TestHTTPOriginErrorsCarryNoGrant: a fetch through the CDN that fails
// before an answer is an error that names the object, never the signed
// URL: net/http puts the URL it was asked for in its errors, WriteError
// logs a 5xx's error, and a log must not hold a usable grant.
func TestHTTPOriginErrorsCarryNoGrant(t *testing.T) {
	t.Parallel()
	const grant = "Expires=2000000000&Signature=SECRETSIG&Key-Pair-Id=KSECRET"
	sign := func(_ context.Context, path string) (string, error) {
		return "https://cdn.example.com" + path + "?" + grant, nil
	}
	for _, tc := range []struct {
		name   string
		ctx    func() context.Context
		code   playback.Code
		reason string
	}{
		{"unreachable", context.Background, playback.CodeUnavailable, "dependency_unavailable"},
		{"canceled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, playback.CodeUnavailable, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := &signurl.HTTPOrigin{Base: "https://cdn.example.com", Client: &http.Client{Transport: failingTransport{}},
				Sign: sign, TTL: time.Minute, Max: 4, Now: time.Now}
			_, err := o.Get(tc.ctx(), "/titles/a/master.m3u8")
			if err == nil {
				t.Fatal("no error")
			}
			if pe := playback.AsError(err); pe.Code != tc.code || pe.Reason != tc.reason {
				t.Errorf("%v, want %s/%s", err, tc.code, tc.reason)
			}
			if msg := err.Error(); strings.Contains(msg, "SECRET") || !strings.Contains(msg, "/titles/a/master.m3u8") {
				t.Errorf("error %q carries the grant or lacks the object", msg)
			}
		})
	}
}

// TestDotSegmentsPlayAsTheStoredPlaylistResolves: a playlist may name its
// objects with dot segments (./seg1.m4s, ../sd/seg2.m4s), which a player
// removes when it resolves them against the playlist's URL (RFC 3986
// 5.2.4; hls.js through url-toolkit's normalizePath). Each personalized URI
// is the object the stored playlist names at the origin, with its
// rendition's grant, and plays at the edge, on every grant style; they
// were refused with 500 manifest_unsupported.
func TestDotSegmentsPlayAsTheStoredPlaylistResolves(t *testing.T) {
	t.Parallel()
	m := newManifestHarness(t, 3, "")
	prefix := "/titles/" + ladderTitle + "/"
	for _, r := range demo.Ladder {
		name := prefix + r.Path + "/media.m3u8"
		m.objects[name] = []byte(strings.NewReplacer(`URI="init.mp4"`, `URI="./init.mp4"`, "\nseg1.m4s", "\n./seg1.m4s",
			"\nseg2.m4s", "\n../"+r.Path+"/seg2.m4s", "\nseg3.m4s", "\nparts/../seg3.m4s").Replace(string(m.objects[name])))
	}
	m.objects[prefix+"master.m3u8"] = []byte(strings.Replace(string(m.objects[prefix+"master.m3u8"]), "\nhd/media.m3u8", "\n./hd/media.m3u8", 1))
	for _, grant := range []string{signurl.GrantQuery, signurl.GrantCookie} {
		t.Run(grant, func(t *testing.T) {
			t.Parallel()
			sess, token := m.session(demo.AccountFamily, ladderTitle, time.Hour)
			rec := m.sign(sess.ID, token, `{"cdn":"`+cdnCDN+`","grant":"`+grant+`"}`)
			g := decodeGrant(t, rec.Code, rec.Body.Bytes())
			playHLS(t, m, g, cdnCDN, grant, []string{"sd", "hd"})
			// Each URI is what the stored playlist resolves to at the edge.
			_, variants := parseMaster(t, m.get(g.Manifests.HLS, nil).body)
			v := variants[0]
			rendition := attrValue(v.attrs, "STABLE-VARIANT-ID")
			stored := must(url.Parse(m.cdnEdge.URL + prefix + rendition + "/media.m3u8"))(t)
			want := playlistURIs(m.objects[prefix+rendition+"/media.m3u8"])
			got := playlistURIs(m.get(v.uri, nil).body)
			if len(got) != len(want) {
				t.Fatalf("URIs %v, want as many as the stored %v", got, want)
			}
			for i, u := range got {
				u, _, _ = strings.Cut(u, "?")
				if w := stored.ResolveReference(must(url.Parse(want[i]))(t)).String(); u != w {
					t.Errorf("stored %q personalized as %q, want %q", want[i], u, w)
				}
			}
		})
	}
}

// TestInterstitialAssetIsOnThePathway: an HLS interstitial's relative
// X-ASSET-URI (draft-pantos-hls-rfc8216bis appendix D; relative URIs in a
// playlist resolve against its own URL, section 4.1) was kept relative, so
// it resolved against the personalized playlist's URL, the API. It is
// written absolute on the playlist's pathway, with the rendition's grant,
// and the asset loads from the edge.
func TestInterstitialAssetIsOnThePathway(t *testing.T) {
	t.Parallel()
	m := newManifestHarness(t, 3, "")
	folder := "/titles/" + ladderTitle + "/sd/"
	m.objects[folder+"promo.m3u8"] = []byte("sd promo")
	m.objects[folder+"media.m3u8"] = []byte(strings.Replace(string(m.objects[folder+"media.m3u8"]), "#EXTINF",
		`#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z`+"\n"+
			`#EXT-X-DATERANGE:ID="p1",CLASS="com.apple.hls.interstitial",START-DATE="2026-01-01T00:00:02.000Z",DURATION=2.0,X-ASSET-URI="promo.m3u8"`+"\n#EXTINF", 1))
	for _, grant := range []string{signurl.GrantQuery, signurl.GrantCookie} {
		t.Run(grant, func(t *testing.T) {
			t.Parallel()
			sess, token := m.session(demo.AccountSolo, ladderTitle, time.Hour)
			rec := m.sign(sess.ID, token, `{"cdn":"`+cdnCFRSA+`","grant":"`+grant+`"}`)
			g := decodeGrant(t, rec.Code, rec.Body.Bytes())
			_, variants := parseMaster(t, m.get(g.Manifests.HLS, nil).body)
			media := m.get(variants[0].uri, nil)
			_, daterange, ok := strings.Cut(string(media.body), "#EXT-X-DATERANGE:")
			asset := attrValue(daterange, "X-ASSET-URI")
			if media.status != http.StatusOK || !ok || !strings.HasPrefix(asset, m.cdnEdge.URL+folder+"promo.m3u8") {
				t.Fatalf("media playlist %d, X-ASSET-URI %q, want absolute in %s:\n%s", media.status, asset, m.cdnEdge.URL+folder, media.body)
			}
			if f := m.get(asset, cookiesFor(g, grant, asset)); f.status != http.StatusOK || string(f.body) != "sd promo" {
				t.Fatalf("%s: %d %s", asset, f.status, f.body)
			}
		})
	}
}

// inherited is a Representation's SegmentTemplate as a DASH client reads
// it: each attribute from the lowest of Representation, AdaptationSet and
// Period that states it (ISO/IEC 23009-1 5.3.9.1; dash.js's objectiron
// merges the levels' SegmentTemplate attributes so, Shaka's
// MpdUtils.inheritAttribute reads them so).
func inherited(t testing.TB, body []byte) map[string]map[string]string {
	t.Helper()
	type tmpl struct {
		Attrs []xml.Attr `xml:",any,attr"`
	}
	var doc struct {
		Periods []struct {
			Template *tmpl `xml:"SegmentTemplate"`
			Sets     []struct {
				Template *tmpl `xml:"SegmentTemplate"`
				Reps     []struct {
					ID       string `xml:"id,attr"`
					Template *tmpl  `xml:"SegmentTemplate"`
				} `xml:"Representation"`
			} `xml:"AdaptationSet"`
		} `xml:"Period"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("mpd does not parse: %v\n%s", err, body)
	}
	out := map[string]map[string]string{}
	for _, p := range doc.Periods {
		for _, s := range p.Sets {
			for _, r := range s.Reps {
				attrs := map[string]string{}
				for _, level := range []*tmpl{p.Template, s.Template, r.Template} {
					if level == nil {
						continue
					}
					// XML 1.0 3.1: an attribute stated twice is no XML (a
					// browser's DOMParser refuses it), though encoding/xml
					// reads it.
					stated := map[string]bool{}
					for _, a := range level.Attrs {
						if stated[a.Name.Local] {
							t.Errorf("Representation %s: a SegmentTemplate states %s twice", r.ID, a.Name.Local)
						}
						stated[a.Name.Local] = true
					}
					for _, a := range level.Attrs {
						attrs[a.Name.Local] = a.Value
					}
				}
				out[r.ID] = attrs
			}
		}
	}
	return out
}

// TestSegmentTemplateAtEveryLevel: a SegmentTemplate may sit at Period,
// AdaptationSet and Representation level, each attribute inherited from
// the level above where a lower one does not state it (ISO/IEC 23009-1
// 5.3.9.1). Each Representation's init and media segments, resolved as a
// client inherits them, play at the signature-checking edge on both grant
// styles: with query grants a Period-level template was refused (500
// manifest_unsupported), and an initialization a Representation's own
// template inherits got no grant.
func TestSegmentTemplateAtEveryLevel(t *testing.T) {
	t.Parallel()
	const (
		full     = `<SegmentTemplate timescale="1000" duration="2000" startNumber="1" media="$RepresentationID$/seg$Number$.m4s" initialization="$RepresentationID$/init.mp4"/>`
		setLevel = `      ` + full + "\n"
	)
	stored := string(storedObjects(ladderTitle, 3)["/titles/"+ladderTitle+"/manifest.mpd"])
	for _, tc := range []struct{ name, mpd string }{
		{"period", strings.NewReplacer(setLevel, "", `<Period id="0" start="PT0S">`, `<Period id="0" start="PT0S">`+full).Replace(stored)},
		{"period and set", strings.NewReplacer(setLevel, `      <SegmentTemplate media="$RepresentationID$/seg$Number$.m4s"/>`+"\n",
			`<Period id="0" start="PT0S">`, `<Period id="0" start="PT0S"><SegmentTemplate timescale="1000" duration="2000" startNumber="1" initialization="$RepresentationID$/init.mp4"/>`).Replace(stored)},
		{"representation's own inherits its initialization", strings.NewReplacer(
			`codecs="avc1.42c01e"/>`, `codecs="avc1.42c01e"><SegmentTemplate media="$RepresentationID$/seg$Number$.m4s?v=1"/></Representation>`,
			`codecs="avc1.4d401f"/>`, `codecs="avc1.4d401f"><SegmentTemplate media="$RepresentationID$/seg$Number$.m4s"></SegmentTemplate></Representation>`).Replace(stored)},
		// XML 1.0 2.3 and 3.1: an attribute value in single quotes, and
		// space around '='.
		{"single quotes and spaces", strings.NewReplacer(setLevel, "",
			`<Period id="0" start="PT0S">`, `<Period id="0" start="PT0S"><SegmentTemplate timescale='1000' duration = "2000" startNumber="1" media="$RepresentationID$/seg$Number$.m4s" initialization='$RepresentationID$/init.mp4'/>`,
			`codecs="avc1.42c01e"/>`, `codecs="avc1.42c01e"><SegmentTemplate media='$RepresentationID$/seg$Number$.m4s'/></Representation>`,
			`codecs="avc1.4d401f"/>`, `codecs="avc1.4d401f"><SegmentTemplate media = "$RepresentationID$/seg$Number$.m4s"/></Representation>`).Replace(stored)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newManifestHarness(t, 3, "")
			m.objects["/titles/"+ladderTitle+"/manifest.mpd"] = []byte(tc.mpd)
			for _, grant := range []string{signurl.GrantQuery, signurl.GrantCookie} {
				sess, token := m.session(demo.AccountFamily, ladderTitle, time.Hour)
				rec := m.sign(sess.ID, token, `{"cdn":"`+cdnCDN+`","grant":"`+grant+`"}`)
				g := decodeGrant(t, rec.Code, rec.Body.Bytes())
				f := m.get(g.Manifests.DASH, nil)
				if f.status != http.StatusOK {
					t.Fatalf("%s grants: mpd %d %s", grant, f.status, f.body)
				}
				var doc mpd
				if err := xml.Unmarshal(f.body, &doc); err != nil || len(doc.BaseURLs) == 0 {
					t.Fatalf("mpd: %v\n%s", err, f.body)
				}
				reps := inherited(t, f.body)
				if len(reps) != 2 {
					t.Fatalf("%s grants: Representations %v, want sd and hd", grant, reps)
				}
				for id, tmpl := range reps {
					for _, u := range []string{
						dashURL(t, doc.BaseURLs[0].URL, tmpl["initialization"], id, 0),
						dashURL(t, doc.BaseURLs[0].URL, tmpl["media"], id, 1),
						dashURL(t, doc.BaseURLs[0].URL, tmpl["media"], id, 3),
					} {
						if f := m.get(u, cookiesFor(g, grant, u)); f.status != http.StatusOK || !strings.HasPrefix(string(f.body), id+" ") {
							t.Errorf("%s grants: %s: %d %s", grant, u, f.status, f.body)
						}
					}
				}
			}
		})
	}
}

// TestSegmentTemplateIndexIsGranted: a SegmentTemplate's index (the Index
// Segment's template, which Shaka reads) and bitstreamSwitching (the
// Bitstream Switching Segment's) are URLs resolved against the BaseURL as
// media and initialization are (ISO/IEC 23009-1 5.3.9.4.2); with query
// grants they carried no query, and their segments met 403 at the CDN.
func TestSegmentTemplateIndexIsGranted(t *testing.T) {
	t.Parallel()
	m := newManifestHarness(t, 3, "")
	name := "/titles/" + ladderTitle + "/manifest.mpd"
	m.objects[name] = []byte(strings.Replace(string(m.objects[name]), `initialization="$RepresentationID$/init.mp4"`,
		`initialization="$RepresentationID$/init.mp4" index="$RepresentationID$/index.sidx" bitstreamSwitching="$RepresentationID$/switch.mp4"`, 1))
	for _, r := range demo.Ladder {
		m.objects["/titles/"+ladderTitle+"/"+r.Path+"/index.sidx"] = []byte(r.Path + " index")
		m.objects["/titles/"+ladderTitle+"/"+r.Path+"/switch.mp4"] = []byte(r.Path + " switch")
	}
	for _, grant := range []string{signurl.GrantQuery, signurl.GrantCookie} {
		t.Run(grant, func(t *testing.T) {
			t.Parallel()
			sess, token := m.session(demo.AccountSolo, ladderTitle, time.Hour)
			rec := m.sign(sess.ID, token, `{"cdn":"`+cdnCFECDSA+`","grant":"`+grant+`"}`)
			g := decodeGrant(t, rec.Code, rec.Body.Bytes())
			f := m.get(g.Manifests.DASH, nil)
			var doc mpd
			if err := xml.Unmarshal(f.body, &doc); err != nil || f.status != http.StatusOK || len(doc.BaseURLs) == 0 {
				t.Fatalf("mpd %d %v\n%s", f.status, err, f.body)
			}
			tmpl := inherited(t, f.body)["sd"]
			for _, attr := range []string{"index", "bitstreamSwitching"} {
				u := dashURL(t, doc.BaseURLs[0].URL, tmpl[attr], "sd", 0)
				if f := m.get(u, cookiesFor(g, grant, u)); f.status != http.StatusOK || !strings.HasPrefix(string(f.body), "sd ") {
					t.Errorf("%s %s: %d %s", attr, u, f.status, f.body)
				}
			}
		})
	}
}

// TestRenditionsOutsideTheGrantAnswerAlike: a media playlist of a
// rendition the session may not play is refused the same whether the title
// has it (above the plan's cap) or not. The personalized manifests list the
// allowed renditions only and bound the sets to them, so as not to tell a
// plan what the others get, and the CDN answers 403 for any URL outside the
// grants, an object there or not (a CloudFront policy's Resource, a Cloud
// CDN URLPrefix, is checked before the origin is asked). The route
// answered 403 rendition_not_allowed for uhd and 404 rendition_not_found
// for a name the title lacks, which told a basic plan's viewer which
// renditions exist.
func TestRenditionsOutsideTheGrantAnswerAlike(t *testing.T) {
	t.Parallel()
	m := newManifestHarness(t, 1, "")
	sess, token := m.session(demo.AccountSolo, ladderTitle, time.Hour) // basic: sd only
	for _, grant := range []string{signurl.GrantQuery, signurl.GrantCookie} {
		t.Run(grant, func(t *testing.T) {
			rec := m.sign(sess.ID, token, `{"cdn":"`+cdnCFECDSA+`","grant":"`+grant+`"}`)
			g := decodeGrant(t, rec.Code, rec.Body.Bytes())
			_, variants := parseMaster(t, m.get(g.Manifests.HLS, nil).body)
			sd := variants[0].uri
			if !strings.Contains(sd, "/"+cdnCFECDSA+"/sd?") {
				t.Fatalf("first variant %s, want sd's on %s", sd, cdnCFECDSA)
			}
			media := m.get(sd, nil)
			segment := playlistURIs(media.body)[1]
			type answer struct {
				status          int
				reason, message string // the message with the name asked for as <r>
			}
			var route, edge []answer
			for _, name := range []string{"uhd", "4k"} { // above the cap; not in the ladder
				f := m.get(strings.Replace(sd, "/sd?", "/"+name+"?", 1), nil)
				msg := errorOf(t, f.status, f.body).Message
				route = append(route, answer{f.status, f.reason, strings.ReplaceAll(msg, `"`+name+`"`, "<r>")})
				guess := strings.Replace(segment, "/sd/", "/"+name+"/", 1)
				f = m.get(guess, allCookies(g, grant))
				edge = append(edge, answer{status: f.status})
			}
			if route[0] != route[1] || route[0].status != http.StatusForbidden || route[0].reason != "rendition_not_allowed" {
				t.Errorf("media playlist route: uhd %v, 4k %v; want both 403 rendition_not_allowed", route[0], route[1])
			}
			if edge[0] != edge[1] || edge[0].status != http.StatusForbidden {
				t.Errorf("edge: uhd segment %v, 4k segment %v; want both 403", edge[0], edge[1])
			}
		})
	}
}

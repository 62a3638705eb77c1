package signurl_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/localedge"
	"github.com/playplane/playplane/shared/playback"
)

// TestGrantPlaysTheTitle follows a grant the way players do, against the
// real verifiers in the local edge: the manifest URL alone, the playlists'
// URIs resolved against it, and every segment, once with the cookies and
// once with the query instead.
func TestGrantPlaysTheTitle(t *testing.T) {
	t.Parallel()
	for _, cdn := range allCDNs {
		t.Run(cdn, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			sess, token := h.session(accountA, titleID, 2*time.Minute)
			g := h.grant(sess.ID, token, cdn)
			playAll(t, g, "cookies", g.Cookies, "")
			playAll(t, g, "query", nil, g.QueryParams)
		})
	}
}

// playAll fetches master, media playlist and segments. With cookies, URIs
// are fetched as the playlists write them (CloudFront's canned manifest URL
// lends them nothing, so the cookies carry the grant); with a query, it is
// appended to every URI that has none, as a player without cookies does.
func playAll(t *testing.T, g signurl.URLsResponse, mode string, cookies []signurl.Cookie, query string) {
	t.Helper()
	master := fetch(t, nil, g.ManifestURL, cookies)
	if master.status != http.StatusOK || master.ctype != "application/vnd.apple.mpegurl" || !bytes.HasPrefix(master.body, []byte("#EXTM3U")) {
		t.Fatalf("%s: master: %d %s %q", mode, master.status, master.reason, master.body)
	}
	resolve := func(base, ref string) string {
		b, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		r, err := url.Parse(ref)
		if err != nil {
			t.Fatal(err)
		}
		u := b.ResolveReference(r)
		if query != "" && u.RawQuery == "" {
			u.RawQuery = query
		}
		return u.String()
	}
	variants := playlistURIs(master.body)
	if len(variants) == 0 {
		t.Fatalf("%s: master lists no variants", mode)
	}
	for _, v := range variants {
		mediaURL := resolve(g.ManifestURL, v)
		media := fetch(t, nil, mediaURL, cookies)
		if media.status != http.StatusOK {
			t.Fatalf("%s: media playlist %s: %d %s", mode, mediaURL, media.status, media.reason)
		}
		segments := playlistURIs(media.body)
		if len(segments) == 0 {
			t.Fatalf("%s: no segments in %q", mode, media.body)
		}
		for _, s := range segments {
			segURL := resolve(mediaURL, s)
			seg := fetch(t, nil, segURL, cookies)
			// An fMP4 init segment opens with ftyp, a media segment with
			// styp then moof.
			isInit := seg.ctype == "video/mp4" && bytes.HasPrefix(seg.body[min(len(seg.body), 4):], []byte("ftyp"))
			isMedia := seg.ctype == "video/iso.segment" && bytes.Contains(seg.body[:min(len(seg.body), 64)], []byte("moof"))
			if seg.status != http.StatusOK || !isInit && !isMedia {
				t.Fatalf("%s: segment %s: %d %s", mode, segURL, seg.status, seg.reason)
			}
		}
	}
}

// TestGrantStaysInsideTheTitle tampers with the path of a valid grant in
// every way that could step out of /titles/<id>/: another title, a title
// whose id extends this one, dot segments raw and escaped, encoded slashes
// and wildcards. The edge must refuse each with 403 whether the grant
// travels as cookies, as the query or as the manifest URL's own query.
func TestGrantStaysInsideTheTitle(t *testing.T) {
	t.Parallel()
	tampered := []string{
		"/titles/" + otherTitle + "/master.m3u8",
		"/titles/" + otherTitle + "/sd/seg1.m4s",
		"/titles/" + lookalike + "/master.m3u8",
		"/titles/" + titleID + "/../" + otherTitle + "/master.m3u8",
		"/titles/" + titleID + "/../" + otherTitle + "/sd/seg1.m4s",
		"/titles/" + titleID + "/./../" + otherTitle + "/sd/seg1.m4s",
		"/titles/" + titleID + "/%2E%2E/" + otherTitle + "/sd/seg1.m4s",
		"/titles/" + titleID + "/..%2F" + otherTitle + "%2Fsd%2Fseg1.m4s",
		"/titles/" + titleID + "%2F..%2F" + otherTitle + "/sd/seg1.m4s",
		"/titles/" + titleID + "/%2e%2e%2f" + otherTitle + "/master.m3u8",
		"/titles/" + titleID + "//../" + otherTitle + "/sd/seg1.m4s",
		"/titles/" + titleID + "/*",
		"/titles/" + titleID + "/sd/seg*.m4s",
		"/titles/" + titleID + "*/sd/seg1.m4s",
		"/titles/*/master.m3u8",
		"/titles/" + titleID,
		"/titles/" + otherTitle + "/" + titleID + "/master.m3u8",
	}
	for _, cdn := range allCDNs {
		t.Run(cdn, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			sess, token := h.session(accountA, titleID, 2*time.Minute)
			g := h.grant(sess.ID, token, cdn)
			// The control: each way of carrying the grant works untampered.
			for _, ok := range []struct {
				url     string
				cookies []signurl.Cookie
			}{
				{g.ManifestURL, nil},
				{h.edge.URL + "/titles/" + titleID + "/sd/seg2.m4s", g.Cookies},
				{h.edge.URL + "/titles/" + titleID + "/sd/seg2.m4s?" + g.QueryParams, nil},
			} {
				if f := fetch(t, nil, ok.url, ok.cookies); f.status != http.StatusOK {
					t.Fatalf("untampered %s: %d %s", ok.url, f.status, f.reason)
				}
			}
			manifestQuery := g.ManifestURL[strings.IndexByte(g.ManifestURL, '?')+1:]
			for _, path := range tampered {
				for _, carry := range []struct {
					name    string
					url     string
					cookies []signurl.Cookie
				}{
					{"cookies", h.edge.URL + path, g.Cookies},
					{"query", h.edge.URL + path + "?" + g.QueryParams, nil},
					{"manifest query", h.edge.URL + path + "?" + manifestQuery, nil},
				} {
					if f := fetch(t, noRedirects, carry.url, carry.cookies); f.status != http.StatusForbidden {
						t.Errorf("%s via %s: %d %s, want 403", path, carry.name, f.status, f.reason)
					}
				}
			}
			// Tampering with the signed URL itself.
			for _, bad := range []string{
				strings.Replace(g.ManifestURL, "/"+titleID+"/", "/"+otherTitle+"/", 1),
				strings.Replace(g.ManifestURL, "master.m3u8", "sd/seg1.m4s", 1),
				flipSignature(t, g.ManifestURL),
			} {
				// Cloud CDN's manifest URL carries the URL-prefix query, which
				// covers sd/seg1.m4s of the same title: that is what it is for.
				// CloudFront's is a canned policy for the manifest alone.
				if cdn == cdnCDN && strings.Contains(bad, "/"+titleID+"/sd/seg1.m4s") {
					continue
				}
				if f := fetch(t, noRedirects, bad, nil); f.status != http.StatusForbidden {
					t.Errorf("tampered %s: %d %s, want 403", bad, f.status, f.reason)
				}
			}
			// The other title's own grant is what opens it.
			other, otherToken := h.session(accountA, otherTitle, 2*time.Minute)
			og := h.grant(other.ID, otherToken, cdn)
			if f := fetch(t, nil, h.edge.URL+"/titles/"+otherTitle+"/sd/seg1.m4s", og.Cookies); f.status != http.StatusOK {
				t.Fatalf("other title with its own grant: %d %s", f.status, f.reason)
			}
		})
	}
}

// noRedirects shows a 3xx as it is instead of following it.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// flipSignature changes one character inside the Signature parameter.
func flipSignature(t *testing.T, rawURL string) string {
	t.Helper()
	i := strings.Index(rawURL, "Signature=")
	if i < 0 {
		t.Fatalf("no Signature in %s", rawURL)
	}
	i += len("Signature=") + 5
	c := byte('A')
	if rawURL[i] == 'A' {
		c = 'B'
	}
	return rawURL[:i] + string(c) + rawURL[i+1:]
}

// TestBindIP binds CloudFront grants to the caller's address: the edge
// serves the address that asked and refuses any other.
func TestBindIP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *signurl.Config) { c.BindIP = true })
	sess, token := h.session(accountA, titleID, 2*time.Minute)

	// Over loopback the caller is 127.0.0.1, as the edge sees the player.
	api := httptest.NewServer(h.h)
	t.Cleanup(api.Close)
	for _, cdn := range []string{cdnCFECDSA, cdnCFRSA} {
		req, err := http.NewRequest(http.MethodPost, api.URL+"/v1/playback/"+sess.ID+"/urls", strings.NewReader(`{"cdn":"`+cdn+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		g := decodeGrant(t, resp.StatusCode, body.Bytes())
		if strings.Contains(g.ManifestURL, "Expires=") {
			t.Fatalf("%s: a bound manifest URL needs a custom policy: %s", cdn, g.ManifestURL)
		}
		playAll(t, g, cdn+" bound to 127.0.0.1", g.Cookies, "")

		// httptest.NewRequest calls from 192.0.2.1: the edge sees 127.0.0.1.
		far := h.grant(sess.ID, token, cdn)
		for _, f := range []fetched{
			fetch(t, nil, far.ManifestURL, nil),
			fetch(t, nil, h.edge.URL+"/titles/"+titleID+"/sd/seg1.m4s", far.Cookies),
			fetch(t, nil, h.edge.URL+"/titles/"+titleID+"/sd/seg1.m4s?"+far.QueryParams, nil),
		} {
			if f.status != http.StatusForbidden || f.reason != "ip_mismatch" {
				t.Fatalf("%s: grant for 192.0.2.1 used from 127.0.0.1: %d %s", cdn, f.status, f.reason)
			}
		}
	}
	// Cloud CDN cannot bind; its grant still works from anywhere.
	g := h.grant(sess.ID, token, cdnCDN)
	if f := fetch(t, nil, g.ManifestURL, nil); f.status != http.StatusOK {
		t.Fatalf("cloudcdn with BindIP: %d %s", f.status, f.reason)
	}
}

// TestBindIPByCallerFamily: a CloudFront distribution whose grants carry
// AWS:SourceIp serves IPv4 only (AWS: don't enable IPv6 with such custom
// policies, DistributionConfig IsIPV6Enabled), while the API may be
// dual-stack. A caller that asked over IPv6 then fetches from the edge over
// IPv4, so a grant bound to it could never play and one without the
// address is the shareable grant BindIP forbids: it is refused with a
// reason, and the answer does not echo its address. IPv4 callers,
// IPv4-mapped ones included, stay bound.
func TestBindIPByCallerFamily(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, remote string
		wantRefusal  string // the API's reason, when it grants nothing
		wantStatus   int    // at the edge, which the tests reach from 127.0.0.1
		wantReason   string // of the edge's refusal
	}{
		{name: "ipv4 elsewhere", remote: "192.0.2.1:1234", wantStatus: http.StatusForbidden, wantReason: "ip_mismatch"},
		{name: "ipv4 here", remote: "127.0.0.1:1234", wantStatus: http.StatusOK},
		{name: "ipv4-mapped here", remote: "[::ffff:127.0.0.1]:1234", wantStatus: http.StatusOK},
		{name: "ipv6", remote: "[2001:db8::7]:1234", wantRefusal: signurl.ReasonIPv4Required},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *signurl.Config) { c.BindIP = true })
			sess, token := h.session(accountA, titleID, 2*time.Minute)
			for _, cdn := range []string{cdnCFECDSA, cdnCFRSA} {
				req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+sess.ID+"/urls", strings.NewReader(`{"cdn":"`+cdn+`"}`))
				req.RemoteAddr = tc.remote
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.h.ServeHTTP(rec, req)
				if tc.wantRefusal != "" {
					if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"reason":"`+tc.wantRefusal+`"`) {
						t.Fatalf("%s: caller at %s: %d %s, want 403 %s", cdn, tc.remote, rec.Code, rec.Body, tc.wantRefusal)
					}
					if strings.Contains(rec.Body.String(), "2001:db8") || len(rec.Result().Cookies()) > 0 {
						t.Fatalf("%s: the refusal echoes the address or carries cookies: %s %v", cdn, rec.Body, rec.Result().Cookies())
					}
					continue
				}
				g := decodeGrant(t, rec.Code, rec.Body.Bytes())
				for _, f := range []fetched{
					fetch(t, nil, g.ManifestURL, nil),
					fetch(t, nil, h.edge.URL+"/titles/"+titleID+"/sd/seg1.m4s", g.Cookies),
					fetch(t, nil, h.edge.URL+"/titles/"+titleID+"/sd/seg1.m4s?"+g.QueryParams, nil),
				} {
					if f.status != tc.wantStatus || f.reason != tc.wantReason {
						t.Fatalf("%s: grant for a caller at %s, fetched from 127.0.0.1: %d %s, want %d %s",
							cdn, tc.remote, f.status, f.reason, tc.wantStatus, tc.wantReason)
					}
				}
			}
		})
	}
}

// TestKeyRotation rotates each CDN's key the way operators do, with keys
// loaded from env references: the new key signs while the old one stays
// listed at the CDN, so grants signed before the switch keep playing; once
// the old key is delisted they stop and the new key's grants play on.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sess, token := h.session(accountA, titleID, 2*time.Minute)

	cfOld, err := cloudfront.GenerateDevKey("KOLD", cloudfront.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	cfNew, err := cloudfront.GenerateDevKey("KNEW", cloudfront.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	cdnOld, cdnNew := cloudcdn.GenerateDevKey("old"), cloudcdn.GenerateDevKey("new")
	env := map[string]string{
		"CF_OLD": pemOf(t, cfOld.Signer), "CF_NEW": pemOf(t, cfNew.Signer),
		"CDN_OLD": cloudcdn.EncodeKey(cdnOld.Secret), "CDN_NEW": cloudcdn.EncodeKey(cdnNew.Secret),
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	// The edge first trusts both keys of each CDN, then only the new ones.
	cfTrust, cdnTrust := &swappableVerifier{}, &swappableVerifier{}
	trust := func(cf map[string]crypto.PublicKey, cdn ...cloudcdn.Key) {
		cfv, err := cloudfront.NewVerifier(cf, nil)
		if err != nil {
			t.Fatal(err)
		}
		cdnv, err := cloudcdn.NewVerifier(cdn, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfTrust.v.Store(localedge.Verifier(cfv))
		cdnTrust.v.Store(localedge.Verifier(cdnv))
	}
	trust(map[string]crypto.PublicKey{"KOLD": cfOld.Signer.Public(), "KNEW": cfNew.Signer.Public()}, cdnOld, cdnNew)
	edgeHandler, err := localedge.New(cfTrust, cdnTrust)
	if err != nil {
		t.Fatal(err)
	}
	edge := httptest.NewServer(httpx.Middleware(slog.New(slog.DiscardHandler), edgeHandler))
	t.Cleanup(edge.Close)

	server := func(kc signurl.KeyConfig) http.Handler {
		signers, err := signurl.LoadSigners(kc, lookup)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := signurl.New(signurl.Config{DefaultCDN: signurl.CDNCloudFront, Grace: 30 * time.Second, MaxTTL: 10 * time.Minute, MaxBody: 1024,
			CDNBases: map[string]string{signurl.CDNCloudFront: edge.URL, signurl.CDNCloudCDN: edge.URL}},
			signurl.Deps{Store: h.store, Tokens: h.tokens, Signers: signers, Now: h.clock.now})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		srv.Register(mux)
		return httpx.Middleware(slog.New(slog.DiscardHandler), mux)
	}
	before := server(signurl.KeyConfig{
		CloudFront: cloudfront.Config{Keys: "KOLD=env:CF_OLD", ActiveKeyID: "KOLD", HashAlgorithm: cloudfront.SHA256},
		CloudCDN:   cloudcdn.Config{Keys: "old=env:CDN_OLD", ActiveKeyName: "old"},
	})
	after := server(signurl.KeyConfig{
		CloudFront: cloudfront.Config{Keys: "KNEW=env:CF_NEW, KOLD=env:CF_OLD", ActiveKeyID: "KNEW", HashAlgorithm: cloudfront.SHA256},
		CloudCDN:   cloudcdn.Config{Keys: "new=env:CDN_NEW,old=env:CDN_OLD", ActiveKeyName: "new"},
	})
	call := func(srv http.Handler, cdn string) signurl.URLsResponse {
		req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+sess.ID+"/urls", strings.NewReader(`{"cdn":"`+cdn+`"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return decodeGrant(t, rec.Code, rec.Body.Bytes())
	}
	type rotated struct{ old, fresh signurl.URLsResponse }
	grants := map[string]rotated{}
	for _, tc := range []struct{ cdn, oldID, newID string }{
		{signurl.CDNCloudFront, "KOLD", "KNEW"},
		{signurl.CDNCloudCDN, "old", "new"},
	} {
		old, fresh := call(before, tc.cdn), call(after, tc.cdn)
		if old.KeyID != tc.oldID || fresh.KeyID != tc.newID {
			t.Fatalf("%s: key ids %q then %q, want %q then %q", tc.cdn, old.KeyID, fresh.KeyID, tc.oldID, tc.newID)
		}
		for _, g := range []signurl.URLsResponse{old, fresh} {
			playAll(t, g, tc.cdn+" "+g.KeyID+" while both keys are listed, cookies", g.Cookies, "")
			playAll(t, g, tc.cdn+" "+g.KeyID+" while both keys are listed, query", nil, g.QueryParams)
		}
		grants[tc.cdn] = rotated{old, fresh}
	}

	trust(map[string]crypto.PublicKey{"KNEW": cfNew.Signer.Public()}, cdnNew)
	for cdn, g := range grants {
		if f := fetch(t, nil, g.old.ManifestURL, nil); f.status != http.StatusForbidden || f.reason != "unknown_key" {
			t.Fatalf("%s: old key's URL after delisting: %d %s", cdn, f.status, f.reason)
		}
		if f := fetch(t, nil, edge.URL+"/titles/"+titleID+"/sd/seg1.m4s", g.old.Cookies); f.status != http.StatusForbidden || f.reason != "unknown_key" {
			t.Fatalf("%s: old key's cookies after delisting: %d %s", cdn, f.status, f.reason)
		}
		playAll(t, g.fresh, cdn+" new key alone", g.fresh.Cookies, "")
	}
}

// swappableVerifier lets a test change what the edge trusts while it runs,
// as an operator edits a CDN's key group.
type swappableVerifier struct{ v atomic.Value }

func (s *swappableVerifier) VerifyRequest(r *http.Request, client netip.Addr) (playback.SignedGrant, error) {
	return s.v.Load().(localedge.Verifier).VerifyRequest(r, client)
}

// pemOf is the PKCS#8 PEM of key, as a secret manager would hold it.
func pemOf(t *testing.T, key crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestUnknownCallerAddressIsNotRetried: with BindIP a request whose peer
// address the server cannot read (a deployment fault: a listener or proxy
// that gives none) cannot be bound to its caller, and every retry reaches
// the server the same way, so the 500 offers no retry.
func TestUnknownCallerAddressIsNotRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *signurl.Config) { c.BindIP = true })
	sess, token := h.session(accountA, titleID, 2*time.Minute)
	req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+sess.ID+"/urls", strings.NewReader(`{"cdn":"`+cdnCFECDSA+`"}`))
	req.RemoteAddr = "@"
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"reason":"client_ip_unknown"`) {
		t.Fatalf("caller at %q: %d %s, want 500 client_ip_unknown", req.RemoteAddr, rec.Code, rec.Body)
	}
	if ra := rec.Result().Header.Get("Retry-After"); ra != "" || strings.Contains(rec.Body.String(), "retry later") {
		t.Fatalf("Retry-After %q, body %s: every retry reaches the server from the same unreadable address", ra, rec.Body)
	}
}

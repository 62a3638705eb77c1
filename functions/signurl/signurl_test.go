package signurl_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/playback"
)

func TestSignReturnsGrant(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sess, token := h.session(accountA, titleID, 2*time.Minute)
	for _, tc := range []struct {
		name, body, cdn string
		cookies         []string
	}{
		{"empty body picks the default", "", cdnCFECDSA, []string{cloudfront.CookiePolicy, cloudfront.CookieSignature, cloudfront.CookieKeyPairID, cloudfront.CookieHashAlgorithm}},
		{"empty object picks the default", "{}", cdnCFECDSA, []string{cloudfront.CookiePolicy, cloudfront.CookieSignature, cloudfront.CookieKeyPairID, cloudfront.CookieHashAlgorithm}},
		{"cloudfront sha1 sends no hash cookie", `{"cdn":"cloudfront-rsa"}`, cdnCFRSA, []string{cloudfront.CookiePolicy, cloudfront.CookieSignature, cloudfront.CookieKeyPairID}},
		{"cloud cdn", `{"cdn":"cloudcdn"}`, cdnCDN, []string{"Cloud-CDN-Cookie"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.sign(sess.ID, token, tc.body)
			resp := decodeGrant(t, rec.Code, rec.Body.Bytes())
			if resp.CDN != tc.cdn || resp.KeyID == "" || resp.QueryParams == "" ||
				!strings.HasPrefix(resp.ManifestURL, h.edge.URL+"/titles/"+titleID+"/master.m3u8?") {
				t.Fatalf("response = %+v", resp)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Fatalf("Cache-Control = %q", got)
			}
			setCookies := rec.Result().Cookies()
			if len(resp.Cookies) != len(tc.cookies) || len(setCookies) != len(tc.cookies) {
				t.Fatalf("cookies: body %d, Set-Cookie %d, want %d", len(resp.Cookies), len(setCookies), len(tc.cookies))
			}
			for i, c := range resp.Cookies {
				sc := setCookies[i]
				if c.Name != tc.cookies[i] || c.Path != "/titles/"+titleID+"/" || !c.HTTPOnly || c.Secure ||
					!c.Expires.Equal(resp.ExpiresAt) || c.Value == "" {
					t.Fatalf("cookie %d = %+v", i, c)
				}
				if sc.Name != c.Name || sc.Value != c.Value || sc.Path != c.Path || !sc.HttpOnly || sc.Expires.Unix() != c.Expires.Unix() {
					t.Fatalf("Set-Cookie %d = %+v, body cookie %+v", i, sc, c)
				}
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	now := h.clock.now()

	own, ownToken := h.session(accountA, titleID, 10*time.Minute)
	sibling, _ := h.session(accountA, titleID, 10*time.Minute)
	foreign, _ := h.session(accountB, titleID, 10*time.Minute)
	ended, endedToken := h.session(accountA, titleID, 10*time.Minute)
	if _, err := h.store.EndSession(ctx, ended.ID, playback.EndByUser, now); err != nil {
		t.Fatal(err)
	}
	lapsed, lapsedToken := h.session(accountA, titleID, time.Minute)
	h.clock.add(time.Minute) // the lease ends at exactly this instant
	now = h.clock.now()

	claims := func(sessionID, account, title string) string {
		return h.token(auth.PlaybackClaims{SessionID: sessionID, AccountID: account, TitleID: title, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	}
	// Catalogue entries whose prefix would reach beyond the title.
	badTitles := []playback.Title{
		{ID: "wild*", AssetPath: "/titles/wild*/", Manifest: "master.m3u8"},
		{ID: "dots", AssetPath: "/titles/dots/../", Manifest: "master.m3u8"},
		{ID: "escaped", AssetPath: "/titles/escaped%2F/", Manifest: "master.m3u8"},
		{ID: "borrower", AssetPath: "/titles/" + otherTitle + "/", Manifest: "master.m3u8"},
		{ID: "everything", AssetPath: "/titles/", Manifest: "master.m3u8"},
		{ID: "root", AssetPath: "/", Manifest: "master.m3u8"},
		{ID: "climber", AssetPath: "/titles/climber/", Manifest: "../" + otherTitle + "/master.m3u8"},
	}
	badTokens := map[string]string{}
	for _, ti := range badTitles {
		if err := h.store.PutTitle(ctx, ti); err != nil {
			t.Fatal(err)
		}
		sess, tok := h.session(accountA, ti.ID, 2*time.Minute)
		badTokens[ti.ID] = sess.ID + " " + tok
	}
	badTitle := func(id string) (string, string) {
		sid, tok, _ := strings.Cut(badTokens[id], " ")
		return sid, tok
	}

	type call struct{ session, token, body, contentType string }
	cases := []struct {
		name   string
		call   call
		status int
		reason string
	}{
		{"no token", call{own.ID, "", "", ""}, 401, auth.ReasonTokenMissing},
		{"forged token", call{own.ID, ownToken[:len(ownToken)-4] + "AAAA", "", ""}, 401, auth.ReasonTokenSignature},
		{"token of another keyring", call{own.ID, mustIssue(t, auth.NewDevKeyring(), own, now), "", ""}, 401, auth.ReasonTokenSignature},
		{"expired token", call{own.ID, h.token(auth.PlaybackClaims{SessionID: own.ID, AccountID: accountA, TitleID: titleID,
			IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}), "", ""}, 401, auth.ReasonTokenExpired},
		{"token for another session", call{sibling.ID, ownToken, "", ""}, 403, "token_session_mismatch"},
		{"token for another account's session", call{foreign.ID, ownToken, "", ""}, 403, "token_session_mismatch"},
		{"claims naming another account's session", call{foreign.ID, claims(foreign.ID, accountA, titleID), "", ""}, 403, "token_session_mismatch"},
		{"claims naming another title", call{own.ID, claims(own.ID, accountA, otherTitle), "", ""}, 403, "token_session_mismatch"},
		{"traversal in the session path", call{"..%2F" + own.ID, ownToken, "", ""}, 403, "token_session_mismatch"},
		{"unknown session", call{"ses_never", claims("ses_never", accountA, titleID), "", ""}, 410, "session_not_found"},
		{"ended session", call{ended.ID, endedToken, "", ""}, 410, "session_ended"},
		{"expired lease", call{lapsed.ID, lapsedToken, "", ""}, 410, "lease_expired"},
		{"unknown cdn", call{own.ID, ownToken, `{"cdn":"akamai"}`, "application/json"}, 400, "unknown_cdn"},
		{"cdn by wrong case", call{own.ID, ownToken, `{"cdn":"CloudFront"}`, "application/json"}, 400, "unknown_cdn"},
		{"unknown field", call{own.ID, ownToken, `{"cdn":"cloudfront","expires":"2099-01-01T00:00:00Z"}`, "application/json"}, 400, "unknown_field"},
		{"malformed json", call{own.ID, ownToken, `{"cdn":`, "application/json"}, 400, "malformed_json"},
		{"trailing json", call{own.ID, ownToken, `{} {}`, "application/json"}, 400, "malformed_json"},
		{"wrong content type", call{own.ID, ownToken, `cdn=cloudfront`, "application/x-www-form-urlencoded"}, 415, "content_type"},
		{"jsonx content type", call{own.ID, ownToken, `{"cdn":"cloudfront"}`, "application/jsonx"}, 415, "content_type"},
		{"case-folded field", call{own.ID, ownToken, `{"CDN":"cloudfront"}`, "application/json"}, 400, "unknown_field"},
		{"duplicate field", call{own.ID, ownToken, `{"cdn":"cloudfront","cdn":"cloudcdn"}`, "application/json"}, 400, "duplicate_field"},
		{"invalid UTF-8", call{own.ID, ownToken, "{\"cdn\":\"cloud\xfffront\"}", "application/json"}, 400, "invalid_utf8"},
		// null read as the member left out was a grant on the default CDN
		{"null cdn", call{own.ID, ownToken, `{"cdn":null}`, "application/json"}, 400, playback.ReasonWrongType},
		{"null grant style", call{own.ID, ownToken, `{"cdn":"cloudfront","grant":null}`, "application/json"}, 400, playback.ReasonWrongType},
		{"oversized body", call{own.ID, ownToken, `{"cdn":"` + strings.Repeat("c", 2000) + `"}`, "application/json"}, 413, "body_too_large"},
	}
	for _, id := range []string{"wild*", "dots", "escaped", "borrower", "everything", "root", "climber"} {
		sid, tok := badTitle(id)
		cases = append(cases, struct {
			name   string
			call   call
			status int
			reason string
		}{"catalogue prefix " + id, call{sid, tok, "", ""}, 403, playback.ReasonTitleNotSignable})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, "/v1/playback/"+tc.call.session+"/urls", strings.NewReader(tc.call.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.call.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.call.token)
			}
			if tc.call.contentType != "" {
				req.Header.Set("Content-Type", tc.call.contentType)
			}
			rec := httptest.NewRecorder()
			h.h.ServeHTTP(rec, req)
			if e := errorOf(t, rec.Code, rec.Body.Bytes()); rec.Code != tc.status || e.Reason != tc.reason {
				t.Fatalf("got %d %+v, want %d %s", rec.Code, e, tc.status, tc.reason)
			}
			if len(rec.Result().Cookies()) != 0 || strings.Contains(rec.Body.String(), "Signature") {
				t.Fatalf("a rejected request got credentials: %v %s", rec.Result().Cookies(), rec.Body)
			}
		})
	}
	// The CDN is chosen in the body: in the query it was ignored, and the
	// grant was for the default CDN.
	t.Run("query parameter", func(t *testing.T) {
		t.Parallel()
		req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+own.ID+"/urls?cdn=cloudcdn", nil)
		req.Header.Set("Authorization", "Bearer "+ownToken)
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		if e := errorOf(t, rec.Code, rec.Body.Bytes()); rec.Code != http.StatusBadRequest || e.Reason != playback.ReasonUnknownParameter {
			t.Fatalf("got %d %s, want 400 %s", rec.Code, rec.Body, playback.ReasonUnknownParameter)
		}
		if len(rec.Result().Cookies()) != 0 {
			t.Fatalf("a rejected request got credentials: %v", rec.Result().Cookies())
		}
	})
}

func mustIssue(t *testing.T, ring *auth.Keyring, s playback.Session, now time.Time) string {
	t.Helper()
	tok, err := ring.Issue(auth.PlaybackClaims{SessionID: s.ID, AccountID: s.AccountID, TitleID: s.TitleID, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestExpiryFollowsLease checks that a grant ends at the earliest of lease
// end plus grace, now plus the cap and the token's end, whole seconds
// rounded down, and that the edge enforces exactly that second.
func TestExpiryFollowsLease(t *testing.T) {
	t.Parallel()
	const grace, maxTTL = 30 * time.Second, 10 * time.Minute
	for _, tc := range []struct {
		name     string
		lease    time.Duration
		tokenTTL time.Duration
		grace    time.Duration
		want     func(leaseEnd, now time.Time) time.Time
	}{
		{"short lease: lease plus grace", 5 * time.Second, time.Hour, grace, func(l, _ time.Time) time.Time { return l.Add(grace) }},
		{"usual lease: lease plus grace", 2 * time.Minute, time.Hour, grace, func(l, _ time.Time) time.Time { return l.Add(grace) }},
		{"long lease: capped", time.Hour, time.Hour, grace, func(_, n time.Time) time.Time { return n.Add(maxTTL) }},
		{"lease just under the cap", maxTTL - grace - time.Second, time.Hour, grace, func(l, _ time.Time) time.Time { return l.Add(grace) }},
		{"token ends first", 2 * time.Minute, 20 * time.Second, grace, func(_, n time.Time) time.Time { return n.Add(20 * time.Second) }},
		{"no grace", 2 * time.Minute, time.Hour, 0, func(l, _ time.Time) time.Time { return l }},
	} {
		for _, cdn := range allCDNs {
			t.Run(tc.name+"/"+cdn, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, func(c *signurl.Config) { c.Grace = tc.grace; c.MaxTTL = maxTTL })
				// A clock half-way into a second shows the rounding.
				h.clock.set(h.clock.now().Truncate(time.Second).Add(500 * time.Millisecond))
				now := h.clock.now()
				sess, err := h.store.AcquireLease(context.Background(), playback.LeaseRequest{SessionID: playback.NewID("ses"),
					AccountID: accountA, DeviceID: "d", TitleID: titleID, Limit: 10, TTL: tc.lease, Now: now})
				if err != nil {
					t.Fatal(err)
				}
				token := h.token(auth.PlaybackClaims{SessionID: sess.ID, AccountID: accountA, TitleID: titleID, IssuedAt: now, ExpiresAt: now.Add(tc.tokenTTL)})
				resp := h.grant(sess.ID, token, cdn)

				want := time.Unix(tc.want(sess.ExpiresAt, now).Unix(), 0).UTC()
				if !resp.ExpiresAt.Equal(want) {
					t.Fatalf("expires_at = %s, want %s (lease ends %s)", resp.ExpiresAt, want, sess.ExpiresAt)
				}
				if resp.ExpiresAt.After(sess.ExpiresAt.Add(tc.grace)) || resp.ExpiresAt.After(now.Add(maxTTL)) {
					t.Fatalf("expires_at %s outlives lease+grace %s or the cap", resp.ExpiresAt, sess.ExpiresAt.Add(tc.grace))
				}
				h.edgeNow.set(want.Add(-time.Second))
				if f := fetch(t, nil, resp.ManifestURL, nil); f.status != http.StatusOK {
					t.Fatalf("manifest in the last second: %d %s", f.status, f.reason)
				}
				segment := h.edge.URL + "/titles/" + titleID + "/sd/seg1.m4s"
				if f := fetch(t, nil, segment, resp.Cookies); f.status != http.StatusOK {
					t.Fatalf("segment with cookies in the last second: %d %s", f.status, f.reason)
				}
				h.edgeNow.set(want)
				if f := fetch(t, nil, resp.ManifestURL, nil); f.status != http.StatusForbidden || f.reason != "expired" {
					t.Fatalf("manifest at expiry: %d %s", f.status, f.reason)
				}
				if f := fetch(t, nil, segment+"?"+resp.QueryParams, nil); f.status != http.StatusForbidden || f.reason != "expired" {
					t.Fatalf("segment with query at expiry: %d %s", f.status, f.reason)
				}
			})
		}
	}
}

// TestRefreshFollowsHeartbeats: a heartbeat extends the lease, and the next
// call hands out credentials that run correspondingly longer; ending the
// session stops refreshes.
func TestRefreshFollowsHeartbeats(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	sess, token := h.session(accountA, titleID, 2*time.Minute)
	first := h.grant(sess.ID, token, cdnCDN)

	h.clock.add(30 * time.Second)
	extended, err := h.store.ExtendLease(ctx, sess.ID, h.clock.now().Add(2*time.Minute), h.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	second := h.grant(sess.ID, token, cdnCDN)
	if want := time.Unix(extended.ExpiresAt.Add(30*time.Second).Unix(), 0).UTC(); !second.ExpiresAt.Equal(want) || !second.ExpiresAt.After(first.ExpiresAt) {
		t.Fatalf("refresh expires %s (first %s), want %s", second.ExpiresAt, first.ExpiresAt, want)
	}

	if _, err := h.store.EndSession(ctx, sess.ID, playback.EndStopped, h.clock.now()); err != nil {
		t.Fatal(err)
	}
	if rec := h.sign(sess.ID, token, ""); rec.Code != http.StatusGone || errorOf(t, rec.Code, rec.Body.Bytes()).Reason != "session_ended" {
		t.Fatalf("refresh after stop: %d %s", rec.Code, rec.Body)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	good := signurl.Config{DefaultCDN: cdnCDN, Grace: time.Second, MaxTTL: time.Minute, MaxBody: 1024,
		CDNBases: map[string]string{cdnCDN: "https://cdn.example.com/"}}
	deps := signurl.Deps{Store: h.store, Tokens: h.tokens, Signers: map[string]playback.URLSigner{cdnCDN: h.signers[cdnCDN]}}
	if _, err := signurl.New(good, deps); err != nil {
		t.Fatalf("valid config (trailing slash on the base) refused: %v", err)
	}
	noDefault := good
	noDefault.DefaultCDN = ""
	if _, err := signurl.New(noDefault, deps); err != nil {
		t.Fatalf("one CDN without a default refused: %v", err)
	}
	var noStore signurl.Store
	for _, tc := range []struct {
		name string
		cfg  func(*signurl.Config)
		deps func(*signurl.Deps)
	}{
		{"no store", nil, func(d *signurl.Deps) { d.Store = noStore }},
		{"no keyring", nil, func(d *signurl.Deps) { d.Tokens = nil }},
		// What a wiring getter that failed would hand over: not == nil.
		{"typed nil store", nil, func(d *signurl.Deps) { d.Store = (*bolt.Store)(nil) }},
		{"typed nil signer", nil, func(d *signurl.Deps) { d.Signers = map[string]playback.URLSigner{cdnCDN: (*nilSigner)(nil)} }},
		{"no CDN", func(c *signurl.Config) { c.CDNBases = nil }, nil},
		{"base without signer", func(c *signurl.Config) {
			c.CDNBases = map[string]string{cdnCDN: "https://a.example", "other": "https://b.example"}
		}, nil},
		{"signer without base", nil, func(d *signurl.Deps) {
			d.Signers = map[string]playback.URLSigner{cdnCDN: h.signers[cdnCDN], cdnCFRSA: h.signers[cdnCFRSA]}
		}},
		{"default not configured", func(c *signurl.Config) { c.DefaultCDN = cdnCFECDSA }, nil},
		{"base with a path", func(c *signurl.Config) { c.CDNBases = map[string]string{cdnCDN: "https://cdn.example.com/titles"} }, nil},
		{"base with userinfo", func(c *signurl.Config) { c.CDNBases = map[string]string{cdnCDN: "https://u@cdn.example.com"} }, nil},
		{"base not http", func(c *signurl.Config) { c.CDNBases = map[string]string{cdnCDN: "ftp://cdn.example.com"} }, nil},
		{"negative grace", func(c *signurl.Config) { c.Grace = -time.Second }, nil},
		{"no cap", func(c *signurl.Config) { c.MaxTTL = 0 }, nil},
		{"no body cap", func(c *signurl.Config) { c.MaxBody = 0 }, nil},
		{"public URL without scheme", func(c *signurl.Config) { c.PublicURL = "api.example.com" }, nil},
		{"public URL with a query", func(c *signurl.Config) { c.PublicURL = "https://api.example.com/?x=1" }, nil},
		{"origin with a path", func(c *signurl.Config) { c.OriginURL = "https://bucket.example.com/titles" }, nil},
		{"negative origin cache", func(c *signurl.Config) { c.OriginCacheTTL = -time.Second }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, d := good, deps
			cfg.CDNBases = map[string]string{cdnCDN: "https://cdn.example.com"}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			if tc.deps != nil {
				tc.deps(&d)
			}
			if _, err := signurl.New(cfg, d); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	// Two CDNs need a default.
	two := signurl.Config{Grace: time.Second, MaxTTL: time.Minute, MaxBody: 1,
		CDNBases: map[string]string{cdnCDN: "https://a.example", cdnCFRSA: "https://b.example"}}
	if _, err := signurl.New(two, signurl.Deps{Store: h.store, Tokens: h.tokens, Signers: h.signersFor(cdnCDN, cdnCFRSA)}); err == nil {
		t.Fatal("two CDNs without a default accepted")
	}
}

func (h *harness) signersFor(names ...string) map[string]playback.URLSigner {
	out := map[string]playback.URLSigner{}
	for _, n := range names {
		out[n] = h.signers[n]
	}
	return out
}

var _ signurl.Store = (*bolt.Store)(nil)

// nilSigner is a URL signer type whose nil pointer a wiring could hand over.
type nilSigner struct{ playback.URLSigner }

// TestGrantCookiesCarryMaxAge: grant cookies say how long they live in
// Max-Age, which a browser counts from receipt, and which wins over Expires
// (RFC 6265 5.3 step 3). Expires alone is read against the viewer's clock:
// one running ahead by the grant's lifetime (minutes) drops the cookies on
// arrival, and the next segment request is refused.
func TestGrantCookiesCarryMaxAge(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sess, token := h.session(accountA, titleID, time.Hour)
	rec := h.sign(sess.ID, token, "")
	resp := decodeGrant(t, rec.Code, rec.Body.Bytes())
	want := resp.ExpiresAt.Unix() - h.clock.now().Unix()
	if want <= 0 || want > int64((10*time.Minute).Seconds()) {
		t.Fatalf("grant lives %d s", want)
	}
	for _, sc := range rec.Result().Cookies() {
		if int64(sc.MaxAge) != want {
			t.Errorf("Set-Cookie %s: Max-Age %d, want %d (raw %q)", sc.Name, sc.MaxAge, want, sc.Raw)
		}
	}
}

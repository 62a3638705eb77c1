package signurl_test

import (
	"context"
	"crypto"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/localedge"
	"github.com/playplane/playplane/shared/playback"
)

// CDN names the tests configure: two CloudFront signers with different key
// types and digests, and Cloud CDN, all served by one local edge.
const (
	cdnCFECDSA = "cloudfront"        // ECDSA P-256, SHA-256
	cdnCFRSA   = "cloudfront-rsa"    // RSA-2048, SHA-1
	cdnCDN     = "cloudcdn"          // HMAC-SHA1 URL prefix
	titleID    = "sintel"            // the title the grants are for
	otherTitle = "tears-of-steel"    // a title no grant for titleID may reach
	lookalike  = "sintel-directors"  // a title whose id starts with titleID
	accountA   = demo.AccountFamily  // owns the sessions under test
	accountB   = demo.AccountPastDue // another household
)

var allCDNs = []string{cdnCFECDSA, cdnCFRSA, cdnCDN}

// testKeys are made once: RSA generation is slow under -race.
var testKeys = sync.OnceValue(func() (k struct {
	cfECDSA, cfRSA cloudfront.Key
	cdn            cloudcdn.Key
	err            error
}) {
	k.cfECDSA, k.err = cloudfront.GenerateDevKey("KECDSA1", cloudfront.ECDSAP256)
	if k.err != nil {
		return k
	}
	k.cfRSA, k.err = cloudfront.GenerateDevKey("KRSA1", cloudfront.RSA2048)
	k.cdn = cloudcdn.GenerateDevKey("cdn-key-1")
	return k
})

// clock is a settable time shared by the handler and the edge.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock    { c := &clock{}; c.set(t); return c }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

type harness struct {
	t       testing.TB
	store   *bolt.Store
	tokens  *auth.Keyring
	clock   *clock // the handler's clock
	edgeNow *clock // the edge's clock, separately movable
	edge    *httptest.Server
	signers map[string]playback.URLSigner
	srv     *signurl.Server
	h       http.Handler
}

type harnessOption func(*signurl.Config)

// newHarness seeds a bbolt store with the demo data (plus a title whose id
// starts with titleID), starts a local edge trusting the test keys and
// builds the function with every test CDN based at that edge.
func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	keys := testKeys()
	if keys.err != nil {
		t.Fatal(keys.err)
	}
	store, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// Real time: the signers check expiries against the wall clock.
	now := time.Now().UTC()
	ctx := context.Background()
	if err := demo.Seed(ctx, store, "http://edge.test", now); err != nil {
		t.Fatal(err)
	}
	// These tests grant whole titles (catalogue entries without a ladder)
	// on the local edge's single-rendition stream; manifests_test.go
	// covers titles with a ladder.
	for _, ti := range demo.Titles(now) {
		ti.Renditions = nil
		if err := store.PutTitle(ctx, ti); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.PutTitle(ctx, playback.Title{ID: lookalike, Name: "Sintel (director's cut)", AssetPath: "/titles/" + lookalike + "/",
		Manifest: "master.m3u8"}); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: store, tokens: auth.NewDevKeyring(), clock: newClock(now), edgeNow: newClock(now)}

	cfECDSAKeys, err := cloudfront.NewKeySet(keys.cfECDSA.ID, keys.cfECDSA)
	if err != nil {
		t.Fatal(err)
	}
	cfRSAKeys, err := cloudfront.NewKeySet(keys.cfRSA.ID, keys.cfRSA)
	if err != nil {
		t.Fatal(err)
	}
	cdnKeys, err := cloudcdn.NewKeySet(keys.cdn.Name, keys.cdn)
	if err != nil {
		t.Fatal(err)
	}
	cfECDSA, err := cloudfront.New(cloudfront.Config{HashAlgorithm: cloudfront.SHA256}, cfECDSAKeys)
	if err != nil {
		t.Fatal(err)
	}
	cfRSA, err := cloudfront.New(cloudfront.Config{HashAlgorithm: cloudfront.SHA1}, cfRSAKeys)
	if err != nil {
		t.Fatal(err)
	}
	cdn, err := cloudcdn.New(cloudcdn.Config{}, cdnKeys)
	if err != nil {
		t.Fatal(err)
	}
	h.signers = map[string]playback.URLSigner{cdnCFECDSA: cfECDSA, cdnCFRSA: cfRSA, cdnCDN: cdn}
	cfPublic := cfECDSAKeys.PublicKeys()
	cfPublic[keys.cfRSA.ID] = keys.cfRSA.Signer.Public()
	h.edge = startEdge(t, cfPublic, cdnKeys.Keys(), h.edgeNow.now)

	cfg := signurl.Config{DefaultCDN: cdnCFECDSA, Grace: 30 * time.Second, MaxTTL: 10 * time.Minute, MaxBody: 1024,
		CDNBases: map[string]string{cdnCFECDSA: h.edge.URL, cdnCFRSA: h.edge.URL, cdnCDN: h.edge.URL}}
	for _, o := range opts {
		o(&cfg)
	}
	h.srv, err = signurl.New(cfg, signurl.Deps{Store: store, Tokens: h.tokens, Signers: h.signers, Now: h.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.srv.Register(mux)
	h.h = httpx.Middleware(slog.New(slog.DiscardHandler), mux)
	return h
}

// startEdge serves the local edge at the root, so that requests reach the
// verifiers with their paths exactly as sent (a ServeMux would clean them
// first).
func startEdge(t testing.TB, cfKeys map[string]crypto.PublicKey, cdnKeys []cloudcdn.Key, now func() time.Time) *httptest.Server {
	t.Helper()
	cfVerifier, err := cloudfront.NewVerifier(cfKeys, now)
	if err != nil {
		t.Fatal(err)
	}
	cdnVerifier, err := cloudcdn.NewVerifier(cdnKeys, now)
	if err != nil {
		t.Fatal(err)
	}
	edge, err := localedge.New(cfVerifier, cdnVerifier)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpx.Middleware(slog.New(slog.DiscardHandler), edge))
	t.Cleanup(srv.Close)
	return srv
}

// session admits a lease of ttl for account on title, on a device of its
// own (a device's next admission would replace it), and issues its
// playback token, valid for an hour.
func (h *harness) session(account, title string, ttl time.Duration) (playback.Session, string) {
	h.t.Helper()
	now := h.clock.now()
	device := playback.NewID("dev")
	sess, err := h.store.AcquireLease(context.Background(), playback.LeaseRequest{SessionID: playback.NewID("ses"),
		AccountID: account, DeviceID: device, TitleID: title, Limit: 100, TTL: ttl, Now: now})
	if err != nil {
		h.t.Fatal(err)
	}
	return sess, h.token(auth.PlaybackClaims{SessionID: sess.ID, AccountID: account, TitleID: title, DeviceID: device,
		IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
}

func (h *harness) token(c auth.PlaybackClaims) string {
	h.t.Helper()
	tok, err := h.tokens.Issue(c)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// sign calls the handler in process, as from 192.0.2.1.
func (h *harness) sign(sessionID, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+sessionID+"/urls", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return rec
}

// grant signs for cdn and decodes the answer, failing on anything but 200.
func (h *harness) grant(sessionID, token, cdn string) signurl.URLsResponse {
	h.t.Helper()
	rec := h.sign(sessionID, token, `{"cdn":"`+cdn+`"}`)
	return decodeGrant(h.t, rec.Code, rec.Body.Bytes())
}

func decodeGrant(t testing.TB, status int, body []byte) signurl.URLsResponse {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("sign: status %d: %s", status, body)
	}
	var resp signurl.URLsResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func errorOf(t testing.TB, status int, body []byte) httpx.ErrorDetail {
	t.Helper()
	var e httpx.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("status %d, body %q: %v", status, body, err)
	}
	return e.Error
}

// fetched is one answer of the edge.
type fetched struct {
	status int
	reason string
	body   []byte
	ctype  string
}

// fetch GETs rawURL from the edge, sending cookies whatever their path: an
// attacker is not bound by a browser's cookie rules.
func fetch(t testing.TB, client *http.Client, rawURL string, cookies []signurl.Cookie) fetched {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatalf("%s: %v", rawURL, err)
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	f := fetched{status: resp.StatusCode, body: body, ctype: resp.Header.Get("Content-Type")}
	if resp.StatusCode != http.StatusOK {
		var e httpx.ErrorBody
		_ = json.Unmarshal(body, &e)
		f.reason = e.Error.Reason
	}
	return f
}

// playlistURIs returns the URIs of an HLS playlist: URI lines and the
// EXT-X-MAP init segment.
func playlistURIs(body []byte) []string {
	var uris []string
	for line := range strings.SplitSeq(string(body), "\n") {
		line = strings.TrimSpace(line)
		if m, ok := strings.CutPrefix(line, `#EXT-X-MAP:URI="`); ok {
			line, _, _ = strings.Cut(m, `"`)
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			uris = append(uris, line)
		}
	}
	return uris
}

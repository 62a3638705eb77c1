package signurl_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/authorizeplay"
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

// TestLocalRunnerFlow wires the function the way the local runner does:
// authorize play, this function and the local edge mounted at /titles/ on
// one mux, base URL = the server's own URL, in-memory dev keys. A browser-
// like client (cookie jar) and a curl-like one (query parameters) both go
// authorize → sign → manifest → playlists → segments; a tampered URL gets
// 403, and once the session ends signing answers 410.
func TestLocalRunnerFlow(t *testing.T) {
	t.Parallel()
	const jwtKID = "local-dev"
	jwtKey := bytes.Repeat([]byte("j"), 32)

	store, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mux := http.NewServeMux()
	srv := httptest.NewServer(httpx.Middleware(slog.New(slog.DiscardHandler), mux))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	if err := demo.Seed(ctx, store, srv.URL, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The local edge's stream is one rendition at the title's root: this
	// flow grants whole titles (no ladder). TestPersonalizedFlow plays the
	// per-rendition layout.
	for _, ti := range demo.Titles(time.Now()) {
		ti.Renditions = nil
		if err := store.PutTitle(ctx, ti); err != nil {
			t.Fatal(err)
		}
	}

	identity, err := auth.NewVerifier(auth.VerifierConfig{Issuer: "playplane-local", Audience: "playplane",
		HS256Keys: jwtKID + ":" + base64.StdEncoding.EncodeToString(jwtKey), Leeway: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewDevKeyring()
	authorize, err := authorizeplay.New(authorizeplay.Config{PastDueGrace: 72 * time.Hour, LeaseTTL: 2 * time.Minute, TokenTTL: 4 * time.Hour, MaxBody: 4096},
		authorizeplay.Deps{Store: store, Identity: identity, Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	authorize.Register(mux)

	signers, edge := localCDN(t)
	sign, err := signurl.New(signurl.Config{DefaultCDN: "local-cloudfront", Grace: 30 * time.Second, MaxTTL: 10 * time.Minute, MaxBody: 1024,
		CDNBases: map[string]string{"local-cloudfront": srv.URL, "local-cloudcdn": srv.URL}},
		signurl.Deps{Store: store, Tokens: tokens, Signers: signers})
	if err != nil {
		t.Fatal(err)
	}
	sign.Register(mux)
	mux.Handle("/titles/", edge)

	jwt, err := auth.MintHS256(jwtKID, jwtKey, "playplane-local", "playplane", demo.AccountFamily, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	do := func(client *http.Client, method, url, bearer, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	for i, cdn := range []string{"local-cloudfront", "local-cloudcdn"} {
		t.Run(cdn, func(t *testing.T) {
			jar, err := cookiejar.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			browser := &http.Client{Jar: jar}
			status, body := do(browser, http.MethodPost, srv.URL+"/v1/play", jwt,
				`{"title_id":"big-buck-bunny","device_id":"tv-`+string(rune('a'+i))+`"}`)
			if status != http.StatusCreated {
				t.Fatalf("play: %d %s", status, body)
			}
			var play authorizeplay.PlayResponse
			if err := json.Unmarshal(body, &play); err != nil {
				t.Fatal(err)
			}
			urlsPath := srv.URL + "/v1/playback/" + play.SessionID + "/urls"
			status, body = do(browser, http.MethodPost, urlsPath, play.PlaybackToken, `{"cdn":"`+cdn+`"}`)
			g := decodeGrant(t, status, body)
			if !strings.HasPrefix(g.ManifestURL, srv.URL+play.Manifest+"?") {
				t.Fatalf("manifest URL %s does not point at %s", g.ManifestURL, play.Manifest)
			}

			// Browser: Set-Cookie landed in the jar, scoped to the title.
			status, master := do(browser, http.MethodGet, g.ManifestURL, "", "")
			if status != http.StatusOK {
				t.Fatalf("manifest: %d %s", status, master)
			}
			prefix := srv.URL + "/titles/big-buck-bunny/"
			for _, p := range []string{"sd/media.m3u8", "hd/init.mp4", "sd/seg1.m4s", "sd/seg2.m4s", "sd/seg3.m4s"} {
				if status, b := do(browser, http.MethodGet, prefix+p, "", ""); status != http.StatusOK {
					t.Fatalf("browser %s with jar cookies: %d %s", p, status, b)
				}
			}
			// The jar does not send the title's cookies for another title.
			if status, _ := do(browser, http.MethodGet, srv.URL+"/titles/sintel/sd/seg1.m4s", "", ""); status != http.StatusForbidden {
				t.Fatalf("browser on another title: %d", status)
			}

			// curl: no cookies, the query on each URL.
			curl := &http.Client{}
			for _, p := range []string{"sd/media.m3u8", "hd/init.mp4", "sd/seg1.m4s", "sd/seg3.m4s"} {
				if status, b := do(curl, http.MethodGet, prefix+p+"?"+g.QueryParams, "", ""); status != http.StatusOK {
					t.Fatalf("curl %s with the query: %d %s", p, status, b)
				}
			}
			for _, bad := range []string{
				flipSignature(t, g.ManifestURL),
				prefix + "sd/seg1.m4s",
				srv.URL + "/titles/sintel/sd/seg1.m4s?" + g.QueryParams,
				// The mux cleans the dots with a redirect the client follows;
				// the cleaned path is another title's and is refused.
				prefix + "../sintel/sd/seg1.m4s?" + g.QueryParams,
				prefix + "..%2Fsintel%2Fsd%2Fseg1.m4s?" + g.QueryParams,
			} {
				if status, b := do(curl, http.MethodGet, bad, "", ""); status != http.StatusForbidden {
					t.Fatalf("curl tampered %s: %d %s", bad, status, b)
				}
			}

			// Stopping the session revokes refreshes.
			if status, b := do(browser, http.MethodDelete, srv.URL+"/v1/sessions/"+play.SessionID, jwt, ""); status != http.StatusOK {
				t.Fatalf("end session: %d %s", status, b)
			}
			status, body = do(browser, http.MethodPost, urlsPath, play.PlaybackToken, "")
			if status != http.StatusGone || errorOf(t, status, body).Reason != "session_ended" {
				t.Fatalf("sign after end: %d %s", status, body)
			}
		})
	}
}

// localCDN is the local runner's CDN: in-memory dev keys, signers named
// local-cloudfront and local-cloudcdn, and the edge that verifies them.
func localCDN(t *testing.T) (map[string]playback.URLSigner, *localedge.Handler) {
	t.Helper()
	cfKey, err := cloudfront.GenerateDevKey("KLOCALDEV", cloudfront.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	cfKeys, err := cloudfront.NewKeySet(cfKey.ID, cfKey)
	if err != nil {
		t.Fatal(err)
	}
	cfSigner, err := cloudfront.New(cloudfront.Config{}, cfKeys)
	if err != nil {
		t.Fatal(err)
	}
	cfVerifier, err := cloudfront.NewVerifier(cfKeys.PublicKeys(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cdnKeys, err := cloudcdn.NewKeySet("local-dev", cloudcdn.GenerateDevKey("local-dev"))
	if err != nil {
		t.Fatal(err)
	}
	cdnSigner, err := cloudcdn.New(cloudcdn.Config{}, cdnKeys)
	if err != nil {
		t.Fatal(err)
	}
	cdnVerifier, err := cloudcdn.NewVerifier(cdnKeys.Keys(), nil)
	if err != nil {
		t.Fatal(err)
	}
	edge, err := localedge.New(cfVerifier, cdnVerifier)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]playback.URLSigner{"local-cloudfront": cfSigner, "local-cloudcdn": cdnSigner}, edge
}

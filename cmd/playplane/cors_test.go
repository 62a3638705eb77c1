package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/openapi/openapitest"
)

// TestCrossOriginPlayOverLoopback is what a page on a dev server
// (http://localhost:5173) does with fetch: a preflight for POST /v1/play
// with Authorization and Content-Type, then the POST itself, against the
// runner as main serves it with the default CORS_ALLOWED_ORIGINS.
func TestCrossOriginPlayOverLoopback(t *testing.T) {
	t.Parallel()
	run := startLimited(t, nil)
	tok, err := run.app.DevToken(demo.AccountFamily, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + run.addr
	// Preflights are CORS's, not operations of the API (API Gateway answers
	// them itself on AWS); everything else is checked against the document.
	spec, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &openapitest.Transport{T: t, Spec: spec,
		Skip: func(r *http.Request) bool { return r.Method == http.MethodOptions }}}
	do := func(req *http.Request) (*http.Response, string) {
		t.Helper()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp, string(raw)
	}
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, base+"/v1/play", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,cmcd-session")
		resp, _ := do(req)
		return resp
	}

	const page = "http://localhost:5173"
	resp := preflight(page)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != page ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "CMCD-Session") ||
		resp.Header.Get("Access-Control-Max-Age") == "" || resp.Header.Get("Vary") != "Origin" {
		t.Fatalf("preflight from %s: %d %v", page, resp.StatusCode, resp.Header)
	}

	req, _ := http.NewRequest(http.MethodPost, base+"/v1/play", strings.NewReader(`{"title_id":"sintel","device_id":"browser"}`))
	req.Header.Set("Origin", page)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, body := do(req)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Access-Control-Allow-Origin") != page ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("cross-origin POST /v1/play: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	// The same play without a token is a 401 envelope the page can read.
	req, _ = http.NewRequest(http.MethodPost, base+"/v1/play", strings.NewReader(`{"title_id":"sintel","device_id":"browser"}`))
	req.Header.Set("Origin", "http://127.0.0.1:8000")
	req.Header.Set("Content-Type", "application/json")
	resp, body = do(openapitest.Invalid(req))
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:8000" {
		t.Fatalf("cross-origin POST without a token: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	if resp := preflight("https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin was allowed: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestEdgeCORSFollowsAllowedOrigins: the local edge lets a page read the
// video only from an origin CORS_ALLOWED_ORIGINS lists, or the runner's
// own (its player pages, when a CDN base is another listener), as the
// stack's CloudFront response headers policy does: with credentials (the
// viewer's cookie grants) unless "*" is listed. Before, it reflected any
// Origin with Access-Control-Allow-Credentials, so any web page could read
// a viewer's video with the viewer's cookies.
func TestEdgeCORSFollowsAllowedOrigins(t *testing.T) {
	t.Parallel()
	type want struct{ origin, credentials string }
	for _, tc := range []struct {
		name    string
		allowed string // CORS_ALLOWED_ORIGINS; "" is the default
		origins map[string]want
	}{
		{"default loopback", "", map[string]want{
			"https://evil.example":  {},
			"http://localhost:5173": {"http://localhost:5173", "true"},
			"null":                  {},
		}},
		{"one origin", "https://app.example", map[string]want{
			"https://app.example":  {"https://app.example", "true"},
			"https://evil.example": {},
			"own":                  {"own", "true"},
		}},
		{"any origin", "*", map[string]want{
			"https://evil.example": {"https://evil.example", ""},
			"own":                  {"own", "true"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			if tc.allowed != "" {
				env["CORS_ALLOWED_ORIGINS"] = tc.allowed
			}
			run := startLimited(t, env)
			own := "http://" + run.addr
			for origin, w := range tc.origins {
				if origin == "own" {
					origin = own
				}
				if w.origin == "own" {
					w.origin = own
				}
				req, _ := http.NewRequest(http.MethodGet, own+"/titles/big-buck-bunny/master.m3u8", nil)
				req.Header.Set("Origin", origin)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				h := resp.Header
				if h.Get("Access-Control-Allow-Origin") != w.origin || h.Get("Access-Control-Allow-Credentials") != w.credentials ||
					!strings.Contains(h.Get("Vary"), "Origin") {
					t.Errorf("Origin %s: Allow-Origin %q, Allow-Credentials %q, Vary %q; want %q, %q, Origin",
						origin, h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"), h.Get("Vary"), w.origin, w.credentials)
				}
			}
		})
	}
}

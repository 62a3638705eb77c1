package httpx_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

func corsServer(t *testing.T, origins string) http.Handler {
	t.Helper()
	cors, err := httpx.ParseCORSOrigins(origins)
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }
	mux.HandleFunc("POST /v1/play", ok)
	mux.HandleFunc("GET /v1/sessions", ok)
	mux.HandleFunc("DELETE /v1/sessions/{id}", ok)
	mux.Handle("GET /v1/denied", httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Retry-After", "1")
		return playback.Errorf(playback.CodeUnauthenticated, "token_missing", "no token")
	}))
	mux.Handle("POST /v1/webhooks/stripe", httpx.ServerToServer(http.HandlerFunc(ok)))
	mux.HandleFunc("/titles/", ok)
	return httpx.Middleware(slog.New(slog.DiscardHandler), cors.Handler(mux, mux))
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const allowHeaders = "Authorization, Content-Type, CMCD-Request, CMCD-Object, CMCD-Status, CMCD-Session, X-Request-Id"
	for _, tc := range []struct {
		name, origins, method, path, origin, reqMethod string
		wantStatus                                     int
		want                                           map[string]string // "" = header absent
	}{
		{"allowed origin preflight", "https://app.example", "OPTIONS", "/v1/play", "https://app.example", "POST", 204, map[string]string{
			"Access-Control-Allow-Origin": "https://app.example", "Vary": "Origin", "Access-Control-Allow-Methods": "POST",
			"Access-Control-Allow-Headers": allowHeaders, "Access-Control-Max-Age": "600", "Access-Control-Allow-Credentials": ""}},
		{"preflight lists the path's methods", "https://app.example", "OPTIONS", "/v1/sessions/ses_1", "https://app.example", "DELETE", 204, map[string]string{
			"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Methods": "DELETE"}},
		{"disallowed origin preflight", "https://app.example", "OPTIONS", "/v1/play", "https://evil.example", "POST", 204, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "", "Access-Control-Allow-Headers": "", "Vary": "Origin"}},
		{"disallowed origin request", "https://app.example", "POST", "/v1/play", "https://evil.example", "", 200, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": ""}},
		{"allowed origin request", "https://app.example", "POST", "/v1/play", "https://app.example", "", 200, map[string]string{
			"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Expose-Headers": "Retry-After, X-Request-Id", "Vary": "Origin"}},
		{"wildcard port pattern", "http://localhost:*", "OPTIONS", "/v1/play", "http://localhost:5173", "POST", 204, map[string]string{
			"Access-Control-Allow-Origin": "http://localhost:5173"}},
		{"wildcard port pattern needs a port", "http://localhost:*", "OPTIONS", "/v1/play", "http://localhost", "POST", 204, map[string]string{
			"Access-Control-Allow-Origin": ""}},
		{"wildcard port pattern is not a host wildcard", "http://localhost:*", "OPTIONS", "/v1/play", "http://localhost.evil.example:80", "POST", 204, map[string]string{
			"Access-Control-Allow-Origin": ""}},
		{"wildcard port pattern keeps the scheme", "http://localhost:*", "POST", "/v1/play", "https://localhost:8443", "", 200, map[string]string{
			"Access-Control-Allow-Origin": ""}},
		{"star allows any origin, without credentials", "*", "OPTIONS", "/v1/play", "https://any.example", "POST", 204, map[string]string{
			"Access-Control-Allow-Origin": "https://any.example", "Access-Control-Allow-Credentials": ""}},
		{"null origin is never allowed", "*", "POST", "/v1/play", "null", "", 200, map[string]string{
			"Access-Control-Allow-Origin": ""}},
		{"no origin configured", "", "OPTIONS", "/v1/play", "https://app.example", "POST", 204, map[string]string{
			"Access-Control-Allow-Origin": ""}},
		{"error envelope carries the header", "https://app.example", "GET", "/v1/denied", "https://app.example", "", 401, map[string]string{
			"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Expose-Headers": "Retry-After, X-Request-Id", "Retry-After": "1"}},
		{"the mux's 405 carries the header", "https://app.example", "GET", "/v1/play", "https://app.example", "", 405, map[string]string{
			"Access-Control-Allow-Origin": "https://app.example", "Allow": "POST"}},
		{"preflight for HEAD of a GET route", "https://app.example", "OPTIONS", "/v1/sessions", "https://app.example", "HEAD", 204, map[string]string{
			"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Headers": allowHeaders}},
		{"preflight for HEAD where no GET route is", "https://app.example", "OPTIONS", "/v1/play", "https://app.example", "HEAD", 405, map[string]string{
			"Access-Control-Allow-Origin": ""}},
		{"preflight for a method the path lacks is the mux's 405", "https://app.example", "OPTIONS", "/v1/play", "https://app.example", "PUT", 405, map[string]string{
			"Access-Control-Allow-Origin": ""}},
		{"non-CORS request unchanged", "https://app.example", "POST", "/v1/play", "", "", 200, map[string]string{
			"Access-Control-Allow-Origin": "", "Vary": ""}},
		{"non-CORS OPTIONS is still the mux's 405", "https://app.example", "OPTIONS", "/v1/play", "", "", 405, map[string]string{
			"Access-Control-Allow-Origin": "", "Allow": "POST"}},
		{"webhook preflight unaffected", "*", "OPTIONS", "/v1/webhooks/stripe", "https://app.example", "POST", 405, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}},
		{"webhook request unaffected", "*", "POST", "/v1/webhooks/stripe", "https://app.example", "", 200, map[string]string{
			"Access-Control-Allow-Origin": "", "Vary": ""}},
		{"routes outside /v1 unaffected", "*", "OPTIONS", "/titles/x", "https://app.example", "GET", 200, map[string]string{
			"Access-Control-Allow-Origin": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.reqMethod != "" {
				req.Header.Set("Access-Control-Request-Method", tc.reqMethod)
				req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
			}
			rec := httptest.NewRecorder()
			corsServer(t, tc.origins).ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			for k, v := range tc.want {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if rec.Code >= 400 {
				var body httpx.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code == "" {
					t.Errorf("error answer is not the envelope: %s (%v)", rec.Body, err)
				}
			}
		})
	}
}

func TestParseCORSOriginsRejectsWhatNoBrowserSends(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in string }{
		{"trailing slash", "https://app.example/"},
		{"path", "https://app.example/app"},
		{"no scheme", "app.example"},
		{"other scheme", "ftp://app.example"},
		{"host wildcard", "https://*.example"},
		{"bare port wildcard", "*:8080"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := httpx.ParseCORSOrigins(tc.in); err == nil {
				t.Fatalf("ParseCORSOrigins(%q) accepted it", tc.in)
			}
		})
	}
}

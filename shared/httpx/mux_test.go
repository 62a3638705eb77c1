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

func TestServeMuxAnswersNoRouteWithTheEnvelope(t *testing.T) {
	t.Parallel()
	mux := httpx.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }
	mux.HandleFunc("POST /v1/play", ok)
	mux.HandleFunc("GET /v1/sessions", ok)
	mux.HandleFunc("DELETE /v1/sessions/{id}", ok)
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("/titles/", ok)
	h := httpx.Middleware(slog.New(slog.DiscardHandler), mux)
	for _, tc := range []struct {
		name, method, path string
		wantStatus         int
		wantCode           playback.Code
		wantReason         string
		wantAllow          string
	}{
		{"route", "GET", "/v1/sessions", 200, "", "", ""},
		{"route with a wildcard", "DELETE", "/v1/sessions/ses_1", 200, "", "", ""},
		{"any method on a method-less route", "PUT", "/titles/x", 200, "", "", ""},
		{"unknown path", "GET", "/v1/nothing", 404, playback.CodeNotFound, "route_not_found", ""},
		{"root", "GET", "/", 404, playback.CodeNotFound, "route_not_found", ""},
		{"unknown path under a wildcard route", "DELETE", "/v1/sessions/a/b", 404, playback.CodeNotFound, "route_not_found", ""},
		{"GET on a POST route", "GET", "/v1/play", 405, playback.CodeMethodNotAllowed, "method_not_allowed", "POST"},
		{"POST on a GET route", "POST", "/healthz", 405, playback.CodeMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{"PUT on a wildcard route", "PUT", "/v1/sessions/ses_1", 405, playback.CodeMethodNotAllowed, "method_not_allowed", "DELETE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.wantStatus || rec.Header().Get("Allow") != tc.wantAllow {
				t.Fatalf("got %d Allow %q %s", rec.Code, rec.Header().Get("Allow"), rec.Body)
			}
			if tc.wantStatus == 200 {
				return
			}
			var e httpx.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Header().Get("Content-Type") != "application/json" ||
				e.Error.Code != tc.wantCode || e.Error.Reason != tc.wantReason || e.Error.RequestID == "" || e.Error.Message == "" {
				t.Fatalf("not the envelope: %v %v %s", err, rec.Header(), rec.Body)
			}
		})
	}
}

package httpx_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	type body struct {
		TitleID string `json:"title_id"`
		Count   int    `json:"count"`
	}
	for _, tc := range []struct {
		name       string
		body       string
		wantCode   playback.Code
		wantReason string
	}{
		{"valid", `{"title_id":"t1","count":2}`, "", ""},
		{"malformed", `{"title_id":`, playback.CodeInvalid, "malformed_json"},
		{"unknown field", `{"title_id":"t1","admin":true}`, playback.CodeInvalid, "unknown_field"},
		{"wrong type", `{"count":"two"}`, playback.CodeInvalid, "wrong_type"},
		{"trailing value", `{"title_id":"t1"} {"title_id":"t2"}`, playback.CodeInvalid, "malformed_json"},
		{"empty", ``, playback.CodeInvalid, "body_empty"},
		{"oversized", `{"title_id":"` + strings.Repeat("x", 200) + `"}`, playback.CodeTooLarge, "body_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			var dst body
			err := httpx.DecodeJSON(r, &dst, 100)
			if tc.wantCode == "" {
				if err != nil || dst.TitleID != "t1" || dst.Count != 2 {
					t.Fatalf("DecodeJSON = %+v, %v", dst, err)
				}
				return
			}
			var pe *playback.Error
			if !errors.As(err, &pe) || pe.Code != tc.wantCode || pe.Reason != tc.wantReason {
				t.Fatalf("DecodeJSON error = %v, want %s/%s", err, tc.wantCode, tc.wantReason)
			}
		})
	}
}

func TestErrorsCarryCodeAndRequestID(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	h := httpx.Middleware(log, httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		switch r.URL.Path {
		case "/conflict":
			e := playback.Errorf(playback.CodeConflict, "stream_limit", "too many")
			e.Details = map[string]int{"limit": 2}
			return e
		case "/internal":
			return errors.New("database password is hunter2")
		case "/panic":
			panic("boom")
		}
		return nil
	}))
	for _, tc := range []struct {
		name, path string
		status     int
		code       playback.Code
	}{
		{"typed conflict", "/conflict", 409, playback.CodeConflict},
		{"internal hides cause", "/internal", 500, playback.CodeInternal},
		{"panic", "/panic", 500, playback.CodeInternal},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.Header.Set("X-Request-Id", "req-abc")
		h.ServeHTTP(rec, req)
		var body httpx.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v in %q", tc.name, err, rec.Body.String())
		}
		if rec.Code != tc.status || body.Error.Code != tc.code || body.Error.RequestID != "req-abc" {
			t.Fatalf("%s: %d %+v", tc.name, rec.Code, body)
		}
		if strings.Contains(rec.Body.String(), "hunter2") {
			t.Fatalf("%s: internal cause leaked: %s", tc.name, rec.Body.String())
		}
		if tc.status >= 500 && rec.Header().Get("Retry-After") == "" {
			t.Fatalf("%s: 5xx without Retry-After", tc.name)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["request_id"] != "req-abc" {
			t.Fatalf("log line without request id: %s", line)
		}
	}
}

func TestForgedRequestIDReplaced(t *testing.T) {
	t.Parallel()
	h := httpx.Middleware(slog.New(slog.DiscardHandler), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Request-Id", "evil\nInjected: header")
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("X-Request-Id"); !strings.HasPrefix(got, "req_") {
		t.Fatalf("request id = %q, want a generated one", got)
	}
}

// TestAccessLineCarriesRequestFields: the access line of a request that
// logs nothing else carries the same request fields as the lines of one
// that does.
func TestAccessLineCarriesRequestFields(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := httpx.Middleware(slog.New(slog.NewJSONHandler(&logs, nil)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chatty" {
			httpx.Logger(r.Context()).InfoContext(r.Context(), "working")
		}
	}))
	for _, path := range []string{"/quiet", "/chatty"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Request-Id", "req-"+path[1:])
		req.Header.Set("X-Cloud-Trace-Context", "trace-"+path[1:]+"/1;o=1")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3:\n%s", len(lines), logs.String())
	}
	for i, want := range []struct{ msg, id string }{{"request", "quiet"}, {"working", "chatty"}, {"request", "chatty"}} {
		var rec map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] != want.msg || rec["request_id"] != "req-"+want.id || rec["trace_id"] != "trace-"+want.id {
			t.Errorf("line %d: %s", i, lines[i])
		}
		if want.msg == "request" && (rec["status"] != float64(200) || rec["path"] != "/"+want.id) {
			t.Errorf("access line %d: %s", i, lines[i])
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestAppendBody(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("x", 700)
	for _, tc := range []struct {
		name       string
		body       io.Reader
		length     int64 // -1: unknown, as with chunked requests
		max        int64
		wantReason string
	}{
		{"declared length within the cap", strings.NewReader(body), 700, 700, ""},
		{"unknown length within the cap", strings.NewReader(body), -1, 700, ""},
		{"declared length over the cap is refused unread", failingReader{}, 701, 700, "body_too_large"},
		{"unknown length over the cap", strings.NewReader(body + "y"), -1, 700, "body_too_large"},
		{"declared length, body cut short", strings.NewReader(body[:10]), 700, 700, "body_unreadable"},
		{"unknown length, read fails", failingReader{}, -1, 700, "body_unreadable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", tc.body)
			r.ContentLength = tc.length
			dst := append(make([]byte, 0, 8), "pre"...)
			got, err := httpx.AppendBody(dst, r, tc.max)
			if tc.wantReason != "" {
				if e := playback.AsError(err); e.Reason != tc.wantReason || string(got) != "pre" {
					t.Fatalf("AppendBody = %q, %v; want %s and dst untouched", got, err, tc.wantReason)
				}
				return
			}
			if err != nil || string(got) != "pre"+body {
				t.Fatalf("AppendBody = %d bytes, %v", len(got), err)
			}
		})
	}
}

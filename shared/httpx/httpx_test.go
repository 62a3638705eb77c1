package httpx_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

type Inner struct {
	Name string `json:"name"`
}

type Embedded struct {
	Flat string `json:"flat"`
}

type Named struct {
	Hidden string `json:"hidden"`
}

type strictBody struct {
	TitleID string            `json:"title_id"`
	Count   int               `json:"count"`
	Inner   *Inner            `json:"inner,omitempty"`
	List    []Inner           `json:"list"`
	Labels  map[string]string `json:"labels"`
	Raw     json.RawMessage   `json:"raw"`
	Any     any               `json:"any"`
	Skipped string            `json:"-"`
	Embedded
	Named `json:"named"`
}

func manyLabels(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"l%d":"v"`, i)
	}
	return b.String()
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	const ok = ""
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
		wantCode    playback.Code
		wantReason  string
	}{
		{"valid", "application/json", `{"title_id":"t1","count":2}`, ok, ""},
		{"valid with charset", "application/json; charset=utf-8", `{"title_id":"t1","count":2}`, ok, ""},
		{"media type in capitals", "Application/JSON; Charset=UTF-8", `{"title_id":"t1","count":2}`, ok, ""},
		{"many distinct map keys", "application/json", `{"title_id":"t1","count":2,"labels":{` + manyLabels(40) + `}}`, ok, ""},
		{"every shape", "application/json", `{"title_id":"t1","count":2,"inner":{"name":"é"},"list":[{"name":"a"},{"name":"\ud83c\udfac"}],` +
			`"labels":{"A":"x","a":"y"},"raw":{"k":1},"any":{"K":[1,"🎬"]},"flat":"f","named":{"hidden":"h"}}`, ok, ""},
		{"no content type", "", `{"title_id":"t1","count":2}`, playback.CodeUnsupportedMediaType, "content_type"},
		{"jsonx", "application/jsonx", `{"title_id":"t1","count":2}`, playback.CodeUnsupportedMediaType, "content_type"},
		{"json suffix type", "application/problem+json", `{"title_id":"t1","count":2}`, playback.CodeUnsupportedMediaType, "content_type"},
		{"form", "application/x-www-form-urlencoded", `title_id=t1`, playback.CodeUnsupportedMediaType, "content_type"},
		{"text", "text/plain;charset=UTF-8", `{"title_id":"t1","count":2}`, playback.CodeUnsupportedMediaType, "content_type"},
		{"latin-1 charset", "application/json; charset=iso-8859-1", `{"title_id":"t1","count":2}`, playback.CodeUnsupportedMediaType, "content_type"},
		{"other parameter", "application/json; profile=x", `{"title_id":"t1","count":2}`, playback.CodeUnsupportedMediaType, "content_type"},
		{"unparsable content type", "application/json; charset", `{"title_id":"t1","count":2}`, playback.CodeUnsupportedMediaType, "content_type"},
		{"malformed", "application/json", `{"title_id":`, playback.CodeInvalid, "malformed_json"},
		{"unknown field", "application/json", `{"title_id":"t1","admin":true}`, playback.CodeInvalid, "unknown_field"},
		{"case-folded field", "application/json", `{"TITLE_ID":"t1","count":2}`, playback.CodeInvalid, "unknown_field"},
		{"case-folded next to the field", "application/json", `{"title_id":"t1","Title_Id":"t2"}`, playback.CodeInvalid, "unknown_field"},
		{"long-s folding", "application/json", `{"title_id":"t1","count":2,"label\u017f":{}}`, playback.CodeInvalid, "unknown_field"},
		{"case-folded nested field", "application/json", `{"title_id":"t1","list":[{"NAME":"a"}]}`, playback.CodeInvalid, "unknown_field"},
		{"field of a named embedded struct at the top", "application/json", `{"title_id":"t1","hidden":"h"}`, playback.CodeInvalid, "unknown_field"},
		{"ignored field", "application/json", `{"title_id":"t1","Skipped":"x"}`, playback.CodeInvalid, "unknown_field"},
		{"duplicate field", "application/json", `{"title_id":"t1","count":2,"title_id":"t2"}`, playback.CodeInvalid, "duplicate_field"},
		{"duplicate field by escape", "application/json", `{"title_id":"t1","title\u005fid":"t2"}`, playback.CodeInvalid, "duplicate_field"},
		{"duplicate nested field", "application/json", `{"title_id":"t1","inner":{"name":"a","name":"b"}}`, playback.CodeInvalid, "duplicate_field"},
		{"duplicate map key", "application/json", `{"title_id":"t1","labels":{"a":"x","a":"y"}}`, playback.CodeInvalid, "duplicate_field"},
		{"duplicate map key among many", "application/json", `{"title_id":"t1","labels":{` + manyLabels(20) + `,"l3":"again"}}`, playback.CodeInvalid, "duplicate_field"},
		{"duplicate key in any", "application/json", `{"title_id":"t1","any":{"a":1,"a":2}}`, playback.CodeInvalid, "duplicate_field"},
		{"invalid UTF-8", "application/json", "{\"title_id\":\"t\xff1\",\"count\":2}", playback.CodeInvalid, "invalid_utf8"},
		{"truncated UTF-8", "application/json", "{\"title_id\":\"t\xc3\",\"count\":2}", playback.CodeInvalid, "invalid_utf8"},
		{"UTF-8 surrogate", "application/json", "{\"title_id\":\"\xed\xa0\x80\",\"count\":2}", playback.CodeInvalid, "invalid_utf8"},
		{"invalid UTF-8 in a name", "application/json", "{\"title_id\":\"t1\",\"labels\":{\"\xff\":\"x\"}}", playback.CodeInvalid, "invalid_utf8"},
		{"invalid UTF-8 in raw", "application/json", "{\"title_id\":\"t1\",\"raw\":\"\xff\"}", playback.CodeInvalid, "invalid_utf8"},
		{"lone high surrogate", "application/json", `{"title_id":"\ud83c","count":2}`, playback.CodeInvalid, "invalid_utf8"},
		{"lone low surrogate", "application/json", `{"title_id":"\udfac","count":2}`, playback.CodeInvalid, "invalid_utf8"},
		{"high surrogate before a non-surrogate", "application/json", `{"title_id":"\ud83c\u0041","count":2}`, playback.CodeInvalid, "invalid_utf8"},
		{"wrong type", "application/json", `{"count":"two"}`, playback.CodeInvalid, "wrong_type"},
		{"trailing value", "application/json", `{"title_id":"t1"} {"title_id":"t2"}`, playback.CodeInvalid, "malformed_json"},
		{"trailing brace", "application/json", `{"title_id":"t1","count":2}}`, playback.CodeInvalid, "malformed_json"},
		{"trailing bracket", "application/json", `{"title_id":"t1","count":2} ]`, playback.CodeInvalid, "malformed_json"},
		{"empty", "application/json", ``, playback.CodeInvalid, "body_empty"},
		{"oversized", "application/json", `{"title_id":"` + strings.Repeat("x", 900) + `"}`, playback.CodeTooLarge, "body_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			var dst strictBody
			err := httpx.DecodeJSON(r, &dst, 800)
			if tc.wantCode == ok {
				if err != nil || dst.TitleID != "t1" || dst.Count != 2 {
					t.Fatalf("DecodeJSON = %+v, %v", dst, err)
				}
				return
			}
			var pe *playback.Error
			if !errors.As(err, &pe) || pe.Code != tc.wantCode || pe.Reason != tc.wantReason {
				t.Fatalf("DecodeJSON error = %v, want %s/%s", err, tc.wantCode, tc.wantReason)
			}
			if status := httpx.Status(pe.Code); tc.wantCode == playback.CodeUnsupportedMediaType && status != 415 {
				t.Fatalf("status %d, want 415", status)
			}
		})
	}
}

// FuzzUnmarshal: the strict checks never panic on what encoding/json
// decodes, and what Unmarshal accepts encoding/json decodes the same.
func FuzzUnmarshal(f *testing.F) {
	for _, seed := range []string{`{"title_id":"t1","count":2}`, `{"TITLE_ID":"t1"}`, `{"a":1,"a":2}`, "{\"title_id\":\"\xff\"}",
		`{"title_id":"\ud83c\udfac","list":[{"name":"x"}],"labels":{"k":"v"},"any":[1,{"b":[]}],"raw":null}`,
		`{"inner":{"name":"\u00e9"},"named":{"hidden":"h"},"flat":"f"}`, `[]`, `"s"`, `1`, `null`, `{"count":1e2}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var strict strictBody
		if httpx.Unmarshal(data, &strict) != nil {
			return
		}
		var loose strictBody
		if err := json.Unmarshal(data, &loose); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", data, err)
		}
		a, _ := json.Marshal(strict)
		b, _ := json.Marshal(loose)
		if !bytes.Equal(a, b) {
			t.Fatalf("%q decoded to %s, encoding/json to %s", data, a, b)
		}
	})
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

// TestRetryAfterOnlyWhereARetryHelps: a 5xx offers a retry (Retry-After,
// "retry later") unless the domain says none helps (playback.NoRetry);
// that one was answered Retry-After: 1 like the others.
func TestRetryAfterOnlyWhereARetryHelps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		err            error
		wantRetryAfter string // "" = absent
	}{
		{"internal", errors.New("boom"), "1"},
		{"unavailable with its hint", &playback.Error{Code: playback.CodeUnavailable, Message: "down", RetryAfter: 7 * time.Second}, "7"},
		{"internal no retry cures", &playback.Error{Code: playback.CodeInternal, Reason: "manifest_unsupported", RetryAfter: playback.NoRetry,
			Err: errors.New("bad manifest")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			httpx.WriteError(rec, req.WithContext(httpx.WithLogger(req.Context(), slog.New(slog.DiscardHandler))), tc.err)
			var body httpx.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.wantRetryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tc.wantRetryAfter)
			}
			if retries := strings.Contains(body.Error.Message, "retry later"); body.Error.Code == playback.CodeInternal && retries != (tc.wantRetryAfter != "") {
				t.Fatalf("message %q with Retry-After %q", body.Error.Message, tc.wantRetryAfter)
			}
		})
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
		req.Header.Set("X-Cloud-Trace-Context", traceOf(path[1:])+"/1;o=1")
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
		if rec["msg"] != want.msg || rec["request_id"] != "req-"+want.id || rec["trace_id"] != traceOf(want.id) {
			t.Errorf("line %d: %s", i, lines[i])
		}
		if want.msg == "request" && (rec["status"] != float64(200) || rec["path"] != "/"+want.id) {
			t.Errorf("access line %d: %s", i, lines[i])
		}
	}
}

// traceOf is a trace id of 32 hex digits made of name.
func traceOf(name string) string {
	return fmt.Sprintf("%032x", name)
}

// TestLogTraceIDFollowsTheSpansHeader: a line's trace_id is the trace the
// request's span continues: traceparent first, Google's
// X-Cloud-Trace-Context only without a valid one (as Google advises,
// https://cloud.google.com/trace/docs/trace-context), AWS X-Ray's header
// as it is.
func TestLogTraceIDFollowsTheSpansHeader(t *testing.T) {
	t.Parallel()
	const w3c, google = "4bf92f3577b34da6a3ce929d0e0e4736", "105445aa7843bc8bf206b12000100000"
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    any // nil: no trace_id
	}{
		{name: "traceparent over X-Cloud-Trace-Context", want: w3c,
			headers: map[string]string{"traceparent": "00-" + w3c + "-00f067aa0ba902b7-01", "X-Cloud-Trace-Context": google + "/1;o=1"}},
		{name: "X-Cloud-Trace-Context alone", want: google, headers: map[string]string{"X-Cloud-Trace-Context": google + "/1;o=1"}},
		{name: "malformed traceparent", want: google,
			headers: map[string]string{"traceparent": "00-" + w3c + "-00f067aa0ba902b7", "X-Cloud-Trace-Context": google + "/1;o=1"}},
		{name: "X-Ray", want: "Root=1-5759e988-bd862e3fe1be46a994272793",
			headers: map[string]string{"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793", "traceparent": "00-" + w3c + "-00f067aa0ba902b7-01"}},
		{name: "none", headers: map[string]string{"X-Cloud-Trace-Context": "not-a-trace/1;o=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			h := httpx.Middleware(slog.New(slog.NewJSONHandler(&logs, nil)), http.NotFoundHandler())
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			var rec map[string]any
			if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
				t.Fatal(err)
			}
			if rec["trace_id"] != tc.want {
				t.Fatalf("trace_id %v, want %v: %s", rec["trace_id"], tc.want, logs.String())
			}
		})
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

// BenchmarkUnmarshal: the strict checks against plain encoding/json (the
// floor) on a play request body.
func BenchmarkUnmarshal(b *testing.B) {
	body := []byte(`{"title_id":"big-buck-bunny","device_id":"living-room-tv","device_name":"Wohnzimmer – Fernseher"}`)
	type play struct {
		TitleID    string `json:"title_id"`
		DeviceID   string `json:"device_id"`
		DeviceName string `json:"device_name"`
	}
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for range b.N {
			var p play
			if err := json.Unmarshal(body, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for range b.N {
			var p play
			if err := httpx.Unmarshal(body, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// addrReader fails as a connection read past the server's ReadTimeout
// does: its error names the server's own address.
type addrReader struct{}

func (addrReader) Read([]byte) (int, error) {
	return 0, errors.New("read tcp 10.0.0.7:8080->203.0.113.9:5555: i/o timeout")
}

// TestUnreadableBodyHidesCause: a body that cannot be read is a typed 400
// whose answer names no internal address; the cause goes to the log.
func TestUnreadableBodyHidesCause(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := httpx.Middleware(slog.New(slog.NewJSONHandler(&logs, nil)), httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		_, err := httpx.ReadBody(r, 1024)
		return err
	}))
	for _, length := range []int64{-1, 100} {
		logs.Reset()
		req := httptest.NewRequest(http.MethodPost, "/", addrReader{})
		req.ContentLength = length
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body httpx.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != http.StatusBadRequest || body.Error.Reason != "body_unreadable" {
			t.Fatalf("length %d: %d %+v", length, rec.Code, body)
		}
		if strings.Contains(rec.Body.String(), "10.0.0.7") {
			t.Errorf("length %d: answer names the server's address: %s", length, rec.Body.String())
		}
		if !strings.Contains(logs.String(), "i/o timeout") {
			t.Errorf("length %d: the cause is not logged: %s", length, logs.String())
		}
	}
}

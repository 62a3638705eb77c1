package openapitest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func spec(t *testing.T) *Spec {
	t.Helper()
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEverySchemaCompiles compiles every schema the validator may use, so a
// broken $ref or pattern fails here rather than in the first end-to-end
// test that reaches it.
func TestEverySchemaCompiles(t *testing.T) {
	t.Parallel()
	s := spec(t)
	if len(s.ops) == 0 {
		t.Fatal("no operations")
	}
	for _, o := range s.ops {
		for _, p := range o.params {
			if _, err := s.schema(p.schema); err != nil {
				t.Errorf("%s: parameter %s: %v", o.Key(), p.name, err)
			}
		}
		if rb, ok := o.raw["requestBody"].(map[string]any); ok {
			rb, ptr, err := s.deref(rb, o.pointer+"/requestBody")
			if err != nil {
				t.Fatal(err)
			}
			for mt := range rb["content"].(map[string]any) {
				if _, err := s.schema(ptr + "/content/" + escape(mt) + "/schema"); err != nil {
					t.Errorf("%s: request %s: %v", o.Key(), mt, err)
				}
			}
		}
		for code, r := range o.raw["responses"].(map[string]any) {
			r, ptr, err := s.deref(r.(map[string]any), o.pointer+"/responses/"+code)
			if err != nil {
				t.Fatal(err)
			}
			content, _ := r["content"].(map[string]any)
			for mt := range content {
				if _, err := s.schema(ptr + "/content/" + escape(mt) + "/schema"); err != nil {
					t.Errorf("%s: %s %s: %v", o.Key(), code, mt, err)
				}
			}
		}
		for _, sc := range o.security {
			for name := range sc {
				if _, ok := s.scheme(name); !ok {
					t.Errorf("%s: security scheme %q is not defined", o.Key(), name)
				}
			}
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	s := spec(t)
	for _, tc := range []struct {
		name, method, path string
		want               string
		params             map[string]string
	}{
		{"literal", "POST", "/v1/play", "POST /v1/play", nil},
		{"templated", "POST", "/v1/playback/ses_1/urls", "POST /v1/playback/{session_id}/urls", map[string]string{"session_id": "ses_1"}},
		{"literal beats template", "GET", "/v1/sessions", "GET /v1/sessions", nil},
		{"delete", "DELETE", "/v1/sessions/ses_9", "DELETE /v1/sessions/{id}", map[string]string{"id": "ses_9"}},
		{"wrong method", "GET", "/v1/play", "", nil},
		{"empty segment", "POST", "/v1/playback//urls", "", nil},
		{"longer path", "POST", "/v1/play/x", "", nil},
		{"unknown", "GET", "/v2/play", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			op, params, ok := s.Match(tc.method, tc.path)
			if tc.want == "" {
				if ok {
					t.Fatalf("matched %s", op.Key())
				}
				return
			}
			if !ok || op.Key() != tc.want {
				t.Fatalf("got %v %v, want %s", op, ok, tc.want)
			}
			for k, v := range tc.params {
				if params[k] != v {
					t.Fatalf("param %s = %q, want %q", k, params[k], v)
				}
			}
		})
	}
}

const (
	sessionView = `{"session_id":"ses_1","device_id":"tv","title_id":"sintel","started_at":"2026-01-01T00:00:00Z","last_seen_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-01T00:02:00Z"}`
	deviceView  = `{"device_id":"hotel-tv","name":"Hotel TV","registered_at":"2026-01-01T00:00:00Z","last_played_at":"2026-01-02T00:00:00Z","playing":false}`
	playOK      = `{"session_id":"ses_1","lease_expires_at":"2026-01-01T00:02:00Z","max_quality":"HD","playback_token":"v1.x","token_expires_at":"2026-01-01T04:00:00Z","title_id":"sintel","manifest":"/titles/sintel/master.m3u8","cmcd_report_url":"/v1/playback/ses_1/cmcd/c1.x"}`
)

// TestValidateResponse: documented answers pass, and each kind of
// mismatch is caught: the validator can fail.
func TestValidateResponse(t *testing.T) {
	t.Parallel()
	s := spec(t)
	for _, tc := range []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		wantErr            string // "" passes
	}{
		{"play admitted", "POST", "/v1/play", 201, nil, playOK, ""},
		{"play: field missing", "POST", "/v1/play", 201, nil, strings.Replace(playOK, `"manifest":"/titles/sintel/master.m3u8"`, `"extra":1`, 1), "missing property 'manifest'"},
		{"play: wrong type", "POST", "/v1/play", 201, nil, strings.Replace(playOK, `"HD"`, `"8K"`, 1), "max_quality"},
		{"play: bad timestamp", "POST", "/v1/play", 201, nil, strings.Replace(playOK, `2026-01-01T00:02:00Z`, `yesterday`, 1), "date-time"},
		{"play: undocumented status", "POST", "/v1/play", 200, nil, playOK, "status 200 is not documented"},
		{"play: not JSON", "POST", "/v1/play", 201, nil, `<html>`, "not JSON"},
		{"play: wrong media type", "POST", "/v1/play", 201, http.Header{"Content-Type": {"text/plain"}}, playOK, "Content-Type"},
		{"stream limit", "POST", "/v1/play", 409, nil, `{"error":{"code":"conflict","reason":"stream_limit","message":"m","details":{"limit":1,"sessions":[` + sessionView + `]}}}`, ""},
		{"stream limit without its sessions", "POST", "/v1/play", 409, nil, `{"error":{"code":"conflict","reason":"stream_limit","message":"m"}}`, "details"},
		{"403 envelope", "POST", "/v1/play", 403, nil, `{"error":{"code":"forbidden","reason":"parental_rating","message":"m","request_id":"req_1"}}`, ""},
		{"403 with another status's code", "POST", "/v1/play", 403, nil, `{"error":{"code":"invalid","reason":"parental_rating","message":"m"}}`, "forbidden"},
		{"device limit", "POST", "/v1/play", 403, nil, `{"error":{"code":"forbidden","reason":"device_limit","message":"m","details":{"devices":[` + deviceView + `],"max_devices":1}}}`, ""},
		{"device limit without its devices", "POST", "/v1/play", 403, nil, `{"error":{"code":"forbidden","reason":"device_limit","message":"m"}}`, "details"},
		{"device limit: a device without its id", "POST", "/v1/play", 403, nil, `{"error":{"code":"forbidden","reason":"device_limit","message":"m","details":{"devices":[` + strings.Replace(deviceView, `"device_id":"hotel-tv",`, "", 1) + `],"max_devices":1}}}`, "device_id"},
		{"devices: last played", "GET", "/v1/devices", 200, nil, `{"devices":[` + deviceView + `],"max_devices":1}`, ""},
		{"devices: last played not a time", "GET", "/v1/devices", 200, nil, `{"devices":[` + strings.Replace(deviceView, `2026-01-02T00:00:00Z`, `yesterday`, 1) + `]}`, "date-time"},
		{"error envelope with an extra field", "GET", "/v1/sessions", 401, nil, `{"error":{"code":"unauthenticated","message":"m","hint":"x"}}`, "hint"},
		{"503 without Retry-After", "GET", "/v1/sessions", 503, nil, `{"error":{"code":"unavailable","message":"m"}}`, "Retry-After"},
		{"503 with Retry-After", "GET", "/v1/sessions", 503, http.Header{"Retry-After": {"1"}}, `{"error":{"code":"unavailable","message":"m"}}`, ""},
		// A response over Lambda's limit and a stored manifest the
		// personalizer cannot handle are answered the same on every try:
		// the 5xx without Retry-After (playback.NoRetry).
		{"500 response_too_large without Retry-After", "GET", "/v1/admin/titles", 500, nil, `{"error":{"code":"internal","reason":"response_too_large","message":"m"}}`, ""},
		{"manifest 500 response_too_large without Retry-After", "GET", "/v1/manifests/ses_1/dash", 500, nil, `{"error":{"code":"internal","reason":"response_too_large","message":"m"}}`, ""},
		{"manifest 500 manifest_unsupported without Retry-After", "GET", "/v1/manifests/ses_1/dash", 500, nil, `{"error":{"code":"internal","reason":"manifest_unsupported","message":"m"}}`, ""},
		{"sessions", "GET", "/v1/sessions", 200, nil, `{"sessions":[` + sessionView + `]}`, ""},
		{"sessions: a session without its device", "GET", "/v1/sessions", 200, nil, `{"sessions":[` + strings.Replace(sessionView, `"device_id":"tv",`, "", 1) + `]}`, "device_id"},
		{"urls without no-store", "POST", "/v1/playback/ses_1/urls", 200, nil, `{"manifest_url":"https://cdn.example/m","cookies":[],"expires_at":"2026-01-01T00:00:00Z","key_id":"k","cdn":"cloudfront"}`, "Cache-Control"},
		// The admin API's accounts and edges are the catalogue schema's
		// records, with the members the server owns (readOnly).
		{"admin account as stored", "GET", "/v1/admin/accounts/acct_a", 200, etag, adminAccount, ""},
		{"admin account with an undocumented member", "GET", "/v1/admin/accounts/acct_a", 200, etag, strings.Replace(adminAccount, `"id"`, `"bogus":1,"id"`, 1), "bogus"},
		// An account a checkout created has no plan until its
		// subscription's events name one: every answer of it says so.
		{"admin account a checkout created", "GET", "/v1/admin/accounts/acct_c", 200, etag, checkoutAccount, ""},
		{"admin account a checkout created, suspended", "POST", "/v1/admin/accounts/acct_c/suspend", 200, etag, checkoutAccount, ""},
		{"admin account a checkout created, unsuspended", "POST", "/v1/admin/accounts/acct_c/unsuspend", 200, etag, checkoutAccount, ""},
		{"admin account a checkout created, linked", "PUT", "/v1/admin/accounts/acct_c/customer", 200, etag, checkoutAccount, ""},
		{"admin account with a plan id that is no id", "GET", "/v1/admin/accounts/acct_c", 200, etag, strings.Replace(checkoutAccount, `"plan_id":""`, `"plan_id":"a b"`, 1), "plan_id"},
		{"admin edge with its health", "GET", "/v1/admin/edges/fra-1", 200, etag, adminEdge, ""},
		{"admin edge with an undocumented member", "GET", "/v1/admin/edges/fra-1", 200, etag, strings.Replace(adminEdge, `"id"`, `"bogus":1,"id"`, 1), "bogus"},
		{"healthz", "GET", "/healthz", 200, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, "ok\n", ""},
		{"healthz says something else", "GET", "/healthz", 200, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, "fine\n", "value must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			op, _, ok := s.Match(tc.method, tc.path)
			if !ok {
				t.Fatalf("no operation for %s %s", tc.method, tc.path)
			}
			header := http.Header{"Content-Type": {"application/json"}}
			for k, v := range tc.header {
				header[k] = v
			}
			err := s.ValidateResponse(op, &http.Response{StatusCode: tc.status, Header: header}, []byte(tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused a documented answer: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatal("accepted a mismatch")
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	s := spec(t)
	for _, tc := range []struct {
		name, method, target string
		header               map[string]string
		body                 string
		wantErr              string
	}{
		{"play", "POST", "/v1/play", map[string]string{"Authorization": "Bearer x"}, `{"title_id":"sintel","device_id":"tv"}`, ""},
		{"play without a token", "POST", "/v1/play", nil, `{"title_id":"sintel","device_id":"tv"}`, "callerJWT"},
		{"play with Basic auth", "POST", "/v1/play", map[string]string{"Authorization": "Basic eDp5"}, `{"title_id":"sintel","device_id":"tv"}`, "callerJWT"},
		{"play with an unknown field", "POST", "/v1/play", map[string]string{"Authorization": "Bearer x"}, `{"title_id":"sintel","device_id":"tv","quality":"UHD"}`, "quality"},
		{"play with a bad id", "POST", "/v1/play", map[string]string{"Authorization": "Bearer x"}, `{"title_id":"../etc","device_id":"tv"}`, "title_id"},
		{"play without a body", "POST", "/v1/play", map[string]string{"Authorization": "Bearer x"}, ``, "required"},
		{"play as text", "POST", "/v1/play", map[string]string{"Authorization": "Bearer x", "Content-Type": "text/plain"}, `{"title_id":"sintel","device_id":"tv"}`, "Content-Type"},
		{"urls without a body", "POST", "/v1/playback/ses_1/urls", map[string]string{"Authorization": "Bearer x"}, ``, ""},
		{"urls with a bad session id", "POST", "/v1/playback/./urls", map[string]string{"Authorization": "Bearer x"}, ``, "session_id"},
		{"edges with a body", "POST", "/v1/playback/ses_1/edges", map[string]string{"Authorization": "Bearer x"}, `{}`, "takes none"},
		{"steering with the token in the query", "GET", "/v1/steering/ses_1?token=x&format=dash&_DASH_throughput=5000", nil, ``, ""},
		{"steering with a bearer token", "GET", "/v1/steering/ses_1", map[string]string{"Authorization": "Bearer x"}, ``, ""},
		{"steering without a token", "GET", "/v1/steering/ses_1?format=hls", nil, ``, "playbackTokenQuery"},
		{"steering in another format", "GET", "/v1/steering/ses_1?token=x&format=smooth", nil, ``, "format"},
		{"steering with an undocumented parameter", "GET", "/v1/steering/ses_1?token=x&debug=1", nil, ``, "debug"},
		{"progress without title", "GET", "/v1/progress", map[string]string{"Authorization": "Bearer x"}, ``, "title_id"},
		{"heartbeat", "POST", "/v1/playback/ses_1/heartbeat", map[string]string{"Authorization": "Bearer x"}, `{"event":"progress","position_ms":1,"duration_ms":2,"device_time":"2026-01-01T00:00:00Z","qoe":{"br":3000}}`, ""},
		{"heartbeat with an unknown QoE key", "POST", "/v1/playback/ses_1/heartbeat", map[string]string{"Authorization": "Bearer x"}, `{"event":"progress","position_ms":1,"duration_ms":2,"device_time":"2026-01-01T00:00:00Z","qoe":{"fps":30}}`, "fps"},
		{"edge report signed", "POST", "/v1/edges/health", map[string]string{"X-Edge-Id": "fra-1", "X-Edge-Signature": "t=1,v1=00"}, `{"edge_id":"fra-1","load":1,"capacity":2,"healthy":true,"reported_at":"2026-01-01T00:00:00Z"}`, ""},
		{"edge report without its signature", "POST", "/v1/edges/health", map[string]string{"X-Edge-Id": "fra-1"}, `{"edge_id":"fra-1","load":1,"capacity":2,"healthy":true,"reported_at":"2026-01-01T00:00:00Z"}`, "edgeSignature"},
		{"stripe without signature", "POST", "/v1/webhooks/stripe", nil, `{"id":"evt_1","type":"invoice.paid","created":1,"data":{"object":{}}}`, "stripeSignature"},
		{"admin account PUT back as GET answered it", "PUT", "/v1/admin/accounts/acct_a", map[string]string{"Authorization": "Bearer x", "If-Match": `"1"`}, adminAccount, ""},
		{"admin account PUT with a bad territory", "PUT", "/v1/admin/accounts/acct_a", map[string]string{"Authorization": "Bearer x", "If-Match": `"1"`}, strings.Replace(adminAccount, `"DE"`, `"de"`, 1), "territory"},
		// A checkout's account, waiting for its plan, written back as GET
		// answered it (the server refuses a plan-less one no customer links).
		{"admin account PUT back without a plan", "PUT", "/v1/admin/accounts/acct_c", map[string]string{"Authorization": "Bearer x", "If-Match": `"1"`}, checkoutAccount, ""},
		{"admin account PUT with a plan id that is no id", "PUT", "/v1/admin/accounts/acct_c", map[string]string{"Authorization": "Bearer x", "If-Match": `"1"`}, strings.Replace(checkoutAccount, `"plan_id":""`, `"plan_id":"a b"`, 1), "plan_id"},
		{"admin edge PUT back as GET answered it", "PUT", "/v1/admin/edges/fra-1", map[string]string{"Authorization": "Bearer x", "If-Match": `"1"`}, adminEdge, ""},
		{"undocumented route", "GET", "/v1/nothing", nil, ``, "no operation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			_, err := s.ValidateRequest(req, []byte(tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused a documented request: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatal("accepted a mismatch")
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

// recorder is a testing.TB that keeps what the transport reports.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) reported() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

// TestTransportFailsTheTestOnAMismatch runs real exchanges through the
// transport against a server whose answers are right or wrong.
func TestTransportFailsTheTestOnAMismatch(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/sessions":
			if r.Header.Get("X-Wrong") != "" {
				_, _ = io.WriteString(w, `{"sessions":[{"session_id":"ses_1"}]}`)
				return
			}
			_, _ = io.WriteString(w, `{"sessions":[]}`)
		case "/v1/play":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"code":"unauthenticated","reason":"token_missing","message":"m"}}`)
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	t.Cleanup(srv.Close)
	s := spec(t)
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		report string // "" reports nothing
	}{
		{"documented exchange", func() *http.Request { return authed("GET", srv.URL+"/v1/sessions", "") }, ""},
		{"wrong response body", func() *http.Request {
			req := authed("GET", srv.URL+"/v1/sessions", "")
			req.Header.Set("X-Wrong", "1")
			return req
		}, "missing properties"},
		{"invalid request marked as such, documented refusal", func() *http.Request {
			return Invalid(body("POST", srv.URL+"/v1/play", `{"title_id":"sintel","device_id":"tv"}`))
		}, ""},
		{"invalid request not marked", func() *http.Request {
			return body("POST", srv.URL+"/v1/play", `{"title_id":"sintel","device_id":"tv"}`)
		}, "callerJWT"},
		{"valid request marked invalid", func() *http.Request { return Invalid(authed("GET", srv.URL+"/v1/sessions", "")) }, "marked invalid"},
		{"undocumented route", func() *http.Request { return authed("GET", srv.URL+"/v1/teapot", "") }, "no operation"},
		{"undocumented route marked, answered 418", func() *http.Request { return Undocumented(authed("GET", srv.URL+"/v1/teapot", "")) }, "want 404 or 405"},
		{"skipped", func() *http.Request { return authed("GET", srv.URL+"/titles/x", "") }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{TB: t}
			client := &http.Client{Transport: &Transport{T: rec, Spec: s,
				Skip: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/titles/") }}}
			resp, err := client.Do(tc.req())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			got := strings.Join(rec.reported(), "\n")
			switch {
			case tc.report == "" && got != "":
				t.Fatalf("reported %s", got)
			case tc.report != "" && !strings.Contains(got, tc.report):
				t.Fatalf("reported %q, want a mismatch mentioning %q", got, tc.report)
			}
		})
	}
}

func body(method, url, b string) *http.Request {
	req, _ := http.NewRequest(method, url, strings.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func authed(method, url, b string) *http.Request {
	req, _ := http.NewRequest(method, url, strings.NewReader(b))
	req.Header.Set("Authorization", "Bearer x")
	return req
}

// An account and an edge as the admin API's GET answers them: settings and
// the server's members.
var etag = http.Header{"Etag": {`"1"`}}

const (
	adminAccount = `{"id":"acct_a","plan_id":"std","status":"active","current_period_end":"2026-02-01T00:00:00Z","territory":"DE","parental_cap":0,` +
		`"devices":[{"id":"tv","registered_at":"2026-01-01T00:00:00Z"}],"customer_id":"cus_a",` +
		`"subscriptions":[{"id":"sub_a","status":"active","plan_id":"std","current_period_end":"2026-02-01T00:00:00Z","clock":1}],` +
		`"updated_at":"2026-01-01T00:00:00Z","announced":{"entitled":true,"status":"active","plan_id":"std"},` +
		`"customers_deleted":[{"customer":"cus_old","clock":1,"event":"evt_1"}],"other_products":[{"subscription":"sub_o","clock":1,"event":"evt_2"}]}`
	// As paymentwebhook's provision stores it (playback.Account's JSON).
	checkoutAccount = `{"id":"acct_c","email":"new@example.com","plan_id":"","status":"none","territory":"FR","parental_cap":0,` +
		`"devices":[],"customer_id":"cus_c","subscriptions":[],"updated_at":"2026-01-01T00:00:00Z","announced":{"entitled":false}}`
	adminEdge = `{"id":"fra-1","cdn":"local","pop":"fra","base_url":"http://127.0.0.1:8081","lat":50.11,"lon":8.68,"capacity":100,` +
		`"reported_capacity":0,"load":0,"healthy":true,"reported_at":"0001-01-01T00:00:00Z"}`
)

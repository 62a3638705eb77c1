package authorizeplay_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/openapi/openapitest"
	"github.com/playplane/playplane/shared/playback"
)

const (
	issuer   = "https://id.example"
	audience = "playplane"
	kid      = "k1"
)

var jwtKey = bytes.Repeat([]byte("k"), 32)

// documented is the served OpenAPI document: every answer the harness gets
// must match it, so a refusal reason the document does not list fails here.
var documented = func() *openapitest.Spec {
	spec, err := openapitest.Load()
	if err != nil {
		panic(err)
	}
	return spec
}()

type harness struct {
	t      testing.TB
	store  playback.Store
	tokens *auth.Keyring
	srv    *authorizeplay.Server
	h      http.Handler
	now    time.Time
}

func newHarness(t testing.TB, opts ...bolt.Option) *harness {
	t.Helper()
	return newHarnessWith(t, nil, opts...)
}

// newHarnessWith lets configure change the function's Config.
func newHarnessWith(t testing.TB, configure func(*authorizeplay.Config), opts ...bolt.Option) *harness {
	t.Helper()
	return newHarnessOn(t, configure, nil, opts...)
}

// newHarnessOn also lets wrap stand between the function and the bolt store
// (nil: the store itself).
func newHarnessOn(t testing.TB, configure func(*authorizeplay.Config), wrap func(authorizeplay.Store) authorizeplay.Store, opts ...bolt.Option) *harness {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	if err := demo.Seed(context.Background(), store, "http://edge.test", now); err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Issuer: issuer, Audience: audience,
		HS256Keys: kid + ":" + base64.StdEncoding.EncodeToString(jwtKey), Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: store, tokens: auth.NewDevKeyring(), now: now}
	cfg := authorizeplay.Config{PastDueGrace: 72 * time.Hour, LeaseTTL: 2 * time.Minute, TokenTTL: time.Hour, MaxBody: 4096}
	if configure != nil {
		configure(&cfg)
	}
	var fnStore authorizeplay.Store = store
	if wrap != nil {
		fnStore = wrap(store)
	}
	h.srv, err = authorizeplay.New(cfg,
		authorizeplay.Deps{Store: fnStore, Identity: verifier, Tokens: h.tokens, Now: func() time.Time { return h.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.srv.Close() })
	mux := http.NewServeMux()
	h.srv.Register(mux)
	h.h = httpx.Middleware(slog.New(slog.DiscardHandler), mux)
	return h
}

// admitted decodes a 201 play answer and verifies its playback token.
func (h *harness) admitted(t testing.TB, rec *httptest.ResponseRecorder) (authorizeplay.PlayResponse, auth.PlaybackClaims) {
	t.Helper()
	if rec.Code != http.StatusCreated {
		t.Fatalf("play: status %d: %s", rec.Code, rec.Body)
	}
	var resp authorizeplay.PlayResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	claims, err := h.tokens.Verify(resp.PlaybackToken, h.now)
	if err != nil {
		t.Fatal(err)
	}
	return resp, claims
}

func (h *harness) token(account string) string {
	tok, err := auth.MintHS256(kid, jwtKey, issuer, audience, account, time.Hour, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *harness) do(method, path, token, body string, edit ...func(*http.Request)) *httptest.ResponseRecorder {
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return h.doAs(method, path, token, ct, body, edit...)
}

func (h *harness) doAs(method, path, token, contentType, body string, edit ...func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for _, e := range edit {
		e(req)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	if op, _, ok := documented.Match(method, req.URL.Path); ok {
		if err := documented.ValidateResponse(op, rec.Result(), rec.Body.Bytes()); err != nil {
			h.t.Errorf("openapi: %v", err)
		}
	}
	return rec
}

func (h *harness) play(account, title, device string) *httptest.ResponseRecorder {
	return h.do(http.MethodPost, "/v1/play", h.token(account), `{"title_id":"`+title+`","device_id":"`+device+`"}`)
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) httpx.ErrorDetail {
	t.Helper()
	var body httpx.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d, body %q: %v", rec.Code, rec.Body.String(), err)
	}
	return body.Error
}

func TestPlayAdmits(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	resp, claims := h.admitted(t, h.play(demo.AccountFamily, "big-buck-bunny", "tv-1"))
	if resp.MaxQuality != playback.QualityHD || resp.Manifest != "/titles/big-buck-bunny/master.m3u8" ||
		!resp.LeaseExpiresAt.Equal(h.now.Add(2*time.Minute)) {
		t.Fatalf("response = %+v", resp)
	}
	if claims.SessionID != resp.SessionID || claims.AccountID != demo.AccountFamily || claims.TitleID != "big-buck-bunny" || claims.DeviceID != "tv-1" {
		t.Fatalf("token claims = %+v", claims)
	}
	acct, _ := h.store.GetAccount(context.Background(), demo.AccountFamily)
	if !acct.HasDevice("tv-1") {
		t.Fatal("device was not auto-registered")
	}
}

// TestPlayRefusesWhatIsNotItsJSON: issue #12 found /v1/play accepting
// {"TITLE_ID":…}, Content-Type application/jsonx and invalid UTF-8 in
// device_name. Each is a typed 4xx that writes nothing.
func TestPlayRefusesWhatIsNotItsJSON(t *testing.T) {
	t.Parallel()
	const good = `{"title_id":"sintel","device_id":"d","device_name":"Living room"}`
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		reason                  string
	}{
		{"json with charset", "application/json; charset=utf-8", good, 201, ""},
		{"no content type", "", good, 415, "content_type"},
		{"jsonx", "application/jsonx", good, 415, "content_type"},
		{"text", "text/plain;charset=UTF-8", good, 415, "content_type"},
		{"case-folded key", "application/json", `{"TITLE_ID":"sintel","device_id":"d"}`, 400, playback.ReasonUnknownField},
		{"case-folded key beside the real one", "application/json", `{"title_id":"sintel","Device_ID":"x","device_id":"d"}`, 400, playback.ReasonUnknownField},
		{"duplicate key", "application/json", `{"title_id":"sintel","device_id":"d","title_id":"big-buck-bunny"}`, 400, playback.ReasonDuplicateField},
		{"invalid UTF-8 in device_name", "application/json", "{\"title_id\":\"sintel\",\"device_id\":\"d\",\"device_name\":\"Wohnzimmer \xfc\"}", 400, playback.ReasonInvalidUTF8},
		{"unpaired surrogate in device_name", "application/json", `{"title_id":"sintel","device_id":"d","device_name":"TV \ud83d"}`, 400, playback.ReasonInvalidUTF8},
		// The rule PATCH /v1/devices/{id} holds a name to: it is shown in
		// lists on other screens.
		{"control characters in device_name", "application/json", `{"title_id":"sintel","device_id":"d","device_name":"TV\u001b[2J\u0007"}`, 400, "device_name"},
		{"newline in device_name", "application/json", `{"title_id":"sintel","device_id":"d","device_name":"TV\n2"}`, 400, "device_name"},
		{"blank device_name", "application/json", `{"title_id":"sintel","device_id":"d","device_name":"  "}`, 400, "device_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			before, _ := h.store.GetAccount(context.Background(), demo.AccountFamily)
			rec := h.doAs(http.MethodPost, "/v1/play", h.token(demo.AccountFamily), tc.contentType, tc.body)
			if tc.status == 201 {
				if rec.Code != 201 {
					t.Fatalf("got %d %s", rec.Code, rec.Body)
				}
				return
			}
			if e := errorOf(t, rec); rec.Code != tc.status || e.Reason != tc.reason {
				t.Fatalf("got %d %+v, want %d reason %s", rec.Code, e, tc.status, tc.reason)
			}
			after, _ := h.store.GetAccount(context.Background(), demo.AccountFamily)
			active, _ := h.store.ListActiveSessions(context.Background(), demo.AccountFamily, h.now)
			if len(after.Devices) != len(before.Devices) || len(active) != 0 {
				t.Fatalf("refused request wrote state: devices %d→%d, %d sessions", len(before.Devices), len(after.Devices), len(active))
			}
		})
	}
}

func TestPlayRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, account, body, token string
		status                     int
		reason                     string
	}{
		{"no token", demo.AccountFamily, `{"title_id":"sintel","device_id":"d"}`, "none", 401, "token_missing"},
		{"forged token", demo.AccountFamily, `{"title_id":"sintel","device_id":"d"}`, "forged", 401, "token_signature"},
		{"expired token", demo.AccountFamily, `{"title_id":"sintel","device_id":"d"}`, "expired", 401, "token_expired"},
		{"malformed json", demo.AccountFamily, `{"title_id":`, "", 400, "malformed_json"},
		{"unknown field", demo.AccountFamily, `{"title_id":"sintel","device_id":"d","admin":true}`, "", 400, "unknown_field"},
		{"oversized body", demo.AccountFamily, `{"title_id":"sintel","device_id":"` + strings.Repeat("d", 5000) + `"}`, "", 413, "body_too_large"},
		{"missing title", demo.AccountFamily, `{"device_id":"d"}`, "", 400, "title_id"},
		{"path in title id", demo.AccountFamily, `{"title_id":"../sintel","device_id":"d"}`, "", 400, "title_id"},
		{"unknown device type", demo.AccountFamily, `{"title_id":"sintel","device_id":"d","device_type":"toaster"}`, "", 400, "device_type"},
		{"unknown title", demo.AccountFamily, `{"title_id":"no-such-title","device_id":"d"}`, "", 404, "title_not_found"},
		{"unknown account", "acct_nobody", `{"title_id":"sintel","device_id":"d"}`, "", 404, "account_not_found"},
		{"canceled subscription", demo.AccountCanceled, `{"title_id":"sintel","device_id":"d"}`, "", 403, "subscription_inactive"},
		{"not licensed in territory", demo.AccountFamily, `{"title_id":"us-exclusive","device_id":"d"}`, "", 403, "not_licensed"},
		{"licence window ended", demo.AccountFamily, `{"title_id":"expired-licence","device_id":"d"}`, "", 403, "not_licensed"},
		{"licence window not started", demo.AccountFamily, `{"title_id":"coming-soon","device_id":"d"}`, "", 403, "not_licensed"},
		{"above parental cap", demo.AccountFamily, `{"title_id":"night-of-the-code","device_id":"d"}`, "", 403, "parental_rating"},
		{"kids account", demo.AccountKids, `{"title_id":"sintel","device_id":"d"}`, "", 403, "parental_rating"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			token := h.token(tc.account)
			switch tc.token {
			case "none":
				token = ""
			case "forged":
				token = token[:len(token)-4] + "AAAA"
			case "expired":
				token, _ = auth.MintHS256(kid, jwtKey, issuer, audience, tc.account, time.Minute, time.Now().Add(-time.Hour))
			}
			before, _ := h.store.GetAccount(context.Background(), tc.account)
			rec := h.do(http.MethodPost, "/v1/play", token, tc.body)
			if e := errorOf(t, rec); rec.Code != tc.status || e.Reason != tc.reason {
				t.Fatalf("got %d %+v, want %d reason %s", rec.Code, e, tc.status, tc.reason)
			}
			after, _ := h.store.GetAccount(context.Background(), tc.account)
			active, _ := h.store.ListActiveSessions(context.Background(), tc.account, h.now)
			if len(after.Devices) != len(before.Devices) || len(active) != 0 {
				t.Fatalf("rejected request wrote state: devices %d→%d, %d sessions", len(before.Devices), len(after.Devices), len(active))
			}
		})
	}
}

// TestPlayRefusesNullForAString: the document types device_name and
// device_type as strings (PlayRequest), so null is a value of the wrong
// type, refused as a number is, naming the member; encoding/json reads it
// as the member left out, which the schema allows and null is not.
func TestPlayRefusesNullForAString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, reason, pointer string
	}{
		{"null device name", `{"title_id":"sintel","device_id":"d","device_name":null}`, playback.ReasonWrongType, "/device_name"},
		{"null device type", `{"title_id":"sintel","device_id":"d","device_type":null}`, playback.ReasonWrongType, "/device_type"},
		{"null device type after a name", `{"title_id":"sintel","device_id":"d","device_name":"null","device_type" : null}`, playback.ReasonWrongType, "/device_type"},
		{"device name a number", `{"title_id":"sintel","device_id":"d","device_name":7}`, playback.ReasonWrongType, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			rec := h.do(http.MethodPost, "/v1/play", h.token(demo.AccountFamily), tc.body)
			e := errorOf(t, rec)
			details, _ := e.Details.(map[string]any)
			pointer, _ := details["pointer"].(string)
			if rec.Code != http.StatusBadRequest || e.Reason != tc.reason || pointer != tc.pointer {
				t.Fatalf("got %d %+v, want 400 reason %s, details.pointer %q", rec.Code, e, tc.reason, tc.pointer)
			}
			if active, _ := h.store.ListActiveSessions(context.Background(), demo.AccountFamily, h.now); len(active) != 0 {
				t.Fatalf("a refused play left %d sessions", len(active))
			}
		})
	}
}

// TestPlayOfAnAccountWithoutItsPlan: an entitled account whose plan_id
// names no plan ("" under a Stripe price that maps none, or a plan since
// deleted) is refused 403 plan_missing, the account's configuration
// rather than the request's fault, and the refusal writes nothing.
func TestPlayOfAnAccountWithoutItsPlan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, planID string }{
		{name: "no plan", planID: ""},
		{name: "deleted plan", planID: "gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			ctx := context.Background()
			before, err := h.store.UpdateAccount(ctx, demo.AccountFamily, func(a *playback.Account) error { a.PlanID = tc.planID; return nil })
			if err != nil {
				t.Fatal(err)
			}
			rec := h.play(demo.AccountFamily, "sintel", "d_new")
			if e := errorOf(t, rec); rec.Code != http.StatusForbidden || e.Code != "forbidden" || e.Reason != playback.ReasonPlanMissing {
				t.Fatalf("got %d %+v, want 403 reason %s", rec.Code, e, playback.ReasonPlanMissing)
			}
			after, _ := h.store.GetAccount(ctx, demo.AccountFamily)
			active, _ := h.store.ListActiveSessions(ctx, demo.AccountFamily, h.now)
			if len(after.Devices) != len(before.Devices) || len(active) != 0 {
				t.Fatalf("refused request wrote state: devices %d→%d, %d sessions", len(before.Devices), len(after.Devices), len(active))
			}
		})
	}
}

func TestPastDueGrace(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if rec := h.play(demo.AccountPastDue, "sintel", "d1"); rec.Code != http.StatusCreated {
		t.Fatalf("past_due inside grace: %d %s", rec.Code, rec.Body)
	}
	h.now = h.now.Add(72 * time.Hour) // one day past due + 72h > grace
	if rec := h.play(demo.AccountPastDue, "sintel", "d1"); rec.Code != http.StatusForbidden || errorOf(t, rec).Reason != "subscription_inactive" {
		t.Fatalf("past_due beyond grace: %d %s", rec.Code, rec.Body)
	}
}

func TestDeviceLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // basic plan: 2 devices, 1 stream
	for _, dev := range []string{"phone", "tablet"} {
		if rec := h.play(demo.AccountSolo, "sintel", dev); rec.Code != http.StatusCreated {
			t.Fatalf("%s: %d %s", dev, rec.Code, rec.Body)
		}
		sessions, _ := h.store.ListActiveSessions(context.Background(), demo.AccountSolo, h.now)
		for _, s := range sessions {
			_, _ = h.store.EndSession(context.Background(), s.ID, playback.EndStopped, h.now)
		}
	}
	rec := h.play(demo.AccountSolo, "sintel", "laptop")
	if rec.Code != http.StatusForbidden || errorOf(t, rec).Reason != "device_limit" {
		t.Fatalf("third device: %d %s", rec.Code, rec.Body)
	}
	if rec := h.play(demo.AccountSolo, "sintel", "phone"); rec.Code != http.StatusCreated {
		t.Fatalf("registered device after limit: %d %s", rec.Code, rec.Body)
	}
}

func TestStreamLimitConflictAndEndSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // standard plan: 2 streams
	var first authorizeplay.PlayResponse
	for i, dev := range []string{"tv", "phone"} {
		rec := h.play(demo.AccountFamily, "sintel", dev)
		if rec.Code != http.StatusCreated {
			t.Fatalf("%s: %d %s", dev, rec.Code, rec.Body)
		}
		if i == 0 {
			_ = json.Unmarshal(rec.Body.Bytes(), &first)
		}
		h.now = h.now.Add(time.Second)
	}
	rec := h.play(demo.AccountFamily, "tears-of-steel", "laptop")
	if rec.Code != http.StatusConflict {
		t.Fatalf("third stream: %d %s", rec.Code, rec.Body)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Reason  string `json:"reason"`
			Details struct {
				Limit    int                         `json:"limit"`
				Sessions []authorizeplay.SessionView `json:"sessions"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	got := body.Error.Details.Sessions
	if body.Error.Reason != "stream_limit" || body.Error.Details.Limit != 2 || len(got) != 2 ||
		got[0].DeviceID != "tv" || got[1].DeviceID != "phone" || got[0].TitleID != "sintel" ||
		got[0].StartedAt.IsZero() || got[0].LastSeenAt.IsZero() {
		t.Fatalf("conflict body = %s", rec.Body)
	}

	// Another account cannot end the family's session, nor learn it exists.
	if rec := h.do(http.MethodDelete, "/v1/sessions/"+first.SessionID, h.token(demo.AccountSolo), ""); rec.Code != http.StatusNotFound {
		t.Fatalf("foreign DELETE: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do(http.MethodDelete, "/v1/sessions/"+first.SessionID, h.token(demo.AccountFamily), ""); rec.Code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	if rec := h.play(demo.AccountFamily, "tears-of-steel", "laptop"); rec.Code != http.StatusCreated {
		t.Fatalf("after ending one session: %d %s", rec.Code, rec.Body)
	}
	rec = h.do(http.MethodGet, "/v1/sessions", h.token(demo.AccountFamily), "")
	var list struct {
		Sessions []authorizeplay.SessionView `json:"sessions"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &list)
	devices := []string{}
	for _, s := range list.Sessions {
		devices = append(devices, s.DeviceID)
	}
	if !slices.Equal(devices, []string{"phone", "laptop"}) {
		t.Fatalf("sessions = %v", devices)
	}
}

// TestStreamLimitNamesTheDevices: the 409 of a full household names the
// devices holding its streams as the account registered them, so that
// the player asking can offer "stop the stream on Living room TV" (a
// device id is an opaque string the other player made up); a device
// registered without a name has none.
func TestStreamLimitNamesTheDevices(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // standard plan: 2 streams
	tok := h.token(demo.AccountFamily)
	for _, body := range []string{
		`{"title_id":"sintel","device_id":"tv-7f3a","device_name":"Living room TV"}`,
		`{"title_id":"sintel","device_id":"phone-91c2"}`,
	} {
		if rec := h.do(http.MethodPost, "/v1/play", tok, body); rec.Code != http.StatusCreated {
			t.Fatalf("%s: %d %s", body, rec.Code, rec.Body)
		}
	}
	rec := h.play(demo.AccountFamily, "tears-of-steel", "laptop")
	var body struct {
		Error struct {
			Reason  string `json:"reason"`
			Details struct {
				Sessions []map[string]any `json:"sessions"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusConflict || body.Error.Reason != "stream_limit" {
		t.Fatalf("third stream: %d %s", rec.Code, rec.Body)
	}
	got := map[string]any{}
	for _, s := range body.Error.Details.Sessions {
		got[s["device_id"].(string)] = s["device_name"]
	}
	if want := map[string]any{"tv-7f3a": "Living room TV", "phone-91c2": nil}; !reflect.DeepEqual(got, want) {
		t.Fatalf("conflicting sessions' device names = %v, want %v\n%s", got, want, rec.Body)
	}
}

// TestSessionListNamesTheDevices: GET /v1/sessions, the "manage streams"
// listing, names each session's device as the 409 does.
func TestSessionListNamesTheDevices(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.token(demo.AccountFamily)
	for _, body := range []string{
		`{"title_id":"sintel","device_id":"tv-7f3a","device_name":"Living room TV"}`,
		`{"title_id":"sintel","device_id":"phone-91c2"}`,
	} {
		if rec := h.do(http.MethodPost, "/v1/play", tok, body); rec.Code != http.StatusCreated {
			t.Fatalf("%s: %d %s", body, rec.Code, rec.Body)
		}
	}
	rec := h.do(http.MethodGet, "/v1/sessions", tok, "")
	var list struct {
		Sessions []map[string]any `json:"sessions"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/sessions: %d %s", rec.Code, rec.Body)
	}
	got := map[string]any{}
	for _, s := range list.Sessions {
		got[s["device_id"].(string)] = s["device_name"]
	}
	if want := map[string]any{"tv-7f3a": "Living room TV", "phone-91c2": nil}; !reflect.DeepEqual(got, want) {
		t.Fatalf("listed sessions' device names = %v, want %v\n%s", got, want, rec.Body)
	}
}

func TestSameDeviceSwitchingTitleReplacesItsSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // basic: 1 stream
	if rec := h.play(demo.AccountSolo, "sintel", "tv"); rec.Code != http.StatusCreated {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if rec := h.play(demo.AccountSolo, "big-buck-bunny", "tv"); rec.Code != http.StatusCreated {
		t.Fatalf("switching title on the same device: %d %s", rec.Code, rec.Body)
	}
	active, _ := h.store.ListActiveSessions(context.Background(), demo.AccountSolo, h.now)
	if len(active) != 1 || active[0].TitleID != "big-buck-bunny" {
		t.Fatalf("active = %+v", active)
	}
}

// TestConcurrentPlaysFromOneDevice: plays sent at once from one device
// leave one live session on it, so the household's other device still
// plays; a refused play ends nothing, not even its own device's session.
func TestConcurrentPlaysFromOneDevice(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // standard plan: 2 streams
	for round := range 20 {
		var wg sync.WaitGroup
		codes := make([]int, 4)
		for i := range codes {
			wg.Go(func() { codes[i] = h.play(demo.AccountFamily, "sintel", "tv").Code })
		}
		wg.Wait()
		for _, code := range codes {
			if code != http.StatusCreated {
				t.Fatalf("round %d: same-device plays answered %v, want all 201 (each replaces the last)", round, codes)
			}
		}
		active, err := h.store.ListActiveSessions(context.Background(), demo.AccountFamily, h.now)
		if err != nil {
			t.Fatal(err)
		}
		if len(active) != 1 || active[0].DeviceID != "tv" {
			t.Fatalf("round %d: active = %+v, want one session on tv", round, active)
		}
	}
	if rec := h.play(demo.AccountFamily, "sintel", "phone"); rec.Code != http.StatusCreated {
		t.Fatalf("other device after the burst: %d %s", rec.Code, rec.Body)
	}
	// Both streams are in use; the plan drops to one stream.
	if _, err := h.store.UpdateAccount(context.Background(), demo.AccountFamily, func(a *playback.Account) error {
		a.PlanID = "basic"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before, _ := h.store.ListActiveSessions(context.Background(), demo.AccountFamily, h.now)
	if rec := h.play(demo.AccountFamily, "big-buck-bunny", "tv"); rec.Code != http.StatusConflict {
		t.Fatalf("tv over the lowered limit: %d %s", rec.Code, rec.Body)
	}
	after, _ := h.store.ListActiveSessions(context.Background(), demo.AccountFamily, h.now)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("a refused play changed the sessions:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestExpiredLeaseFreesSlot(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if rec := h.play(demo.AccountSolo, "sintel", "tv"); rec.Code != http.StatusCreated {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if rec := h.play(demo.AccountSolo, "sintel", "phone"); rec.Code != http.StatusConflict {
		t.Fatalf("second stream on basic: %d %s", rec.Code, rec.Body)
	}
	h.now = h.now.Add(3 * time.Minute) // no heartbeat: the tv's lease lapsed
	if rec := h.play(demo.AccountSolo, "sintel", "phone"); rec.Code != http.StatusCreated {
		t.Fatalf("after lease expiry: %d %s", rec.Code, rec.Body)
	}
}

func TestEntitlementLossEndsSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if rec := h.play(demo.AccountFamily, "sintel", "tv"); rec.Code != http.StatusCreated {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	consume := h.srv.Consumers()[events.TopicEntitlementChanged]
	msg := func(entitled bool) playback.Message {
		data, _ := json.Marshal(events.EntitlementChanged{AccountID: demo.AccountFamily, Entitled: entitled, Status: "canceled"})
		return playback.Message{ID: playback.NewID("msg"), Data: data}
	}
	// A stale "lost" event while the account is still active ends nothing.
	if retry := consume(ctx, []playback.Message{msg(false), {ID: "bad", Data: []byte("{")}}); len(retry) != 0 {
		t.Fatalf("retry = %v", retry)
	}
	if active, _ := h.store.ListActiveSessions(ctx, demo.AccountFamily, h.now); len(active) != 1 {
		t.Fatalf("session ended although the account is entitled: %+v", active)
	}
	_, _ = h.store.UpdateAccount(ctx, demo.AccountFamily, func(a *playback.Account) error {
		a.Status = playback.StatusCanceled
		return nil
	})
	if retry := consume(ctx, []playback.Message{msg(false)}); len(retry) != 0 {
		t.Fatalf("retry = %v", retry)
	}
	active, _ := h.store.ListActiveSessions(ctx, demo.AccountFamily, h.now)
	if len(active) != 0 {
		t.Fatalf("sessions still active after entitlement loss: %+v", active)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := authorizeplay.Config{LeaseTTL: time.Minute, TokenTTL: time.Minute, MaxBody: 1}
	good := authorizeplay.Deps{Store: h.store, Identity: stubIdentity{}, Tokens: h.tokens}
	if _, err := authorizeplay.New(cfg, good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		edit       func(*authorizeplay.Deps)
	}{
		{"no deps", "Store", func(d *authorizeplay.Deps) { *d = authorizeplay.Deps{} }},
		{"no identity", "Identity", func(d *authorizeplay.Deps) { d.Identity = nil }},
		{"no keyring", "Tokens", func(d *authorizeplay.Deps) { d.Tokens = nil }},
		// What a wiring getter that failed would hand over: not == nil.
		{"typed nil store", "Store", func(d *authorizeplay.Deps) { d.Store = (*bolt.Store)(nil) }},
		{"typed nil identity", "Identity", func(d *authorizeplay.Deps) { d.Identity = (*auth.Verifier)(nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := good
			tc.edit(&d)
			if _, err := authorizeplay.New(cfg, d); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error naming %s", err, tc.want)
			}
		})
	}
	// A negative grace (PAST_DUE_GRACE=-72h) would refuse every past_due
	// account at once; paymentwebhook, which reads the same setting,
	// refuses to start on it.
	bad := cfg
	bad.PastDueGrace = -72 * time.Hour
	if _, err := authorizeplay.New(bad, good); err == nil || !strings.Contains(err.Error(), "PastDueGrace") {
		t.Fatalf("New with a negative PastDueGrace: %v, want an error naming it", err)
	}
	// PLAYBACK_TOKEN_TTL=500ms: tokens count whole seconds, so each play
	// would take its lease and then fail issuing a token already expired.
	bad = cfg
	bad.TokenTTL = 500 * time.Millisecond
	if _, err := authorizeplay.New(bad, good); err == nil || !strings.Contains(err.Error(), "TokenTTL") {
		t.Fatalf("New with a TokenTTL under a second: %v, want an error naming it", err)
	}
}

// A title stored before the catalogue required a rating has no rating
// field. Its rating is unknown, not 0 (all ages): a profile with a parental
// cap must not play it, whatever the cap; one without a cap may.
func TestUnratedTitleNeedsNoParentalCap(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	const doc = `{"id":"unrated","name":"Unrated","asset_path":"/titles/unrated/","manifest":"master.m3u8",` +
		`"windows":[{"territory":"GB","start":"2024-01-01T00:00:00Z","end":"2099-01-01T00:00:00Z"},` +
		`{"territory":"DE","start":"2024-01-01T00:00:00Z","end":"2099-01-01T00:00:00Z"},` +
		`{"territory":"US","start":"2024-01-01T00:00:00Z","end":"2099-01-01T00:00:00Z"}]}`
	admin := h.store.(playback.AdminStore)
	if _, err := admin.ApplyChanges(ctx, playback.ChangeSet{Actor: "test", At: h.now,
		Changes: []playback.Change{{Kind: playback.KindTitle, ID: "unrated", Doc: json.RawMessage(doc), IfAbsent: true}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, account string
		status        int
		reason        string
	}{
		{name: "kids account, cap 7", account: demo.AccountKids, status: http.StatusForbidden, reason: "parental_rating"},
		{name: "family account, cap 16", account: demo.AccountFamily, status: http.StatusForbidden, reason: "parental_rating"},
		{name: "no cap", account: demo.AccountSolo, status: http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := h.play(tc.account, "unrated", "d-"+tc.account)
			if rec.Code != tc.status {
				t.Fatalf("play: status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.reason != "" {
				if e := errorOf(t, rec); e.Reason != tc.reason {
					t.Fatalf("reason %q, want %q: %s", e.Reason, tc.reason, rec.Body)
				}
			}
		})
	}
	// The record really lacks the field: the store kept what was written.
	rec, err := admin.GetRecord(ctx, playback.KindTitle, "unrated")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(rec.Doc, []byte(`"rating"`)) {
		t.Errorf("stored title %s has a rating", rec.Doc)
	}
}

// TestPlayOfATitleThatCannotBeSigned: a stored title sign URLs refuses to
// grant (its asset path another title's folder or no folder of its own, its
// ladder broken: written before catalogue writes checked it, or straight
// into the store) is refused as sign URLs refuses it, 403
// title_not_signable, and the refusal writes nothing: no session takes a
// stream for media no route delivers, and no manifest URL is handed out.
func TestPlayOfATitleThatCannotBeSigned(t *testing.T) {
	t.Parallel()
	broken := func(edit func(*playback.Title)) playback.Title {
		rating := 0
		ti := playback.Title{ID: "broken", Name: "Broken", Rating: &rating, AssetPath: "/titles/broken/", Manifest: "master.m3u8",
			Windows:    []playback.LicenceWindow{{Territory: "DE", Start: time.Unix(0, 0).UTC(), End: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}},
			Renditions: slices.Clone(demo.Ladder)}
		edit(&ti)
		return ti
	}
	for _, tc := range []struct {
		name  string
		title playback.Title
	}{
		{"another title's folder", broken(func(ti *playback.Title) { ti.AssetPath = "/titles/sintel/" })},
		{"another title's folder, no ladder", broken(func(ti *playback.Title) { ti.AssetPath, ti.Renditions = "/titles/sintel/", nil })},
		{"the root", broken(func(ti *playback.Title) { ti.AssetPath = "/" })},
		{"a wildcard", broken(func(ti *playback.Title) { ti.AssetPath = "/titles/*/broken/" })},
		{"manifest outside the folder", broken(func(ti *playback.Title) { ti.Manifest = "/master.m3u8" })},
		{"two renditions in one folder", broken(func(ti *playback.Title) { ti.Renditions[1].Path = ti.Renditions[0].Path })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			ctx := context.Background()
			if err := h.store.PutTitle(ctx, tc.title); err != nil {
				t.Fatal(err)
			}
			before, _ := h.store.GetAccount(ctx, demo.AccountFamily)
			rec := h.play(demo.AccountFamily, tc.title.ID, "d_new")
			if e := errorOf(t, rec); rec.Code != http.StatusForbidden || e.Reason != "title_not_signable" {
				t.Fatalf("got %d %s, want 403 title_not_signable", rec.Code, rec.Body)
			}
			after, _ := h.store.GetAccount(ctx, demo.AccountFamily)
			active, _ := h.store.ListActiveSessions(ctx, demo.AccountFamily, h.now)
			if len(after.Devices) != len(before.Devices) || len(active) != 0 {
				t.Fatalf("refused play wrote state: devices %d→%d, %d sessions", len(before.Devices), len(after.Devices), len(active))
			}
		})
	}
}

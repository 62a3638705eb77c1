package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/openapi/openapitest"
	"github.com/playplane/playplane/shared/playback"
)

// localRun is one start of the local runner on a data directory.
type localRun struct {
	t   *testing.T
	app *App
	srv *httptest.Server
	// api validates every exchange against the OpenAPI document: a request
	// or answer the document does not describe fails the test.
	api *http.Client
}

func startLocal(t *testing.T, dataDir string) *localRun {
	t.Helper()
	return startLocalWith(t, dataDir, nil)
}

// startLocalWith is startLocal with the functions' variables vars
// (Config.vars) read before the process environment.
func startLocalWith(t *testing.T, dataDir string, vars map[string]string) *localRun {
	t.Helper()
	return startLocalConfig(t, dataDir, func(cfg *Config) { cfg.vars = vars })
}

// startLocalConfig is startLocal with set applied to its Config.
func startLocalConfig(t *testing.T, dataDir string, set func(*Config)) *localRun {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	cfg := Config{DataDir: dataDir, PublicURL: "http://" + srv.Listener.Addr().String(), Issuer: "playplane-local",
		Audience: "playplane", Sync: true}
	set(&cfg)
	app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = app.Handler()
	srv.Start()
	r := &localRun{t: t, app: app, srv: srv, api: openapitest.Client(t)}
	t.Cleanup(r.stop)
	return r
}

func (r *localRun) stop() {
	if r.srv != nil {
		r.srv.Close()
		r.app.Close()
		r.srv = nil
	}
}

func (r *localRun) call(method, path, token, body string, out any) int {
	r.t.Helper()
	req, _ := http.NewRequest(method, r.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.api.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			r.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// fetch GETs an absolute URL of the runner's API through the validating
// client and returns the body of its 200.
func (r *localRun) fetch(url string) string {
	r.t.Helper()
	resp, err := r.api.Get(url)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("GET %s: %d %s", url, resp.StatusCode, raw)
	}
	return string(raw)
}

func (r *localRun) token(account string) string {
	r.t.Helper()
	tok, err := r.app.DevToken(account, time.Hour)
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

// adminToken is an operator's ("ops") admin token for the runner's API.
func (r *localRun) adminToken() string {
	r.t.Helper()
	tok, err := AdminToken(r.app.cfg, "ops", auth.DefaultAdminClaim, time.Hour)
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

// TestConfigVarsComeBeforeTheEnvironment: a runner's own variables
// (Config.vars, how browser tests running side by side give each runner its
// settings) win over the process environment's, and reach the functions: a
// play's lease lasts the LEASE_TTL they name.
func TestConfigVarsComeBeforeTheEnvironment(t *testing.T) {
	t.Setenv("LEASE_TTL", "10m")
	run := startLocalWith(t, t.TempDir(), map[string]string{"LEASE_TTL": "90s"})
	var play struct {
		LeaseExpires time.Time `json:"lease_expires_at"`
	}
	before := time.Now()
	if code := run.call("POST", "/v1/play", run.token(demo.AccountFamily), `{"title_id":"big-buck-bunny","device_id":"tv"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	if ttl := play.LeaseExpires.Sub(before); ttl < 85*time.Second || ttl > 95*time.Second {
		t.Fatalf("lease expires %s after the play: want LEASE_TTL 90s from Config.vars, not the environment's 10m", ttl)
	}
}

// TestLocalFlowSurvivesRestart plays on the local runner, restarts it on the
// same data directory and finds the sessions, devices and dev keys intact.
func TestLocalFlowSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	run := startLocal(t, dir)
	tok := run.token(demo.AccountFamily)
	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"big-buck-bunny","device_id":"tv"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"phone"}`, nil); code != 201 {
		t.Fatalf("second play: %d", code)
	}
	var conflict struct {
		Error struct {
			Reason string `json:"reason"`
		} `json:"error"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"laptop"}`, &conflict); code != 409 || conflict.Error.Reason != "stream_limit" {
		t.Fatalf("third play: %d %+v", code, conflict)
	}
	run.stop()

	run = startLocal(t, dir)
	// The token minted before the restart still verifies: keys persist.
	var list struct {
		Sessions []struct {
			SessionID string `json:"session_id"`
		} `json:"sessions"`
	}
	if code := run.call("GET", "/v1/sessions", tok, "", &list); code != 200 || len(list.Sessions) != 2 || list.Sessions[0].SessionID != play.SessionID {
		t.Fatalf("after restart: %d %+v", code, list)
	}
	if code := run.call("DELETE", "/v1/sessions/"+play.SessionID, tok, "", nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"laptop"}`, nil); code != 201 {
		t.Fatalf("play after ending a session: %d", code)
	}
	if code := run.call("GET", "/healthz", "", "", nil); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
}

func TestWelcomeHasWorkingToken(t *testing.T) {
	run := startLocal(t, t.TempDir())
	var out strings.Builder
	if err := run.app.PrintWelcome(&out); err != nil {
		t.Fatal(err)
	}
	var tok string
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "export TOKEN="); ok {
			tok = v
		}
	}
	if tok == "" {
		t.Fatalf("no token in welcome:\n%s", out.String())
	}
	if code := run.call("GET", "/v1/sessions", tok, "", nil); code != 200 {
		t.Fatalf("printed token rejected: %d", code)
	}
}

// TestWelcomeSaysWhatTheStoreHolds: the welcome describes the demo account
// as stored (an operator may have changed its plan, or the plan), and
// offers no token for accounts that do not exist (SEED=false).
func TestWelcomeSaysWhatTheStoreHolds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		seed    bool
		noDev   bool // DEV_ENDPOINTS=false
		vars    map[string]string
		change  func(t *testing.T, s playback.Store)
		want    []string
		notWant []string
	}{
		{name: "seeded", seed: true,
			want: []string{"Dev token for acct_family (standard plan, 2 streams, DE, valid 24h)", "export TOKEN=", "Other demo accounts: acct_solo, acct_kids, acct_pastdue, acct_canceled",
				"picks a demo account through\nthe runner-only dev route /dev/token"}},
		{name: "the account moved to another plan", seed: true,
			change: func(t *testing.T, s playback.Store) {
				if _, err := s.UpdateAccount(context.Background(), demo.AccountFamily, func(a *playback.Account) error { a.PlanID = "premium"; return nil }); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"Dev token for acct_family (premium plan, 4 streams, DE, valid 24h)"}, notWant: []string{"standard plan"}},
		{name: "the plan changed", seed: true,
			change: func(t *testing.T, s playback.Store) {
				p, err := s.GetPlan(context.Background(), "standard")
				if err != nil {
					t.Fatal(err)
				}
				p.MaxStreams = 3
				if err := s.PutPlan(context.Background(), p); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"Dev token for acct_family (standard plan, 3 streams, DE, valid 24h)"}, notWant: []string{"2 streams"}},
		// After a Stripe cancellation (or an operator's hold) the welcome's own
		// first curl would be refused: it says so rather than offering it.
		{name: "the account was canceled", seed: true,
			change: func(t *testing.T, s playback.Store) {
				if _, err := s.UpdateAccount(context.Background(), demo.AccountFamily, func(a *playback.Account) error { a.Status = playback.StatusCanceled; return nil }); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"Dev token for acct_family (standard plan, 2 streams, DE, canceled: plays are refused, valid 24h)"}},
		{name: "the account is suspended", seed: true,
			change: func(t *testing.T, s playback.Store) {
				if _, err := s.UpdateAccount(context.Background(), demo.AccountFamily, func(a *playback.Account) error { a.Suspended = true; return nil }); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"Dev token for acct_family (standard plan, 2 streams, DE, suspended: plays are refused, valid 24h)"}},
		// STRIPE_WEBHOOK_SECRETS replaces the dev secret (README, Payments
		// locally): events signed with the file's are refused then.
		{name: "webhook secrets set", seed: true, vars: map[string]string{"STRIPE_WEBHOOK_SECRETS": "whsec_from_stripe_listen"},
			want: []string{"(signing secrets from STRIPE_WEBHOOK_SECRETS)"}, notWant: []string{"dev-secrets.json"}},
		// The player page plays demo accounts alone (/dev/token mints for
		// nothing else): on a catalogue of the user's it has none to offer.
		{name: "not seeded", seed: false,
			want:    []string{"playplane is serving on", "this store holds no demo account"},
			notWant: []string{"acct_family", "export TOKEN=", "Other demo accounts", "acct_solo", "picks a demo account"}},
		// Without the dev routes the page can mint no token at all.
		{name: "dev routes off", seed: true, noDev: true,
			want: []string{"DEV_ENDPOINTS=false"}, notWant: []string{"picks a demo account"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewUnstartedServer(nil)
			defer srv.Close()
			app, err := NewApp(context.Background(), Config{DataDir: t.TempDir(), PublicURL: "http://" + srv.Listener.Addr().String(),
				Issuer: "playplane-local", Audience: "playplane", Seed: new(tt.seed), Sync: true, DevEndpoints: !tt.noDev, vars: tt.vars}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close()
			if tt.change != nil {
				tt.change(t, app.store)
			}
			var out strings.Builder
			if err := app.PrintWelcome(&out); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("welcome lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("welcome has %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestStripeCancellationEndsPlayback drives the payment path end to end on
// the local runner: a signed Stripe cancellation is acknowledged, consumed
// from the bus, turns the account's entitlement off, and the entitlement
// consumer ends the household's running streams.
func TestStripeCancellationEndsPlayback(t *testing.T) {
	run := startLocal(t, t.TempDir())
	tok := run.token(demo.AccountFamily)
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"tv"}`, nil); code != 201 {
		t.Fatalf("play: %d", code)
	}
	raw, err := os.ReadFile("../../events/testdata/stripe/customer.subscription.deleted.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["created"] = time.Now().Unix()
	payload, _ := json.Marshal(ev)
	payload = []byte(strings.NewReplacer(`"cus_PlayplaneFamily"`, `"cus_demo_family"`, `"price_std"`, `"price_standard"`).Replace(string(payload)))
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: run.app.secrets.StripeWebhook, Timestamp: time.Now()})
	req, _ := http.NewRequest("POST", run.srv.URL+"/v1/webhooks/stripe", strings.NewReader(string(payload)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", signed.Header)
	resp, err := run.api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("webhook: %d %s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run.app.bus.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Sessions []any `json:"sessions"`
	}
	if code := run.call("GET", "/v1/sessions", tok, "", &list); code != 200 || len(list.Sessions) != 0 {
		t.Fatalf("after cancellation: %d, %d sessions still active", code, len(list.Sessions))
	}
	var denied struct {
		Error struct {
			Reason string `json:"reason"`
		} `json:"error"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"tv"}`, &denied); code != 403 || denied.Error.Reason != "subscription_inactive" {
		t.Fatalf("play after cancellation: %d %+v", code, denied)
	}
}

// TestHeartbeatsKeepPositionAndStopFreesTheSlot plays on a one-stream plan,
// heartbeats, stops, and finds the resume position stored and the stream
// slot free for another device.
func TestHeartbeatsKeepPositionAndStopFreesTheSlot(t *testing.T) {
	run := startLocal(t, t.TempDir())
	tok := run.token(demo.AccountSolo) // basic plan: one stream
	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"tv"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	beat := func(event string, pos int64, at time.Time) int {
		body := fmt.Sprintf(`{"event":%q,"position_ms":%d,"duration_ms":888000,"device_time":%q,"qoe":{"br":3000,"played_ms":%d}}`,
			event, pos, at.UTC().Format(time.RFC3339Nano), pos)
		return run.call("POST", "/v1/playback/"+play.SessionID+"/heartbeat", play.PlaybackToken, body, nil)
	}
	t0 := time.Now()
	for i, ev := range []string{"start", "progress", "progress"} {
		if code := beat(ev, int64(i)*30_000, t0.Add(time.Duration(i)*time.Second)); code/100 != 2 {
			t.Fatalf("heartbeat %s: %d", ev, code)
		}
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"phone"}`, nil); code != 409 {
		t.Fatalf("second stream while the tv plays: %d", code)
	}
	if code := beat("stop", 95_000, t0.Add(3*time.Second)); code/100 != 2 {
		t.Fatalf("stop: %d", code)
	}
	if code := beat("progress", 96_000, t0.Add(4*time.Second)); code != 410 {
		t.Fatalf("heartbeat after stop: %d, want 410", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run.app.bus.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	var progress struct {
		PositionMS int64 `json:"position_ms"`
	}
	if code := run.call("GET", "/v1/progress?title_id=sintel", tok, "", &progress); code != 200 || progress.PositionMS != 95_000 {
		t.Fatalf("progress: %d %+v, want 95000", code, progress)
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"phone"}`, nil); code != 201 {
		t.Fatalf("play after stop: %d", code)
	}
	// The runner hands bolt's batch write to the consumer (Deps.Batch): every
	// consumer call was one transaction, none fell back to session by session.
	if st := run.app.functions["heartbeat"].(*heartbeat.Server).Stats(); st.Batches == 0 || st.BatchWrites != st.Batches {
		t.Fatalf("heartbeat consumer stats %+v: want every batch written in one bolt transaction", st)
	}
}

// TestSignedPlaybackThroughLocalEdge goes authorize → sign → personalized
// manifest → segments on the local runner for both CDN styles. The demo
// titles have a ladder, so the grants cover the plan's renditions only:
// the local edge refuses a UHD segment and another title's with them.
func TestSignedPlaybackThroughLocalEdge(t *testing.T) {
	run := startLocal(t, t.TempDir())
	tok := run.token(demo.AccountFamily) // standard plan: up to HD
	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"big-buck-bunny","device_id":"tv"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	type cookie struct{ Name, Value, Path string }
	// get sends the cookies whose path covers url (a browser), or all of
	// them (an attacker).
	get := func(url string, cookies []cookie, all bool) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for _, c := range cookies {
			if all || strings.Contains(url, c.Path) {
				req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, cdn := range []string{localCloudFront, localCloudCDN} {
		var grant struct {
			ManifestURL string   `json:"manifest_url"`
			QueryParams string   `json:"query_params"`
			Cookies     []cookie `json:"cookies"`
			SteeringURI string   `json:"steering_uri"`
			Manifests   struct {
				HLS, DASH string
			} `json:"manifests"`
		}
		if code := run.call("POST", "/v1/playback/"+play.SessionID+"/urls", play.PlaybackToken, `{"cdn":"`+cdn+`"}`, &grant); code != 200 {
			t.Fatalf("%s: sign: %d", cdn, code)
		}
		if grant.QueryParams != "" || grant.ManifestURL != grant.Manifests.HLS ||
			!strings.HasPrefix(grant.Manifests.HLS, run.srv.URL+"/v1/manifests/"+play.SessionID+"/hls?") ||
			!strings.HasPrefix(grant.Manifests.DASH, run.srv.URL+"/v1/manifests/"+play.SessionID+"/dash?") ||
			!strings.HasPrefix(grant.SteeringURI, run.srv.URL+"/v1/steering/"+play.SessionID+"?") {
			t.Fatalf("%s: grant %+v: want personalized manifests on the runner and no title-wide query", cdn, grant)
		}
		var paths []string
		for _, c := range grant.Cookies {
			paths = append(paths, c.Path)
		}
		if slices.Sort(paths); !slices.Equal(slices.Compact(paths), []string{"/titles/big-buck-bunny/hd/", "/titles/big-buck-bunny/sd/"}) {
			t.Fatalf("%s: cookie paths %v, want the SD and HD folders", cdn, paths)
		}
		for _, r := range []string{"sd", "hd"} {
			if code, body := get(run.srv.URL+"/titles/big-buck-bunny/"+r+"/init.mp4", grant.Cookies, false); code != 200 {
				t.Fatalf("%s: %s init with its grant: %d %.200s", cdn, r, code, body)
			}
		}
		if code, _ := get(run.srv.URL+"/titles/big-buck-bunny/uhd/init.mp4", grant.Cookies, true); code != 403 {
			t.Fatalf("%s: a UHD object with a standard plan's grants: %d, want 403", cdn, code)
		}
		if code, _ := get(run.srv.URL+"/titles/sintel/sd/init.mp4", grant.Cookies, true); code != 403 {
			t.Fatalf("%s: another title's object with this grant: %d, want 403", cdn, code)
		}
		// The personalized manifests and the steering manifest they name,
		// through the validating client: a standard plan's SD and HD only.
		master := run.fetch(grant.Manifests.HLS)
		if !strings.Contains(master, "#EXT-X-CONTENT-STEERING:") || !strings.Contains(master, `PATHWAY-ID="`+cdn+`"`) {
			t.Fatalf("%s: multivariant playlist without steering or the chosen pathway:\n%s", cdn, master)
		}
		var media []string
		for _, line := range strings.Split(master, "\n") {
			if strings.HasPrefix(line, run.srv.URL+"/v1/manifests/"+play.SessionID+"/hls/") {
				media = append(media, line)
			}
		}
		if len(media) == 0 || slices.ContainsFunc(media, func(u string) bool { return strings.Contains(u, "/uhd?") }) {
			t.Fatalf("%s: variant URIs %q: want the SD and HD media playlists on the runner, no UHD", cdn, media)
		}
		for _, u := range media {
			playlist := run.fetch(u)
			if !strings.Contains(playlist, "#EXT-X-MAP:URI=\"http") {
				t.Fatalf("%s: media playlist %s has no absolute EXT-X-MAP:\n%s", cdn, u, playlist)
			}
		}
		if mpd := run.fetch(grant.Manifests.DASH); !strings.Contains(mpd, "<ContentSteering") || strings.Contains(mpd, `id="uhd"`) {
			t.Fatalf("%s: MPD without steering, or with UHD:\n%s", cdn, mpd)
		}
		if steering := run.fetch(grant.SteeringURI); !strings.Contains(steering, `"PATHWAY-PRIORITY"`) {
			t.Fatalf("%s: steering manifest %s", cdn, steering)
		}
		tampered := strings.Replace(grant.Manifests.HLS, "token=m1.", "token=m1.x", 1)
		resp, err := run.api.Get(tampered)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("%s: tampered manifest URL: %d, want 401", cdn, resp.StatusCode)
		}
	}
	// Cookie grants: manifests whose URIs carry no signature.
	var cookieGrant struct {
		Grant     string `json:"grant"`
		Manifests struct{ HLS, DASH string }
	}
	if code := run.call("POST", "/v1/playback/"+play.SessionID+"/urls", play.PlaybackToken, `{"grant":"cookie"}`, &cookieGrant); code != 200 ||
		cookieGrant.Grant != "cookie" || !strings.Contains(cookieGrant.Manifests.DASH, "grant=cookie") {
		t.Fatalf("urls with cookie grants: %d %+v", code, cookieGrant)
	}
	if mpd := run.fetch(cookieGrant.Manifests.DASH); strings.Contains(mpd, "Signature=") || strings.Contains(mpd, "Policy=") {
		t.Fatalf("a cookie-grant MPD carries a signature:\n%s", mpd)
	}
	if code := run.call("DELETE", "/v1/sessions/"+play.SessionID, tok, "", nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code := run.call("POST", "/v1/playback/"+play.SessionID+"/urls", play.PlaybackToken, "", nil); code != 410 {
		t.Fatalf("sign after the session ended: %d, want 410", code)
	}
}

// TestRunnerAnswersNoRouteWithTheEnvelope: the combined mux's own 404 and
// 405 are the JSON error envelope the README promises, 405 with Allow.
func TestRunnerAnswersNoRouteWithTheEnvelope(t *testing.T) {
	t.Parallel()
	run := startLocal(t, t.TempDir())
	for _, tc := range []struct {
		name, method, path string
		wantStatus         int
		wantReason         string
		wantAllow          string
	}{
		{"unknown path", "GET", "/v1/nothing", 404, "route_not_found", ""},
		{"unknown version", "POST", "/v2/play", 404, "route_not_found", ""},
		{"GET on play", "GET", "/v1/play", 405, "method_not_allowed", "POST"},
		{"PUT on a session", "PUT", "/v1/sessions/ses_1", 405, "method_not_allowed", "DELETE"},
		{"GET on heartbeat", "GET", "/v1/playback/ses_1/heartbeat", 405, "method_not_allowed", "POST"},
		{"GET on the Stripe webhook", "GET", "/v1/webhooks/stripe", 405, "method_not_allowed", "POST"},
		{"POST on healthz", "POST", "/healthz", 405, "method_not_allowed", "GET, HEAD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(tc.method, run.srv.URL+tc.path, nil)
			resp, err := run.api.Do(openapitest.Undocumented(req))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct {
				Error struct {
					Code      string `json:"code"`
					Reason    string `json:"reason"`
					RequestID string `json:"request_id"`
				} `json:"error"`
			}
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("Allow") != tc.wantAllow ||
				resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(raw, &e) != nil ||
				e.Error.Reason != tc.wantReason || e.Error.RequestID == "" {
				t.Fatalf("got %d %v %s", resp.StatusCode, resp.Header, raw)
			}
		})
	}
}

// TestStopAfterDeleteThroughTheRunner is issue #12's scenario over the
// runner's real routes: DELETE /v1/sessions/{id}, then the session's token
// sends stop. A stop newer than the stored position, within the grace
// (HEARTBEAT_STOP_GRACE, 30 s) of the DELETE, is recorded; one older than
// it is 410 and moves nothing. (A stop after the grace, the issue's "an
// hour later", is in functions/heartbeat, which controls the clock.)
func TestStopAfterDeleteThroughTheRunner(t *testing.T) {
	t.Parallel()
	run := startLocal(t, t.TempDir())
	tok := run.token(demo.AccountSolo)
	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"big-buck-bunny","device_id":"tv"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	beat := func(event string, position int64, deviceTime time.Time) int {
		body := fmt.Sprintf(`{"event":%q,"position_ms":%d,"duration_ms":596000,"device_time":%q}`,
			event, position, deviceTime.UTC().Format(time.RFC3339Nano))
		return run.call("POST", "/v1/playback/"+play.SessionID+"/heartbeat", play.PlaybackToken, body, nil)
	}
	progress := func() int64 {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := run.app.bus.Idle(ctx); err != nil {
			t.Fatal(err)
		}
		p, err := run.app.store.GetProgress(ctx, demo.AccountSolo, "big-buck-bunny")
		if err != nil {
			t.Fatal(err)
		}
		return p.PositionMS
	}
	t0 := time.Now()
	if code := beat("progress", 123_000, t0); code != 200 {
		t.Fatalf("progress: %d", code)
	}
	if got := progress(); got != 123_000 {
		t.Fatalf("position %d", got)
	}
	if code := run.call("DELETE", "/v1/sessions/"+play.SessionID, tok, "", nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code := beat("progress", 124_000, t0.Add(time.Second)); code != 410 {
		t.Fatalf("progress after DELETE: %d, want 410", code)
	}
	if code := beat("stop", 9_000, t0.Add(-time.Minute)); code != 410 {
		t.Fatalf("older stop after DELETE: %d, want 410", code)
	}
	if got := progress(); got != 123_000 {
		t.Fatalf("position moved to %d by refused heartbeats", got)
	}
	if code := beat("stop", 125_000, t0.Add(2*time.Second)); code != 200 {
		t.Fatalf("newer stop within the grace: %d, want 200", code)
	}
	if got := progress(); got != 125_000 {
		t.Fatalf("position %d, want the stop's 125000", got)
	}
}

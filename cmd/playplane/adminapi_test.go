package main

import (
	"github.com/playplane/playplane/shared/openapi/openapitest"

	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

// startEmpty starts the runner as `SEED=false make run` does: no plans,
// titles, accounts or edges.
func startEmpty(t *testing.T) (*localRun, Config) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	cfg := Config{DataDir: t.TempDir(), PublicURL: "http://" + srv.Listener.Addr().String(), Issuer: "playplane-local",
		Audience: "playplane", Seed: new(false), Sync: true}
	app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = app.Handler()
	srv.Start()
	r := &localRun{t: t, app: app, srv: srv, api: openapitest.Client(t)}
	t.Cleanup(r.stop)
	return r, cfg
}

type apiResp struct {
	status int
	etag   string
	body   []byte
}

func (r apiResp) reason(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct {
			Reason string `json:"reason"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("%d %s: %v", r.status, r.body, err)
	}
	return e.Error.Reason
}

// adminCall calls the runner with an If-Match header and returns the ETag too.
func (r *localRun) adminCall(method, path, token, ifMatch, body string) apiResp {
	r.t.Helper()
	req, _ := http.NewRequest(method, r.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := r.api.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return apiResp{status: resp.StatusCode, etag: resp.Header.Get("ETag"), body: raw}
}

func (r *localRun) mustAPI(method, path, token, ifMatch, body string, want int) apiResp {
	r.t.Helper()
	resp := r.adminCall(method, path, token, ifMatch, body)
	if resp.status != want {
		r.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.status, want, resp.body)
	}
	return resp
}

// TestBringYourOwnCatalogueByAPI is issue 15's done-criterion over the admin
// API: an empty runner, an admin token from `playplane token --admin`, a
// plan, title, edge and account created by API, the account linked to its
// Stripe customer, and the subscriber plays. Along the way the refusals an
// operator meets: a subscriber token, a stale If-Match, a plan in use, a bad
// coverage zone file.
func TestBringYourOwnCatalogueByAPI(t *testing.T) {
	run, cfg := startEmpty(t)
	adminTok, err := runTrim(t, cfg, "token", "--admin", "ops-alice")
	if err != nil {
		t.Fatal(err)
	}
	subTok, err := runTrim(t, cfg, "token", "acct_new")
	if err != nil {
		t.Fatal(err)
	}

	// Nothing to play on an empty runner.
	if code := run.call("POST", "/v1/play", subTok, `{"title_id":"bbb","device_id":"tv"}`, nil); code != http.StatusNotFound {
		t.Fatalf("play on an empty runner: %d", code)
	}
	// The caller's lists of an account not stored yet are empty, alike
	// (the validating client holds both to the document).
	var lists struct {
		Sessions []any `json:"sessions"`
		Devices  []any `json:"devices"`
	}
	for _, path := range []string{"/v1/sessions", "/v1/devices"} {
		if code := run.call("GET", path, subTok, "", &lists); code != http.StatusOK || len(lists.Sessions)+len(lists.Devices) != 0 {
			t.Fatalf("GET %s of an account not stored: %d %+v", path, code, lists)
		}
	}
	// A subscriber's token cannot administer.
	if r := run.adminCall("POST", "/v1/admin/plans", subTok, "", `{"id":"std","name":"Standard","max_streams":2,"max_devices":5,"max_quality":"HD"}`); r.status != http.StatusForbidden || r.reason(t) != "admin_claim_required" {
		t.Fatalf("subscriber token: %d %s", r.status, r.body)
	}

	plan := run.mustAPI("POST", "/v1/admin/plans", adminTok, "", `{"id":"std","name":"Standard","max_streams":1,"max_devices":5,"max_quality":"HD"}`, http.StatusCreated)
	run.mustAPI("POST", "/v1/admin/titles", adminTok, "", `{"id":"bbb","name":"Big Buck Bunny","rating":0,"asset_path":"/titles/bbb/",
		"manifest":"master.m3u8","windows":[{"territory":"DE","start":"2024-01-01T00:00:00Z","end":"2035-01-01T00:00:00Z"}],
		"renditions":[{"path":"sd","quality":"SD","bandwidth":800000,"width":640,"height":360,"codecs":"avc1.4d401e"}]}`, http.StatusCreated)
	run.mustAPI("POST", "/v1/admin/edges", adminTok, "", `{"id":"fra-1","cdn":"local","pop":"fra","base_url":"`+run.srv.URL+`",
		"lat":50.11,"lon":8.68,"asns":[3320],"capacity":100,"weight":1}`, http.StatusCreated)
	acct := run.mustAPI("POST", "/v1/admin/accounts", adminTok, "", `{"id":"acct_new","plan_id":"std","territory":"DE","status":"active"}`, http.StatusCreated)
	linked := run.mustAPI("PUT", "/v1/admin/accounts/acct_new/customer", adminTok, acct.etag, `{"customer_id":"cus_new"}`, http.StatusOK)
	if id, err := run.app.store.AccountIDByCustomer(context.Background(), "cus_new"); err != nil || id != "acct_new" {
		t.Fatalf("customer link: %q %v", id, err)
	}

	// The subscriber plays.
	var play struct {
		SessionID  string           `json:"session_id"`
		MaxQuality playback.Quality `json:"max_quality"`
	}
	if code := run.call("POST", "/v1/play", subTok, `{"title_id":"bbb","device_id":"tv"}`, &play); code != http.StatusCreated || play.SessionID == "" || play.MaxQuality != playback.QualityHD {
		t.Fatalf("play: %d %+v", code, play)
	}

	// A stale If-Match is refused and changes nothing.
	if r := run.adminCall("PUT", "/v1/admin/accounts/acct_new", adminTok, acct.etag, `{"id":"acct_new","plan_id":"std","territory":"FR","status":"active"}`); r.status != http.StatusPreconditionFailed || r.reason(t) != "version_mismatch" {
		t.Fatalf("stale If-Match: %d %s", r.status, r.body)
	}
	// (Playing registered the device: the version moved on since the link,
	// whoever wrote, so the link's ETag is stale too.)
	got := run.mustAPI("GET", "/v1/admin/accounts/acct_new", adminTok, "", "", http.StatusOK)
	if got.etag == linked.etag || !strings.Contains(string(got.body), `"territory":"DE"`) || !strings.Contains(string(got.body), `"id":"tv"`) {
		t.Fatalf("account after a refused write: %s %s", got.etag, got.body)
	}
	// Linked to a Stripe customer, its status is Stripe's: 409, nothing written.
	if r := run.adminCall("PUT", "/v1/admin/accounts/acct_new", adminTok, got.etag, `{"id":"acct_new","plan_id":"std","territory":"DE","status":"canceled","customer_id":"cus_new"}`); r.status != http.StatusConflict || r.reason(t) != playback.ReasonManagedInStripe {
		t.Fatalf("status of a Stripe customer's account: %d %s", r.status, r.body)
	}
	// The plan is in use: 409 with the count.
	r := run.adminCall("DELETE", "/v1/admin/plans/std", adminTok, plan.etag, "")
	var inUse struct {
		Error struct {
			Reason  string             `json:"reason"`
			Details playback.PlanInUse `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &inUse); err != nil || r.status != http.StatusConflict || inUse.Error.Reason != "plan_in_use" || inUse.Error.Details.Accounts != 1 {
		t.Fatalf("delete plan in use: %d %s", r.status, r.body)
	}

	// Coverage zones: a good file, a bad one refused with each error, the
	// good one still served.
	good := `{"coverageZones":{"fra":{"network":["10.0.0.0/8"]}}}`
	run.mustAPI("PUT", "/v1/admin/coverage-zones", adminTok, "", good, http.StatusCreated)
	bad := run.adminCall("PUT", "/v1/admin/coverage-zones", adminTok, "", `{"coverageZones":{"fra":{"network":["10.0.0.0/40","x"]}}}`)
	if bad.status != http.StatusUnprocessableEntity || bad.reason(t) != "validation_failed" ||
		!strings.Contains(string(bad.body), "/coverageZones/fra/network/0") || !strings.Contains(string(bad.body), "/coverageZones/fra/network/1") {
		t.Fatalf("bad coverage zones: %d %s", bad.status, bad.body)
	}
	if latest := run.mustAPI("GET", "/v1/admin/coverage-zones", adminTok, "", "", http.StatusOK); string(latest.body) != good || latest.etag != `"1"` {
		t.Fatalf("latest coverage zones: %s %s", latest.etag, latest.body)
	}

	// Suspending the account ends the stream and refuses the next play.
	run.mustAPI("POST", "/v1/admin/accounts/acct_new/suspend", adminTok, "", "", http.StatusOK)
	var refused struct {
		Error struct {
			Reason string `json:"reason"`
		} `json:"error"`
	}
	if code := run.call("POST", "/v1/play", subTok, `{"title_id":"bbb","device_id":"tv"}`, &refused); code != http.StatusForbidden || refused.Error.Reason != "account_suspended" {
		t.Fatalf("play while suspended: %d %+v", code, refused)
	}

	// Every change is in the audit log, newest first, by the operator.
	var audit playback.AuditPage
	if err := json.Unmarshal(run.mustAPI("GET", "/v1/admin/audit?limit=100", adminTok, "", "", http.StatusOK).body, &audit); err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, ar := range audit.Records {
		if ar.Actor != "admin:ops-alice" {
			t.Fatalf("audit actor %q", ar.Actor)
		}
		for _, c := range ar.Changes {
			trail = append(trail, string(c.Kind)+":"+c.Op)
		}
	}
	want := "account:update,coverage_zones:create,account:update,account:create,edge:create,title:create,plan:create"
	if strings.Join(trail, ",") != want {
		t.Fatalf("audit trail %v, want %s", trail, want)
	}
}

func runTrim(t *testing.T, cfg Config, args ...string) (string, error) {
	t.Helper()
	out, err := run(t, cfg, args...)
	return strings.TrimSpace(out), err
}

// TestAdminUnknownMemberIsAProblem: the README says the admin API's
// catalogue records answer an unknown member as a 422 validation_failed
// problem naming it (the catalogue schema), where other routes' strict
// decoding answers 400 unknown_field.
func TestAdminUnknownMemberIsAProblem(t *testing.T) {
	t.Parallel()
	run := startLocal(t, t.TempDir())
	bad := run.adminCall("POST", "/v1/admin/plans", run.adminToken(), "",
		`{"id":"extra","name":"Extra","max_streams":1,"max_devices":1,"max_quality":"HD","colour":"red"}`)
	if bad.status != http.StatusUnprocessableEntity || bad.reason(t) != "validation_failed" || !strings.Contains(string(bad.body), `additional properties 'colour' not allowed`) {
		t.Fatalf("unknown member: %d %s", bad.status, bad.body)
	}
}

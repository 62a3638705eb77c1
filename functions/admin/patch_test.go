package admin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

func (h *harness) patch(path, ifMatch, contentType, body string) resp {
	h.t.Helper()
	req := httptest.NewRequest("PATCH", path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.admin)
	req.Header.Set("Content-Type", contentType)
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return resp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// TestPatchAccount: a JSON merge patch changes the settings it names and
// keeps the others (and the account's devices); null resets a setting;
// the result is checked as a PUT (a Stripe customer's plan is Stripe's:
// 409); If-Match is required and a stale one is 412; the media type must
// be merge-patch.
func TestPatchAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	h.mustDo("POST", "/v1/admin/plans", "", `{"id":"prem","name":"Premium","max_streams":4,"max_devices":8,"max_quality":"UHD"}`, http.StatusCreated)
	h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"acct_a","plan_id":"std","territory":"DE","status":"active","parental_cap":16,"email":"a@example.com","customer_id":"cus_a"}`, http.StatusCreated)
	// Stripe's subscription names the plan: the plan is Stripe's.
	stripeEvent(t, h.store, "acct_a", 100, playback.StatusActive, "std")
	etag := h.mustDo("GET", "/v1/admin/accounts/acct_a", "", "", http.StatusOK).header.Get("ETag")

	for _, tc := range []struct {
		name, ifMatch, contentType, body string
		status                           int
		reason                           string
	}{
		{name: "no If-Match", contentType: admin.MergePatchType, body: `{"territory":"FR"}`, status: 400, reason: "if_match_required"},
		{name: "plain JSON", ifMatch: etag, contentType: "application/json", body: `{"territory":"FR"}`, status: 415, reason: "content_type"},
		{name: "not an object", ifMatch: etag, contentType: admin.MergePatchType, body: `["territory"]`, status: 400, reason: playback.ReasonMalformedJSON},
		{name: "a setting twice", ifMatch: etag, contentType: admin.MergePatchType, body: `{"territory":"FR","territory":"GB"}`, status: 400, reason: playback.ReasonDuplicateField},
		{name: "unknown plan", ifMatch: etag, contentType: admin.MergePatchType, body: `{"plan_id":"gold"}`, status: 422, reason: admin.ReasonValidation},
		{name: "a Stripe customer's plan", ifMatch: etag, contentType: admin.MergePatchType, body: `{"plan_id":"prem"}`, status: 409, reason: playback.ReasonManagedInStripe},
		{name: "removing a required setting", ifMatch: etag, contentType: admin.MergePatchType, body: `{"territory":null}`, status: 422, reason: admin.ReasonValidation},
		// A number no float64 holds is the PUT's 422 naming the field,
		// not a 500 "retry later" from merging it.
		{name: "a number beyond float64", ifMatch: etag, contentType: admin.MergePatchType, body: `{"parental_cap":1e400}`, status: 422, reason: admin.ReasonValidation},
		{name: "another id", ifMatch: etag, contentType: admin.MergePatchType, body: `{"id":"acct_b"}`, status: 422, reason: admin.ReasonValidation},
		{name: "stale", ifMatch: `"stale"`, contentType: admin.MergePatchType, body: `{"territory":"FR"}`, status: 412, reason: "version_mismatch"},
	} {
		r := h.patch("/v1/admin/accounts/acct_a", tc.ifMatch, tc.contentType, tc.body)
		if r.status != tc.status || r.errBody(t).Reason != tc.reason {
			t.Fatalf("%s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.reason)
		}
	}
	if got := h.mustDo("GET", "/v1/admin/accounts/acct_a", "", "", http.StatusOK); got.header.Get("ETag") != etag {
		t.Fatal("a refused patch wrote")
	}
	// A patch in a format the server does not take names the one it does
	// (RFC 5789 section 2.2: the 415 SHOULD carry Accept-Patch).
	if r := h.patch("/v1/admin/accounts/acct_a", etag, "application/json-patch+json", `[]`); r.status != http.StatusUnsupportedMediaType ||
		r.header.Get("Accept-Patch") != admin.MergePatchType {
		t.Fatalf("a JSON Patch: %d, Accept-Patch %q, want 415 and %q", r.status, r.header.Get("Accept-Patch"), admin.MergePatchType)
	}

	r := h.patch("/v1/admin/accounts/acct_a", etag, admin.MergePatchType, `{"territory":"FR","parental_cap":null}`)
	if r.status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	var a playback.Account
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatal(err)
	}
	if a.PlanID != "std" || a.ParentalCap != 0 || a.Territory != "FR" || a.Email != "a@example.com" || a.CustomerID != "cus_a" || a.Status != playback.StatusActive {
		t.Fatalf("patched account %+v", a)
	}
	if r.header.Get("ETag") == etag {
		t.Fatal("the version did not move")
	}
	// The change is audited like any write.
	var audit playback.AuditPage
	_ = json.Unmarshal(h.mustDo("GET", "/v1/admin/audit?limit=1", "", "", http.StatusOK).body, &audit)
	if len(audit.Records) != 1 || audit.Records[0].Changes[0].ID != "acct_a" || audit.Records[0].Changes[0].Op == "" {
		t.Fatalf("audit %+v", audit)
	}
}

// The catalogue schema counts 2.0 and 1e1 as integers (JSON Schema
// 2020-12), so a write that spells an integer so was let through the
// schema and then refused by Go's decode: 422 at pointer "" naming a Go
// struct field. POST, PUT and PATCH store the integer; one beyond what
// is stored is 422 at its member.
func TestIntegralNumbersAreIntegers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	h.mustDo("POST", "/v1/admin/plans", "", `{"id":"std","name":"Standard","max_streams":2.0,"max_devices":5e0,"max_quality":"HD"}`, http.StatusCreated)
	var p playback.Plan
	if err := json.Unmarshal(h.mustDo("GET", "/v1/admin/plans/std", "", "", http.StatusOK).body, &p); err != nil || p.MaxStreams != 2 || p.MaxDevices != 5 {
		t.Fatalf("plan %+v, %v", p, err)
	}
	etag := h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated).header.Get("ETag")
	etag = h.mustDo("PUT", "/v1/admin/accounts/acct_a", etag, `{"id":"acct_a","plan_id":"std","territory":"DE","parental_cap":12.0}`, http.StatusOK).header.Get("ETag")
	r := h.patch("/v1/admin/accounts/acct_a", etag, admin.MergePatchType, `{"parental_cap":1.6e1}`)
	if r.status != http.StatusOK {
		t.Fatalf("patch of 1.6e1: %d %s", r.status, r.body)
	}
	var a playback.Account
	if err := json.Unmarshal(h.mustDo("GET", "/v1/admin/accounts/acct_a", "", "", http.StatusOK).body, &a); err != nil || a.ParentalCap != 16 {
		t.Fatalf("account %+v, %v", a, err)
	}

	r = h.do("POST", "/v1/admin/titles", h.admin, "", `{"id":"t","name":"T","rating":0,"asset_path":"/titles/t/","manifest":"m.m3u8",
		"renditions":[{"path":"sd","quality":"SD","bandwidth":1e19,"width":640,"height":360,"codecs":"avc1"}]}`)
	var e struct {
		Error struct {
			Details admin.Problems `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != http.StatusUnprocessableEntity ||
		len(e.Error.Details.Problems) != 1 || e.Error.Details.Problems[0].Pointer != "/renditions/0/bandwidth" {
		t.Fatalf("bandwidth 1e19: %d %s, want 422 at /renditions/0/bandwidth", r.status, r.body)
	}
}

// A number beyond float64 where the schema sets no maximum (an edge's
// capacity) passed the schema and was refused by Go's decode: 422 at
// pointer "" naming a Go struct field. It is 422 at its member, and the
// edge is left as it was.
func TestNumberBeyondFloat64(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	etag := h.mustDo("POST", "/v1/admin/edges", "", edgeFra, http.StatusCreated).header.Get("ETag")
	body := strings.Replace(edgeFra, `"capacity":100`, `"capacity":1e400`, 1)
	if body == edgeFra {
		t.Fatalf("edge %s has no capacity 100", edgeFra)
	}
	r := h.do("PUT", "/v1/admin/edges/fra-1", h.admin, etag, body)
	var e struct {
		Error struct {
			Details admin.Problems `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != http.StatusUnprocessableEntity ||
		len(e.Error.Details.Problems) != 1 || e.Error.Details.Problems[0].Pointer != "/capacity" {
		t.Fatalf("capacity 1e400: %d %s, want 422 at /capacity", r.status, r.body)
	}
	if got := h.mustDo("GET", "/v1/admin/edges/fra-1", "", "", http.StatusOK).header.Get("ETag"); got != etag {
		t.Fatalf("edge written: ETag %s, was %s", got, etag)
	}
}

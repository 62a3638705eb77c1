package admin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/openapi/openapitest"
)

// TestIfMatchComparesTheTagAsWritten: an entity-tag is the characters
// between its double quotes, compared character by character (RFC 9110
// sections 8.8.3 and 8.8.3.2); a backslash in it is one of them, not an
// escape. So an If-Match that spells the current version with an escape is
// another tag (412), and a tag not in double quotes is no tag (400).
func TestIfMatchComparesTheTagAsWritten(t *testing.T) {
	t.Parallel()
	const title = `{"id":"bbb","name":"%s","rating":0,"asset_path":"/titles/bbb/","manifest":"master.m3u8"}`
	for _, tc := range []struct {
		name   string
		spell  func(tag string) string // from the ETag GET gave
		status int
		reason string
	}{
		{name: "as given", spell: func(tag string) string { return tag }, status: http.StatusOK},
		{name: "first character escaped", spell: func(tag string) string {
			return fmt.Sprintf(`"\x%02x%s`, tag[1], tag[2:])
		}, status: http.StatusPreconditionFailed, reason: "version_mismatch"},
		{name: "backquoted", spell: func(tag string) string {
			return "`" + strings.Trim(tag, `"`) + "`"
		}, status: http.StatusBadRequest, reason: "if_match_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, auth.DefaultAdminClaim)
			tag := h.mustDo("POST", "/v1/admin/titles", "", fmt.Sprintf(title, "One"), http.StatusCreated).header.Get("ETag")
			r := h.do("PUT", "/v1/admin/titles/bbb", h.admin, tc.spell(tag), fmt.Sprintf(title, "Two"))
			if r.status != tc.status {
				t.Fatalf("If-Match %s over ETag %s: status %d, want %d: %s", tc.spell(tag), tag, r.status, tc.status, r.body)
			}
			if tc.reason != "" && r.errBody(t).Reason != tc.reason {
				t.Fatalf("reason %q, want %q", r.errBody(t).Reason, tc.reason)
			}
		})
	}
}

// TestZonesIfMatchIsTheVersionAsWritten: a coverage zone file's ETag is
// its version in plain digits; "+1" or "01" is no version's tag, and a
// write conditioned on one is refused, not taken as version 1's. A list
// holds when it names the latest version, strongly (as records' do).
func TestZonesIfMatchIsTheVersionAsWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ifMatch string
		status        int
	}{
		{name: "as given", ifMatch: `"1"`, status: http.StatusCreated},
		{name: "plus sign", ifMatch: `"+1"`, status: http.StatusBadRequest},
		{name: "leading zero", ifMatch: `"01"`, status: http.StatusBadRequest},
		{name: "the current version second in a list", ifMatch: `"7", "1"`, status: http.StatusCreated},
		{name: "a list of other versions", ifMatch: `"2", "3"`, status: http.StatusPreconditionFailed},
		{name: "the current version weak", ifMatch: `W/"1"`, status: http.StatusPreconditionFailed},
		{name: "a list with a tag no version spells", ifMatch: `"1", "01"`, status: http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, auth.DefaultAdminClaim)
			h.mustDo("PUT", "/v1/admin/coverage-zones", "", zonesGood, http.StatusCreated)
			if r := h.do("PUT", "/v1/admin/coverage-zones", h.admin, tc.ifMatch, zonesGood2); r.status != tc.status {
				t.Fatalf("If-Match %s over ETag \"1\": status %d, want %d: %s", tc.ifMatch, r.status, tc.status, r.body)
			}
		})
	}
}

// TestZonesIfMatchStarNeedsAFile: If-Match "*" is false when the target
// has no current representation (RFC 9110 section 13.1.1), and with no
// coverage zone file stored GET answers 404: so an upload on "*" is 412
// then and writes nothing, and goes through once a file is stored.
func TestZonesIfMatchStarNeedsAFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		stored bool
		status int
	}{
		{name: "none stored", status: http.StatusPreconditionFailed},
		{name: "one stored", stored: true, status: http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, auth.DefaultAdminClaim)
			if tc.stored {
				h.mustDo("PUT", "/v1/admin/coverage-zones", "", zonesGood, http.StatusCreated)
			}
			if r := h.do("PUT", "/v1/admin/coverage-zones", h.admin, "*", zonesGood2); r.status != tc.status {
				t.Fatalf("If-Match * with %s: status %d, want %d: %s", tc.name, r.status, tc.status, r.body)
			}
			if !tc.stored {
				h.mustDo("GET", "/v1/admin/coverage-zones", "", "", http.StatusNotFound)
			}
		})
	}
}

// TestAccountActionsTakeIfMatchAsDocumented: suspend, unsuspend and the
// customer link take an optional If-Match (docs/catalogue.md), a stale one
// answering 412 and writing nothing; through the validating client, so the
// OpenAPI document must say so, and a client generated from it knows the
// header and the answer.
func TestAccountActionsTakeIfMatchAsDocumented(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, path, body string
	}{
		{name: "suspend", method: "POST", path: "/v1/admin/accounts/acct_a/suspend"},
		{name: "unsuspend", method: "POST", path: "/v1/admin/accounts/acct_a/unsuspend"},
		{name: "customer link", method: "PUT", path: "/v1/admin/accounts/acct_a/customer", body: `{"customer_id":"cus_1"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, auth.DefaultAdminClaim)
			h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
			tag := h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated).header.Get("ETag")
			if tc.name == "unsuspend" {
				tag = h.mustDo("POST", "/v1/admin/accounts/acct_a/suspend", tag, "", http.StatusOK).header.Get("ETag")
			}
			srv := httptest.NewServer(h.h)
			t.Cleanup(srv.Close)
			api := openapitest.Client(t)
			call := func(ifMatch string) *http.Response {
				req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+h.admin)
				req.Header.Set("If-Match", ifMatch)
				if tc.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := api.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp
			}
			if resp := call(`"stale"`); resp.StatusCode != http.StatusPreconditionFailed {
				t.Fatalf("stale If-Match: status %d, want 412", resp.StatusCode)
			}
			if got := h.mustDo("GET", "/v1/admin/accounts/acct_a", "", "", http.StatusOK).header.Get("ETag"); got != tag {
				t.Fatalf("the refused %s wrote: ETag %s, was %s", tc.name, got, tag)
			}
			if resp := call(tag); resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == tag {
				t.Fatalf("current If-Match: status %d, ETag %s (was %s), want 200 and a new version", resp.StatusCode, resp.Header.Get("ETag"), tag)
			}
		})
	}
}

// TestIfMatchListsAndWeakTags: If-Match is "*" or a list of entity-tags,
// over one field line or several, and holds when any tag of the list is
// the current version by the strong comparison (RFC 9110 sections 13.1.1
// and 8.8.3.2): a weak tag never matches, so it is a failed condition
// (412), not a malformed one (400), and a write conditioned on it writes
// nothing.
func TestIfMatchListsAndWeakTags(t *testing.T) {
	t.Parallel()
	const title = `{"id":"bbb","name":"%s","rating":0,"asset_path":"/titles/bbb/","manifest":"master.m3u8"}`
	for _, tc := range []struct {
		name    string
		method  string // on the title; PUT when empty
		ifMatch func(tag string) []string
		status  int
		reason  string
	}{
		{name: "current tag second in a list", ifMatch: func(tag string) []string { return []string{`"stale", ` + tag} }, status: http.StatusOK},
		{name: "current tag on a second field line", ifMatch: func(tag string) []string { return []string{`"stale"`, tag} }, status: http.StatusOK},
		{name: "empty list elements", ifMatch: func(tag string) []string { return []string{` , ` + tag + ` ,`} }, status: http.StatusOK},
		{name: "a list of stale tags", ifMatch: func(string) []string { return []string{`"a", "b"`} }, status: http.StatusPreconditionFailed, reason: "version_mismatch"},
		{name: "the current tag weak", ifMatch: func(tag string) []string { return []string{"W/" + tag} }, status: http.StatusPreconditionFailed, reason: "version_mismatch"},
		{name: "an empty tag", ifMatch: func(string) []string { return []string{`""`} }, status: http.StatusPreconditionFailed, reason: "version_mismatch"},
		{name: "star in a list", ifMatch: func(tag string) []string { return []string{`*, ` + tag} }, status: http.StatusBadRequest, reason: "if_match_invalid"},
		{name: "text after a tag", ifMatch: func(tag string) []string { return []string{tag + ` x`} }, status: http.StatusBadRequest, reason: "if_match_invalid"},
		{name: "delete, current tag second in a list", method: "DELETE", ifMatch: func(tag string) []string { return []string{`"stale", ` + tag} }, status: http.StatusNoContent},
		{name: "delete, the current tag weak", method: "DELETE", ifMatch: func(tag string) []string { return []string{"W/" + tag} }, status: http.StatusPreconditionFailed, reason: "version_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, auth.DefaultAdminClaim)
			tag := h.mustDo("POST", "/v1/admin/titles", "", fmt.Sprintf(title, "One"), http.StatusCreated).header.Get("ETag")
			method, body := tc.method, ""
			if method == "" {
				method, body = "PUT", fmt.Sprintf(title, "Two")
			}
			req := httptest.NewRequest(method, "/v1/admin/titles/bbb", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+h.admin)
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			for _, v := range tc.ifMatch(tag) {
				req.Header.Add("If-Match", v)
			}
			rec := httptest.NewRecorder()
			h.h.ServeHTTP(rec, req)
			r := resp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
			if r.status != tc.status {
				t.Fatalf("%s with If-Match %q over ETag %s: status %d, want %d: %s", method, tc.ifMatch(tag), tag, r.status, tc.status, r.body)
			}
			if tc.reason == "" {
				return
			}
			if r.errBody(t).Reason != tc.reason {
				t.Fatalf("reason %q, want %q", r.errBody(t).Reason, tc.reason)
			}
			if got := h.mustDo("GET", "/v1/admin/titles/bbb", "", "", http.StatusOK).header.Get("ETag"); got != tag {
				t.Fatalf("the refused %s wrote: ETag %s, was %s", method, got, tag)
			}
		})
	}
}

// TestIfMatchStarHoldsWhileAnotherWriteLands: If-Match * holds while the
// record exists, whatever its version (RFC 9110 section 13.1.1), so a
// write that lands between the request's read and its write (a payment
// event on an account, an edge's health report) does not fail it: 412 is
// for a condition that does not hold, and * still does. A tag the write
// overtook still fails.
func TestIfMatchStarHoldsWhileAnotherWriteLands(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, body string
		star               bool
		status             int
	}{
		{name: "PUT", method: "PUT", body: acctA, star: true, status: http.StatusOK},
		{name: "PATCH", method: "PATCH", body: `{"parental_cap":12}`, star: true, status: http.StatusOK},
		{name: "DELETE", method: "DELETE", star: true, status: http.StatusNoContent},
		{name: "PUT with the tag overtaken", method: "PUT", body: acctA, status: http.StatusPreconditionFailed},
		{name: "PATCH with the tag overtaken", method: "PATCH", body: `{"parental_cap":12}`, status: http.StatusPreconditionFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := &writeAfterRead{Store: boltStore(t)}
			h := newHarnessOn(t, auth.DefaultAdminClaim, store)
			h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
			ifMatch := h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated).header.Get("ETag")
			if tc.star {
				ifMatch = "*"
			}
			store.armed.Store(true)
			var r resp
			if tc.method == "PATCH" {
				r = h.patch("/v1/admin/accounts/acct_a", ifMatch, admin.MergePatchType, tc.body)
			} else {
				r = h.do(tc.method, "/v1/admin/accounts/acct_a", h.admin, ifMatch, tc.body)
			}
			if r.status != tc.status {
				t.Fatalf("%s with If-Match %s overtaken by a write: status %d, want %d: %s", tc.method, ifMatch, r.status, tc.status, r.body)
			}
			// A PUT replaces what landed; a PATCH merges over it.
			switch {
			case tc.method == "PUT" && tc.star && !strings.Contains(string(r.body), `"territory":"DE"`):
				t.Fatalf("PUT with If-Match *: %s, want the request's territory DE over the other write's FR", r.body)
			case tc.method == "PATCH" && tc.star && (!strings.Contains(string(r.body), `"territory":"FR"`) || !strings.Contains(string(r.body), `"parental_cap":12`)):
				t.Fatalf("PATCH with If-Match *: %s, want the other write's territory FR and the patch's parental_cap 12", r.body)
			}
		})
	}
}

package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// TestAccountCustomerIDHoldsToTheLinkRule: an account's customer_id is
// held to the rule of PUT .../customer (1-256 bytes without '|', '#', '/'
// or spaces, not ., .. or __x__) when the account is written whole, so that a refused id is a
// 422 that writes nothing. Firestore cannot key a link by an id with '/':
// the account was written there, then the link failed with 400. Nor by
// ".", ".." or __x__ (reserved), which its emulator takes: bolt wrote the
// account and its link, Cloud Firestore would have answered 400.
func TestAccountCustomerIDHoldsToTheLinkRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) playback.Store
	}{
		{name: "bolt", store: boltStore},
		{name: "firestore emulator", store: firestoreStore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessOn(t, auth.DefaultAdminClaim, tc.store(t))
			h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
			for _, id := range []string{"cus/1", "cus 1", "cus|1", "__cus__", ".", ".."} {
				r := h.do("POST", "/v1/admin/accounts", h.admin, "", `{"id":"acct_x","plan_id":"std","territory":"DE","customer_id":"`+id+`"}`)
				if r.status != http.StatusUnprocessableEntity || r.errBody(t).Reason != admin.ReasonValidation {
					t.Fatalf("customer_id %q: %d %s, want 422 %s", id, r.status, r.body, admin.ReasonValidation)
				}
				if r := h.do("GET", "/v1/admin/accounts/acct_x", h.admin, "", ""); r.status != http.StatusNotFound {
					t.Fatalf("customer_id %q refused, yet the account reads %d %s", id, r.status, r.body)
				}
			}
		})
	}
}

// TestReservedRecordIDsAreRefused: a record id Cloud Firestore cannot take
// as a document id (__x__ is reserved; the emulator stores it) is refused
// by the admin API on every store alike, as a body's field (422) or a
// path's id (400 id_invalid), and nothing is written. Before, bolt, DynamoDB and the emulator answered 201, and Cloud
// Firestore's INVALID_ARGUMENT would have been a 500.
func TestReservedRecordIDsAreRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range everyStore {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessOn(t, auth.DefaultAdminClaim, tc.store(t))
			// "a?b": an HTTP API cuts a decoded path at '?', so no
			// deployment on AWS could address it again.
			for _, id := range []string{"__std__", "____", "a?b"} {
				plan := strings.Replace(planStd, `"id":"std"`, `"id":"`+id+`"`, 1)
				if r := h.do("POST", "/v1/admin/plans", h.admin, "", plan); r.status != http.StatusUnprocessableEntity || r.errBody(t).Reason != admin.ReasonValidation {
					t.Fatalf("POST plan %q: %d %s, want 422 %s", id, r.status, r.body, admin.ReasonValidation)
				}
				if r := h.do("GET", "/v1/admin/plans/"+url.PathEscape(id), h.admin, "", ""); r.status != http.StatusBadRequest || r.errBody(t).Reason != "id_invalid" {
					t.Fatalf("GET plan %q: %d %s, want 400 id_invalid", id, r.status, r.body)
				}
			}
			if r := h.do("GET", "/v1/admin/plans", h.admin, "", ""); r.status != http.StatusOK || strings.Contains(string(r.body), "__") || strings.Contains(string(r.body), "a?b") {
				t.Fatalf("plans after the refusals: %d %s, want none", r.status, r.body)
			}
		})
	}
}

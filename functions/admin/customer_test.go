package admin_test

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// TestAccountCustomerIDHoldsToTheLinkRule: an account's customer_id is
// held to the rule of PUT .../customer (1-256 bytes without '|', '#', '/'
// or spaces) when the account is written whole, so that a refused id is a
// 422 that writes nothing. Firestore cannot key a link by an id with '/':
// the account was written there, then the link failed with 400.
func TestAccountCustomerIDHoldsToTheLinkRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) playback.Store
	}{
		{name: "bolt", store: func(t *testing.T) playback.Store {
			s, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{name: "firestore emulator", store: firestoreStore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessOn(t, auth.DefaultAdminClaim, tc.store(t))
			h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
			for _, id := range []string{"cus/1", "cus 1", "cus|1"} {
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

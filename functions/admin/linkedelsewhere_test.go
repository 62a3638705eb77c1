package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// TestOperatorLinksACustomerToOneAccount: a Stripe customer routes its
// events to one account (the customer → account link), so an operator's
// link of a customer another account names (PUT .../customer, or
// customer_id in a POST, PUT or PATCH of an account) is 409
// customer_linked_elsewhere naming that account, and writes nothing.
// Before, the last link won: the other account kept customer_id, stayed
// managed_in_stripe and heard no more of the customer's events. Linking
// the account that names it again is idempotent, and a link its account
// no longer names (renamed since) is free to take.
func TestOperatorLinksACustomerToOneAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	account := func(id, customer string) string {
		body := `{"id":"` + id + `","plan_id":"std","territory":"DE"`
		if customer != "" {
			body += `,"customer_id":"` + customer + `"`
		}
		h.mustDo("POST", "/v1/admin/accounts", "", body+`}`, http.StatusCreated)
		return "/v1/admin/accounts/" + id
	}
	for i, tc := range []struct {
		name string
		// write links customer CUS to account ACCT (created without one,
		// unless create is false) with method at path, body.
		method, path, body string
		create             bool
	}{
		{name: "PUT customer", method: "PUT", path: "/v1/admin/accounts/ACCT/customer", body: `{"customer_id":"CUS"}`, create: true},
		{name: "PUT account", method: "PUT", path: "/v1/admin/accounts/ACCT", body: `{"id":"ACCT","plan_id":"std","territory":"DE","customer_id":"CUS"}`, create: true},
		{name: "PATCH account", method: "PATCH", path: "/v1/admin/accounts/ACCT", body: `{"customer_id":"CUS"}`, create: true},
		{name: "POST account", method: "POST", path: "/v1/admin/accounts", body: `{"id":"ACCT","plan_id":"std","territory":"DE","customer_id":"CUS"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cus, first, second := fmt.Sprintf("cus_%d", i), fmt.Sprintf("acct_first%d", i), fmt.Sprintf("acct_second%d", i)
			account(first, cus)
			etag := ""
			if tc.create {
				etag = h.mustDo("GET", account(second, ""), "", "", http.StatusOK).header.Get("ETag")
			}
			repl := strings.NewReplacer("ACCT", second, "CUS", cus)
			var r resp
			if tc.method == "PATCH" {
				r = h.patch(repl.Replace(tc.path), etag, admin.MergePatchType, repl.Replace(tc.body))
			} else {
				r = h.do(tc.method, repl.Replace(tc.path), h.admin, etag, repl.Replace(tc.body))
			}
			linked, err := h.store.AccountIDByCustomer(context.Background(), cus)
			if r.status != http.StatusConflict || r.errBody(t).Reason != playback.ReasonCustomerLinkedElsewhere {
				t.Fatalf("%s linking %s, which %s names, to %s: %d %s (the link is now %s's, %v); want 409 %s",
					tc.name, cus, first, second, r.status, r.body, linked, err, playback.ReasonCustomerLinkedElsewhere)
			}
			var e struct {
				Error struct {
					Details playback.CustomerLinkedElsewhere `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Details != (playback.CustomerLinkedElsewhere{CustomerID: cus, AccountID: first}) {
				t.Fatalf("details of %s: %+v (%v), want %s on %s", r.body, e.Error.Details, err, cus, first)
			}
			if err != nil || linked != first {
				t.Fatalf("the refused link moved %s to %q (%v), want %s", cus, linked, err, first)
			}
			if tc.create {
				if got := h.mustDo("GET", "/v1/admin/accounts/"+second, "", "", http.StatusOK).header.Get("ETag"); got != etag {
					t.Fatalf("the refused write wrote %s: ETag %s, was %s", second, got, etag)
				}
			} else {
				h.mustDo("GET", "/v1/admin/accounts/"+second, "", "", http.StatusNotFound)
			}
		})
	}

	t.Run("relinking the same account", func(t *testing.T) {
		t.Parallel()
		path := account("acct_same", "cus_same")
		etag := h.mustDo("GET", path, "", "", http.StatusOK).header.Get("ETag")
		r := h.mustDo("PUT", path+"/customer", "", `{"customer_id":"cus_same"}`, http.StatusOK)
		if got := r.header.Get("ETag"); got != etag {
			t.Fatalf("relinking wrote: ETag %s, was %s", got, etag)
		}
		h.mustDo("PUT", path, etag, `{"id":"acct_same","plan_id":"std","territory":"FR","customer_id":"cus_same"}`, http.StatusOK)
	})

	t.Run("a link its account no longer names", func(t *testing.T) {
		t.Parallel()
		old := account("acct_renamed", "cus_typo")
		h.mustDo("PUT", old+"/customer", "", `{"customer_id":"cus_right"}`, http.StatusOK)
		path := account("acct_typo_owner", "")
		h.mustDo("PUT", path+"/customer", "", `{"customer_id":"cus_typo"}`, http.StatusOK)
		if linked, err := h.store.AccountIDByCustomer(context.Background(), "cus_typo"); err != nil || linked != "acct_typo_owner" {
			t.Fatalf("cus_typo is linked to %q (%v), want acct_typo_owner", linked, err)
		}
	})
}

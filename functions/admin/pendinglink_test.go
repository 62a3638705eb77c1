package admin_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// plainFails fails the first swap of a pending link to a plain one: the
// request that wrote the account died (or its store call failed) before
// making its claim plain.
type plainFails struct {
	*bolt.Store
	failed atomic.Bool
}

func (s *plainFails) SwapCustomerLink(ctx context.Context, customerID string, from, to playback.CustomerLink) (bool, error) {
	if from.Pending && !to.Pending && to.AccountID == from.AccountID && !s.failed.Swap(true) {
		return false, errors.New("the request died before making its claim plain")
	}
	return s.Store.SwapCustomerLink(ctx, customerID, from, to)
}

// A link a create left pending (on version "", which is what a deleted
// record reads as too) must not outlive its account: once the account is
// deleted the customer is free for another.
func TestDeletedAccountGivesBackAPendingLink(t *testing.T) {
	t.Parallel()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := newHarnessOn(t, auth.DefaultAdminClaim, &plainFails{Store: db})
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	h.mustDo("POST", "/v1/admin/accounts", "",
		`{"id":"acct_a","plan_id":"std","territory":"DE","status":"active","customer_id":"cus_1"}`, http.StatusCreated)
	if l, err := db.CustomerLink(context.Background(), "cus_1"); err != nil || !l.Pending {
		t.Fatalf("setup: cus_1's link %+v %v, want left pending", l, err)
	}
	h.mustDo("DELETE", "/v1/admin/accounts/acct_a", "*", "", http.StatusNoContent)
	r := h.do("POST", "/v1/admin/accounts", h.admin, "",
		`{"id":"acct_b","plan_id":"std","territory":"DE","status":"active","customer_id":"cus_1"}`)
	l, err := db.CustomerLink(context.Background(), "cus_1")
	if r.status != http.StatusCreated || err != nil || l.AccountID != "acct_b" {
		t.Fatalf("POST acct_b naming cus_1 after acct_a, its holder, was deleted: %d %s; cus_1's link %+v %v; want 201 and acct_b's",
			r.status, r.body, l, err)
	}
}

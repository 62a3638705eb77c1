package admin_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// linkFailsOnce is a store whose first customer link fails, as a runner
// killed between the account's write and its link leaves it.
type linkFailsOnce struct {
	playback.Store
	failed atomic.Bool
}

func (s *linkFailsOnce) LinkCustomer(ctx context.Context, customerID, accountID string) error {
	if s.failed.CompareAndSwap(false, true) {
		return errors.New("injected: the store went away")
	}
	return s.Store.LinkCustomer(ctx, customerID, accountID)
}

// TestRetriedAccountCreateLinksItsCustomer: a POST of an account with a
// customer_id writes the account, then links the customer. When the link
// fails the answer says to retry the request; the retry finds the account
// written (409 already_exists), and must still make the link, or the
// customer's payment events never find the account.
func TestRetriedAccountCreateLinksItsCustomer(t *testing.T) {
	t.Parallel()
	store := &linkFailsOnce{Store: boltStore(t)}
	h := newHarnessOn(t, auth.DefaultAdminClaim, store)
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	const account = `{"id":"acct_billed","plan_id":"std","territory":"DE","customer_id":"cus_Billed01"}`
	if r := h.do("POST", "/v1/admin/accounts", h.admin, "", account); r.status < 500 {
		t.Fatalf("create whose link failed: %d %s, want a 5xx to retry", r.status, r.body)
	}
	if r := h.do("POST", "/v1/admin/accounts", h.admin, "", account); r.status != http.StatusConflict {
		t.Fatalf("the retried create: %d %s, want 409", r.status, r.body)
	}
	if id, err := store.AccountIDByCustomer(context.Background(), "cus_Billed01"); err != nil || id != "acct_billed" {
		t.Errorf("customer cus_Billed01 after the retried create: %q, %v; want acct_billed", id, err)
	}
}

// TestRetriedCustomerLinkLinks: PUT .../customer with If-Match writes the
// account's customer_id, then links the customer. When the link fails
// (or the runner is killed before it) the request retried as sent finds
// its own write in place, and must still make the link.
func TestRetriedCustomerLinkLinks(t *testing.T) {
	t.Parallel()
	store := &linkFailsOnce{Store: boltStore(t)}
	h := newHarnessOn(t, auth.DefaultAdminClaim, store)
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	etag := h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated).header.Get("ETag")
	const link = `{"customer_id":"cus_A01"}`
	if r := h.do("PUT", "/v1/admin/accounts/acct_a/customer", h.admin, etag, link); r.status < 500 {
		t.Fatalf("link that failed: %d %s, want a 5xx to retry", r.status, r.body)
	}
	if r := h.do("PUT", "/v1/admin/accounts/acct_a/customer", h.admin, etag, link); r.status != http.StatusOK {
		t.Errorf("the link retried as sent: %d %s, want 200", r.status, r.body)
	}
	if id, err := store.AccountIDByCustomer(context.Background(), "cus_A01"); err != nil || id != "acct_a" {
		t.Errorf("customer cus_A01 after the retried link: %q, %v; want acct_a", id, err)
	}
}

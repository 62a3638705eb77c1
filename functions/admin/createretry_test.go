package admin_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// linkFailsOnce is a store that fails once what follows an account's
// write naming a customer: the listing of the customer's parked payment
// events, to announce them (the link is claimed before the write), as a
// runner killed between the account's write and that announcement
// leaves it.
type linkFailsOnce struct {
	playback.Store
	failed atomic.Bool
}

func (s *linkFailsOnce) ListParkedEvents(ctx context.Context, source, key string, after playback.ParkCursor, limit int) ([]playback.InboxEvent, error) {
	if cus, ok := strings.CutPrefix(key, events.StripeCustomerParkKey("")); ok && s.named(ctx, cus) && s.failed.CompareAndSwap(false, true) {
		return nil, errors.New("injected: the store went away")
	}
	return s.Store.ListParkedEvents(ctx, source, key, after, limit)
}

// named reports whether the account customer is linked to names it.
func (s *linkFailsOnce) named(ctx context.Context, customer string) bool {
	id, err := s.AccountIDByCustomer(ctx, customer)
	if err != nil {
		return false
	}
	a, err := s.GetAccount(ctx, id)
	return err == nil && a.CustomerID == customer
}

// TestRetriedAccountCreateLinksItsCustomer: a POST of an account with a
// customer_id writes the account, then makes the link plain and wakes the
// customer's parked events. When that fails the answer says to retry the
// request; the retry finds the account
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
// account's customer_id, then wakes the customer's parked events. When
// that fails (or the runner is killed before it) the request retried as sent finds
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

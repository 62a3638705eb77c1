package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// stallsAfterClaim runs meanwhile once, right after the first pending
// claim for account is written: between a claim and the write it is
// for.
type stallsAfterClaim struct {
	*bolt.Store
	account string

	mu        sync.Mutex
	meanwhile func()
}

func (s *stallsAfterClaim) SwapCustomerLink(ctx context.Context, customer string, from, to playback.CustomerLink) (bool, error) {
	swapped, err := s.Store.SwapCustomerLink(ctx, customer, from, to)
	s.mu.Lock()
	run := s.meanwhile
	if swapped && to.Pending && to.AccountID == s.account {
		s.meanwhile = nil
	} else {
		run = nil
	}
	s.mu.Unlock()
	if run != nil {
		run()
	}
	return swapped, err
}

// TestOperatorOutlivingItsClaimNamesNoTakenCustomer: an operator's
// request claims cus_slow for acct_a, then stalls before its write for
// playback.PendingClaimAge (Cloud Run goes on with a request it has timed
// out, CPU-throttled until the instance's next request). Meanwhile
// another operator links cus_slow to acct_b, taking the stale claim as
// one whose writer died. The first write, conditioned only on acct_a's
// version, landed all the same: two accounts named one customer. A
// request sends no write for a claim past playback.PendingClaimWrite: it
// is answered 503, and its retry is refused customer_linked_elsewhere.
func TestOperatorOutlivingItsClaimNamesNoTakenCustomer(t *testing.T) {
	t.Parallel()
	const cus = "cus_slow"
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := &stallsAfterClaim{Store: db, account: "acct_a"}
	h := newHarnessOn(t, auth.DefaultAdminClaim, store)
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"acct_a","plan_id":"std","territory":"DE"}`, http.StatusCreated)
	h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"acct_b","plan_id":"std","territory":"DE"}`, http.StatusCreated)
	var other resp
	store.meanwhile = func() {
		h.ticks.Add(playback.PendingClaimAge.Milliseconds())
		other = h.do("PUT", "/v1/admin/accounts/acct_b/customer", h.admin, "", `{"customer_id":"`+cus+`"}`)
	}
	first := h.do("PUT", "/v1/admin/accounts/acct_a/customer", h.admin, "", `{"customer_id":"`+cus+`"}`)
	retry := h.do("PUT", "/v1/admin/accounts/acct_a/customer", h.admin, "", `{"customer_id":"`+cus+`"}`)

	var namers []string
	for _, id := range []string{"acct_a", "acct_b"} {
		var a playback.Account
		if err := json.Unmarshal(h.mustDo("GET", "/v1/admin/accounts/"+id, "", "", http.StatusOK).body, &a); err != nil {
			t.Fatal(err)
		}
		if a.CustomerID == cus {
			namers = append(namers, id)
		}
	}
	l, err := db.CustomerLink(context.Background(), cus)
	if first.status != http.StatusServiceUnavailable || other.status != http.StatusOK || retry.status != http.StatusConflict ||
		len(namers) != 1 || namers[0] != "acct_b" || err != nil || l.AccountID != "acct_b" {
		t.Fatalf("linking %s to acct_a, stalled %v after its claim while another operator links it to acct_b: answered %d %s, "+
			"the other %d %s, the retry %d %s; accounts naming it %v, its link %+v (%v); "+
			"want 503, 200, 409, only acct_b naming it and linked",
			cus, playback.PendingClaimAge, first.status, first.body, other.status, other.body, retry.status, retry.body, namers, l, err)
	}
}

package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// writeDies fails the first write of an account naming customer: the
// request claimed the customer and died before its write (a runner
// killed), leaving the claim pending. A retryable failure is what keeps
// the claim (the write may have landed), as a death does.
type writeDies struct {
	*bolt.Store
	account, customer string
	died              atomic.Bool
}

func (s *writeDies) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	for _, c := range cs.Changes {
		if c.Kind == playback.KindAccount && c.ID == s.account && strings.Contains(string(c.Doc), `"customer_id":"`+s.customer+`"`) &&
			!s.died.Swap(true) {
			return playback.AuditRecord{}, playback.Errorf(playback.CodeUnavailable, "runner_killed", "the request died before its write")
		}
	}
	return s.Store.ApplyChanges(ctx, cs)
}

// TestStaleClaimFreesTheCustomer: a request that claimed a customer and
// died before writing its account left the claim pending: the customer
// was refused to every other account (customer_linked_elsewhere naming
// one that does not exist, or does not name it) until that same request
// was retried. Another operator's link is still refused while the claim
// may have a write on its way, and succeeds once the claim is
// playback.PendingClaimAge old.
func TestStaleClaimFreesTheCustomer(t *testing.T) {
	t.Parallel()
	const cus = "cus_stale"
	for _, tc := range []struct {
		name string
		// dies is the first operator's request linking cus to acct_a,
		// which dies; exists creates acct_a first.
		method, path, body string
		exists             bool
	}{
		{name: "POST account dies", method: "POST", path: "/v1/admin/accounts",
			body: `{"id":"acct_a","plan_id":"std","territory":"DE","customer_id":"` + cus + `"}`},
		{name: "PUT customer dies", method: "PUT", path: "/v1/admin/accounts/acct_a/customer",
			body: `{"customer_id":"` + cus + `"}`, exists: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			h := newHarnessOn(t, auth.DefaultAdminClaim, &writeDies{Store: db, account: "acct_a", customer: cus})
			h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
			if tc.exists {
				h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"acct_a","plan_id":"std","territory":"DE"}`, http.StatusCreated)
			}
			h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"acct_b","plan_id":"std","territory":"DE"}`, http.StatusCreated)
			if r := h.do(tc.method, tc.path, h.admin, "", tc.body); r.status < 500 {
				t.Fatalf("setup: %s %s: %d %s, want it to die (5xx)", tc.method, tc.path, r.status, r.body)
			}
			l, err := db.CustomerLink(context.Background(), cus)
			if err != nil || l.AccountID != "acct_a" || !l.Pending {
				t.Fatalf("setup: %s's link %+v %v, want acct_a's claim left pending", cus, l, err)
			}
			claimedAt := time.UnixMilli(l.Claimed)

			for _, step := range []struct {
				age  time.Duration // of the claim
				want int
			}{
				{age: playback.PendingClaimAge - time.Second, want: http.StatusConflict},
				{age: playback.PendingClaimAge, want: http.StatusOK},
			} {
				h.ticks.Add(claimedAt.Add(step.age).Sub(h.clock()).Milliseconds())
				r := h.do("PUT", "/v1/admin/accounts/acct_b/customer", h.admin, "", `{"customer_id":"`+cus+`"}`)
				l, err := db.CustomerLink(context.Background(), cus)
				var b playback.Account
				if err := json.Unmarshal(h.mustDo("GET", "/v1/admin/accounts/acct_b", "", "", http.StatusOK).body, &b); err != nil {
					t.Fatal(err)
				}
				holder := "acct_a"
				if step.want == http.StatusOK {
					holder = "acct_b"
				}
				if r.status != step.want || err != nil || l.AccountID != holder || (b.CustomerID == cus) != (holder == "acct_b") {
					t.Fatalf("after %s, another operator links %s to acct_b with acct_a's claim %v old: %d %s; the link %+v (%v), "+
						"acct_b names %q; want %d, %s's link", tc.name, cus, step.age, r.status, r.body, l, err, b.CustomerID, step.want, holder)
				}
			}
		})
	}
}

// TestPendingClaimsOutliveTheirWriters: a pending customer claim older
// than playback.PendingClaimAge is taken for one whose writer died
// between the claim and its write. A writer still alive then would write
// its account after another took the customer: two accounts would name
// it. The functions that claim (this API, the payment consumer) claim,
// write and settle within one invocation, which must end well before.
func TestPendingClaimsOutliveTheirWriters(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"admin", "paymentwebhook"} {
		fn, ok := catalog.FunctionByName(name)
		limit := time.Duration(fn.TimeoutSeconds) * time.Second
		if !ok || fn.TimeoutSeconds <= 0 || 4*limit > playback.PendingClaimAge {
			t.Errorf("function %q (%v): timeout %v; want more than 0 and at most a quarter of playback.PendingClaimAge %v",
				name, ok, limit, playback.PendingClaimAge)
		}
	}
}

package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// sameInstantStore makes n requests linking one customer meet at their
// worst: each of the first n reads of the customer's link waits until
// all n are made, so that every request reads it before any writes; and
// once armed, a write of an account waits until every request has either
// answered or come to its own write, so that the requests still deciding
// read the account whose claim beat theirs as it was before that claim's
// write.
type sameInstantStore struct {
	*bolt.Store
	n int

	mu       sync.Mutex
	reads    int
	allRead  chan struct{}
	armed    bool
	writing  int
	answered int
	released chan struct{}
}

func newSameInstantStore(db *bolt.Store, n int) *sameInstantStore {
	return &sameInstantStore{Store: db, n: n, allRead: make(chan struct{}), released: make(chan struct{})}
}

func (s *sameInstantStore) read() {
	s.mu.Lock()
	s.reads++
	if s.reads == s.n {
		close(s.allRead)
	}
	first := s.reads <= s.n
	s.mu.Unlock()
	if first {
		<-s.allRead
	}
}

// answer counts a request answered.
func (s *sameInstantStore) answer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answered++
	s.release()
}

// release lets the writes go once no request is left deciding (s.mu held).
func (s *sameInstantStore) release() {
	if s.writing+s.answered == s.n {
		close(s.released)
	}
}

func (s *sameInstantStore) CustomerLink(ctx context.Context, customerID string) (playback.CustomerLink, error) {
	s.read()
	return s.Store.CustomerLink(ctx, customerID)
}

func (s *sameInstantStore) AccountIDByCustomer(ctx context.Context, customerID string) (string, error) {
	s.read()
	return s.Store.AccountIDByCustomer(ctx, customerID)
}

func (s *sameInstantStore) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	s.mu.Lock()
	hold := s.armed && slices.ContainsFunc(cs.Changes, func(c playback.Change) bool { return c.Kind == playback.KindAccount })
	if hold {
		s.writing++
		s.release()
	}
	s.mu.Unlock()
	if hold {
		<-s.released
	}
	return s.Store.ApplyChanges(ctx, cs)
}

// TestOperatorsLinkACustomerAtOnce: n operators linking one Stripe
// customer to n accounts at the same instant (each request reads the
// customer unlinked before any writes) link it to one account; the
// others are answered 409 customer_linked_elsewhere naming that account
// and write nothing, so that no account names a customer whose events
// go to another.
func TestOperatorsLinkACustomerAtOnce(t *testing.T) {
	t.Parallel()
	const n = 6
	for _, tc := range []struct {
		name string
		// method path body links CUS to ACCT (created first without a
		// customer when create is set).
		method, path, body string
		create             bool
	}{
		{name: "PUT customer", method: "PUT", path: "/v1/admin/accounts/ACCT/customer", body: `{"customer_id":"CUS"}`, create: true},
		{name: "POST account", method: "POST", path: "/v1/admin/accounts", body: `{"id":"ACCT","plan_id":"std","territory":"DE","customer_id":"CUS"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			store := newSameInstantStore(db, n)
			h := newHarnessOn(t, auth.DefaultAdminClaim, store)
			h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
			const cus = "cus_race"
			ids := make([]string, n)
			etags := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("acct_race%d", i)
				if tc.create {
					etags[i] = h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"`+ids[i]+`","plan_id":"std","territory":"DE"}`,
						http.StatusCreated).header.Get("ETag")
				}
			}
			answers := make([]resp, n)
			store.armed = true
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					repl := strings.NewReplacer("ACCT", ids[i], "CUS", cus)
					answers[i] = h.do(tc.method, repl.Replace(tc.path), h.admin, "", repl.Replace(tc.body))
					store.answer()
				})
			}
			wg.Wait()
			linked, err := db.AccountIDByCustomer(context.Background(), cus)
			if err != nil {
				t.Fatalf("%s is not linked after %d links: %v", cus, n, err)
			}
			won := 0
			for i, r := range answers {
				if r.status < 300 {
					won++
					if ids[i] != linked {
						t.Errorf("%s linking %s to %s: %d, yet %s resolves to %s", tc.name, cus, ids[i], r.status, cus, linked)
					}
					continue
				}
				var e struct {
					Error struct {
						Reason  string                           `json:"reason"`
						Details playback.CustomerLinkedElsewhere `json:"details"`
					} `json:"error"`
				}
				_ = json.Unmarshal(r.body, &e)
				if r.status != http.StatusConflict || e.Error.Reason != playback.ReasonCustomerLinkedElsewhere ||
					e.Error.Details != (playback.CustomerLinkedElsewhere{CustomerID: cus, AccountID: linked}) {
					t.Errorf("%s linking %s to %s: %d %s; want 409 %s naming %s", tc.name, cus, ids[i], r.status, r.body,
						playback.ReasonCustomerLinkedElsewhere, linked)
				}
				// The refused write wrote nothing: the account is as it was.
				got := h.do("GET", "/v1/admin/accounts/"+ids[i], h.admin, "", "")
				switch {
				case tc.create && (got.status != http.StatusOK || got.header.Get("ETag") != etags[i]):
					t.Errorf("refused, %s was written: %d ETag %s, was %s: %s", ids[i], got.status, got.header.Get("ETag"), etags[i], got.body)
				case !tc.create && got.status != http.StatusNotFound:
					t.Errorf("refused, %s was created: %d %s", ids[i], got.status, got.body)
				}
			}
			if won != 1 {
				t.Fatalf("%d of %d operators linking %s at once were answered 2xx, want 1; it resolves to %s", won, n, cus, linked)
			}
			var a playback.Account
			if err := json.Unmarshal(h.mustDo("GET", "/v1/admin/accounts/"+linked, "", "", http.StatusOK).body, &a); err != nil || a.CustomerID != cus {
				t.Fatalf("%s, which %s resolves to, names customer %q (%v)", linked, cus, a.CustomerID, err)
			}
		})
	}
}

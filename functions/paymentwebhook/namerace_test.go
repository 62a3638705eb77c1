package paymentwebhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// atClaim runs meanwhile once, right after the first pending claim of a
// customer for account is written: between a claim and the write of the
// account it is claimed for, where other writers may come at the same
// instant.
type atClaim struct {
	*bolt.Store
	account string

	mu        sync.Mutex
	meanwhile func()
}

func (s *atClaim) SwapCustomerLink(ctx context.Context, customer string, from, to playback.CustomerLink) (bool, error) {
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

// anOperator authenticates every request as an operator.
type anOperator struct{}

func (anOperator) Authenticate(*http.Request) (auth.Identity, error) {
	return auth.Identity{AccountID: "ops-alice", Claims: map[string]any{"playplane_admin": true}}, nil
}

// TestCheckoutRacingAnOperatorLeavesOneAccountNamingTheCustomer: a
// customer bills one account. A checkout of cus_race for acct_a claims it
// pending on acct_a as read, then names it on acct_a. Three writers at
// one instant: between that claim and that write, another write of
// acct_a lands (its claim no longer holds: the write it announced may
// never come) and an operator links cus_race to acct_b through the admin
// API, which takes the claim as a link acct_a left. The checkout's write,
// conditioned on nothing, named cus_race on acct_a all the same: two
// accounts named one customer, acct_a managed_in_stripe and deaf to its
// events. It is conditioned on the version its claim read now: it reads
// again, claims again, is refused and waits parked.
func TestCheckoutRacingAnOperatorLeavesOneAccountNamingTheCustomer(t *testing.T) {
	t.Parallel()
	const cus = "cus_race"
	for _, tc := range []struct {
		name string
		// otherWrite writes acct_a meanwhile; operator links cus_race to
		// acct_b meanwhile, after it.
		otherWrite, operator bool
		wantOperator         int    // the operator's answer
		wantNamer            string // the one account naming cus_race
		wantParked           string // the checkout's park key, "" processed
	}{
		{name: "another write of the account", otherWrite: true, wantNamer: "acct_a"},
		{name: "an operator", operator: true, wantOperator: http.StatusConflict, wantNamer: "acct_a"},
		{name: "another write, then an operator", otherWrite: true, operator: true,
			wantOperator: http.StatusOK, wantNamer: "acct_b", wantParked: parkHeld(cus)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			// The store's clock is the harness's once it is made: the inbox
			// keeps events by it.
			var h *harness
			db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync(), bolt.WithClock(func() time.Time {
				if h == nil {
					return base
				}
				return h.clock.Now()
			}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			store := &atClaim{Store: db, account: "acct_a"}
			h = newHarness(t, withStore(store))
			ops, err := admin.New(admin.Config{AdminClaim: "playplane_admin", MaxBody: 1 << 16},
				admin.Deps{Store: store, Identity: anOperator{}, Bus: h.bus, Now: h.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			mux := httpx.NewServeMux()
			ops.Register(mux)
			h.account("acct_a")
			h.account("acct_b")

			operator := 0
			store.meanwhile = func() {
				if tc.otherWrite {
					if _, err := db.UpdateAccount(ctx, "acct_a", func(a *playback.Account) error {
						a.Email = "a@example.com"
						return nil
					}); err != nil {
						t.Error(err)
					}
				}
				if tc.operator {
					r := httptest.NewRequest("PUT", "/v1/admin/accounts/acct_b/customer", strings.NewReader(`{"customer_id":"`+cus+`"}`))
					r.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					mux.ServeHTTP(w, r)
					operator = w.Code
				}
			}
			const id = "evt_checkout_race"
			h.run(stripeEvent(id, typeCheckoutCompleted, at(time.Minute), checkoutObj("cs_race", "acct_a", cus, "")))

			var namers []string
			for _, acct := range []string{"acct_a", "acct_b"} {
				if h.getAccount(acct).CustomerID == cus {
					namers = append(namers, acct)
				}
			}
			link, err := db.CustomerLink(ctx, cus)
			// A processed event may read as gone.
			ev, evErr := h.inboxEvent(id)
			processed := !ev.ProcessedAt.IsZero() || playback.IsCode(evErr, playback.CodeNotFound)
			parked := ev.ParkedKey
			if processed {
				parked = ""
			}
			if len(namers) != 1 || namers[0] != tc.wantNamer || err != nil || link.AccountID != tc.wantNamer ||
				operator != tc.wantOperator || parked != tc.wantParked || processed != (tc.wantParked == "") {
				t.Fatalf("checkout of %s for acct_a, meanwhile %s: the operator answered %d; accounts naming %s: %v; "+
					"its link %+v (%v); the event processed %v, parked under %q (%v); "+
					"want %d, only %s naming it and linked, the event parked under %q",
					cus, tc.name, operator, cus, namers, link, err, processed, ev.ParkedKey, evErr,
					tc.wantOperator, tc.wantNamer, tc.wantParked)
			}
		})
	}
}

package paymentwebhook

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// listCounter counts the parked events its listings return, by key.
type listCounter struct {
	*bolt.Store
	mu     sync.Mutex
	listed map[string]int
}

func (s *listCounter) ListParkedEvents(ctx context.Context, source, key string, after playback.ParkCursor, limit int) ([]playback.InboxEvent, error) {
	page, err := s.Store.ListParkedEvents(ctx, source, key, after, limit)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listed[key] += len(page)
	return page, err
}

func (s *listCounter) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.listed)
}

// parkForRetry records n events of customers nobody holds and parks them
// for retry, as a dependency down for hours leaves them: their backoff
// has grown past the sweeper's next runs.
func (h *harness) parkForRetry(n int) {
	h.t.Helper()
	ctx := context.Background()
	for i := range n {
		id := fmt.Sprintf("evt_down_%03d", i)
		payload := stripeEvent(id, typeSubscriptionUpdated, at(time.Minute),
			subObj(fmt.Sprintf("sub_down_%03d", i), fmt.Sprintf("cus_down_%03d", i), "active", "price_std", at(0), at(month)))
		if _, _, err := h.store.RecordEvent(ctx, playback.InboxEvent{Source: Source, ID: id, Type: typeSubscriptionUpdated,
			Created: time.Unix(at(time.Minute), 0), Payload: payload, ReceivedAt: h.clock.Now()}); err != nil {
			h.t.Fatal(err)
		}
		for _, parked := range []time.Time{h.clock.Now().Add(-3 * time.Hour), h.clock.Now()} {
			if err := h.store.ParkEvent(ctx, Source, id, parkRetry, parked, time.Time{}); err != nil {
				h.t.Fatal(err)
			}
		}
	}
}

// TestFreeingACustomerListsOnlyItsHeldCheckouts: a checkout of
// acct_first's cus_shared for acct_second waits while acct_first holds
// it, beside many events parked for retry after an outage. Freeing
// cus_shared (an operator's PUT …/customer, inside its claim's write
// window; playplane import) wakes the checkout at once and lists nothing
// else. Before, the checkout waited under retry with the others, and the
// free listed every event parked there, twice, decoding each payload to
// pick this customer's: unbounded after an outage, on the request path.
func TestFreeingACustomerListsOnlyItsHeldCheckouts(t *testing.T) {
	t.Parallel()
	const unrelated = 30
	for _, tc := range []struct {
		name string
		free func(t *testing.T, h *harness, s *listCounter)
	}{
		{name: "an operator's PUT …/customer", free: func(t *testing.T, h *harness, s *listCounter) {
			ops, err := admin.New(admin.Config{AdminClaim: "playplane_admin", MaxBody: 1 << 16},
				admin.Deps{Store: s, Identity: anOperator{}, Bus: h.bus, Now: h.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			mux := httpx.NewServeMux()
			ops.Register(mux)
			r := httptest.NewRequest("PUT", "/v1/admin/accounts/acct_first/customer", strings.NewReader(`{"customer_id":"cus_first_new"}`))
			r.Header.Set("If-Match", "*")
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code >= 300 {
				t.Fatalf("PUT …/customer = %d %s", w.Code, w.Body)
			}
		}},
		{name: "playplane import", free: func(t *testing.T, h *harness, s *listCounter) {
			first := catalogfile.AccountOf(h.getAccount("acct_first"))
			first.CustomerID = "cus_first_new"
			if _, err := catalogfile.Apply(t.Context(), s, diff(t, s, catalogfile.File{Accounts: []catalogfile.Account{first}}), "cli:test", h.clock.Now); err != nil {
				t.Fatal(err)
			}
			// No bus: the sweeper's next run past its first backoff.
			h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
			if _, err := h.srv.Sweep(t.Context()); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
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
			h = newHarness(t, withStore(db))
			h.linked("acct_first", "cus_shared")
			h.account("acct_second")
			h.parkForRetry(unrelated)
			const id = "evt_checkout_second"
			h.run(stripeEvent(id, typeCheckoutCompleted, at(time.Minute), checkoutObj("cs_second", "acct_second", "cus_shared", "")))

			counter := &listCounter{Store: db, listed: map[string]int{}}
			tc.free(t, h, counter)
			h.settle()
			h.wantProcessed(id, "once cus_shared is freed")
			if second := h.getAccount("acct_second"); second.CustomerID != "cus_shared" {
				t.Errorf("acct_second names %q once cus_shared is freed, want cus_shared", second.CustomerID)
			}
			if listed := counter.counts(); listed[parkRetry] != 0 || listed[parkHeld("cus_shared")] != 1 {
				t.Errorf("freeing cus_shared listed parked events %v; want the held checkout alone (%s: 1), none of the %d under %s",
					listed, parkHeld("cus_shared"), unrelated, parkRetry)
			}
		})
	}
}

// TestSweepRetriesHeldEventsWhoseFreeWokeNothing: the customers a
// checkout waits for are freed by a write that wakes nothing (a store's
// UpdateAccount, or a process killed before its wake): the sweeper
// retries the events under the customers' held keys past their backoff,
// a bounded number of keys and events a run, going on from where the
// run before stopped, so every one applies within as many runs as it
// takes.
func TestSweepRetriesHeldEventsWhoseFreeWokeNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		customers int // each held by an account, each with a waiting account
		each      int // checkouts waiting for each customer
		batch     int // SweepBatch: a quarter of it are the keys and retries of a run
		runs      int
	}{
		{name: "one checkout", customers: 1, each: 1, batch: 100, runs: 1},
		{name: "more customers than a run's keys", customers: 3, each: 1, batch: 4, runs: 3},
		{name: "more checkouts of a customer than a run's retries", customers: 1, each: 3, batch: 4, runs: 3},
		{name: "both", customers: 2, each: 2, batch: 8, runs: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parkStores(t, func(t *testing.T, opts ...harnessOption) {
				h := newHarness(t, append(opts, func(c *Config, _ *Deps) { c.SweepBatch = tc.batch })...)
				var ids []string
				for c := range tc.customers {
					holder, wanting, cus := fmt.Sprintf("acct_hold%d", c), fmt.Sprintf("acct_want%d", c), fmt.Sprintf("cus_held%d", c)
					h.linked(holder, cus)
					h.account(wanting)
					for i := range tc.each {
						id := fmt.Sprintf("evt_checkout_%d_%d", c, i)
						ids = append(ids, id)
						h.run(stripeEvent(id, typeCheckoutCompleted, at(time.Duration(i+1)*time.Minute),
							checkoutObj(fmt.Sprintf("cs_%d_%d", c, i), wanting, cus, "")))
						if ev, err := h.inboxEvent(id); err != nil || ev.ParkedKey != parkHeld(cus) {
							t.Fatalf("%s, %s holding %s: parked under %q (%v), want %q", id, holder, cus, ev.ParkedKey, err, parkHeld(cus))
						}
					}
					if _, err := h.store.UpdateAccount(t.Context(), holder, func(a *playback.Account) error {
						a.CustomerID = cus + "_new"
						return nil
					}); err != nil {
						t.Fatal(err)
					}
				}
				for range tc.runs {
					h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
					if _, err := h.srv.Sweep(t.Context()); err != nil {
						t.Fatal(err)
					}
					h.settle()
				}
				for _, id := range ids {
					h.wantProcessed(id, fmt.Sprintf("%d sweeps after its customer was freed by a write that woke nothing", tc.runs))
				}
			})
		})
	}
}

// TestCheckoutParkedForRetryByTheReleaseBeforeMovesToItsHeldKey: a
// checkout the release before parked under retry while another account
// held its customer is retried by the sweeper, as every event there, and
// waits from then on under its customer's held key, where a free wakes
// it at once.
func TestCheckoutParkedForRetryByTheReleaseBeforeMovesToItsHeldKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t)
	h.linked("acct_first", "cus_shared")
	h.account("acct_second")
	const id = "evt_checkout_second"
	payload := stripeEvent(id, typeCheckoutCompleted, at(time.Minute), checkoutObj("cs_second", "acct_second", "cus_shared", ""))
	if _, _, err := h.store.RecordEvent(ctx, playback.InboxEvent{Source: Source, ID: id, Type: typeCheckoutCompleted,
		Created: time.Unix(at(time.Minute), 0), Payload: payload, ReceivedAt: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := h.store.ParkEvent(ctx, Source, id, parkRetry, h.clock.Now(), time.Time{}); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
	if _, err := h.srv.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if ev, err := h.inboxEvent(id); err != nil || !ev.ProcessedAt.IsZero() || ev.ParkedKey != parkHeld("cus_shared") {
		t.Fatalf("the release before's checkout retried by the sweeper: processed at %v, parked under %q (%v); want unprocessed under %q",
			ev.ProcessedAt, ev.ParkedKey, err, parkHeld("cus_shared"))
	}
	if _, err := events.FreeStripeCustomer(ctx, h.store, h.bus, "cus_shared", events.WakePage, h.clock.Now, func() error {
		_, err := h.store.UpdateAccount(ctx, "acct_first", func(a *playback.Account) error {
			a.CustomerID = "cus_first_new"
			return nil
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	h.settle()
	h.wantProcessed(id, "once cus_shared is freed, with no sweep")
}

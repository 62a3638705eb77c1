package paymentwebhook

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// deadBus is the bus of an admin process that dies after its write,
// before it announces anything.
type deadBus struct{}

func (deadBus) Publish(context.Context, string, ...playback.Message) error { return errKilled }

// TestOperatorFreeingACustomerWakesItsParkedCheckout: a checkout linking
// acct_first's cus_shared to acct_second waits parked
// (customer_linked_elsewhere, under cus_shared's held key), hours already, so the sweeper's backoff
// for it has grown to hours too. The operator frees cus_shared through
// the admin API: acct_first deleted, given another customer, or none.
// Nothing woke the checkout: the viewer who paid waited out the backoff
// for an entitlement. The admin API now hands the customer's held
// events to the sweeper before its write and announces them
// after: the checkout applies at once, and, the process dead before the
// announcement, at the sweeper's next run past its first backoff.
func TestOperatorFreeingACustomerWakesItsParkedCheckout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   string
		ctype  string
		// dies: the admin process dies before it announces (deadBus).
		dies bool
	}{
		{name: "account deleted", method: "DELETE", path: "/v1/admin/accounts/acct_first"},
		{name: "customer changed", method: "PUT", path: "/v1/admin/accounts/acct_first/customer",
			body: `{"customer_id":"cus_first_new"}`, ctype: "application/json"},
		{name: "customer removed", method: "PATCH", path: "/v1/admin/accounts/acct_first",
			body: `{"customer_id":null,"plan_id":"standard"}`, ctype: admin.MergePatchType},
		{name: "account deleted, the admin process dead before announcing", method: "DELETE",
			path: "/v1/admin/accounts/acct_first", dies: true},
		{name: "customer changed, the admin process dead before announcing", method: "PUT",
			path: "/v1/admin/accounts/acct_first/customer", body: `{"customer_id":"cus_first_new"}`, ctype: "application/json", dies: true},
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
			h = newHarness(t, withStore(db))
			var bus playback.Publisher = h.bus
			if tc.dies {
				bus = deadBus{}
			}
			ops, err := admin.New(admin.Config{AdminClaim: "playplane_admin", MaxBody: 1 << 16},
				admin.Deps{Store: db, Identity: anOperator{}, Bus: bus, Now: h.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			mux := httpx.NewServeMux()
			ops.Register(mux)
			// For acct_first's plan_id once it has no customer to name one.
			if err := db.PutPlan(ctx, playback.Plan{ID: "standard", Name: "Standard", MaxStreams: 1, MaxDevices: 2, MaxQuality: "HD"}); err != nil {
				t.Fatal(err)
			}
			h.linked("acct_first", "cus_shared")
			h.account("acct_second")
			const id = "evt_checkout_second"
			h.run(stripeEvent(id, typeCheckoutCompleted, at(time.Minute), checkoutObj("cs_second", "acct_second", "cus_shared", "")))
			// Hours of retries while acct_first holds the customer.
			for range 3 {
				h.clock.Set(h.clock.Now().Add(2 * time.Hour))
				if _, err := h.srv.Sweep(ctx); err != nil {
					t.Fatal(err)
				}
				h.settle()
			}
			if ev, _ := h.inboxEvent(id); !ev.ProcessedAt.IsZero() || ev.ParkedKey != parkHeld("cus_shared") || h.srv.sweepBackoff(ev) < time.Hour {
				t.Fatalf("the checkout after hours of retries: processed at %v, parked under %q, backoff %v; want unprocessed under %q, an hour or more",
					ev.ProcessedAt, ev.ParkedKey, h.srv.sweepBackoff(ev), parkHeld("cus_shared"))
			}

			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			r.Header.Set("If-Match", "*")
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code >= 300 {
				t.Fatalf("%s %s = %d %s", tc.method, tc.path, w.Code, w.Body)
			}
			h.settle()
			when := "at once"
			if tc.dies {
				// The sweeper's next run past its first backoff.
				when = "at the sweeper's next run past its first backoff"
				h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
				if _, err := h.srv.Sweep(ctx); err != nil {
					t.Fatal(err)
				}
				h.settle()
			}
			linked, err := h.store.AccountIDByCustomer(ctx, "cus_shared")
			ev, evErr := h.inboxEvent(id)
			processed := !ev.ProcessedAt.IsZero() || playback.IsCode(evErr, playback.CodeNotFound)
			if second := h.getAccount("acct_second"); err != nil || linked != "acct_second" || second.CustomerID != "cus_shared" || !processed {
				t.Fatalf("cus_shared freed (%s): resolves to %q (%v), acct_second names %q, the checkout processed %v, parked under %q (%v); "+
					"want acct_second's, named, processed %s", tc.name, linked, err, second.CustomerID, processed, ev.ParkedKey, evErr, when)
			}
		})
	}
}

// TestImportFreeingACustomerWakesItsParkedCheckout: as
// TestOperatorFreeingACustomerWakesItsParkedCheckout, the customer freed
// by playplane import (the file gives acct_first another customer),
// which has no bus: the checkout is handed to the sweeper, whose next run
// past its first backoff applies it, rather than after the backoff grown
// over its wait; on bolt, DynamoDB Local and the Firestore emulator.
func TestImportFreeingACustomerWakesItsParkedCheckout(t *testing.T) {
	t.Parallel()
	parkStores(t, func(t *testing.T, opts ...harnessOption) {
		ctx := context.Background()
		h := newHarness(t, opts...)
		s, ok := h.store.(catalogfile.Store)
		if !ok {
			t.Fatalf("%T is not an import's store", h.store)
		}
		h.linked("acct_first", "cus_shared")
		h.account("acct_second")
		const id = "evt_checkout_second"
		h.run(stripeEvent(id, typeCheckoutCompleted, at(time.Minute), checkoutObj("cs_second", "acct_second", "cus_shared", "")))
		for range 3 {
			h.clock.Set(h.clock.Now().Add(2 * time.Hour))
			if _, err := h.srv.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			h.settle()
		}
		if ev, _ := h.inboxEvent(id); !ev.ProcessedAt.IsZero() || ev.ParkedKey != parkHeld("cus_shared") || h.srv.sweepBackoff(ev) < time.Hour {
			t.Fatalf("the checkout after hours of retries: processed at %v, parked under %q, backoff %v; want unprocessed under %q, an hour or more",
				ev.ProcessedAt, ev.ParkedKey, h.srv.sweepBackoff(ev), parkHeld("cus_shared"))
		}

		first := catalogfile.AccountOf(h.getAccount("acct_first"))
		first.CustomerID = "cus_first_new"
		if _, err := catalogfile.Apply(ctx, s, diff(t, s, catalogfile.File{Accounts: []catalogfile.Account{first}}), "cli:test", h.clock.Now); err != nil {
			t.Fatal(err)
		}
		h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
		if _, err := h.srv.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		h.settle()
		linked, err := h.store.AccountIDByCustomer(ctx, "cus_shared")
		ev, evErr := h.inboxEvent(id)
		processed := !ev.ProcessedAt.IsZero() || playback.IsCode(evErr, playback.CodeNotFound)
		if second := h.getAccount("acct_second"); err != nil || linked != "acct_second" || second.CustomerID != "cus_shared" || !processed {
			t.Fatalf("cus_shared freed by an import: resolves to %q (%v), acct_second names %q, the checkout processed %v, parked under %q (%v); "+
				"want acct_second's, named, processed at the sweeper's next run past its first backoff", linked, err, second.CustomerID, processed, ev.ParkedKey, evErr)
		}
	})
}

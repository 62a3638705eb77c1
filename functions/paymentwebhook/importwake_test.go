package paymentwebhook

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/playback"
)

// errKilled stands for a process killed at that point.
var errKilled = errors.New("killed")

// killedAfterLink is a store on which the process dies right after the
// customer link is written (the import claims it pending, writes the
// account, then makes it plain: the SwapCustomerLink to a plain link),
// before anything after it.
type killedAfterLink struct{ catalogfile.Store }

func (s killedAfterLink) SwapCustomerLink(ctx context.Context, customer string, from, to playback.CustomerLink) (bool, error) {
	if swapped, err := s.Store.SwapCustomerLink(ctx, customer, from, to); !swapped || err != nil || to.Pending {
		return swapped, err
	}
	return true, errKilled
}

// TestImportedLinkWakesParkedEvents: a subscriber's
// customer.subscription.created (testdata/stripe subscription shape)
// arrives before any account names its customer and is parked for the
// link; Stripe was answered 200 and never sends it again, and without
// STRIPE_API_KEY no reconciliation wakes it. The operator then links the
// customer with playplane import (make import), which has no bus: the
// event is handed to the sweeper, whose next run past its first backoff
// (SweepAge) applies it. Before, the import linked and woke nothing, and
// the event stayed parked for a customer already linked, for good. So
// also when the import is killed right after the link, and when a link
// made before (a killed import, an older release) is imported again; on
// bolt, DynamoDB Local and the Firestore emulator.
func TestImportedLinkWakesParkedEvents(t *testing.T) {
	t.Parallel()
	const file = `{
  "plans": [{"id": "basic", "name": "Basic", "max_streams": 1, "max_devices": 2, "max_quality": "HD"}],
  "accounts": [{"id": "acct_im", "plan_id": "basic", "territory": "DE", "status": "none", "customer_id": "cus_Im01"}]
}
`
	for _, tc := range []struct {
		name string
		// importFile imports f into s, as one or more runs of playplane
		// import would.
		importFile func(t *testing.T, h *harness, s catalogfile.Store, f catalogfile.File)
	}{
		{name: "import links", importFile: func(t *testing.T, h *harness, s catalogfile.Store, f catalogfile.File) {
			if _, err := catalogfile.Apply(t.Context(), s, diff(t, s, f), "cli:test", h.clock.Now); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "import killed after the link", importFile: func(t *testing.T, h *harness, s catalogfile.Store, f catalogfile.File) {
			if _, err := catalogfile.Apply(t.Context(), killedAfterLink{s}, diff(t, s, f), "cli:test", h.clock.Now); !errors.Is(err, errKilled) {
				t.Fatalf("the import was not killed at its link: %v", err)
			}
		}},
		{name: "linked before, imported again", importFile: func(t *testing.T, h *harness, s catalogfile.Store, f catalogfile.File) {
			plan := diff(t, s, f)
			if err := s.LinkCustomer(t.Context(), "cus_Im01", "acct_im"); err != nil {
				t.Fatal(err)
			}
			if _, err := catalogfile.Apply(t.Context(), s, plan, "cli:test", h.clock.Now); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parkStores(t, func(t *testing.T, opts ...harnessOption) {
				h := newHarness(t, append(opts, noLinkWait)...)
				if h.srv.CanReconcile() {
					t.Fatal("the harness reads Stripe's API: reconciliation would wake the customer")
				}
				sub := subState{id: "sub_im", customer: "cus_Im01", status: "active", price: "price_std",
					start: at(0), end: at(month), created: at(0)}
				h.run(eventPayload(t, "evt_sub_im", typeSubscriptionCreated, at(time.Minute), sub.obj(t), nil))
				if got := len(h.parked(parkCustomer("cus_Im01"))); got != 1 {
					t.Fatalf("%d events parked for cus_Im01, want 1", got)
				}
				f, err := catalogfile.Parse("catalogue.json", []byte(file))
				if err != nil {
					t.Fatal(err)
				}
				h.clock.Set(h.clock.Now().Add(time.Hour))
				s, ok := h.store.(catalogfile.Store)
				if !ok {
					t.Fatalf("%T is not an import's store", h.store)
				}
				tc.importFile(t, h, s, f)
				if id, err := h.store.AccountIDByCustomer(t.Context(), "cus_Im01"); err != nil || id != "acct_im" {
					t.Fatalf("cus_Im01 after the import: %q, %v; want acct_im", id, err)
				}
				h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
				if _, err := h.srv.Sweep(t.Context()); err != nil {
					t.Fatal(err)
				}
				h.settle()
				h.wantProcessed("evt_sub_im", "a sweep after the import")
				wantState(t, h.getAccount("acct_im"), playback.StatusActive, "standard")
			})
		})
	}
}

func diff(t *testing.T, s catalogfile.Store, f catalogfile.File) catalogfile.Plan {
	t.Helper()
	plan, err := catalogfile.Diff(t.Context(), s, f)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

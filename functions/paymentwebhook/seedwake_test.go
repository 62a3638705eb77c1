package paymentwebhook

import (
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestDemoSeedWakesParkedEvents: a Stripe event of the demo family's
// customer (testdata/stripe subscription shape) arrives while the store
// holds no acct_family (an operator deleted it, or the store took Stripe
// events before its seed) and waits: under account:acct_family when its
// metadata.account_id names the account, under customer:cus_demo_family
// when nothing names one. Then a runner seeds the demo data, which
// creates the account and links its customer. Before, the seed wrote both
// with PutAccount and LinkCustomer, which wake nothing, and the sweeper
// retries neither key: the event, acknowledged to Stripe, was never
// applied. Now the seed creates and links through events.CreateStripeAccount
// and events.LinkStripeCustomer, and the sweeper's next run past SweepAge
// applies it; on bolt, DynamoDB Local and the Firestore emulator.
func TestDemoSeedWakesParkedEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		meta    obj
		wantKey string
	}{
		{name: "waiting for the account", meta: obj{"account_id": demo.AccountFamily}, wantKey: parkAccount(demo.AccountFamily)},
		{name: "waiting for the customer's link", wantKey: parkCustomer("cus_demo_family")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parkStores(t, func(t *testing.T, opts ...harnessOption) {
				h := newHarness(t, append(opts, noLinkWait)...)
				sub := subState{id: "sub_demo", customer: "cus_demo_family", status: "active", price: "price_std",
					start: at(0), end: at(month), created: at(0)}
				object := sub.obj(t)
				if tc.meta != nil {
					object = withMeta(object, tc.meta)
				}
				h.run(eventPayload(t, "evt_sub_demo", typeSubscriptionCreated, at(time.Minute), object, nil))
				if ev, err := h.inboxEvent("evt_sub_demo"); err != nil || !ev.ProcessedAt.IsZero() || ev.ParkedKey != tc.wantKey {
					t.Fatalf("evt_sub_demo should wait under %q: %+v %v", tc.wantKey, ev, err)
				}
				store, ok := h.store.(demo.Store)
				if !ok {
					t.Fatalf("%T is not a demo.Store", h.store)
				}
				if err := demo.Seed(t.Context(), store, "http://edge.test", h.clock.Now()); err != nil {
					t.Fatal(err)
				}
				// The seed's clock ran on from now at the wall's pace.
				h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge + time.Second))
				if _, err := h.srv.Sweep(t.Context()); err != nil {
					t.Fatal(err)
				}
				h.settle()
				h.wantProcessed("evt_sub_demo", "a sweep past SweepAge after the seed")
				a := h.getAccount(demo.AccountFamily)
				if !slices.ContainsFunc(a.Subscriptions, func(s playback.Subscription) bool { return s.ID == "sub_demo" }) {
					t.Fatalf("acct_family after the event: subscriptions %+v, want sub_demo", a.Subscriptions)
				}
			})
		})
	}
}

package paymentwebhook

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// losingBus loses the announcements of event id while lose is set.
type losingBus struct {
	playback.Publisher
	id   string
	lose *atomic.Bool
}

func (b losingBus) Publish(ctx context.Context, topic string, msgs ...playback.Message) error {
	kept := msgs[:0:0]
	for _, m := range msgs {
		var rec events.StripeEventRecorded
		if b.lose.Load() && topic == events.TopicStripeEvents && json.Unmarshal(m.Data, &rec) == nil && rec.EventID == b.id {
			continue
		}
		kept = append(kept, m)
	}
	if len(kept) == 0 {
		return nil
	}
	return b.Publisher.Publish(ctx, topic, kept...)
}

// TestConsumerRenamingAnAccountWakesItsHeldCheckout: a checkout of
// acct_first's cus_shared for acct_second waits while acct_first holds
// it, hours already, so the sweeper's backoff for it has grown to hours
// too. A newer checkout gives acct_first another customer, which frees
// cus_shared: the consumer itself wakes the held checkout, which applies
// at once, or, its announcement lost, at the sweeper's next run past its
// first backoff (handed over before the write). Before, nothing woke it:
// it waited out the grown backoff, with the viewer paid and not
// entitled.
func TestConsumerRenamingAnAccountWakesItsHeldCheckout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		lost bool // the wake's announcement of the held checkout is lost
	}{
		{name: "announced"},
		{name: "the announcement lost", lost: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parkStores(t, func(t *testing.T, opts ...harnessOption) {
				const id = "evt_checkout_second"
				lose := &atomic.Bool{}
				h := newHarness(t, append(opts, func(_ *Config, d *Deps) { d.Bus = losingBus{d.Bus, id, lose} })...)
				h.linked("acct_first", "cus_shared")
				h.account("acct_second")
				h.run(stripeEvent(id, typeCheckoutCompleted, at(time.Minute), checkoutObj("cs_second", "acct_second", "cus_shared", "")))
				for range 3 {
					h.clock.Set(h.clock.Now().Add(2 * time.Hour))
					if _, err := h.srv.Sweep(t.Context()); err != nil {
						t.Fatal(err)
					}
					h.settle()
				}
				if ev, err := h.inboxEvent(id); err != nil || !ev.ProcessedAt.IsZero() || h.srv.sweepBackoff(ev) < time.Hour {
					t.Fatalf("the checkout of cus_shared for acct_second after hours of retries: processed at %v, parked under %q, backoff %v (%v); "+
						"want unprocessed, an hour or more", ev.ProcessedAt, ev.ParkedKey, h.srv.sweepBackoff(ev), err)
				}

				lose.Store(tc.lost)
				h.run(stripeEvent("evt_checkout_first_new", typeCheckoutCompleted, at(2*time.Minute),
					checkoutObj("cs_first_new", "acct_first", "cus_first_new", "")))
				lose.Store(false)
				if first := h.getAccount("acct_first"); first.CustomerID != "cus_first_new" {
					t.Fatalf("acct_first names %q after its newer checkout, want cus_first_new", first.CustomerID)
				}
				when := "once acct_first's newer checkout names another customer, with no sweep"
				if tc.lost {
					when = "at the sweeper's next run past its first backoff, the wake's announcement lost"
					h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
					if _, err := h.srv.Sweep(t.Context()); err != nil {
						t.Fatal(err)
					}
					h.settle()
				}
				h.wantProcessed(id, when)
				if second := h.getAccount("acct_second"); second.CustomerID != "cus_shared" {
					t.Errorf("acct_second names %q once acct_first let cus_shared go, want cus_shared", second.CustomerID)
				}
			})
		})
	}
}

// TestCheckoutsRefusedEachOthersCustomerBackOff: acct_a names cus_a and
// acct_b cus_b, and newer checkouts swap them: acct_a's names cus_b,
// acct_b's cus_a. Each is refused (the other account holds the customer)
// and waits under the customer's held key until an operator settles it,
// retried by the sweeper on a backoff that grows with the wait, as any
// held checkout. A refused link frees nothing, so it must not hand the
// checkouts held for the customer its account names to the sweeper: each
// retry of one would reset the other's backoff to the sweeper's first
// (SweepAge), and the two would retry each other every minute for good,
// each retry logged at ERROR.
func TestCheckoutsRefusedEachOthersCustomerBackOff(t *testing.T) {
	t.Parallel()
	parkStores(t, func(t *testing.T, opts ...harnessOption) {
		h := newHarness(t, opts...)
		h.linked("acct_a", "cus_a")
		h.linked("acct_b", "cus_b")
		ids := map[string]string{"evt_swap_a": "cus_b", "evt_swap_b": "cus_a"}
		h.run(stripeEvent("evt_swap_a", typeCheckoutCompleted, at(time.Minute), checkoutObj("cs_swap_a", "acct_a", "cus_b", "")),
			stripeEvent("evt_swap_b", typeCheckoutCompleted, at(time.Minute), checkoutObj("cs_swap_b", "acct_b", "cus_a", "")))
		republished := 0
		for range 12 {
			h.clock.Set(h.clock.Now().Add(30 * time.Minute))
			n, err := h.srv.Sweep(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			republished += n
			h.settle()
		}
		for id, cus := range ids {
			ev, err := h.inboxEvent(id)
			if err != nil || !ev.ProcessedAt.IsZero() || ev.ParkedKey != parkHeld(cus) || h.srv.sweepBackoff(ev) < time.Hour {
				t.Errorf("%s six hours into the swap (%d republished by 12 sweeps): processed at %v, parked under %q since %v, "+
					"backoff %v (%v); want unprocessed under %q, an hour or more", id, republished, ev.ProcessedAt, ev.ParkedKey,
					ev.ParkedSince, h.srv.sweepBackoff(ev), err, parkHeld(cus))
			}
		}
		if a, b := h.getAccount("acct_a"), h.getAccount("acct_b"); a.CustomerID != "cus_a" || b.CustomerID != "cus_b" {
			t.Errorf("acct_a names %q, acct_b %q; want cus_a, cus_b as before the refused checkouts", a.CustomerID, b.CustomerID)
		}
	})
}

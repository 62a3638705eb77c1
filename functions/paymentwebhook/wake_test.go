package paymentwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// writesDown is a store whose account writes fail while down is set.
type writesDown struct {
	harnessStore
	down *atomic.Bool
}

func (s writesDown) UpdateAccount(ctx context.Context, id string, fn func(*playback.Account) error) (playback.Account, error) {
	if s.down.Load() {
		return playback.Account{}, playback.Unavailable(errors.New("store writes down"), "test store")
	}
	return s.harnessStore.UpdateAccount(ctx, id, fn)
}

// downAtWake sets down when it forwards the second announcement of one
// Stripe event: the first is the webhook's, the second the wake's.
type downAtWake struct {
	playback.Publisher
	eventID string
	down    *atomic.Bool
	seen    atomic.Int32
}

func (p *downAtWake) Publish(ctx context.Context, topic string, msgs ...playback.Message) error {
	for _, m := range msgs {
		var rec events.StripeEventRecorded
		if topic == events.TopicStripeEvents && json.Unmarshal(m.Data, &rec) == nil && rec.EventID == p.eventID &&
			p.seen.Add(1) == 2 {
			p.down.Store(true)
		}
	}
	return p.Publisher.Publish(ctx, topic, msgs...)
}

// TestWokenEventOutlivesItsBusRetries: a new subscriber's
// customer.subscription.created comes before its checkout and is parked
// for the customer's link; the checkout links and wakes it, and the store
// refuses writes for longer than the bus retries the woken event (SQS:
// maxReceiveCount 5, 180 s apart, then the DLQ). Stripe acknowledged both
// events and never sends them again, no further link may come, and
// without STRIPE_API_KEY no reconciliation wakes the customer again: once
// the store is back, the sweeper must apply the event, or the subscriber
// who paid is never entitled.
func TestWokenEventOutlivesItsBusRetries(t *testing.T) {
	t.Parallel()
	down := &atomic.Bool{}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var pub *downAtWake
	h := newHarness(t, noLinkWait, withStore(writesDown{harnessStore: db, down: down}), func(_ *Config, d *Deps) {
		pub = &downAtWake{Publisher: d.Bus, eventID: "evt_sub_wk", down: down}
		d.Bus = pub
	})
	h.account("acct_wk")
	h.run(stripeEvent("evt_sub_wk", typeSubscriptionCreated, at(time.Hour),
		subObj("sub_wk", "cus_wk", "active", "price_std", at(0), at(month))))
	if got := len(h.parked(parkCustomer("cus_wk"))); got != 1 {
		t.Fatalf("%d events parked for cus_wk, want 1", got)
	}
	h.clock.Set(h.clock.Now().Add(2 * time.Hour))
	h.run(stripeEvent("evt_co_wk", typeCheckoutCompleted, at(3*time.Hour), checkoutObj("cs_wk", "acct_wk", "cus_wk", "")))
	h.settleLong() // the bus gives the woken event up
	if !down.Load() {
		t.Fatal("the wake was not announced: the test no longer fails its processing")
	}
	down.Store(false)
	// The store is back: the sweeper's next run applies it. It waited as
	// long as it had waited for its link (hours, up to the bus's hold).
	h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
	if _, err := h.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.settle()
	h.wantProcessed("evt_sub_wk", "")
	wantState(t, h.getAccount("acct_wk"), playback.StatusActive, "standard")
}

// writeDownOnce is a store whose first account write after down is set
// fails, and the writes after it go through.
type writeDownOnce struct {
	harnessStore
	down *atomic.Bool
}

func (s writeDownOnce) UpdateAccount(ctx context.Context, id string, fn func(*playback.Account) error) (playback.Account, error) {
	if s.down.CompareAndSwap(true, false) {
		return playback.Account{}, playback.Unavailable(errors.New("store write down once"), "test store")
	}
	return s.harnessStore.UpdateAccount(ctx, id, fn)
}

// TestWokenEventRetriesOnTheBus: a woken event whose processing meets one
// store failure is retried by the bus, as a pending event is, and applied
// without waiting for the sweeper. Before, the first failure parked it
// for Sweep (a minute and more later) and the bus stopped retrying it.
func TestWokenEventRetriesOnTheBus(t *testing.T) {
	t.Parallel()
	down := &atomic.Bool{}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := newHarness(t, noLinkWait, withStore(writeDownOnce{harnessStore: db, down: down}), func(_ *Config, d *Deps) {
		d.Bus = &downAtWake{Publisher: d.Bus, eventID: "evt_sub_wr", down: down}
	})
	h.account("acct_wr")
	h.run(stripeEvent("evt_sub_wr", typeSubscriptionCreated, at(time.Hour),
		subObj("sub_wr", "cus_wr", "active", "price_std", at(0), at(month))))
	h.clock.Set(h.clock.Now().Add(2 * time.Hour))
	h.run(stripeEvent("evt_co_wr", typeCheckoutCompleted, at(3*time.Hour), checkoutObj("cs_wr", "acct_wr", "cus_wr", "")))
	h.settleLong()
	if down.Load() {
		t.Fatal("no write failed after the wake: the test no longer fails its processing")
	}
	h.wantProcessed("evt_sub_wr", "")
	wantState(t, h.getAccount("acct_wr"), playback.StatusActive, "standard")
}

// readsDown is a store whose inbox reads fail while down is set.
type readsDown struct {
	harnessStore
	down *atomic.Bool
}

func (s readsDown) GetEvent(ctx context.Context, source, id string) (playback.InboxEvent, error) {
	if s.down.Load() {
		return playback.InboxEvent{}, playback.Unavailable(errors.New("store reads down"), "test store")
	}
	return s.harnessStore.GetEvent(ctx, source, id)
}

// TestWokenEventOutlivesAnUnreadableStore: as
// TestWokenEventOutlivesItsBusRetries, but the store cannot even be read
// while the bus retries the woken event, so the consumer cannot move it
// where the sweeper looks: it stayed parked under its customer's key,
// whose wake had passed, and without STRIPE_API_KEY nothing woke it
// again. The wake leaves it where the sweeper retries it.
func TestWokenEventOutlivesAnUnreadableStore(t *testing.T) {
	t.Parallel()
	down := &atomic.Bool{}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := newHarness(t, noLinkWait, withStore(readsDown{harnessStore: db, down: down}), func(_ *Config, d *Deps) {
		d.Bus = &downAtWake{Publisher: d.Bus, eventID: "evt_sub_rd", down: down}
	})
	if h.srv.CanReconcile() {
		t.Fatal("the harness reads Stripe's API: reconciliation would wake the customer again")
	}
	h.account("acct_rd")
	h.run(stripeEvent("evt_sub_rd", typeSubscriptionCreated, at(time.Hour),
		subObj("sub_rd", "cus_rd", "active", "price_std", at(0), at(month))))
	if got := len(h.parked(parkCustomer("cus_rd"))); got != 1 {
		t.Fatalf("%d events parked for cus_rd, want 1", got)
	}
	h.clock.Set(h.clock.Now().Add(2 * time.Hour))
	h.run(stripeEvent("evt_co_rd", typeCheckoutCompleted, at(3*time.Hour), checkoutObj("cs_rd", "acct_rd", "cus_rd", "")))
	h.settleLong() // the bus gives the woken event up
	if !down.Load() {
		t.Fatal("the wake was not announced: the test no longer fails its processing")
	}
	if dead := h.bus.DeadLetters(events.TopicStripeEvents); len(dead) == 0 {
		t.Fatal("the woken event's announcement was not dead-lettered: the test no longer outlives the bus")
	}
	down.Store(false)
	// The sweeper's next run, a minute after the wake, applies it.
	h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
	if _, err := h.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.settle()
	h.wantProcessed("evt_sub_rd", "")
	wantState(t, h.getAccount("acct_rd"), playback.StatusActive, "standard")
}

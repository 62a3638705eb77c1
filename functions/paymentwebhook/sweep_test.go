package paymentwebhook

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/playback"
)

// heldAnnouncements keeps the announcements of Stripe events instead of
// delivering them: the bus still holds them, between two retries of an
// event its consumer cannot apply yet (or it lost them, which Sweep
// cannot tell apart).
type heldAnnouncements struct {
	mu   sync.Mutex
	byID map[string]int
}

func (p *heldAnnouncements) option(_ *Config, d *Deps) {
	inner := d.Bus
	d.Bus = publishFunc(func(ctx context.Context, topic string, msgs ...playback.Message) error {
		if topic != events.TopicStripeEvents {
			return inner.Publish(ctx, topic, msgs...)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, m := range msgs {
			var rec events.StripeEventRecorded
			if err := json.Unmarshal(m.Data, &rec); err != nil {
				return err
			}
			if p.byID == nil {
				p.byID = map[string]int{}
			}
			p.byID[rec.EventID]++
		}
		return nil
	})
}

func (p *heldAnnouncements) count(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byID[id]
}

// TestSweepAnnouncesARetryingEventOncePerBackoff: an event the bus keeps
// retrying stays unprocessed, and Sweep, run every minute, announced it
// again on every run, each copy retried on its own. Sweep announces it
// once within its backoff, which doubles with each announcement, and
// still announces it again when no delivery comes (a lost announcement
// looks the same). Every store: the backoff rests on the inbox's state.
func TestSweepAnnouncesARetryingEventOncePerBackoff(t *testing.T) {
	t.Parallel()
	parkStores(t, func(t *testing.T, opts ...harnessOption) {
		var held heldAnnouncements
		h := newHarness(t, append(opts, held.option)...)
		start := h.clock.Now()
		h.deliver(stripeEvent("evt_held", typeSubscriptionCreated, at(time.Hour),
			subObj("sub_h", "cus_h", "active", "price_std", at(0), at(month))))
		if got := held.count("evt_held"); got != 1 {
			t.Fatalf("the webhook announced %d times, want 1", got)
		}
		var announcedAt []time.Duration // the event's age at each of Sweep's
		for minute := 1; minute <= 190; minute++ {
			h.clock.Set(start.Add(time.Duration(minute) * time.Minute))
			before := held.count("evt_held")
			if _, err := h.srv.Sweep(t.Context()); err != nil {
				t.Fatalf("sweep at minute %d: %v", minute, err)
			}
			switch n := held.count("evt_held") - before; n {
			case 0:
			case 1:
				announcedAt = append(announcedAt, time.Duration(minute)*time.Minute)
			default:
				t.Fatalf("sweep at minute %d announced it %d times", minute, n)
			}
		}
		// First when older than SweepAge (the first run after a
		// minute), then after SweepAge more than Sweep had had it, up to
		// the bus's hold: 1, 2, 4, 8 … minutes apart.
		var want []time.Duration
		first := 2 * time.Minute
		for age := first; age <= 190*time.Minute; age += min(age-first+h.srv.cfg.SweepAge, h.srv.sweepHold) {
			want = append(want, age)
		}
		if len(announcedAt) != len(want) {
			t.Fatalf("over 190 sweeps a minute apart, announced at ages %v, want %v", announcedAt, want)
		}
		for i := range want {
			if announcedAt[i] != want[i] {
				t.Fatalf("announced at ages %v, want %v", announcedAt, want)
			}
		}
	})
}

// TestSweptEventDoesNotExpire: an event Sweep announced waits for that
// announcement, not for a customer's link, so it keeps no end of wait even
// where Reconcile runs: expiring at the inbox retention, an event still
// failing would be gone from the inbox.
func TestSweptEventDoesNotExpire(t *testing.T) {
	t.Parallel()
	var held heldAnnouncements
	h := newHarness(t, held.option, func(_ *Config, d *Deps) {
		// Never called: CanReconcile is what matters.
		api, err := NewStripeAPI("sk_test_unused", "http://127.0.0.1:9")
		if err != nil {
			t.Fatal(err)
		}
		d.Stripe = api
	})
	h.deliver(stripeEvent("evt_held", typeSubscriptionCreated, at(time.Hour),
		subObj("sub_h", "cus_h", "active", "price_std", at(0), at(month))))
	h.clock.Set(h.clock.Now().Add(2 * time.Minute))
	if n, err := h.srv.Sweep(t.Context()); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	ev, err := h.inboxEvent("evt_held")
	if err != nil || ev.ParkedKey != parkAnnounced || !ev.ExpiresAt.IsZero() {
		t.Fatalf("swept event: parked under %q, expires at %v (%v); want %q, never", ev.ParkedKey, ev.ExpiresAt, err, parkAnnounced)
	}
}

// TestSweepBackoffFollowsTheBusDeliveries: Sweep's backoff stops growing
// at how long the bus may hold one announcement, which is as many
// deliveries as the bus is configured for (playback.DeliveryLimiter; the
// catalogue's count for a bus that says none), each followed by the
// longest wait for the next as deployed (catalog.MaxRedeliveryGap). It
// stopped at an hour, which assumed five deliveries: with more, an
// announcement the bus still retried got a copy; with fewer, a lost one
// waited longer than the bus could hold it.
func TestSweepBackoffFollowsTheBusDeliveries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		deliveries int // 0: a bus that says none
	}{
		{name: "fewer than the catalogue's", deliveries: 2},
		{name: "the catalogue's, said by no bus"},
		{name: "more than the catalogue's", deliveries: 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var held heldAnnouncements
			opts := []harnessOption{held.option}
			last := catalog.MaxDeliveryAttempts
			if tc.deliveries > 0 {
				last = tc.deliveries
				opts = append(opts, func(_ *Config, d *Deps) { d.Bus = deliveryCount{Publisher: d.Bus, n: tc.deliveries} })
			}
			hold := time.Duration(last) * catalog.MaxRedeliveryGap(events.TopicStripeEvents)
			h := newHarness(t, opts...)
			start := h.clock.Now()
			h.deliver(stripeEvent("evt_held", typeSubscriptionCreated, at(time.Hour),
				subObj("sub_h", "cus_h", "active", "price_std", at(0), at(month))))
			var announcedAt []time.Duration
			for minute := 1; minute <= int((5*hold+16*time.Hour)/time.Minute); minute++ {
				now := start.Add(time.Duration(minute) * time.Minute)
				h.clock.Set(now)
				before := held.count("evt_held")
				if _, err := h.srv.Sweep(t.Context()); err != nil {
					t.Fatalf("sweep at minute %d: %v", minute, err)
				}
				if held.count("evt_held") > before {
					announcedAt = append(announcedAt, now.Sub(start))
				}
			}
			if len(announcedAt) < 4 {
				t.Fatalf("announced at %v: too few to see the backoff stop growing", announcedAt)
			}
			n := len(announcedAt)
			for i := n - 3; i < n; i++ {
				// Announced by a run a minute apart: up to a minute late.
				if gap := announcedAt[i] - announcedAt[i-1]; gap < hold || gap > hold+time.Minute {
					t.Fatalf("announced %v after the one before, want the bus's hold %v (%d deliveries); at ages %v",
						gap, hold, last, announcedAt)
				}
			}
		})
	}
}

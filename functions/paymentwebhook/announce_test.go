package paymentwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// failFirst makes the first entitlement-changed publish of cause fail, and
// runs then, if set, before the failure reaches the publisher's caller.
func failFirst(cause string, then func()) harnessOption {
	return func(_ *Config, d *Deps) {
		inner := d.Bus
		var once sync.Once
		d.Bus = publishFunc(func(ctx context.Context, topic string, msgs ...playback.Message) error {
			if topic == events.TopicEntitlementChanged {
				var ev events.EntitlementChanged
				failed := false
				if json.Unmarshal(msgs[0].Data, &ev) == nil && ev.Cause == cause {
					once.Do(func() { failed = true })
				}
				if failed {
					if then != nil {
						then()
					}
					return playback.Unavailable(errors.New("bus down"), "test publisher")
				}
			}
			return inner.Publish(ctx, topic, msgs...)
		})
	}
}

func wantLastAnnouncement(t *testing.T, h *harness, entitled bool, status playback.SubscriptionStatus) {
	t.Helper()
	evs := h.entitlementEvents()
	if len(evs) == 0 {
		t.Fatal("nothing announced")
	}
	if last := evs[len(evs)-1]; last.Entitled != entitled || last.Status != string(status) {
		t.Fatalf("last announcement %+v, want entitled %v, %s (announcements %+v)", last, entitled, status, evs)
	}
}

// TestChangeAnnouncedAfterANewerEventTookItsPlace: the cancellation's
// announcement fails, and before its retry a newer event of the same
// subscription, which changes no entitlement, replaces its snapshot. The
// retry then neither holds the state nor changes it, yet the loss of the
// entitlement was never announced. Every store: the account keeps the
// entitlement last announced.
func TestChangeAnnouncedAfterANewerEventTookItsPlace(t *testing.T) {
	t.Parallel()
	parkStores(t, testChangeAnnouncedAfterANewerEventTookItsPlace)
}

func testChangeAnnouncedAfterANewerEventTookItsPlace(t *testing.T, opts ...harnessOption) {
	newer := stripeEvent("evt_newer", typeSubscriptionUpdated, at(3*time.Hour),
		subObj("sub_a", "cus_a", "canceled", "price_std", at(0), at(month)))
	var h *harness
	h = newHarness(t, append(opts, failFirst("evt_cancel", func() {
		// The newer event arrives and is handled while the cancellation
		// waits for its retry.
		h.deliver(newer)
		data, _ := json.Marshal(events.StripeEventRecorded{EventID: "evt_newer", Type: typeSubscriptionUpdated})
		if retry := h.srv.HandleStripeEvents(context.Background(), []playback.Message{{ID: "m_newer", Data: data}}); len(retry) != 0 {
			t.Errorf("newer event asks for a retry")
		}
		a, err := h.store.GetAccount(context.Background(), "acct_a")
		if err != nil || len(a.Subscriptions) != 1 || slices.ContainsFunc(a.Subscriptions[0].Snapshots,
			func(s playback.SubscriptionSnapshot) bool { return s.Event == "evt_cancel" }) {
			t.Errorf("the newer event did not take the cancellation's place: %+v, %v", a.Subscriptions, err)
		}
	}))...)
	h.linked("acct_a", "cus_a")
	h.run(stripeEvent("evt_1", typeSubscriptionCreated, at(time.Hour),
		subObj("sub_a", "cus_a", "active", "price_std", at(0), at(month))))
	wantLastAnnouncement(t, h, true, playback.StatusActive)
	h.run(stripeEvent("evt_cancel", typeSubscriptionDeleted, at(2*time.Hour),
		subObj("sub_a", "cus_a", "canceled", "price_std", at(0), at(month))))
	wantState(t, h.getAccount("acct_a"), playback.StatusCanceled, "standard")
	if p := h.pending(); len(p) != 0 {
		t.Fatalf("%d events left unprocessed", len(p))
	}
	wantLastAnnouncement(t, h, false, playback.StatusCanceled)
}

// TestReconcileRepairAnnouncedDespitePublishFailure: a run repairs an
// account, taking its entitlement, and the announcement fails; the next
// run finds the account in sync, and must still announce. Every store.
func TestReconcileRepairAnnouncedDespitePublishFailure(t *testing.T) {
	t.Parallel()
	parkStores(t, testReconcileRepairAnnouncedDespitePublishFailure)
}

func testReconcileRepairAnnouncedDespitePublishFailure(t *testing.T, opts ...harnessOption) {
	h := newHarness(t, append(opts, failFirst("reconcile", nil))...)
	h.linked("acct_r", "cus_r")
	h.run(stripeEvent("evt_1", typeSubscriptionCreated, at(time.Hour),
		subObj("sub_r", "cus_r", "active", "price_std", at(0), at(month))))
	wantLastAnnouncement(t, h, true, playback.StatusActive)

	// The cancellation's event was missed; the listing says it.
	var listed stripeSubscription
	raw, _ := json.Marshal(subObj("sub_r", "cus_r", "canceled", "price_std", at(0), at(month)))
	if err := json.Unmarshal(raw, &listed); err != nil {
		t.Fatal(err)
	}
	now := base.Add(24 * time.Hour)
	h.clock.Set(now)
	run := func() (ReconcileReport, error) {
		r := reconciler{s: h.srv, now: now, announced: map[string]bool{}}
		err := r.subscription(t.Context(), listed, now)
		h.settle()
		return r.rep, err
	}
	if rep, err := run(); err == nil || rep.Failed != 1 {
		t.Fatalf("first run: %+v, %v; want the publish failure", rep, err)
	}
	wantState(t, h.getAccount("acct_r"), playback.StatusCanceled, "standard")
	if rep, err := run(); err != nil || rep.InSync != 1 {
		t.Fatalf("second run: %+v, %v", rep, err)
	}
	wantLastAnnouncement(t, h, false, playback.StatusCanceled)
}

package paymentwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
)

// TestSignatureTimestampRefusedBothWays: a timestamp further than the
// tolerance ahead is as unverifiable as an old one, and writes nothing.
func TestSignatureTimestampRefusedBothWays(t *testing.T) {
	t.Parallel()
	payload := stripeEvent("evt_ts", typeSubscriptionUpdated, at(time.Hour), subObj("sub_ts", "cus_ts", "active", "price_std", at(0), at(month)))
	for _, tc := range []struct {
		name   string
		offset time.Duration
		status int
	}{
		{name: "an hour ahead", offset: time.Hour, status: http.StatusBadRequest},
		{name: "just outside the tolerance ahead", offset: 301 * time.Second, status: http.StatusBadRequest},
		{name: "just inside the tolerance ahead", offset: 299 * time.Second, status: http.StatusOK},
		{name: "just outside the tolerance behind", offset: -301 * time.Second, status: http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			header := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: testSecret,
				Timestamp: h.clock.Now().Add(tc.offset)}).Header
			rec := h.post(payload, header)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status != http.StatusOK {
				var body struct {
					Error struct {
						Reason string `json:"reason"`
					} `json:"error"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				if body.Error.Reason != reasonSignatureExpired {
					t.Fatalf("reason %q: %s", body.Error.Reason, rec.Body)
				}
				if _, err := h.inboxEvent("evt_ts"); !playback.IsCode(err, playback.CodeNotFound) {
					t.Fatalf("a refused request wrote the event: %v", err)
				}
			}
		})
	}
}

// TestUnknownStatusIsParkedNotDropped: a status this code cannot map is
// neither applied nor marked processed: it stays in the inbox for the
// sweeper (and a release that knows the status), and Stripe's redelivery
// is reprocessed rather than answered "duplicate".
func TestUnknownStatusIsParkedNotDropped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.linked("acct_u", "cus_u")
	h.run(stripeEvent("evt_ok", typeSubscriptionCreated, at(time.Hour), subObj("sub_u", "cus_u", "active", "price_std", at(0), at(month))))
	odd := stripeEvent("evt_odd", typeSubscriptionUpdated, at(2*time.Hour), subObj("sub_u", "cus_u", "frozen", "price_std", at(0), at(month)))
	h.run(odd)
	wantState(t, h.getAccount("acct_u"), playback.StatusActive, "standard")
	ev, err := h.inboxEvent("evt_odd")
	if err != nil || !ev.ProcessedAt.IsZero() || ev.ParkedKey != parkRetry {
		t.Fatalf("unknown status should be parked unprocessed, for retry: %+v %v", ev, err)
	}
	if dead := h.bus.DeadLetters(events.TopicStripeEvents); len(dead) != 0 {
		t.Fatalf("parked, not dead-lettered: %d", len(dead))
	}
	if got := h.deliver(odd); got.Outcome != "republished" {
		t.Fatalf("redelivery of a parked event: %q", got.Outcome)
	}
	h.settle()
	h.clock.Set(h.clock.Now().Add(2 * time.Minute))
	if n, err := h.srv.Sweep(t.Context()); err != nil || n != 1 {
		t.Fatalf("the sweeper should announce the parked event again: %d %v", n, err)
	}
	h.settle()
}

// parkStores runs a test on every store: the behaviour rests on the
// store's parked state, which each adapter keeps its own way.
func parkStores(t *testing.T, run func(t *testing.T, opts ...harnessOption)) {
	for _, st := range corpusStores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			var opts []harnessOption
			if st.open != nil {
				opts = append(opts, withStore(st.open(t)))
			}
			run(t, opts...)
		})
	}
}

// settleLong is settle for hundreds of events on the cloud stand-ins under
// -race on a shared machine.
func (h *harness) settleLong() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := h.bus.Idle(ctx); err != nil {
		h.t.Fatal(err)
	}
}

// wantProcessed fails unless event id was processed, saying when (after
// id) it should have been. The cloud stores expire processed events by
// the wall clock, long past the harness's, so gone counts as processed:
// it was recorded before.
func (h *harness) wantProcessed(id, when string) {
	h.t.Helper()
	ev, err := h.inboxEvent(id)
	if playback.IsCode(err, playback.CodeNotFound) {
		return
	}
	if err != nil || ev.ProcessedAt.IsZero() {
		if when != "" {
			when = " " + when
		}
		h.t.Fatalf("%s%s: not processed, parked under %q since %v (%v)", id, when, ev.ParkedKey, ev.ParkedSince, err)
	}
}

// noLinkWait parks an unlinked customer's event at its first attempt.
func noLinkWait(c *Config, _ *Deps) { c.LinkWait = 0 }

// TestSweepIsNotStarvedByParkedEvents: 50 events of customers that are
// never linked (a Stripe account that also bills other products), two and
// a half sweep batches, are parked, and an event recorded after all of
// them whose announcement was lost is republished by the very next sweep,
// which leaves the parked ones alone. (What matters is more parked events
// than a batch: 250 against the default batch of 100 proved the same at
// five times the events, each the production path on the emulators.)
func TestSweepIsNotStarvedByParkedEvents(t *testing.T) {
	t.Parallel()
	parkStores(t, func(t *testing.T, opts ...harnessOption) {
		h := newHarness(t, append(opts, noLinkWait, func(c *Config, _ *Deps) { c.SweepBatch = 20 })...)
		ctx := context.Background()
		h.linked("acct_s", "cus_s")
		const never = 50
		for i := range never {
			h.deliver(stripeEvent(fmt.Sprintf("evt_never_%03d", i), typeSubscriptionCreated, at(time.Hour),
				subObj(fmt.Sprintf("sub_never_%03d", i), fmt.Sprintf("cus_never_%03d", i), "active", "price_std", at(0), at(month))))
		}
		h.settleLong()
		if got := len(h.parked(parkCustomer("cus_never_007"))); got != 1 {
			t.Fatalf("cus_never_007 has %d parked events, want 1", got)
		}
		// Recorded, newer than every parked event, never announced: the
		// webhook's publish was lost.
		h.clock.Set(h.clock.Now().Add(time.Second))
		stranded := stripeEvent("evt_stranded", typeSubscriptionCreated, at(2*time.Hour),
			subObj("sub_s", "cus_s", "active", "price_std", at(0), at(month)))
		if _, created, err := h.store.RecordEvent(ctx, playback.InboxEvent{Source: Source, ID: "evt_stranded",
			Type: typeSubscriptionCreated, Created: time.Unix(at(2*time.Hour), 0), Payload: stranded,
			ReceivedAt: h.clock.Now()}); err != nil || !created {
			t.Fatalf("recording the stranded event: %v %v", created, err)
		}
		h.clock.Set(h.clock.Now().Add(2 * time.Minute))
		n, err := h.srv.Sweep(ctx)
		if err != nil || n != 1 {
			t.Fatalf("sweep republished %d (%v), want only the stranded event", n, err)
		}
		h.settle()
		wantState(t, h.getAccount("acct_s"), playback.StatusActive, "standard")
		h.wantProcessed("evt_stranded", "")
		if n, err := h.srv.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("a second sweep republished %d (%v): parked events are not the sweeper's", n, err)
		}
		if got := len(h.pending()); got != never {
			t.Fatalf("%d events unprocessed, want the %d parked ones", got, never)
		}
	})
}

// TestLinkWakesEveryParkedEvent: a customer with 50 parked events, behind
// 20 parked events of other customers and more than ten sweep batches (of
// 4), gets all of them applied when its link appears. The batch is small
// so that few events make many pages: 250 events in batches of 20 proved
// the same paging at five times the events.
func TestLinkWakesEveryParkedEvent(t *testing.T) {
	t.Parallel()
	parkStores(t, func(t *testing.T, opts ...harnessOption) {
		h := newHarness(t, append(opts, noLinkWait, func(c *Config, _ *Deps) { c.SweepBatch = 4 })...)
		h.account("acct_w")
		for i := range 20 {
			h.deliver(stripeEvent(fmt.Sprintf("evt_other_%03d", i), typeSubscriptionCreated, at(time.Hour),
				subObj(fmt.Sprintf("sub_other_%03d", i), fmt.Sprintf("cus_other_%03d", i), "active", "price_std", at(0), at(month))))
		}
		const many = 50
		for i := range many {
			// One subscription per event, each seen only in its event.
			h.deliver(stripeEvent(fmt.Sprintf("evt_w_%03d", i), typeSubscriptionCreated, at(time.Hour)+int64(i),
				subObj(fmt.Sprintf("sub_w_%03d", i), "cus_w", "active", "price_std", at(0), at(month))))
		}
		h.settleLong()
		if got := len(h.parked(parkCustomer("cus_w"))); got != many {
			t.Fatalf("%d events parked for cus_w, want %d", got, many)
		}
		h.clock.Set(h.clock.Now().Add(24 * time.Hour))
		h.deliver(stripeEvent("evt_co_w", typeCheckoutCompleted, at(25*time.Hour), checkoutObj("cs_w", "acct_w", "cus_w", "")))
		h.settleLong()
		if got := h.parked(parkCustomer("cus_w")); len(got) != 0 {
			t.Fatalf("%d events of cus_w still parked after its link, first %s", len(got), got[0].ID)
		}
		for i := range many {
			h.wantProcessed(fmt.Sprintf("evt_w_%03d", i), "")
		}
		if got := len(h.getAccount("acct_w").Subscriptions); got != many {
			t.Fatalf("account holds %d subscriptions, want %d", got, many)
		}
		if got := len(h.parked(parkCustomer("cus_other_013"))); got != 1 {
			t.Fatalf("another customer's event was woken: %d parked", got)
		}
	})
}

// TestRetryParkedEventsGoRound: events parked under "retry" are retried by
// the sweeper after the stranded ones and within its batch, once their
// backoff has passed, and one that fails again goes behind the others, so
// every one gets its turn.
func TestRetryParkedEventsGoRound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config, _ *Deps) { c.SweepBatch = 4 })
	ctx := context.Background()
	h.linked("acct_r", "cus_r")
	// Statuses this release cannot map: parked under "retry" for good.
	for i := range 6 {
		h.clock.Set(h.clock.Now().Add(time.Second))
		h.run(stripeEvent(fmt.Sprintf("evt_odd_%d", i), typeSubscriptionUpdated, at(time.Hour)+int64(i),
			subObj("sub_r", "cus_r", "frozen", "price_std", at(0), at(month))))
	}
	if got := len(h.parked(parkRetry)); got != 6 {
		t.Fatalf("%d events parked under retry, want 6", got)
	}
	h.clock.Set(h.clock.Now().Add(2 * time.Minute))
	seen := map[string]bool{}
	for range 3 {
		before := h.parked(parkRetry)
		n, err := h.srv.Sweep(ctx)
		if err != nil || n != 4 {
			t.Fatalf("sweep republished %d (%v), want a batch of 4", n, err)
		}
		h.settle()
		for _, ev := range before[:4] {
			seen[ev.ID] = true
		}
		// Past every event's backoff, which grows with each retry.
		h.clock.Set(h.clock.Now().Add(h.srv.sweepHold))
	}
	if len(seen) != 6 {
		t.Fatalf("retried %d distinct events in three sweeps, want all 6: %v", len(seen), seen)
	}
}

// onceFailingPublisher fails the first announcement of one Stripe event on
// TopicStripeEvents, else forwards.
type onceFailingPublisher struct {
	playback.Publisher
	eventID string
	failed  atomic.Bool
}

func (p *onceFailingPublisher) Publish(ctx context.Context, topic string, msgs ...playback.Message) error {
	if topic == events.TopicStripeEvents {
		for _, m := range msgs {
			var rec events.StripeEventRecorded
			if json.Unmarshal(m.Data, &rec) == nil && rec.EventID == p.eventID && p.failed.CompareAndSwap(false, true) {
				return playback.Unavailable(errors.New("bus down"), "test publisher")
			}
		}
	}
	return p.Publisher.Publish(ctx, topic, msgs...)
}

// TestFailedWakeIsNotLost: the checkout that links a customer wakes the
// events parked for it; when that wake's announcement fails, the parked
// event must still be applied. Stripe has no reason to redeliver either
// event (both were acknowledged), the sweeper leaves customer-parked events
// alone and no further link write may ever come, so the checkout itself
// has to be retried until its wake went through.
func TestFailedWakeIsNotLost(t *testing.T) {
	t.Parallel()
	var pub *onceFailingPublisher
	h := newHarness(t, noLinkWait, func(_ *Config, d *Deps) {
		pub = &onceFailingPublisher{Publisher: d.Bus, eventID: "evt_sub_fw"}
		d.Bus = pub
	})
	h.account("acct_fw")
	// The subscription's event comes first and is parked for its customer:
	// its first announcement is the webhook's, so let that one through.
	pub.failed.Store(true)
	h.run(stripeEvent("evt_sub_fw", typeSubscriptionCreated, at(time.Hour),
		subObj("sub_fw", "cus_fw", "active", "price_std", at(0), at(month))))
	if got := len(h.parked(parkCustomer("cus_fw"))); got != 1 {
		t.Fatalf("%d events parked for cus_fw, want 1", got)
	}
	// The checkout links the customer; the wake's announcement fails once.
	pub.failed.Store(false)
	h.clock.Set(h.clock.Now().Add(time.Hour))
	h.run(stripeEvent("evt_co_fw", typeCheckoutCompleted, at(2*time.Hour), checkoutObj("cs_fw", "acct_fw", "cus_fw", "")))
	if !pub.failed.Load() {
		t.Fatal("the wake was not announced: the test no longer fails it")
	}
	// Whatever the periodic jobs can do, they do.
	h.clock.Set(h.clock.Now().Add(time.Hour))
	if _, err := h.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.settle()
	h.wantProcessed("evt_sub_fw", "")
	wantState(t, h.getAccount("acct_fw"), playback.StatusActive, "standard")
}

// TestLinkWaitParksAtTheBusLastDelivery: an event of a customer not linked
// yet is retried on the bus while it is younger than LinkWait, but the
// buses deliver a message a bounded number of times (SQS maxReceiveCount,
// the Pub/Sub dead-letter policy): asking to retry the
// last delivery dead-lettered the announcement, paging through the
// dead-letter alarm for what the consumer logs only at WARN, instead of
// parking the event for its link.
func TestLinkWaitParksAtTheBusLastDelivery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	data := h.recordedUpdate(t, "evt_wait", "sub_w", "cus_w")
	last := h.bus.MaxDeliveryAttempts()
	for attempt := 1; attempt <= last; attempt++ {
		retry := h.srv.HandleStripeEvents(ctx, []playback.Message{{ID: "m1", Data: data, DeliveryAttempt: attempt}})
		if attempt == last == (len(retry) != 0) {
			t.Fatalf("delivery attempt %d of %d: retry %v", attempt, last, retry)
		}
	}
	if parked := h.parked(parkCustomer("cus_w")); len(parked) != 1 || parked[0].ID != "evt_wait" {
		t.Fatalf("parked for cus_w: %+v, want evt_wait", parked)
	}
}

// TestCustomerDeletedWaitsForItsAccount: a customer.deleted that names its
// account only through metadata.account_id (our checkout sets it), of an
// account not created yet, waits for the account like the customer's
// other events that name it so (parked for retry, then swept), rather
// than being rejected: rejected, the deletion was lost, and the
// customer's subscription, heard of later, stayed live.
// Shapes: testdata/stripe customer and subscription (corpus_shapes_test.go).
func TestCustomerDeletedWaitsForItsAccount(t *testing.T) {
	t.Parallel()
	// No wait on the bus first: both are parked at once.
	h := newHarness(t, func(c *Config, _ *Deps) { c.LinkWait = 0 })
	cus := customerObject(t, "cus_m")
	cus["metadata"] = obj{"account_id": "acct_m"}
	sub := withMeta(subObj("sub_m", "cus_m", "active", "price_std", at(0), at(month)), obj{"account_id": "acct_m"})
	h.run(stripeEvent("evt_sub_m", typeSubscriptionCreated, at(time.Hour), sub),
		eventPayload(t, "evt_del_m", typeCustomerDeleted, at(2*time.Hour), cus, nil))
	for _, id := range []string{"evt_sub_m", "evt_del_m"} {
		if ev, err := h.inboxEvent(id); err != nil || !ev.ProcessedAt.IsZero() || ev.ParkedKey != parkAccount("acct_m") {
			t.Fatalf("%s should wait for its account, parked for it: processed at %v, parked under %q, %v", id, ev.ProcessedAt, ev.ParkedKey, err)
		}
	}
	h.createAccount("acct_m")
	h.clock.Set(h.clock.Now().Add(2 * time.Minute))
	if _, err := h.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.settle()
	a := h.getAccount("acct_m")
	if len(a.CustomersDeleted) != 1 || a.CustomersDeleted[0].Customer != "cus_m" || a.Status != playback.StatusCanceled {
		t.Fatalf("account after the sweep: status %s, deletions %+v; want cus_m's deletion and its subscription canceled", a.Status, a.CustomersDeleted)
	}
}

// linksAtPark is a store on which the customer's link lands while the
// event is parked for it, as a checkout processed at the same time links
// it (and its wake, which listed the key before the park, passed).
type linksAtPark struct {
	harnessStore
	customer, account string
}

func (s linksAtPark) ParkEvent(ctx context.Context, source, id, key string, at, expiresAt time.Time) error {
	if key == parkCustomer(s.customer) {
		if err := s.harnessStore.LinkCustomer(ctx, s.customer, s.account); err != nil {
			return err
		}
	}
	return s.harnessStore.ParkEvent(ctx, source, id, key, at, expiresAt)
}

// TestLinkAtTheBusLastDeliveryIsNotDeadLettered: at the bus's last
// delivery an event of a customer not linked yet is parked for its link;
// when the link lands meanwhile (its wake passed before the park), asking
// the bus to deliver it again would dead-letter it there, parked under a
// key no wake comes for any more. It is left to the sweeper instead.
func TestLinkAtTheBusLastDeliveryIsNotDeadLettered(t *testing.T) {
	t.Parallel()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := newHarness(t, withStore(linksAtPark{harnessStore: db, customer: "cus_l", account: "acct_l"}))
	h.account("acct_l")
	ctx := context.Background()
	data := h.recordedUpdate(t, "evt_late", "sub_l", "cus_l")
	last := h.bus.MaxDeliveryAttempts()
	if retry := h.srv.HandleStripeEvents(ctx, []playback.Message{{ID: "m1", Data: data, DeliveryAttempt: last}}); len(retry) != 0 {
		t.Fatalf("delivery attempt %d of %d: retry %v, which dead-letters it", last, last, retry)
	}
	h.clock.Set(h.clock.Now().Add(time.Hour))
	if _, err := h.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.settle()
	h.wantProcessed("evt_late", "")
}

// TestLinkAtParkOutlivesAnUnreadableStore: before the bus's last delivery
// an event of a customer not linked yet is parked for its link, and the
// link lands meanwhile (its wake passed before the park): the consumer
// asked the bus for another delivery and left the event under the
// customer's key. The store could not even be read through the deliveries
// left, so the bus dead-lettered it there, where no wake comes any more
// and the sweeper does not look: without STRIPE_API_KEY the subscriber who
// paid was never entitled. The event waits where the sweeper retries it.
func TestLinkAtParkOutlivesAnUnreadableStore(t *testing.T) {
	t.Parallel()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	down := &atomic.Bool{}
	h := newHarness(t, noLinkWait, withStore(readsDown{harnessStore: linksAtPark{harnessStore: db, customer: "cus_lp", account: "acct_lp"}, down: down}))
	if h.srv.CanReconcile() {
		t.Fatal("the harness reads Stripe's API: reconciliation would wake the customer again")
	}
	h.account("acct_lp")
	ctx := context.Background()
	data := h.recordedUpdate(t, "evt_lp", "sub_lp", "cus_lp")
	last := h.bus.MaxDeliveryAttempts()
	if retry := h.srv.HandleStripeEvents(ctx, []playback.Message{{ID: "m1", Data: data, DeliveryAttempt: last - 1}}); len(retry) != 1 {
		t.Fatalf("delivery attempt %d of %d, its link landed at its park: retry %v, want another delivery", last-1, last, retry)
	}
	down.Store(true)
	if retry := h.srv.HandleStripeEvents(ctx, []playback.Message{{ID: "m1", Data: data, DeliveryAttempt: last}}); len(retry) != 1 {
		t.Fatalf("delivery attempt %d of %d, store unreadable: retry %v, want a retry (the bus dead-letters it)", last, last, retry)
	}
	down.Store(false)
	for range 3 {
		h.clock.Set(h.clock.Now().Add(h.srv.sweepHold))
		if _, err := h.srv.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		h.settle()
	}
	h.wantProcessed("evt_lp", "")
}

// recordedUpdate records a customer.subscription.updated of customer in the
// inbox, as the webhook does, and returns the announcement of it that the
// bus delivers.
func (h *harness) recordedUpdate(t *testing.T, id, sub, customer string) []byte {
	t.Helper()
	payload := stripeEvent(id, typeSubscriptionUpdated, at(time.Hour), subObj(sub, customer, "active", "price_std", at(0), at(month)))
	ev, _, err := h.store.RecordEvent(context.Background(), playback.InboxEvent{Source: Source, ID: id, Type: typeSubscriptionUpdated,
		Created: time.Unix(at(time.Hour), 0).UTC(), Payload: payload, ReceivedAt: h.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(events.NewStripeEventRecorded(ev))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestLinkWaitParksAtTheConfiguredLastDelivery: the last delivery is the
// bus's as configured (SQS_MAX_RECEIVE_COUNT, PUBSUB_MAX_DELIVERY_ATTEMPTS,
// the local bus's), not catalog.MaxDeliveryAttempts. With fewer, the event
// was still asking for a retry at the last delivery, which dead-letters it
// unparked; with more, it was parked while deliveries, and LinkWait, were
// left.
func TestLinkWaitParksAtTheConfiguredLastDelivery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		attempts int
	}{
		{name: "fewer than the catalogue's", attempts: catalog.MaxDeliveryAttempts - 2},
		{name: "more than the catalogue's", attempts: catalog.MaxDeliveryAttempts + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bus := membus.New(membus.Config{MaxAttempts: tc.attempts})
			t.Cleanup(func() { bus.Close() })
			h := newHarness(t, func(_ *Config, d *Deps) { d.Bus = bus })
			ctx := context.Background()
			data := h.recordedUpdate(t, "evt_wait", "sub_w", "cus_w")
			for attempt := 1; attempt <= tc.attempts; attempt++ {
				retry := h.srv.HandleStripeEvents(ctx, []playback.Message{{ID: "m1", Data: data, DeliveryAttempt: attempt}})
				if last := attempt == tc.attempts; last == (len(retry) != 0) {
					t.Fatalf("delivery attempt %d of %d: retry %v", attempt, tc.attempts, retry)
				}
			}
			if parked := h.parked(parkCustomer("cus_w")); len(parked) != 1 || parked[0].ID != "evt_wait" {
				t.Fatalf("parked for cus_w: %+v, want evt_wait", parked)
			}
		})
	}
}

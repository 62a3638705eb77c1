package paymentwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// midPeriodFailure is a lifecycle whose subscription goes past_due in the
// middle of its period: 20 days after sign-up the customer upgrades,
// invoiced at once (proration_behavior=always_invoice), and the payment
// fails; under payment_behavior=allow_incomplete, the default, Stripe
// applies the upgrade and makes the subscription past_due (stripe-go v76
// SubscriptionParams.PaymentBehavior). Two hours later the customer sets
// cancel_at_period_end, an update of the past_due subscription that
// leaves its status alone. It returns the lifecycle, how many of its
// events are the sign-up, the moment the payment failed and Stripe's
// state before and at the end.
func midPeriodFailure(t testing.TB, name string, start time.Time) (l *lifecycle, signUp int, failed time.Time, s, end subState) {
	l = newLifecycle(t, name, docProrations, docWebhooks, cliFailed)
	s = l.signUp(l.sub("", stdP, start, month), start)
	signUp = len(l.events)
	failed = start.Add(20 * day)
	due := s
	due.status, due.price, due.latestInvoice = "past_due", premium, "in_"+s.id+"_up"
	l.update(s, due, failed)
	l.invoice(typeInvoicePaymentFailed, invoiceState{id: due.latestInvoice, reason: "subscription_update", status: "open",
		amountDue: 400, attempts: 1, nextAttempt: unix(failed.Add(3 * day)), price: premium, start: unix(failed),
		end: s.end, proration: true}, due, failed)
	end = due
	end.cancelAtPeriodEnd, end.cancelAt, end.canceledAt = true, s.end, unix(failed.Add(2*time.Hour))
	l.update(due, end, failed.Add(2*time.Hour))
	return l, signUp, failed, s, end
}

// TestMidPeriodPastDueGetsItsGrace: the grace of a past_due subscription
// runs from the moment Stripe made it past_due, which Stripe stamps on the
// customer.subscription.updated whose previous_attributes names the
// earlier status, not from the start of a period that began 20 days
// before; whatever order the events arrive in, however often, with the
// event payloads or (REFETCH) with the subscription read back.
func TestMidPeriodPastDueGetsItsGrace(t *testing.T) {
	t.Parallel()
	for _, refetch := range []bool{false, true} {
		t.Run(map[bool]string{false: "payload", true: "refetch"}[refetch], func(t *testing.T) {
			t.Parallel()
			l, signUp, failed, before, after := midPeriodFailure(t, "midperiod", base)
			tail := l.events[signUp:]
			permutations(len(tail), func(order []int) {
				// Sign-up events ahead of their checkout park and are woken
				// by its link (see playCorpus).
				opts := []harnessOption{func(c *Config, _ *Deps) { c.LinkWait = 0 }}
				api := &scriptedAPI{}
				if refetch {
					api.set(before.obj(t))
					opts = append(opts, api.option(t))
				}
				h := newHarness(t, opts...)
				h.account(l.account)
				for _, ev := range l.events[:signUp] {
					h.run(ev.payload)
				}
				now := failed.Add(2*time.Hour + time.Minute)
				h.clock.Set(now)
				api.set(after.obj(t))
				for _, i := range order {
					h.run(tail[i].payload)
				}
				check := func(when string) {
					t.Helper()
					a := h.getAccount(l.account)
					wantState(t, a, playback.StatusPastDue, "premium")
					if !a.PastDueSince.Equal(failed) || !a.Entitled(now, testConfig().PastDueGrace) {
						t.Fatalf("order %v, %s: past due since %v, want %v (entitled at %v: %v)",
							order, when, a.PastDueSince, failed, now, a.Entitled(now, testConfig().PastDueGrace))
					}
					if a.Entitled(failed.Add(testConfig().PastDueGrace+time.Second), testConfig().PastDueGrace) {
						t.Fatalf("order %v, %s: still entitled after the grace", order, when)
					}
				}
				check("delivered")
				for _, ev := range l.events {
					if got := h.deliver(ev.payload); got.Outcome != "duplicate" && got.Outcome != "ignored" {
						t.Fatalf("redelivery outcome %q", got.Outcome)
					}
				}
				h.settle()
				check("redelivered")
			})
		})
	}
}

// scriptedAPI is Stripe's API for subscription reads, answering with the
// state the test sets, in the shape of stripe/openapi's fixture
// (subState.obj): stripe-mock cannot stand in here, as every read of it
// returns the same fixture, and these tests need Stripe's state to move.
// It listens on loopback only.
type scriptedAPI struct {
	mu    sync.Mutex
	reads int
	state obj
	// onRead, when set, runs once read n (from 1) was answered.
	onRead func(n int)
}

func (s *scriptedAPI) set(o obj) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = o
}

func (s *scriptedAPI) setOnRead(fn func(n int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRead = fn
}

func (s *scriptedAPI) option(t *testing.T) harnessOption {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reads++
		n, state, onRead := s.reads, s.state, s.onRead
		s.mu.Unlock()
		if r.Method != http.MethodGet || state == nil || r.URL.Path != "/v1/subscriptions/"+state["id"].(string) {
			http.Error(w, `{"error":{"type":"invalid_request_error","message":"No such subscription"}}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(state); err != nil {
			t.Error(err)
		}
		if onRead != nil {
			onRead(n)
		}
	}))
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("scripted API not on loopback: %s", srv.URL)
	}
	return func(c *Config, _ *Deps) { c.APIKey, c.APIURL, c.Refetch = "sk_test_scripted", srv.URL, true }
}

// TestRefetchesInOneSecondKeepTheLaterRead: with REFETCH every event reads
// the subscription back, and reads are stamped with whole seconds. Two
// reads in one second that disagree cannot be ordered from what Stripe
// answers (the object has no version or update time, the Date header is
// whole seconds), so the state must not be whichever the tie-break (the
// status's lifecycle stage, the event id) prefers: it must be the later
// read's.
func TestRefetchesInOneSecondKeepTheLaterRead(t *testing.T) {
	t.Parallel()
	now := base.Add(40 * day)
	l := newLifecycle(t, "oneread")
	s := l.sub("", stdP, base.Add(30*day), month)
	s.status = "active"
	tests := []struct {
		name         string
		first, later subState // Stripe's state at the first read, and from the second on
		events       [][]byte // processed one after the other, within one second
		status       playback.SubscriptionStatus
		plan         string
	}{
		{
			name:  "failed payment, then paid at once",
			first: with(s, func(x *subState) { x.status = "past_due" }), later: s,
			events: [][]byte{
				eventPayload(t, "evt_fail", typeInvoicePaymentFailed, unix(now.Add(-2*time.Hour)),
					invoiceState{id: "in_1", reason: "subscription_cycle", status: "open", amountDue: 999, attempts: 1,
						price: stdP, start: s.start, end: s.end}.obj(t, s, unix(now.Add(-2*time.Hour))), nil),
				eventPayload(t, "evt_paid", typeInvoicePaid, unix(now.Add(-time.Hour)),
					invoiceState{id: "in_1", reason: "subscription_cycle", status: "paid", amountDue: 999, amountPaid: 999,
						attempts: 2, price: stdP, start: s.start, end: s.end}.obj(t, s, unix(now.Add(-time.Hour))), nil),
			},
			status: playback.StatusActive, plan: "standard",
		},
		{
			name:  "upgrade, then downgrade",
			first: with(s, func(x *subState) { x.price = premium }), later: with(s, func(x *subState) { x.price = basicP }),
			events: [][]byte{
				eventPayload(t, "evt_z_up", typeSubscriptionUpdated, unix(now.Add(-2*time.Hour)),
					with(s, func(x *subState) { x.price = premium }).obj(t), obj{"items": s.obj(t)["items"]}),
				eventPayload(t, "evt_a_down", typeSubscriptionUpdated, unix(now.Add(-time.Hour)),
					with(s, func(x *subState) { x.price = basicP }).obj(t), obj{"items": with(s, func(x *subState) { x.price = premium }).obj(t)["items"]}),
			},
			status: playback.StatusActive, plan: "basic",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &scriptedAPI{}
			h := newHarness(t, api.option(t))
			h.clock.Set(now)
			h.account(l.account)
			h.run(stripeEvent("evt_co", typeCheckoutCompleted, unix(base), checkoutObj("cs_r", l.account, l.customer, "")))
			api.set(tt.first.obj(t))
			api.setOnRead(func(n int) {
				if n == 1 {
					api.set(tt.later.obj(t))
				}
				if n == 2 {
					// Stripe's clock moves on; nothing changes any more.
					h.clock.Set(now.Add(time.Second))
				}
			})
			for _, ev := range tt.events {
				h.run(ev)
			}
			wantState(t, h.getAccount(l.account), tt.status, tt.plan)
		})
	}
}

func with(s subState, change func(*subState)) subState {
	change(&s)
	return s
}

// TestPastDueStoredBeforeItsFactsKeepsItsDate: a subscription stored
// past_due before the past-due facts were kept has only its date; the
// next update of it must not restart its grace.
func TestPastDueStoredBeforeItsFactsKeepsItsDate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	l := newLifecycle(t, "legacy")
	s := l.sub("", stdP, base, month)
	s.status = "past_due"
	since := base.Add(time.Hour)
	h.account(l.account, func(a *playback.Account) {
		a.CustomerID, a.Status, a.PlanID, a.PastDueSince = l.customer, playback.StatusPastDue, "standard", since
		a.Subscriptions = []playback.Subscription{{ID: s.id, Customer: l.customer, Status: playback.StatusPastDue,
			PlanID: "standard", CurrentPeriodEnd: time.Unix(s.end, 0).UTC(), PastDueSince: since, Clock: unix(since)}}
	})
	if err := h.store.LinkCustomer(t.Context(), l.customer, l.account); err != nil {
		t.Fatal(err)
	}
	now := base.Add(5 * day)
	h.clock.Set(now)
	ending := with(s, func(x *subState) { x.cancelAtPeriodEnd, x.cancelAt, x.canceledAt = true, s.end, unix(now) })
	l.update(s, ending, now)
	h.run(l.events[0].payload)
	a := h.getAccount(l.account)
	if !a.PastDueSince.Equal(since) || a.Entitled(now, testConfig().PastDueGrace) {
		t.Fatalf("past due since %v, want %v; entitled %v", a.PastDueSince, since, a.Entitled(now, testConfig().PastDueGrace))
	}
}

// TestReconcileLeavesAStateOfItsSecond: a listing read in the second of a
// stored state that differs cannot be ordered against it any more than
// two refetches can (see TestRefetchesInOneSecondKeepTheLaterRead); the
// tie-break must not let the listing, read before the payment went
// through, undo the paid retry's read.
func TestReconcileLeavesAStateOfItsSecond(t *testing.T) {
	t.Parallel()
	now := base.Add(40 * day)
	l := newLifecycle(t, "listed")
	s := l.sub("", stdP, base.Add(30*day), month)
	s.status = "active"
	api := &scriptedAPI{}
	h := newHarness(t, api.option(t))
	h.clock.Set(now)
	h.account(l.account)
	h.run(stripeEvent("evt_co", typeCheckoutCompleted, unix(base), checkoutObj("cs_l", l.account, l.customer, "")))
	api.set(s.obj(t))
	h.run(eventPayload(t, "evt_paid", typeInvoicePaid, unix(now.Add(-time.Hour)),
		invoiceState{id: "in_1", reason: "subscription_cycle", status: "paid", amountDue: 999, amountPaid: 999,
			attempts: 2, price: stdP, start: s.start, end: s.end}.obj(t, s, unix(now.Add(-time.Hour))), nil))
	wantState(t, h.getAccount(l.account), playback.StatusActive, "standard")

	// The listing's page was read in the same second, before the payment.
	var listed stripeSubscription
	raw, _ := json.Marshal(with(s, func(x *subState) { x.status = "past_due" }).obj(t))
	if err := json.Unmarshal(raw, &listed); err != nil {
		t.Fatal(err)
	}
	r := reconciler{s: h.srv, now: now, announced: map[string]bool{}}
	if err := r.subscription(t.Context(), listed, now); err != nil {
		t.Fatal(err)
	}
	h.settle()
	wantState(t, h.getAccount(l.account), playback.StatusActive, "standard")
	if r.rep.Repaired != 0 || r.rep.InSync != 1 {
		t.Fatalf("report %+v", r.rep)
	}
}

// TestStalePastDueFactsAnnouncedDespitePublishFailure: an event older than
// the stored state still adds its past_due facts (rule 5), and those can
// move PastDueSince and so end the entitlement: the move into past_due at
// the failed payment, delivered after the cancel_at_period_end update two
// hours later, dates the episode two hours earlier, past the grace. When
// that announcement's publish fails, the event is retried; the retry
// finds its facts stored and changes nothing, and must announce again,
// though the event's snapshot is not part of the state. With REFETCH the
// retry, a second later as a bus retries, reads the subscription again
// and writes it with its new second: a change, but none of the
// entitlement, which its first attempt changed. Every order of the
// events, each event's first announcement failing.
func TestStalePastDueFactsAnnouncedDespitePublishFailure(t *testing.T) {
	t.Parallel()
	grace := testConfig().PastDueGrace
	for _, refetch := range []bool{false, true} {
		t.Run(map[bool]string{false: "payload", true: "refetch"}[refetch], func(t *testing.T) {
			t.Parallel()
			l, signUp, failed, before, after := midPeriodFailure(t, "stalefacts", base)
			tail := l.events[signUp:]
			permutations(len(tail), func(order []int) {
				var mu sync.Mutex
				failedOnce := map[string]bool{} // causes whose first announcement failed
				arm := false
				api := &scriptedAPI{}
				opts := []harnessOption{func(c *Config, _ *Deps) { c.LinkWait = 0 }}
				if refetch {
					api.set(before.obj(t))
					opts = append(opts, api.option(t))
				}
				var h *harness
				opts = append(opts, func(_ *Config, d *Deps) {
					inner := d.Bus
					d.Bus = publishFunc(func(ctx context.Context, topic string, msgs ...playback.Message) error {
						mu.Lock()
						defer mu.Unlock()
						if topic == events.TopicEntitlementChanged && arm {
							var ev events.EntitlementChanged
							if json.Unmarshal(msgs[0].Data, &ev) == nil && !failedOnce[ev.Cause] {
								failedOnce[ev.Cause] = true
								h.clock.Set(h.clock.Now().Add(time.Second)) // the retry comes later
								return playback.Unavailable(errors.New("bus down"), "test publisher")
							}
						}
						return inner.Publish(ctx, topic, msgs...)
					})
				})
				h = newHarness(t, opts...)
				h.account(l.account)
				for _, ev := range l.events[:signUp] {
					h.run(ev.payload)
				}
				// An hour past the failure's grace, an hour inside the update's.
				now := failed.Add(grace + time.Hour)
				h.clock.Set(now)
				api.set(after.obj(t))
				mu.Lock()
				arm = true
				mu.Unlock()
				for _, i := range order {
					h.run(tail[i].payload)
				}
				a := h.getAccount(l.account)
				wantState(t, a, playback.StatusPastDue, "premium")
				if !a.PastDueSince.Equal(failed) || a.Entitled(h.clock.Now(), grace) {
					t.Fatalf("order %v: past due since %v, want %v, not entitled", order, a.PastDueSince, failed)
				}
				evs := h.entitlementEvents()
				if len(evs) == 0 {
					t.Fatalf("order %v: nothing announced", order)
				}
				if last := evs[len(evs)-1]; last.Entitled || last.Status != string(playback.StatusPastDue) {
					t.Fatalf("order %v: last announcement %+v, want the entitlement lost (announcements %+v)", order, last, evs)
				}
			})
		})
	}
}

package paymentwebhook

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// Lifecycles the shuffled corpus (corpus_test.go) does not hold, or holds
// only in the orders its seeds happen to draw, each checked in every
// delivery order of its events that can arrive out of order. Payloads are
// the corpus's (stripe/openapi fixture shapes, corpus_shapes_test.go); the
// Stripe page or stripe-cli fixture each lifecycle follows is named on it.
//
// Left out, on purpose:
//   - A subscription moved to another customer: Stripe has no such move
//     (POST /v1/subscriptions/{id} takes no customer in stripe/openapi
//     spec3.json); a customer's subscriptions on one account are
//     TestCustomerDeletedCancelsOnlyItsOwnSubscriptions's.
//   - customer.subscription.pending_update_applied and _expired: the
//     change they announce is a change of the subscription, which Stripe
//     sends as customer.subscription.updated (the corpus's pendinglater
//     and pendingexpired); the endpoint acknowledges and skips them, like
//     trial_will_end and invoice.payment_action_required.
//   - Refunds and disputes (charge.refunded, charge.dispute.created): they
//     leave the subscription's status as it is; withdrawing access over a
//     chargeback is an operator's hold (Account.Suspended), not billing's.
const (
	docStatuses       = "stripe/openapi openapi/spec3.json subscription.status"                // incomplete_expired after 23 h; past_due on a failed payment or one awaiting user action
	docPauseSub       = "https://docs.stripe.com/billing/subscriptions/pause"                  // paused status, customer.subscription.resumed
	docSCA            = docWebhooks                                                            // invoice.payment_action_required
	docSchedules      = "https://docs.stripe.com/billing/subscriptions/subscription-schedules" // a phase change is a customer.subscription.updated
	docTestClocks     = "https://docs.stripe.com/billing/testing/test-clocks"
	cliActionReq      = "stripe/stripe-cli pkg/fixtures/triggers/invoice.payment_action_required.json"
	cliPendingApplied = "stripe/stripe-cli pkg/fixtures/triggers/customer.subscription.pending_update_applied.json@6decbd65" // not on the default branch: testdata/stripe/PROVENANCE.md
	cliSchedule       = "stripe/stripe-cli pkg/fixtures/triggers/subscription_schedule.updated.json"
	cliSubResumed     = "stripe/stripe-cli pkg/fixtures/triggers/customer.subscription.resumed.json@6decbd65" // likewise
	cliInvoiceVoid    = "stripe/stripe-cli pkg/fixtures/triggers/invoice.voided.json"
	docChangePrice    = "https://docs.stripe.com/docs/subscriptions/upgrading-downgrading" // items[0][id] + items[0][price]: the item keeps its id
	docPrevAttrs      = "stripe/openapi openapi/spec3.json event.data.previous_attributes" // an array attribute with an updated element is there whole
)

// orderCase is a lifecycle and the events of it that are delivered in
// every order; the others go first, in true order. build writes the
// lifecycle and returns the indexes of the events to permute.
type orderCase struct {
	name    string
	sources []string
	build   func(l *lifecycle, t0 time.Time) []int
	want    corpusWant
	// opts configure the function (STRIPE_PRODUCTS); plan is the plan the
	// account starts on (a Checkout that creates it puts it on the
	// session's), "" for none.
	opts []harnessOption
	plan string
}

// last returns the index of the event emitted last.
func (l *lifecycle) last() int { return len(l.events) - 1 }

// emitSub emits a subscription event whose object is after's with change
// applied (fields subState does not render, set on both states), with the
// previous attributes of an update from before when it is given.
func (l *lifecycle) emitSub(typ string, at time.Time, before *subState, after subState, change func(o obj)) {
	a := after.obj(l.t)
	if change != nil {
		change(a)
	}
	var prev obj
	if before != nil {
		b := before.obj(l.t)
		if change != nil {
			change(b)
		}
		prev = previousAttributes(b, a)
	}
	l.emit(typ, at, a, prev)
}

func orderCases() []orderCase {
	return []orderCase{
		{
			// trial_settings.end_behavior.missing_payment_method=pause: the
			// trial ends paused (customer.subscription.paused and .updated),
			// the customer adds a card days later and the subscription is
			// resumed (POST /v1/subscriptions/:id/resume): .resumed,
			// .updated with previous status paused, and the new period's
			// invoice. trial_will_end comes three days before the end.
			name: "trial without a card pauses, then resumes", sources: []string{docTrials, docPauseSub, cliTrialEnd, cliSubPaused, cliSubResumed},
			want: corpusWant{playback.StatusActive, "standard", true},
			build: func(l *lifecycle, t0 time.Time) []int {
				s := l.trialSignUp(l.sub("", stdP, t0, 7*day), t0, 7*day, "pause")
				checkout := l.last()
				end := time.Unix(s.trialEnd, 0)
				l.emit("customer.subscription.trial_will_end", end.Add(-3*day), s.obj(l.t), nil)
				paused := s
				paused.status = "paused"
				l.plain(typeSubscriptionPaused, paused, end)
				p1 := l.last()
				l.update(s, paused, end)
				p2 := l.last()
				at := end.Add(5 * day)
				resumed := paused
				resumed.status, resumed.start, resumed.end = "active", unix(at), unix(at.Add(month))
				resumed.latestInvoice = "in_" + s.id + "_1"
				l.plain(typeSubscriptionResumed, resumed, at)
				r1 := l.last()
				l.update(paused, resumed, at)
				r2 := l.last()
				l.invoice(typeInvoicePaid, invoiceState{id: resumed.latestInvoice, reason: "subscription_update", status: "paid",
					amountDue: 999, amountPaid: 999, attempts: 1, price: stdP, start: resumed.start, end: resumed.end}, resumed, at)
				_ = p1 // its order against p2, within their second, is order_test.go's
				return []int{checkout, p2, r1, r2}
			},
		},
		pauseCollection("keep_as_draft", false),
		pauseCollection("mark_uncollectible", true),
		{
			// A subscription created by the API with
			// payment_behavior=default_incomplete (so linked through
			// metadata.account_id, no Checkout) whose first payment needs
			// 3-D Secure that never happens: 23 hours later it is
			// incomplete_expired, a terminal status, and its open invoice is
			// voided.
			name: "incomplete expires", sources: []string{docStatuses, cliActionReq, cliInvoiceVoid},
			want: corpusWant{playback.StatusCanceled, "standard", false},
			build: func(l *lifecycle, t0 time.Time) []int {
				meta := func(o obj) { o["metadata"] = obj{"account_id": l.account} }
				s := l.sub("", stdP, t0, month)
				s.status, s.latestInvoice = "incomplete", "in_"+s.id+"_0"
				l.emitSub(typeSubscriptionCreated, t0, nil, s, meta)
				created := l.last()
				inv := invoiceState{id: s.latestInvoice, reason: "subscription_create", status: "open", amountDue: 999,
					attempts: 1, price: stdP, start: s.start, end: s.end}
				l.invoice("invoice.payment_action_required", inv, s, t0)
				l.invoice(typeInvoicePaymentFailed, inv, s, t0)
				failed := l.last()
				at := t0.Add(23 * time.Hour)
				expired := s
				expired.status = "incomplete_expired"
				l.emitSub(typeSubscriptionUpdated, at, &s, expired, meta)
				upd := l.last()
				inv.status = "void"
				l.invoice("invoice.voided", inv, expired, at)
				return []int{created, failed, upd, l.last()}
			},
		},
		{
			// A renewal whose payment needs the customer's authentication:
			// the invoice asks for action and the subscription goes
			// past_due ("awaiting additional user actions"); the customer
			// authenticates the next day, the invoice is paid and the
			// subscription is active again.
			name: "renewal needs 3-D Secure, authenticated", sources: []string{docSCA, docStatuses, cliActionReq},
			want: corpusWant{playback.StatusActive, "standard", true},
			build: func(l *lifecycle, t0 time.Time) []int {
				return renewalNeedsAction(l, t0, true)
			},
		},
		{
			// The same, never authenticated: past due since the update
			// that moved it there, out of grace four days later.
			name: "renewal needs 3-D Secure, never authenticated", sources: []string{docSCA, docStatuses, cliActionReq},
			want: corpusWant{playback.StatusPastDue, "standard", false},
			build: func(l *lifecycle, t0 time.Time) []int {
				perm := renewalNeedsAction(l, t0, false)
				l.end = l.end.Add(4 * day)
				return perm
			},
		},
		{
			// A subscription schedule whose second phase moves to premium
			// and third to basic: at each phase boundary the renewal's
			// customer.subscription.updated carries the new price and
			// period (with previous_attributes naming both), then the
			// renewal invoice is paid.
			name: "schedule phases change the price", sources: []string{docSchedules, cliSchedule, cliSubUpdated},
			want: corpusWant{playback.StatusActive, "basic", true},
			build: func(l *lifecycle, t0 time.Time) []int {
				sched := func(o obj) { o["schedule"] = "sub_sched_" + l.name }
				s := l.signUp(l.sub("", stdP, t0, month), t0)
				checkout := l.last()
				var perm []int
				for n, price := range []string{premium, basicP} {
					at := time.Unix(s.end, 0)
					next := s
					next.price, next.start, next.end = price, s.end, s.end+(s.end-s.start)
					next.latestInvoice = fmt.Sprintf("in_%s_%d", s.id, n+1)
					l.emitSub(typeSubscriptionUpdated, at, &s, next, sched)
					perm = append(perm, l.last())
					l.invoice(typeInvoicePaid, invoiceState{id: next.latestInvoice, reason: "subscription_cycle", status: "paid",
						amountDue: 999, amountPaid: 999, attempts: 1, price: price, start: next.start, end: next.end}, next, at.Add(time.Hour))
					s = next
				}
				return append(perm, checkout)
			},
		},
		{
			// cancel_at_period_end set, then unset days later, then the
			// period renews.
			name: "cancel at period end set, unset, renewed", sources: []string{docCancel, cliSubUpdated},
			want: corpusWant{playback.StatusActive, "standard", true},
			build: func(l *lifecycle, t0 time.Time) []int {
				s := l.signUp(l.sub("", stdP, t0, month), t0)
				checkout := l.last()
				ending := s
				ending.cancelAtPeriodEnd, ending.cancelAt, ending.canceledAt = true, s.end, unix(t0.Add(3*day))
				l.update(s, ending, t0.Add(3*day))
				set := l.last()
				l.update(ending, s, t0.Add(5*day))
				unset := l.last()
				l.renew(s, 1, true)
				return []int{checkout, set, unset, l.last() - 1} // and the renewal's update
			},
		},
		{
			// Smart Retries end in unpaid (the subscription setting);
			// the customer later pays the invoice and the subscription is
			// active again.
			name: "past_due, unpaid, then paid", sources: []string{docSmartRetries, docStatuses, cliFailed},
			want: corpusWant{playback.StatusActive, "standard", true},
			build: func(l *lifecycle, t0 time.Time) []int {
				s := l.signUp(l.sub("", stdP, t0, month), t0)
				checkout := l.last()
				due, inv := l.renew(s, 1, false)
				pastDue := l.last()
				at := time.Unix(due.start, 0)
				inv.attempts, inv.nextAttempt = 4, 0
				l.invoice(typeInvoicePaymentFailed, inv, due, at.Add(8*day))
				unpaid := due
				unpaid.status = "unpaid"
				l.update(due, unpaid, at.Add(8*day))
				toUnpaid := l.last()
				inv.status, inv.amountPaid = "paid", 999
				l.invoice(typeInvoicePaid, inv, unpaid, at.Add(10*day))
				active := unpaid
				active.status = "active"
				l.update(unpaid, active, at.Add(10*day))
				return []int{checkout, pastDue, toUnpaid, l.last()}
			},
		},
		{
			// Deleting the customer cancels its subscriptions; Stripe's
			// customer.subscription.deleted comes too.
			name: "customer deleted", sources: []string{docCustomerDelete, cliCusDeleted, cliSubDeleted},
			want: corpusWant{playback.StatusCanceled, "standard", false},
			build: func(l *lifecycle, t0 time.Time) []int {
				s := l.signUp(l.sub("", stdP, t0, month), t0)
				at := t0.Add(9 * day)
				gone := s
				gone.status, gone.canceledAt, gone.ended = "canceled", unix(at), unix(at)
				l.plain(typeSubscriptionDeleted, gone, at)
				l.emit(typeCustomerDeleted, at, customerObject(l.t, l.customer), nil)
				return []int{3, 4, 5, 6} // activated, checkout, both deletions
			},
		},
		{
			// The same without the subscription's own deletion (not
			// delivered, or this endpoint not subscribed to it):
			// customer.deleted alone cancels, whatever it arrives before,
			// the link included (onCustomerDeleted's backstop).
			name: "customer deleted, its subscription's deletion never comes", sources: []string{docCustomerDelete, cliCusDeleted},
			want: corpusWant{playback.StatusCanceled, "standard", false},
			build: func(l *lifecycle, t0 time.Time) []int {
				l.signUp(l.sub("", stdP, t0, month), t0)
				l.emit(typeCustomerDeleted, t0.Add(9*day), customerObject(l.t, l.customer), nil)
				return []int{1, 3, 4, 5} // created, activated, checkout, deletion
			},
		},
		{
			// A test clock advanced past a trial's end and the first
			// renewal, whose payment fails and is retried with success
			// (stripe-cli's own pending_update_applied trigger advances a
			// test clock the same way). The worst case for ordering: every
			// event of the advance stamped in one second, so only
			// previous_attributes order the four updates; the lifecycle
			// order of statuses alone would end past_due.
			name: "test clock advances through trial end and a recovered renewal", sources: []string{docTestClocks, docTrials, docSmartRetries, cliPendingApplied},
			want: corpusWant{playback.StatusActive, "standard", true},
			build: func(l *lifecycle, t0 time.Time) []int {
				s := l.trialSignUp(l.sub("", stdP, t0, 7*day), t0, 7*day, "")
				checkout := l.last()
				at := t0.Add(40 * day) // the advance, in one second
				active := s
				active.status, active.start, active.end = "active", s.trialEnd, s.trialEnd+unix(base.Add(month))-unix(base)
				active.latestInvoice = "in_" + s.id + "_1"
				l.update(s, active, at)
				trialEnd := l.last()
				l.invoice(typeInvoicePaid, invoiceState{id: active.latestInvoice, reason: "subscription_cycle", status: "paid",
					amountDue: 999, amountPaid: 999, attempts: 1, price: stdP, start: active.start, end: active.end}, active, at)
				next := active
				next.start, next.end, next.latestInvoice = active.end, active.end+(active.end-active.start), "in_"+s.id+"_2"
				l.update(active, next, at)
				renewal := l.last()
				l.invoice(typeInvoicePaymentFailed, invoiceState{id: next.latestInvoice, reason: "subscription_cycle", status: "open",
					amountDue: 999, attempts: 1, nextAttempt: unix(at.Add(3 * day)), price: stdP, start: next.start, end: next.end}, next, at)
				due := next
				due.status = "past_due"
				l.update(next, due, at)
				toDue := l.last()
				recovered := due
				recovered.status = "active"
				l.update(due, recovered, at)
				_ = checkout // first, in true order: four updates are 24 orders
				return []int{trialEnd, renewal, toDue, l.last()}
			},
		},
		{
			// An upgrade, then the customer's deletion, its subscription's
			// own never delivered: canceled on the plan it had when the
			// customer was deleted, whatever came first.
			name: "upgraded, then customer deleted", sources: []string{docCustomerDelete, cliCusDeleted, cliSubUpdated},
			want: corpusWant{playback.StatusCanceled, "premium", false},
			build: func(l *lifecycle, t0 time.Time) []int {
				s := l.signUp(l.sub("", stdP, t0, month), t0)
				up := s
				up.price = premium
				l.update(s, up, t0.Add(day))
				l.emit(typeCustomerDeleted, t0.Add(9*day), customerObject(l.t, l.customer), nil)
				return []int{3, 4, 5, 6} // activated, checkout, upgrade, deletion
			},
		},
		{
			// A shared Stripe account (STRIPE_PRODUCTS): the subscriber
			// moves the subscription to a price of the company's other
			// product (POST /v1/subscriptions/:id with items[0][id] and
			// items[0][price]): customer.subscription.updated carries the
			// other product's price, and previous_attributes.items the
			// whole earlier list, with the streaming product's. Not
			// entitled, in any order, stale streaming events after the
			// move included; the checkout is among them, so the move may
			// come before the customer is linked.
			name: "moved to another product's price", sources: []string{docChangePrice, docPrevAttrs, cliSubUpdated},
			want: corpusWant{playback.StatusNone, "standard", false},
			opts: []harnessOption{withProducts(streamingProduct)}, plan: "standard",
			build: func(l *lifecycle, t0 time.Time) []int {
				s := l.signUp(l.sub("", stdP, t0, month), t0)
				checkout := l.last()
				moved := s
				moved.price, moved.product = otherPrice, otherProduct
				l.update(s, moved, t0.Add(10*day))
				return []int{1, 3, checkout, l.last()} // created, activated, checkout, move
			},
		},
		{
			// The same subscription moved back to a streaming price (an
			// upgrade to premium) ten days later: entitled again, on
			// premium, in any order.
			name: "moved to another product's price and back", sources: []string{docChangePrice, docPrevAttrs, cliSubUpdated},
			want: corpusWant{playback.StatusActive, "premium", true},
			opts: []harnessOption{withProducts(streamingProduct)}, plan: "standard",
			build: func(l *lifecycle, t0 time.Time) []int {
				s := l.signUp(l.sub("", stdP, t0, month), t0)
				checkout := l.last()
				moved := s
				moved.price, moved.product = otherPrice, otherProduct
				l.update(s, moved, t0.Add(10*day))
				away := l.last()
				back := s
				back.price = premium
				l.update(moved, back, t0.Add(20*day))
				return []int{3, checkout, away, l.last()} // activated, checkout, move, move back
			},
		},
		{
			// Two subscriptions on one customer: the second (premium) is
			// canceled, the first (basic) stays: the account stays
			// entitled, on basic.
			name: "two subscriptions, one canceled", sources: []string{docLifecycle, cliSubCreated, cliSubDeleted},
			want: corpusWant{playback.StatusActive, "basic", true},
			build: func(l *lifecycle, t0 time.Time) []int {
				l.signUp(l.sub("_a", basicP, t0, month), t0)
				b := l.sub("_b", premium, t0.Add(2*time.Hour), month)
				b.status = "active"
				l.created(b, t0.Add(2*time.Hour))
				created := l.last()
				gone := b
				gone.status, gone.canceledAt, gone.ended = "canceled", unix(t0.Add(5*day)), unix(t0.Add(5*day))
				l.plain(typeSubscriptionDeleted, gone, t0.Add(5*day))
				return []int{3, 4, created, l.last()} // a's activation, checkout, b
			},
		},
	}
}

// pauseCollection is pause_collection with behavior, over a renewal: the
// status stays active, invoices are drafts (keep_as_draft), marked
// uncollectible, or voided, and Stripe says the customer keeps access
// (docPause: "Your customer retains access to the service during this
// time"), so the viewer stays entitled. resume lifts the pause after the
// renewal; without it the lifecycle ends paused.
func pauseCollection(behavior string, resume bool) orderCase {
	name := "pause collection " + behavior
	if resume {
		name += ", resumed"
	}
	return orderCase{
		name: name, sources: []string{docPause, cliSubUpdated},
		want: corpusWant{playback.StatusActive, "standard", true},
		build: func(l *lifecycle, t0 time.Time) []int {
			s := l.signUp(l.sub("", stdP, t0, month), t0)
			checkout := l.last()
			paused := s
			paused.pauseCollection = obj{"behavior": behavior, "resumes_at": nil}
			l.update(s, paused, t0.Add(6*day))
			pause := l.last()
			at := time.Unix(s.end, 0)
			next := paused
			next.start, next.end, next.latestInvoice = s.end, s.end+(s.end-s.start), "in_"+s.id+"_1"
			l.update(paused, next, at)
			renewal := l.last()
			inv := invoiceState{id: next.latestInvoice, reason: "subscription_cycle", status: "draft", amountDue: 999,
				price: stdP, start: next.start, end: next.end}
			perm := []int{checkout, pause, renewal}
			if behavior == "mark_uncollectible" {
				inv.status = "uncollectible"
				l.invoice("invoice.marked_uncollectible", inv, next, at.Add(time.Hour))
			}
			if resume {
				lifted := next
				lifted.pauseCollection = nil
				l.update(next, lifted, at.Add(3*day))
				perm = append(perm, l.last())
			}
			return perm
		},
	}
}

// renewalNeedsAction renews l's subscription with a payment that needs
// authentication, authenticated a day later when done. It returns the
// events to permute.
func renewalNeedsAction(l *lifecycle, t0 time.Time, done bool) []int {
	s := l.signUp(l.sub("", stdP, t0, month), t0)
	checkout := l.last()
	at := time.Unix(s.end, 0)
	next := s
	next.start, next.end, next.latestInvoice = s.end, s.end+(s.end-s.start), "in_"+s.id+"_1"
	l.update(s, next, at)
	renewal := l.last()
	inv := invoiceState{id: next.latestInvoice, reason: "subscription_cycle", status: "open", amountDue: 999,
		attempts: 1, price: stdP, start: next.start, end: next.end}
	l.invoice("invoice.payment_action_required", inv, next, at.Add(time.Hour))
	due := next
	due.status = "past_due"
	l.update(next, due, at.Add(time.Hour))
	toDue := l.last()
	perm := []int{checkout, renewal, toDue}
	if done {
		inv.status, inv.amountPaid = "paid", 999
		l.invoice(typeInvoicePaid, inv, due, at.Add(day))
		active := due
		active.status = "active"
		l.update(due, active, at.Add(day))
		perm = append(perm, l.last())
	}
	return perm
}

// TestLifecyclesInEveryOrder plays each orderCase in every order of its
// permuted events, one account per order in one store, each event applied
// before the next is delivered, and holds every account to the end state
// Stripe documents; the end states of all orders must agree, redelivery
// included. Every order is played twice, the second time on an account an
// operator holds (Account.Suspended) from the start: the hold survives
// every event in every order, plays nothing and is announced so, and
// billing's outcome under it is the same, so lifting it restores that.
func TestLifecyclesInEveryOrder(t *testing.T) {
	t.Parallel()
	for ci, c := range orderCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, append([]harnessOption{noLinkWait}, c.opts...)...)
			grace := testConfig().PastDueGrace
			n, failed := 0, 0
			proto := newLifecycle(t, "proto")
			k := len(c.build(proto, base))
			// Each order costs ~10 deliveries: five permuted events would
			// be 120 orders a case, four are 24.
			if k < 3 || k > 4 {
				t.Fatalf("%d events to permute", k)
			}
			var (
				first string
				held  bool
			)
			play := func(order []int) {
				l := newLifecycle(t, fmt.Sprintf("o%d_%d", ci, n), c.sources...)
				n++
				perm := c.build(l, base)
				h.account(l.account, func(a *playback.Account) { a.Suspended, a.PlanID = held, c.plan })
				h.clock.Set(l.end)
				var delivered []string
				deliver := func(i int) {
					h.run(l.events[i].payload)
					env, _ := decodeEnvelope(l.events[i].payload)
					delivered = append(delivered, fmt.Sprintf("%s@%d", env.Type, env.Created-base.Unix()))
				}
				for i := range l.events {
					if !slices.Contains(perm, i) {
						deliver(i)
					}
				}
				for _, o := range order {
					deliver(perm[o])
				}
				if n == 1 { // redelivery changes nothing
					for _, ev := range l.events {
						h.run(ev.payload)
					}
				}
				if p := h.pending(); len(p) != 0 {
					t.Fatalf("order %v: %d events left unprocessed: first %s %s", order, len(p), p[0].ID, p[0].Type)
				}
				a := h.getAccount(l.account)
				if a.Suspended != held || held && (a.Entitled(l.end, grace) || a.Announced.Entitled) {
					if failed++; failed <= 3 {
						t.Errorf("delivered %s to an account held=%v\nends suspended=%v entitled=%v, announced %+v",
							strings.Join(delivered, ", "), held, a.Suspended, a.Entitled(l.end, grace), a.Announced)
					}
				}
				a.Suspended = false // billing's outcome, which lifting the hold restores
				entitled := a.Entitled(l.end, grace)
				got := fmt.Sprintf("%s/%q entitled=%v past_due_since=%s period_end=%s", a.Status, a.PlanID, entitled,
					a.PastDueSince.Sub(base), a.CurrentPeriodEnd.Sub(base))
				if first == "" {
					first = got
				}
				if a.Status != c.want.status || a.PlanID != c.want.plan || entitled != c.want.entitled || got != first {
					if failed++; failed <= 3 {
						t.Errorf("delivered %s (held=%v)\nends %s, want %s/%q entitled=%v (and as the first order: %s) (sources %v)\nsubscriptions %+v",
							strings.Join(delivered, ", "), held, got, c.want.status, c.want.plan, c.want.entitled, first, c.sources, a.Subscriptions)
					}
				}
			}
			for _, held = range []bool{false, true} {
				permutations(k, play)
			}
			if failed > 0 {
				t.Errorf("%d of %d orders end wrong", failed, n)
			}
		})
	}
}

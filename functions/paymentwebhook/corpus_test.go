package paymentwebhook

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// The lifecycle corpus: subscription lifecycles as Stripe sends them,
// built from Stripe's own material and asserted against the end state
// Stripe documents.
//
// Shapes: stripe/openapi openapi/fixtures3.json (see corpus_shapes_test.go).
// Call patterns: stripe/stripe-cli pkg/fixtures/triggers/*.json (which API
// calls produce which events). Lifecycles and the events of each step:
const (
	docWebhooks       = "https://docs.stripe.com/billing/subscriptions/webhooks"        // Using webhooks with subscriptions
	docLifecycle      = "https://docs.stripe.com/billing/subscriptions/overview"        // How subscriptions work: statuses, trials, renewals
	docTrials         = "https://docs.stripe.com/billing/subscriptions/trials"          // trial end without a payment method → paused
	docPause          = "https://docs.stripe.com/billing/subscriptions/pause-payment"   // pause payment collection: status stays active
	docPendingUpdates = "https://docs.stripe.com/billing/subscriptions/pending-updates" // pending_if_incomplete: status unchanged on failure
	docPendingRef     = "https://docs.stripe.com/billing/subscriptions/pending-updates-reference"
	docSmartRetries   = "https://docs.stripe.com/billing/revenue-recovery/smart-retries" // retries, then unpaid or canceled
	docProrations     = "https://docs.stripe.com/billing/subscriptions/prorations"
	docCancel         = "https://docs.stripe.com/billing/subscriptions/cancel"
	docCustomerDelete = "https://docs.stripe.com/api/customers/delete" // cancels the customer's subscriptions
	docEventOrder     = "https://docs.stripe.com/webhooks#event-ordering"

	cliCheckout   = "stripe/stripe-cli pkg/fixtures/triggers/checkout.session.completed.json"
	cliSubCreated = "stripe/stripe-cli pkg/fixtures/triggers/customer.subscription.created.json"
	cliSubUpdated = "stripe/stripe-cli pkg/fixtures/triggers/customer.subscription.updated.json"
	cliSubPaused  = "stripe/stripe-cli pkg/fixtures/triggers/customer.subscription.paused.json"
	cliSubDeleted = "stripe/stripe-cli pkg/fixtures/triggers/customer.subscription.deleted.json"
	cliPaid       = "stripe/stripe-cli pkg/fixtures/triggers/invoice.paid.json"
	cliFailed     = "stripe/stripe-cli pkg/fixtures/triggers/invoice.payment_failed.json"
	cliCusDeleted = "stripe/stripe-cli pkg/fixtures/triggers/customer.deleted.json"
	cliTrialEnd   = "stripe/stripe-cli pkg/fixtures/triggers/customer.subscription.trial_will_end.json"
)

type corpusWant struct {
	status   playback.SubscriptionStatus
	plan     string
	entitled bool
}

// lifecycle is one customer's history, events in true order.
type lifecycle struct {
	t                 testing.TB
	name              string
	sources           []string
	account, customer string
	events            []signedEvent
	end               time.Time // when the end state is read
	want              corpusWant
}

func newLifecycle(t testing.TB, name string, sources ...string) *lifecycle {
	return &lifecycle{t: t, name: name, sources: sources, account: "acct_" + name, customer: "cus_" + name}
}

// emit appends an event. Event ids are hashes: like Stripe's, they say
// nothing about order.
func (l *lifecycle) emit(typ string, at time.Time, object, previous obj) {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", l.name, len(l.events)))
	id := "evt_" + hex.EncodeToString(sum[:12])
	l.events = append(l.events, signedEvent{id: id, created: at.Unix(), payload: eventPayload(l.t, id, typ, at.Unix(), object, previous)})
	if e := at.Add(time.Minute); e.After(l.end) {
		l.end = e
	}
}

func (l *lifecycle) sub(suffix, price string, start time.Time, period time.Duration) subState {
	return subState{id: "sub_" + l.name + suffix, customer: l.customer, price: price,
		created: unix(start), start: unix(start), end: unix(start.Add(period))}
}

func (l *lifecycle) created(s subState, at time.Time) {
	l.emit(typeSubscriptionCreated, at, s.obj(l.t), nil)
}

// update is customer.subscription.updated from before to after.
func (l *lifecycle) update(before, after subState, at time.Time) {
	b, a := before.obj(l.t), after.obj(l.t)
	l.emit(typeSubscriptionUpdated, at, a, previousAttributes(b, a))
}

// plain is an event that carries the subscription without previous
// attributes: customer.subscription.paused, .resumed, .deleted.
func (l *lifecycle) plain(typ string, s subState, at time.Time) {
	l.emit(typ, at, s.obj(l.t), nil)
}

func (l *lifecycle) invoice(typ string, inv invoiceState, s subState, at time.Time) {
	l.emit(typ, at, inv.obj(l.t, s, at.Unix()), nil)
}

func (l *lifecycle) checkout(s subState, at time.Time) {
	l.checkoutFor(l.account, "cs_"+l.name, s, at)
}

// checkoutFor is the completion of session id naming account, for s.
func (l *lifecycle) checkoutFor(account, id string, s subState, at time.Time) {
	l.emit(typeCheckoutCompleted, at, checkoutSession(l.t, id, account, s), nil)
}

// signUp is a Checkout sign-up paid at once, all in one second (Stripe
// creates the subscription incomplete, pays its first invoice, activates
// it and completes the session): docWebhooks, cliCheckout.
func (l *lifecycle) signUp(s subState, at time.Time) subState {
	l.emit("customer.created", at, customerObject(l.t, s.customer), nil)
	return l.paidSignUp(l.account, "cs_"+l.name, s, at, false)
}

// paidSignUp is signUp's subscription, invoice and session for account
// through session id, by a customer that exists (Checkout given its id:
// no customer.created); checkoutFirst sends checkout.session.completed
// before the subscription's events, as they may come (docEventOrder).
func (l *lifecycle) paidSignUp(account, id string, s subState, at time.Time, checkoutFirst bool) subState {
	s.status = "incomplete"
	s.latestInvoice = "in_" + s.id + "_0"
	active := s
	active.status = "active"
	if checkoutFirst {
		l.checkoutFor(account, id, active, at)
	}
	l.created(s, at)
	first := invoiceState{id: s.latestInvoice, reason: "subscription_create", status: "paid", amountDue: 999, amountPaid: 999,
		attempts: 1, price: s.price, start: s.start, end: s.end}
	l.invoice(typeInvoicePaid, first, s, at)
	l.update(s, active, at)
	if !checkoutFirst {
		l.checkoutFor(account, id, active, at)
	}
	return active
}

// trialSignUp starts a trial through Checkout: the first invoice is free.
func (l *lifecycle) trialSignUp(s subState, at time.Time, trial time.Duration, missingPM string) subState {
	s.status, s.trialStart, s.trialEnd, s.end = "trialing", unix(at), unix(at.Add(trial)), unix(at.Add(trial))
	s.latestInvoice, s.missingPaymentMethod = "in_"+s.id+"_0", missingPM
	l.created(s, at)
	l.invoice(typeInvoicePaid, invoiceState{id: s.latestInvoice, reason: "subscription_create", status: "paid",
		price: s.price, start: s.start, end: s.end}, s, at)
	l.checkout(s, at)
	return s
}

// renew moves s to its next period and bills it; paid says whether the
// first attempt succeeds. It returns the subscription and the invoice.
func (l *lifecycle) renew(s subState, n int, paid bool) (subState, invoiceState) {
	at := time.Unix(s.end, 0).UTC()
	next := s
	next.start, next.end = s.end, s.end+(s.end-s.start)
	next.latestInvoice = fmt.Sprintf("in_%s_%d", s.id, n)
	inv := invoiceState{id: next.latestInvoice, reason: "subscription_cycle", status: "paid", amountDue: 999, amountPaid: 999,
		attempts: 1, price: s.price, start: next.start, end: next.end}
	l.update(s, next, at)
	if paid {
		l.invoice(typeInvoicePaid, inv, next, at.Add(time.Hour))
		return next, inv
	}
	inv.status, inv.amountPaid, inv.nextAttempt = "open", 0, unix(at.Add(3*24*time.Hour+time.Hour))
	l.invoice(typeInvoicePaymentFailed, inv, next, at.Add(time.Hour))
	due := next
	due.status = "past_due"
	l.update(next, due, at.Add(time.Hour))
	return due, inv
}

func (l *lifecycle) expect(status playback.SubscriptionStatus, plan string, entitled bool) *lifecycle {
	l.want = corpusWant{status: status, plan: plan, entitled: entitled}
	return l
}

const (
	day     = 24 * time.Hour
	stdP    = "price_std"
	basicP  = "price_basic"
	premium = "price_premium"
)

// corpus builds every lifecycle; each starts on its own day so that
// several can share one store.
func corpus(t testing.TB) []*lifecycle {
	var all []*lifecycle
	add := func(l *lifecycle) { all = append(all, l) }
	start := func() time.Time { return base.Add(time.Duration(len(all)) * day) }

	{ // Sign-up via Checkout, one second of events.
		l := newLifecycle(t, "checkout", docWebhooks, cliCheckout, cliSubCreated, cliPaid)
		l.signUp(l.sub("", stdP, start(), month), start())
		add(l.expect(playback.StatusActive, "standard", true))
	}
	{ // Trial with a card: trialing, then active when the trial ends.
		l := newLifecycle(t, "trialcard", docLifecycle, docWebhooks, cliTrialEnd)
		t0 := start()
		s := l.trialSignUp(l.sub("", stdP, t0, month), t0, 14*day, "")
		l.emit("customer.subscription.trial_will_end", t0.Add(11*day), s.obj(t), nil)
		active := s
		active.status, active.start, active.end = "active", s.trialEnd, s.trialEnd+unix(base.Add(month))-unix(base)
		active.latestInvoice = "in_" + s.id + "_1"
		end := time.Unix(s.trialEnd, 0)
		l.update(s, active, end)
		l.invoice(typeInvoicePaid, invoiceState{id: active.latestInvoice, reason: "subscription_cycle", status: "paid",
			amountDue: 999, amountPaid: 999, attempts: 1, price: stdP, start: active.start, end: active.end}, active, end.Add(time.Hour))
		add(l.expect(playback.StatusActive, "standard", true))
	}
	{ // Trial without a card ends paused; still paused at the end.
		l := newLifecycle(t, "trialpaused", docTrials, cliSubPaused)
		t0 := start()
		s := l.trialSignUp(l.sub("", basicP, t0, 7*day), t0, 7*day, "pause")
		paused := s
		paused.status = "paused"
		at := time.Unix(s.trialEnd, 0)
		l.plain(typeSubscriptionPaused, paused, at)
		l.update(s, paused, at)
		add(l.expect(playback.StatusPaused, "basic", false))
	}
	{ // Trial ends paused and the customer resumes within the same second.
		l := newLifecycle(t, "pauseresume", docTrials, cliSubPaused, docWebhooks)
		t0 := start()
		s := l.trialSignUp(l.sub("", premium, t0, 7*day), t0, 7*day, "pause")
		paused := s
		paused.status = "paused"
		at := time.Unix(s.trialEnd, 0)
		l.plain(typeSubscriptionPaused, paused, at)
		l.update(s, paused, at)
		// POST /v1/subscriptions/:id/resume with billing_cycle_anchor=now.
		resumed := paused
		resumed.status, resumed.start, resumed.end = "active", unix(at), unix(at.Add(month))
		resumed.latestInvoice = "in_" + s.id + "_1"
		l.plain(typeSubscriptionResumed, resumed, at)
		l.update(paused, resumed, at)
		l.invoice(typeInvoicePaid, invoiceState{id: resumed.latestInvoice, reason: "subscription_update", status: "paid",
			amountDue: 999, amountPaid: 999, attempts: 1, price: premium, start: resumed.start, end: resumed.end}, resumed, at)
		add(l.expect(playback.StatusActive, "premium", true))
	}
	{ // Renewals that are paid.
		l := newLifecycle(t, "renewals", docLifecycle, docWebhooks)
		s := l.signUp(l.sub("", stdP, start(), month), start())
		for n := 1; n <= 3; n++ {
			s, _ = l.renew(s, n, true)
		}
		add(l.expect(playback.StatusActive, "standard", true))
	}
	smartRetries := func(name string, outcome string) *lifecycle {
		l := newLifecycle(t, name, docSmartRetries, docWebhooks, cliFailed)
		s := l.signUp(l.sub("", stdP, start(), month), start())
		s, inv := l.renew(s, 1, false)
		at := time.Unix(s.start, 0)
		for attempt := 2; attempt <= 3; attempt++ {
			inv.attempts, inv.nextAttempt = attempt, unix(at.Add(time.Duration(attempt+2)*day))
			l.invoice(typeInvoicePaymentFailed, inv, s, at.Add(time.Duration(attempt)*day))
		}
		last := at.Add(8 * day)
		switch outcome {
		case "recovered":
			inv.attempts, inv.status, inv.amountPaid, inv.nextAttempt = 4, "paid", 999, 0
			l.invoice(typeInvoicePaid, inv, s, last)
			active := s
			active.status = "active"
			l.update(s, active, last)
		case "unpaid":
			inv.attempts, inv.nextAttempt = 4, 0
			l.invoice(typeInvoicePaymentFailed, inv, s, last)
			unpaid := s
			unpaid.status = "unpaid"
			l.update(s, unpaid, last)
		case "canceled":
			inv.attempts, inv.nextAttempt = 4, 0
			l.invoice(typeInvoicePaymentFailed, inv, s, last)
			gone := s
			gone.status, gone.canceledAt, gone.ended = "canceled", unix(last), unix(last)
			l.plain(typeSubscriptionDeleted, gone, last)
		}
		return l
	}
	add(smartRetries("retryrecovered", "recovered").expect(playback.StatusActive, "standard", true))
	add(smartRetries("retryunpaid", "unpaid").expect(playback.StatusUnpaid, "standard", false))
	add(smartRetries("retrycanceled", "canceled").expect(playback.StatusCanceled, "standard", false))
	// Pending updates: an upgrade with payment_behavior=pending_if_incomplete
	// and proration_behavior=always_invoice.
	pending := func(name, outcome string) *lifecycle {
		l := newLifecycle(t, name, docPendingUpdates, docPendingRef, cliSubUpdated)
		s := l.signUp(l.sub("", stdP, start(), month), start())
		at := time.Unix(s.start, 0).Add(10 * day)
		inv := invoiceState{id: "in_" + s.id + "_up", reason: "subscription_update", status: "paid", amountDue: 500,
			amountPaid: 500, attempts: 1, price: premium, start: unix(at), end: s.end, proration: true}
		if outcome == "succeeds" {
			up := s
			up.price, up.latestInvoice = premium, inv.id
			l.update(s, up, at)
			l.invoice(typeInvoicePaid, inv, up, at)
			return l
		}
		// Declined: the items stay, the change waits in pending_update.
		inv.status, inv.amountPaid, inv.nextAttempt = "open", 0, 0
		held := s
		held.latestInvoice = inv.id
		held.pendingUpdate = obj{"expires_at": unix(at.Add(23 * time.Hour)), "billing_cycle_anchor": nil, "trial_end": nil,
			"trial_from_plan": nil, "subscription_items": []any{obj{"id": "si_" + s.id, "price": obj{"id": premium}}}}
		l.invoice(typeInvoicePaymentFailed, inv, held, at)
		l.update(s, held, at)
		later := at.Add(2 * time.Hour)
		switch outcome {
		case "expires":
			gone := held
			gone.pendingUpdate = nil
			inv.status = "void"
			l.emit("invoice.voided", at.Add(23*time.Hour), inv.obj(t, gone, unix(at.Add(23*time.Hour))), nil)
			l.update(held, gone, at.Add(23*time.Hour))
		case "paid later":
			applied := held
			applied.pendingUpdate, applied.price = nil, premium
			inv.status, inv.amountPaid, inv.attempts = "paid", 500, 2
			l.invoice(typeInvoicePaid, inv, applied, later)
			l.update(held, applied, later)
		}
		return l
	}
	add(pending("pendingok", "succeeds").expect(playback.StatusActive, "premium", true))
	add(pending("pendingdeclined", "declined").expect(playback.StatusActive, "standard", true))
	add(pending("pendingexpired", "expires").expect(playback.StatusActive, "standard", true))
	add(pending("pendinglater", "paid later").expect(playback.StatusActive, "premium", true))
	{ // Proration upgrade (invoiced at once), then a downgrade.
		l := newLifecycle(t, "proration", docProrations, cliSubUpdated, cliPaid)
		s := l.signUp(l.sub("", stdP, start(), month), start())
		at := time.Unix(s.start, 0).Add(5 * day)
		up := s
		up.price, up.latestInvoice = premium, "in_"+s.id+"_up"
		l.update(s, up, at)
		l.invoice(typeInvoicePaid, invoiceState{id: up.latestInvoice, reason: "subscription_update", status: "paid", amountDue: 400,
			amountPaid: 400, attempts: 1, price: premium, start: unix(at), end: s.end, proration: true}, up, at)
		down := up
		down.price = basicP
		l.update(up, down, at.Add(3*day))
		add(l.expect(playback.StatusActive, "basic", true))
	}
	{ // An upgrade invoiced at once whose payment fails: past_due in the
		// middle of the period, and in its grace (see midPeriodFailure).
		l, _, _, _, _ := midPeriodFailure(t, "midperiodfail", start())
		add(l.expect(playback.StatusPastDue, "premium", true))
	}
	{ // Cancel at period end.
		l := newLifecycle(t, "cancelatend", docCancel, cliSubDeleted)
		s := l.signUp(l.sub("", stdP, start(), month), start())
		at := time.Unix(s.start, 0).Add(3 * day)
		ending := s
		ending.cancelAtPeriodEnd, ending.cancelAt, ending.canceledAt = true, s.end, unix(at)
		l.update(s, ending, at)
		gone := ending
		gone.status, gone.ended = "canceled", s.end
		l.plain(typeSubscriptionDeleted, gone, time.Unix(s.end, 0))
		add(l.expect(playback.StatusCanceled, "standard", false))
	}
	{ // Cancel immediately.
		l := newLifecycle(t, "cancelnow", docCancel, cliSubDeleted)
		s := l.signUp(l.sub("", premium, start(), month), start())
		at := time.Unix(s.start, 0).Add(4 * day)
		gone := s
		gone.status, gone.canceledAt, gone.ended = "canceled", unix(at), unix(at)
		l.plain(typeSubscriptionDeleted, gone, at)
		add(l.expect(playback.StatusCanceled, "premium", false))
	}
	{ // Pause payment collection and resume it, within one second: the
		// status stays active throughout.
		l := newLifecycle(t, "pausecollection", docPause, cliSubUpdated)
		s := l.signUp(l.sub("", stdP, start(), month), start())
		at := time.Unix(s.start, 0).Add(6 * day)
		paused := s
		paused.pauseCollection = obj{"behavior": "void", "resumes_at": nil}
		l.update(s, paused, at)
		l.update(paused, s, at)
		// And once more for a month, resumed a month later.
		again := at.Add(day)
		l.update(s, paused, again)
		l.emit("invoice.voided", again.Add(month-7*day), invoiceState{id: "in_" + s.id + "_void", reason: "subscription_cycle",
			status: "void", price: stdP, start: s.end, end: s.end + (s.end - s.start)}.obj(t, paused, unix(again.Add(month-7*day))), nil)
		l.update(paused, s, again.Add(month))
		add(l.expect(playback.StatusActive, "standard", true))
	}
	{ // Overlapping invoices: an old invoice still retrying while the next
		// period's invoice is paid; its last failure changes nothing.
		l := newLifecycle(t, "overlap", docSmartRetries, docLifecycle)
		s := l.signUp(l.sub("", stdP, start(), month), start())
		s, old := l.renew(s, 1, false) // past_due
		renewAt := time.Unix(s.end, 0)
		next := s
		next.start, next.end, next.latestInvoice = s.end, s.end+(s.end-s.start), "in_"+s.id+"_2"
		l.update(s, next, renewAt)
		l.invoice(typeInvoicePaid, invoiceState{id: next.latestInvoice, reason: "subscription_cycle", status: "paid", amountDue: 999,
			amountPaid: 999, attempts: 1, price: stdP, start: next.start, end: next.end}, next, renewAt.Add(time.Hour))
		active := next
		active.status = "active"
		l.update(next, active, renewAt.Add(time.Hour))
		old.attempts, old.nextAttempt = 4, 0
		l.invoice(typeInvoicePaymentFailed, old, active, renewAt.Add(10*day))
		add(l.expect(playback.StatusActive, "standard", true))
	}
	{ // Customer deletion cancels the subscription, in one second.
		l := newLifecycle(t, "customerdeleted", docCustomerDelete, cliCusDeleted)
		s := l.signUp(l.sub("", stdP, start(), month), start())
		at := time.Unix(s.start, 0).Add(9 * day)
		gone := s
		gone.status, gone.canceledAt, gone.ended = "canceled", unix(at), unix(at)
		l.plain(typeSubscriptionDeleted, gone, at)
		l.emit(typeCustomerDeleted, at, customerObject(t, l.customer), nil)
		add(l.expect(playback.StatusCanceled, "standard", false))
	}
	{ // Several subscriptions: the best one entitles.
		l := newLifecycle(t, "several", docLifecycle, cliSubCreated)
		t0 := start()
		a := l.signUp(l.sub("_a", basicP, t0, month), t0)
		b := l.sub("_b", premium, t0.Add(2*time.Hour), month)
		b.status = "active"
		l.created(b, t0.Add(2*time.Hour))
		gone := b
		gone.status, gone.canceledAt, gone.ended = "canceled", unix(t0.Add(5*day)), unix(t0.Add(5*day))
		l.plain(typeSubscriptionDeleted, gone, t0.Add(5*day))
		_ = a
		add(l.expect(playback.StatusActive, "basic", true))
	}
	{ // Many events within one second: creation, activation, an upgrade,
		// cancel_at_period_end set and unset, a downgrade.
		l := newLifecycle(t, "onesecond", docEventOrder, docWebhooks)
		t0 := start()
		s := l.signUp(l.sub("", stdP, t0, month), t0)
		up := s
		up.price = premium
		l.update(s, up, t0)
		ending := up
		ending.cancelAtPeriodEnd, ending.cancelAt, ending.canceledAt = true, s.end, unix(t0)
		l.update(up, ending, t0)
		l.update(ending, up, t0)
		down := up
		down.price = basicP
		l.update(up, down, t0)
		add(l.expect(playback.StatusActive, "basic", true))
	}
	{ // Sign-up whose checkout.session.completed comes before the
		// subscription's events (customer.created, the session, then
		// customer.subscription.created and invoice.paid), as Stripe
		// may send them.
		l := newLifecycle(t, "checkoutfirst", docEventOrder, cliCheckout, cliSubCreated, cliPaid)
		t0 := start()
		s := l.sub("", premium, t0, month)
		l.emit("customer.created", t0, customerObject(t, s.customer), nil)
		l.paidSignUp(l.account, "cs_"+l.name, s, t0, true)
		add(l.expect(playback.StatusActive, "premium", true))
	}
	{ // The customer is deleted (its subscription canceled with it), and
		// the subscriber signs up again through Checkout days later: a new
		// customer (a deleted one cannot pay again) and subscription for
		// the same account, which plays on the new one whatever order the
		// deletion's events come in.
		l := newLifecycle(t, "deletedback", docCustomerDelete, cliCusDeleted, cliCheckout, cliSubCreated)
		t0 := start()
		s := l.signUp(l.sub("", stdP, t0, month), t0)
		at := t0.Add(9 * day)
		gone := s
		gone.status, gone.canceledAt, gone.ended = "canceled", unix(at), unix(at)
		l.plain(typeSubscriptionDeleted, gone, at)
		l.emit(typeCustomerDeleted, at, customerObject(t, l.customer), nil)
		back := at.Add(3 * day)
		again := l.sub("_2", basicP, back, month)
		again.customer = l.customer + "_2"
		l.emit("customer.created", back, customerObject(t, again.customer), nil)
		l.paidSignUp(l.account, "cs_"+l.name+"_2", again, back, false)
		add(l.expect(playback.StatusActive, "basic", true))
	}
	return all
}

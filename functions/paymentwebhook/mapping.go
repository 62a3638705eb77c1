package paymentwebhook

import (
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// Versions order the states of one subscription. Stripe's timestamps are
// whole seconds, and one second often holds several events about the same
// subscription (created, invoice.paid and updated at sign-up; updated and
// invoice.payment_failed at a failed renewal), delivered in any order. The
// version is therefore (event.created, status stage, source stage), packed
// into the sub-second part of a time:
//
//   - status stage: within one second a subscription only moves forward in
//     its lifecycle (incomplete → trialing → active → past_due → unpaid →
//     paused → canceled). Moving back (past_due → active on a retried
//     payment, paused → active on resume) takes a separate API call or a
//     scheduled retry, never the same second as the move forward.
//   - source stage: at the same status, an event carrying the subscription
//     object itself beats one derived from an invoice, which beats one
//     derived from a customer; created < updated < deleted.
//
// Each event maps to a subscription state that depends on the event alone,
// so applying the newest version wins no matter the delivery order: a storm
// of shuffled, duplicated deliveries ends where the in-order replay ends.
// Reconciliation reads state as of a second of Stripe's clock and uses the
// bare second (the lowest version in it): events of that same second win,
// and the next reconciliation corrects them if they were older after all.
const (
	stageCustomer = iota // customer.deleted: a derived cancellation
	stageCheckout        // checkout.session.completed with refetch
	stageInvoice         // invoice.paid / invoice.payment_failed
	stageCreated         // customer.subscription.created
	stageUpdated         // customer.subscription.updated / paused / resumed
	stageDeleted         // customer.subscription.deleted
)

var statusStage = map[playback.SubscriptionStatus]int64{
	playback.StatusIncomplete: 0, playback.StatusTrialing: 1, playback.StatusActive: 2, playback.StatusPastDue: 3,
	playback.StatusUnpaid: 4, playback.StatusPaused: 5, playback.StatusCanceled: 6,
}

func version(created int64, status playback.SubscriptionStatus, stage int) time.Time {
	return time.Unix(created, statusStage[status]*100_000_000+int64(stage)*10_000_000).UTC()
}

// derivedCancellation versions a cancellation inferred from customer.deleted
// rather than read from the subscription: marked by one extra nanosecond,
// which real versions (multiples of 10ms) never carry, so that the stored
// state says where it came from.
func derivedCancellation(created int64) time.Time {
	return version(created, playback.StatusCanceled, stageCustomer).Add(1)
}

func isDerived(s playback.Subscription) bool {
	return s.Status == playback.StatusCanceled && s.Version.Nanosecond()%10_000_000 == 1
}

func stageOf(eventType string) int {
	switch eventType {
	case typeSubscriptionCreated:
		return stageCreated
	case typeSubscriptionDeleted:
		return stageDeleted
	default:
		return stageUpdated
	}
}

// statusOf maps Stripe's subscription statuses; incomplete_expired is a
// first payment that never came, as final as canceled.
func statusOf(s string) (playback.SubscriptionStatus, bool) {
	switch s {
	case "incomplete_expired":
		return playback.StatusCanceled, true
	case "incomplete", "trialing", "active", "past_due", "canceled", "unpaid", "paused":
		return playback.SubscriptionStatus(s), true
	}
	return "", false
}

func unixOrZero(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// planFor returns the plan of the first price that maps to one.
func (s *Server) planFor(priceIDs ...string) string {
	for _, id := range priceIDs {
		if plan, ok := s.plans[id]; ok {
			return plan
		}
	}
	return ""
}

// fromSubscription is the state a subscription object describes. A
// past_due subscription is past due since the start of the period its
// unpaid renewal invoice bills: a pure function of the object, so every
// event of one past-due episode agrees on it.
func (s *Server) fromSubscription(sub stripeSubscription, created int64, stage int) (playback.Subscription, error) {
	status, ok := statusOf(sub.Status)
	if !ok {
		return playback.Subscription{}, playback.Errorf(playback.CodeInvalid, "subscription_status",
			"subscription %s has unknown status %q", sub.ID, sub.Status)
	}
	if sub.ID == "" {
		return playback.Subscription{}, playback.Errorf(playback.CodeInvalid, "subscription_id", "subscription without id")
	}
	start, end := sub.period()
	ps := playback.Subscription{ID: sub.ID, Status: status, PlanID: s.planFor(sub.priceIDs()...),
		CurrentPeriodEnd: unixOrZero(end), Version: version(created, status, stage)}
	if status == playback.StatusPastDue {
		ps.PastDueSince = pastDueSince(start, created)
	}
	return ps, nil
}

// fromInvoice is the state an invoice event implies for its subscription:
// paid → active, failed → past_due (incomplete for the first invoice,
// which Stripe does not retry into past_due). Plan and period come from the
// invoice's regular subscription line; a proration-only invoice leaves
// them to the stored state (mergeSubscription keeps what is missing).
func (s *Server) fromInvoice(inv stripeInvoice, eventType string, created int64) playback.Subscription {
	subID := string(inv.Subscription)
	status := playback.StatusActive
	if eventType == typeInvoicePaymentFailed {
		status = playback.StatusPastDue
		if inv.BillingReason == "subscription_create" {
			status = playback.StatusIncomplete
		}
	}
	var start, end int64
	var plan string
	for _, l := range inv.subscriptionLines(subID) {
		if l.Price != nil {
			if p := s.planFor(l.Price.ID); p != "" && plan == "" {
				plan = p
			}
		}
		if l.Period.End > end {
			start, end = l.Period.Start, l.Period.End
		}
	}
	ps := playback.Subscription{ID: subID, Status: status, PlanID: plan, CurrentPeriodEnd: unixOrZero(end),
		Version: version(created, status, stageInvoice)}
	if status == playback.StatusPastDue {
		ps.PastDueSince = pastDueSince(start, created)
	}
	return ps
}

// supersedes orders two states of one subscription: canceled is final in
// Stripe, so any canceled state is newer than any other whatever the
// timestamps say (an invoice paid after the cancellation does not revive
// it); a cancellation read from the subscription beats one inferred from
// its customer's deletion (which carries whatever was stored when it
// arrived); otherwise the newer version wins.
func supersedes(in, cur playback.Subscription) bool {
	inCanceled, curCanceled := in.Status == playback.StatusCanceled, cur.Status == playback.StatusCanceled
	if inCanceled != curCanceled {
		return inCanceled
	}
	if inDerived, curDerived := isDerived(in), isDerived(cur); inDerived != curDerived {
		return curDerived
	}
	return in.Version.After(cur.Version)
}

// mergeSubscription applies in to the account if it supersedes what the
// account holds, and reports whether it did. Keeping the maximum by
// (canceled, read not inferred, version) makes merging idempotent and
// order-free. Two
// refinements read the stored state: fields in does not know (an invoice
// without a regular line) keep their stored values, and a past-due episode
// that spans a renewal keeps its earliest start, so grace is not granted
// twice.
func mergeSubscription(a *playback.Account, in playback.Subscription) bool {
	for i, cur := range a.Subscriptions {
		if cur.ID != in.ID {
			continue
		}
		if !supersedes(in, cur) {
			return false
		}
		if in.PlanID == "" {
			in.PlanID = cur.PlanID
		}
		if in.CurrentPeriodEnd.IsZero() {
			in.CurrentPeriodEnd = cur.CurrentPeriodEnd
		}
		if in.Status == playback.StatusPastDue && cur.Status == playback.StatusPastDue &&
			!cur.PastDueSince.IsZero() && cur.PastDueSince.Before(in.PastDueSince) {
			in.PastDueSince = cur.PastDueSince
		}
		if !in.Version.After(cur.Version) {
			// A cancellation older than the state it ends: clear the stored
			// version so ApplySubscription (which refolds the account)
			// takes it in place.
			a.Subscriptions[i].Version = time.Time{}
		}
		return a.ApplySubscription(in)
	}
	return a.ApplySubscription(in)
}

// pastDueSince dates a past_due status from the start of the unpaid period,
// or from the event when Stripe gave no period.
func pastDueSince(periodStart, created int64) time.Time {
	if t := unixOrZero(periodStart); !t.IsZero() {
		return t
	}
	return time.Unix(created, 0).UTC()
}

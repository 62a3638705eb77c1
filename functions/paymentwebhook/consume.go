package paymentwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// errLinkPending marks an event of a customer not yet linked to an account:
// its checkout.session.completed may still be on its way, so the event is
// retried for Config.LinkWait.
var errLinkPending = errors.New("customer not linked to an account yet")

// HandleStripeEvents is the consumer of TopicStripeEvents. It asks for
// redelivery only of events that failed for a reason a retry can cure, and
// marks every other event processed so that the sweeper leaves it alone.
func (s *Server) HandleStripeEvents(ctx context.Context, msgs []playback.Message) (retry []string) {
	for _, m := range msgs {
		if s.handleMessage(ctx, m) {
			retry = append(retry, m.ID)
		}
	}
	return retry
}

func (s *Server) handleMessage(ctx context.Context, m playback.Message) (retry bool) {
	log := httpx.Logger(ctx).With("message_id", m.ID)
	var rec events.StripeEventRecorded
	if err := json.Unmarshal(m.Data, &rec); err != nil || rec.EventID == "" {
		log.ErrorContext(ctx, "dropping malformed stripe-events message", "err", err)
		return false
	}
	log = log.With("event_id", rec.EventID, "type", rec.Type)
	ev, err := s.deps.Store.GetEvent(ctx, Source, rec.EventID)
	if err != nil {
		if playback.IsCode(err, playback.CodeNotFound) {
			// Processed events expire from the inbox; an announcement that
			// outlived its record has nothing left to do.
			log.WarnContext(ctx, "stripe event not in the inbox; dropping the announcement")
			return false
		}
		log.ErrorContext(ctx, "reading stripe event", "err", err)
		return true
	}
	if !ev.ProcessedAt.IsZero() {
		return false
	}
	now := s.deps.Now()
	err = s.process(ctx, ev, now)
	age := now.Sub(ev.ReceivedAt)
	linkPending := errors.Is(err, errLinkPending)
	switch {
	case err == nil:
	case linkPending && age < s.cfg.LinkWait:
		log.InfoContext(ctx, "stripe event waits for its customer link", "err", err, "attempt", m.DeliveryAttempt)
		return true
	case !linkPending && playback.ErrorCode(err).Retryable() && age < s.cfg.GiveUpAfter:
		log.WarnContext(ctx, "stripe event failed; will retry", "err", err, "attempt", m.DeliveryAttempt)
		return true
	default:
		// It can never succeed (or has failed for too long): say so loudly
		// and move on; Reconcile repairs what it would have changed.
		log.ErrorContext(ctx, "stripe event abandoned", "err", err, "age", age.String())
	}
	if err := s.deps.Store.MarkEventProcessed(ctx, Source, ev.ID, now, now.Add(s.cfg.InboxRetention)); err != nil {
		log.ErrorContext(ctx, "marking stripe event processed", "err", err)
		return true
	}
	return false
}

// process applies one recorded event.
func (s *Server) process(ctx context.Context, ev playback.InboxEvent, now time.Time) error {
	head, err := decodeEnvelope(ev.Payload)
	if err != nil {
		return err
	}
	if err := checkHandled(head); err != nil {
		return err
	}
	var body struct {
		Data struct {
			Object json.RawMessage `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ev.Payload, &body); err != nil {
		return playback.Errorf(playback.CodeInvalid, playback.ReasonMalformedJSON, "event %s: %v", head.ID, err)
	}
	env := event{envelope: head, object: body.Data.Object}
	switch env.Type {
	case typeCheckoutCompleted:
		return s.onCheckoutCompleted(ctx, env, now)
	case typeSubscriptionCreated, typeSubscriptionUpdated, typeSubscriptionDeleted,
		typeSubscriptionPaused, typeSubscriptionResumed:
		return s.onSubscription(ctx, env, now)
	case typeInvoicePaid, typeInvoicePaymentFailed:
		return s.onInvoice(ctx, env, now)
	case typeCustomerDeleted:
		return s.onCustomerDeleted(ctx, env, now)
	}
	return nil
}

// event is a recorded event with its data.object.
type event struct {
	envelope
	object json.RawMessage
}

func decodeObject(env event, dst any) error {
	if err := json.Unmarshal(env.object, dst); err != nil {
		return playback.Errorf(playback.CodeInvalid, "object_undecodable", "%s %s: data.object: %v", env.Type, env.ID, err)
	}
	return nil
}

func (s *Server) onCheckoutCompleted(ctx context.Context, env event, now time.Time) error {
	var cs stripeCheckoutSession
	if err := decodeObject(env, &cs); err != nil {
		return err
	}
	accountID := cs.ClientReferenceID
	if accountID == "" {
		accountID = cs.Metadata["account_id"]
	}
	if accountID == "" {
		return playback.Errorf(playback.CodeInvalid, "no_account_reference",
			"checkout session %s has neither client_reference_id nor metadata.account_id", cs.ID)
	}
	if cs.Customer == "" {
		return playback.Errorf(playback.CodeInvalid, "no_customer", "checkout session %s has no customer", cs.ID)
	}
	if err := s.link(ctx, string(cs.Customer), accountID, now); err != nil {
		return err
	}
	// Without refetch the subscription's own events (retried until this
	// link exists) carry its state; with it, provision at once.
	if cs.Subscription == "" || !s.cfg.Refetch {
		return nil
	}
	sub, err := s.deps.Stripe.subscription(ctx, string(cs.Subscription))
	if err != nil {
		return err
	}
	ps, err := s.fromSubscription(sub, env.Created, stageCheckout)
	if err != nil {
		return err
	}
	return s.applySubscriptions(ctx, accountID, env.ID, now, ps)
}

func (s *Server) onSubscription(ctx context.Context, env event, now time.Time) error {
	var sub stripeSubscription
	if err := decodeObject(env, &sub); err != nil {
		return err
	}
	if s.cfg.Refetch {
		fresh, err := s.deps.Stripe.subscription(ctx, sub.ID)
		if err != nil {
			return err
		}
		sub = fresh
	}
	accountID, err := s.accountFor(ctx, string(sub.Customer), sub.Metadata, now)
	if err != nil {
		return err
	}
	ps, err := s.fromSubscription(sub, env.Created, stageOf(env.Type))
	if err != nil {
		return err
	}
	return s.applySubscriptions(ctx, accountID, env.ID, now, ps)
}

func (s *Server) onInvoice(ctx context.Context, env event, now time.Time) error {
	var inv stripeInvoice
	if err := decodeObject(env, &inv); err != nil {
		return err
	}
	subID := string(inv.Subscription)
	if subID == "" {
		return nil // a one-off invoice: no subscription to change
	}
	if env.Type == typeInvoicePaid && inv.BillingReason == "subscription_create" && inv.AmountPaid == 0 {
		// The free first invoice of a trial says nothing about payment; the
		// subscription's own events say "trialing".
		return nil
	}
	var meta map[string]string
	if inv.SubscriptionDetails != nil {
		meta = inv.SubscriptionDetails.Metadata
	}
	accountID, err := s.accountFor(ctx, string(inv.Customer), meta, now)
	if err != nil {
		return err
	}
	var ps playback.Subscription
	if s.cfg.Refetch {
		sub, err := s.deps.Stripe.subscription(ctx, subID)
		if err != nil {
			return err
		}
		ps, err = s.fromSubscription(sub, env.Created, stageInvoice)
		if err != nil {
			return err
		}
	} else {
		ps = s.fromInvoice(inv, env.Type, env.Created)
	}
	return s.applySubscriptions(ctx, accountID, env.ID, now, ps)
}

// onCustomerDeleted cancels the subscriptions the account held before the
// deletion. Stripe also sends customer.subscription.deleted for each, which
// carry the full objects and supersede this inferred cancellation whatever
// the order; this is the backstop for the ones that never arrive.
func (s *Server) onCustomerDeleted(ctx context.Context, env event, now time.Time) error {
	var cus stripeCustomer
	if err := decodeObject(env, &cus); err != nil {
		return err
	}
	accountID, err := s.deps.Store.AccountIDByCustomer(ctx, cus.ID)
	if playback.IsCode(err, playback.CodeNotFound) {
		accountID, err = cus.Metadata["account_id"], nil
	}
	if err != nil {
		return err
	}
	if accountID == "" {
		httpx.Logger(ctx).InfoContext(ctx, "deleted customer was never linked; nothing to cancel", "customer", cus.ID)
		return nil
	}
	v := derivedCancellation(env.Created)
	_, _, err = s.applyToAccount(ctx, accountID, env.ID, now, []time.Time{v}, func(a *playback.Account) bool {
		changed := false
		for _, cur := range slices.Clone(a.Subscriptions) {
			// A subscription first seen after the deletion belongs to a
			// later customer of the same account.
			if cur.Status == playback.StatusCanceled || !cur.Version.Before(v) {
				continue
			}
			in := cur
			in.Status, in.PastDueSince, in.Version = playback.StatusCanceled, time.Time{}, v
			changed = mergeSubscription(a, in) || changed
		}
		return changed
	})
	return err
}

// accountFor resolves a customer to an account: through the link, else
// through the subscription's metadata.account_id (which our checkout sets),
// linking it. Without either the link may still be coming.
func (s *Server) accountFor(ctx context.Context, customer string, meta map[string]string, now time.Time) (string, error) {
	if customer != "" {
		id, err := s.deps.Store.AccountIDByCustomer(ctx, customer)
		if err == nil {
			return id, nil
		}
		if !playback.IsCode(err, playback.CodeNotFound) {
			return "", err
		}
	}
	accountID := meta["account_id"]
	if accountID == "" {
		return "", fmt.Errorf("customer %q: %w", customer, errLinkPending)
	}
	if customer != "" {
		if err := s.link(ctx, customer, accountID, now); err != nil {
			return "", err
		}
	}
	return accountID, nil
}

// link records customer → account, after making sure the account exists
// (an unknown account is a permanent failure: not_found).
func (s *Server) link(ctx context.Context, customer, accountID string, now time.Time) error {
	_, err := s.deps.Store.UpdateAccount(ctx, accountID, func(a *playback.Account) error {
		if a.CustomerID == customer {
			return playback.ErrNoChange
		}
		if a.CustomerID != "" {
			httpx.Logger(ctx).WarnContext(ctx, "account changes Stripe customer", "account_id", accountID,
				"from", a.CustomerID, "to", customer)
		}
		a.CustomerID, a.UpdatedAt = customer, now
		return nil
	})
	if err != nil {
		return fmt.Errorf("paymentwebhook.link %s → %s: %w", customer, accountID, err)
	}
	if err := s.deps.Store.LinkCustomer(ctx, customer, accountID); err != nil {
		return fmt.Errorf("paymentwebhook.link: %w", err)
	}
	return nil
}

func (s *Server) applySubscriptions(ctx context.Context, accountID, cause string, now time.Time, subs ...playback.Subscription) error {
	versions := make([]time.Time, len(subs))
	for i, sub := range subs {
		versions[i] = sub.Version
	}
	_, _, err := s.applyToAccount(ctx, accountID, cause, now, versions, func(a *playback.Account) bool {
		changed := false
		for _, sub := range subs {
			changed = mergeSubscription(a, sub) || changed
		}
		return changed
	})
	return err
}

// entitlement is what consumers of entitlement-changed care about.
type entitlement struct {
	Entitled bool
	Status   playback.SubscriptionStatus
	PlanID   string
}

func (s *Server) entitlementOf(a playback.Account, now time.Time) entitlement {
	return entitlement{Entitled: a.Entitled(now, s.cfg.PastDueGrace), Status: a.Status, PlanID: a.PlanID}
}

// applyToAccount runs change on the account and announces an entitlement
// change. The announcement cannot share a transaction with the write, so
// when the event is handled again (after a failed publish, or a failure to
// mark it processed) and its versions are still the account's current
// state, the current entitlement is announced again: consumers see it at
// least once and act on the account as it is, so a repeat is harmless.
func (s *Server) applyToAccount(ctx context.Context, accountID, cause string, now time.Time, versions []time.Time,
	change func(*playback.Account) bool) (after playback.Account, changed bool, err error) {
	var before playback.Account
	after, err = s.deps.Store.UpdateAccount(ctx, accountID, func(a *playback.Account) error {
		before = *a
		before.Subscriptions = slices.Clone(a.Subscriptions)
		changed = change(a)
		if !changed {
			return playback.ErrNoChange
		}
		a.UpdatedAt = now
		return nil
	})
	if err != nil {
		return after, false, fmt.Errorf("paymentwebhook: account %s: %w", accountID, err)
	}
	was, is := s.entitlementOf(before, now), s.entitlementOf(after, now)
	owns := slices.ContainsFunc(after.Subscriptions, func(sub playback.Subscription) bool {
		return slices.ContainsFunc(versions, sub.Version.Equal)
	})
	if (changed && was != is) || (!changed && owns) {
		err = s.publishEntitlement(ctx, accountID, is, cause, now)
	}
	return after, changed, err
}

func (s *Server) publishEntitlement(ctx context.Context, accountID string, e entitlement, cause string, now time.Time) error {
	data, err := json.Marshal(events.EntitlementChanged{AccountID: accountID, Status: string(e.Status),
		PlanID: e.PlanID, Entitled: e.Entitled, Cause: cause, At: now})
	if err != nil {
		return err
	}
	err = s.deps.Bus.Publish(ctx, events.TopicEntitlementChanged, playback.Message{OrderingKey: accountID, Data: data})
	if err != nil {
		return retryable(err, "publishing entitlement change of %s", accountID)
	}
	httpx.Logger(ctx).InfoContext(ctx, "entitlement changed", "account_id", accountID, "entitled", e.Entitled,
		"status", e.Status, "plan_id", e.PlanID, "cause", cause)
	return nil
}

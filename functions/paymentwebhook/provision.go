package paymentwebhook

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Audit actors of the account writes of Stripe's news: an account
// created, or named a customer, by a completed checkout session
// ("stripe:checkout:<session id>"), or named a customer by the
// metadata.account_id of its subscription or invoice
// ("stripe:metadata:<customer id>").
const (
	actorCheckout = "stripe:checkout:"
	actorMetadata = "stripe:metadata:"
)

// provision creates the account a completed checkout session names, for
// a subscriber who signed up through Stripe before any account existed.
// It is create-if-absent: a concurrent delivery of the same session, or an
// operator who created the account meanwhile, wins, and this call then
// changes nothing. The account starts without a subscription (status
// none): the subscription's own events, parked until the link this
// session makes, entitle it. It names the session's customer, claimed
// first as link claims it: a customer another account holds is refused
// customer_linked_elsewhere and no account is created.
//
// Without a country (neither the session's billing address, the
// customer's address nor Config.DefaultTerritory) the account is not
// created: licensing needs a territory, and guessing one would license the
// wrong catalogue. The session then waits like an event whose account is
// missing (parked for retry) until an operator creates the account.
func (s *Server) provision(ctx context.Context, cs stripeCheckoutSession, accountID string, env event, now time.Time) error {
	territory, err := s.territoryOf(ctx, cs)
	if err != nil {
		return err
	}
	if territory == "" {
		httpx.Logger(ctx).ErrorContext(ctx, "checkout session names no country: create the account to apply it",
			"account_id", accountID, "checkout_session", cs.ID, "customer", cs.Customer)
		return missingAccount(accountID, "paymentwebhook.provision %s: no billing country and no STRIPE_DEFAULT_TERRITORY", accountID)
	}
	plan, err := s.checkoutPlan(ctx, cs)
	if err != nil {
		return err
	}
	acct := playback.Account{ID: accountID, Email: cs.email(), PlanID: plan, Status: playback.StatusNone,
		Territory: territory, CustomerID: string(cs.Customer), CustomerClock: env.Created, UpdatedAt: now}
	doc, err := json.Marshal(acct)
	if err != nil {
		return fmt.Errorf("paymentwebhook.provision: %w", err)
	}
	created := false
	// The account's other events parked for it (a subscription naming it
	// by metadata.account_id) are woken with the creation.
	woken, err := events.CreateStripeAccount(ctx, s.deps.Store, s.deps.Bus, accountID, s.cfg.SweepBatch, s.deps.Now, func() error {
		// The account is created naming the customer: claimed first, as
		// a create's (Before ""), as link claims it for an account that
		// exists, so that a customer another account holds is refused
		// customer_linked_elsewhere before any account is written.
		at := s.deps.Now()
		claim := playback.PendingClaim(accountID, "", at)
		prev, err := playback.ClaimCustomer(ctx, s.deps.Store, string(cs.Customer), claim, at)
		if err != nil {
			return err
		}
		wctx, cancel, err := playback.ClaimWriteContext(ctx, at, s.deps.Now())
		if err == nil {
			_, err = s.deps.Store.ApplyChanges(wctx, playback.ChangeSet{Actor: actorCheckout + cs.ID, At: now,
				Changes: []playback.Change{{Kind: playback.KindAccount, ID: accountID, Doc: doc, IfAbsent: true}}})
		}
		cancel()
		switch {
		case playback.IsCode(err, playback.CodePrecondition):
			return nil // created meanwhile: link claims it on the account as it is
		case err != nil && !playback.ErrorCode(err).Retryable():
			if _, err := s.deps.Store.SwapCustomerLink(ctx, string(cs.Customer), claim, prev); err != nil {
				httpx.Logger(ctx).WarnContext(ctx, "customer link claim not given back", "customer", cs.Customer, "account_id", accountID, "err", err)
			}
		}
		created = err == nil
		return err
	})
	if created {
		httpx.Logger(ctx).InfoContext(ctx, "account created from checkout", "account_id", accountID,
			"territory", territory, "plan_id", plan, "checkout_session", cs.ID, "event_id", env.ID, "woken", woken)
	}
	if err != nil && created {
		// The session is retried, and its retry, finding the account,
		// wakes again what this wake may have left under its key.
		return retryable(err, "paymentwebhook.provision %s: waking the stripe events parked for it after %d", accountID, woken)
	}
	if err != nil {
		return fmt.Errorf("paymentwebhook.provision %s: %w", accountID, err)
	}
	return nil
}

// territoryOf is the country of the session's billing address, else of
// the customer's address (read from the API when there is one), else the
// configured default; "" if none. A code that names no country
// (playback.IsCountryCode: EU, XX, ...) counts as none: a home there
// meets no licence window, and the catalogue refuses it as a territory.
func (s *Server) territoryOf(ctx context.Context, cs stripeCheckoutSession) (string, error) {
	if c := cs.country(); playback.IsCountryCode(c) {
		return c, nil
	}
	if s.deps.Stripe != nil {
		cus, err := s.deps.Stripe.customer(ctx, string(cs.Customer))
		switch {
		case err == nil && cus.Address != nil && playback.IsCountryCode(cus.Address.Country):
			return cus.Address.Country, nil
		case err != nil && playback.ErrorCode(err).Retryable():
			return "", err
		}
	}
	return s.cfg.DefaultTerritory, nil
}

// checkoutPlan is the plan of the session's price: from its line items
// when expanded, else from its subscription read through the API; "" when
// neither is at hand, and the subscription's events set it.
func (s *Server) checkoutPlan(ctx context.Context, cs stripeCheckoutSession) (string, error) {
	if plan := s.planFor(cs.priceIDs()...); plan != "" {
		return plan, nil
	}
	if s.deps.Stripe == nil || cs.Subscription == "" {
		return "", nil
	}
	sub, err := s.deps.Stripe.subscription(ctx, string(cs.Subscription))
	if err != nil {
		if playback.ErrorCode(err).Retryable() {
			return "", err
		}
		return "", nil
	}
	return s.planFor(sub.priceIDs()...), nil
}

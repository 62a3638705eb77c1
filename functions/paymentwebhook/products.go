package paymentwebhook

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// A Stripe account that also bills other products sends every event of
// their customers too, and a customer of the service may hold such a
// subscription beside the service's. The account's status is the best of
// its subscriptions' (playback.Account.BillingSubscription) and a price no
// plan maps keeps the plan, so another product's subscription, taken for
// the service's, would keep a customer who canceled the service entitled.
// Config.Products names the service's products: a subscription none of
// whose prices is one of them is another product's and changes no
// entitlement (ignoreOtherProduct).

// otherProduct reports whether an object whose prices are of products is
// another product's: the service is scoped to Config.Products, and the
// prices name products, none of them the service's. Prices that name no
// product (a payload without them) cannot tell, and are taken as the
// service's, as without the setting.
func (s *Server) otherProduct(products []string) bool {
	if len(s.products) == 0 || len(products) == 0 {
		return false
	}
	for _, p := range products {
		if s.products[p] {
			return false
		}
	}
	return true
}

// ignoreOtherProduct applies what an event says of subscription subID of
// customer, another product's: nothing, but for dropping the
// subscription from the customer's account if it holds it (stored before
// Config.Products was set, or moved to another product since) and the
// event saw it at a provider second asOf strictly after the stored one
// (merge's order: a stale event must not drop a subscription that has
// since moved to the service's product), and for marking it another
// product's as of asOf, so that stale events of the service's product
// delivered after this one do not put it back (rule 6 in mapping.go).
// asOf 0 drops and marks nothing: an invoice does not say what its
// subscription is now. It logs once, at INFO: such events are expected
// wherever the Stripe account is shared. moved says env is the
// subscription's move from the service's products (movedAway).
func (s *Server) ignoreOtherProduct(ctx context.Context, env event, subID, customer string, products []string, asOf int64, moved bool, now time.Time) error {
	dropped := false
	if asOf > 0 {
		var err error
		if dropped, err = s.dropOtherProduct(ctx, subID, customer, env.ID, asOf, moved, now); err != nil {
			return err
		}
	}
	httpx.Logger(ctx).InfoContext(ctx, "stripe event of another product ignored", "event_id", env.ID, "type", env.Type,
		"subscription", subID, "customer", customer, "products", products, "dropped", dropped)
	return nil
}

// dropOtherProduct drops subscription subID, another product's as seen
// at provider second asOf, from the account linked to customer when the
// stored subscription is older than asOf, marking it so as of asOf, or
// marks it without holding it when moved says this is its move from the
// service's products (markOtherProduct); it reports whether it dropped
// it. An unlinked customer, or a link to no account, has nothing to drop
// or mark (see moveWaitsForLink).
func (s *Server) dropOtherProduct(ctx context.Context, subID, customer, cause string, asOf int64, moved bool, now time.Time) (bool, error) {
	if customer == "" || subID == "" {
		return false, nil
	}
	accountID, err := playback.CustomerAccount(ctx, s.deps.Store, customer)
	if playback.IsCode(err, playback.CodeNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("paymentwebhook.dropOtherProduct: %w", err)
	}
	dropped := false
	_, _, err = s.applyToAccount(ctx, accountID, cause, now, func(a *playback.Account) bool {
		var changed bool
		dropped, changed = markOtherProduct(a, playback.OtherProductMark{Subscription: subID, Clock: asOf, Event: cause, Written: now.Unix()}, moved)
		return changed
	})
	if playback.IsCode(err, playback.CodeNotFound) {
		return false, nil
	}
	return dropped, err
}

// movedAway reports whether env is the update that moved its
// subscription from the service's products to another's: Stripe names
// every attribute an update changed in previous_attributes, and an array
// whole, so previous_attributes.items names the service's product and
// the object's items none.
func (s *Server) movedAway(env event) bool {
	if env.Type != typeSubscriptionUpdated || len(env.previous) == 0 {
		return false
	}
	var before, after stripeSubscription
	if json.Unmarshal(env.previous, &before) != nil || json.Unmarshal(env.object, &after) != nil {
		return false
	}
	was := before.productIDs()
	return len(was) > 0 && !s.otherProduct(was) && s.otherProduct(after.productIDs())
}

// moveWaitsForLink is errLinkPending for the move of subscription sub
// from the service's products (movedAway) while its customer is not
// linked yet: it waits for the link like the subscription's earlier
// events, which, stale, would otherwise apply once the link wakes them
// with no mark to refuse them (rule 6 in mapping.go). Other events of
// another product's subscriptions of an unlinked customer are processed
// at once: those customers are never linked, and such events would pile
// up waiting.
func (s *Server) moveWaitsForLink(ctx context.Context, sub stripeSubscription) error {
	if sub.Customer == "" {
		return nil
	}
	_, err := s.deps.Store.AccountIDByCustomer(ctx, string(sub.Customer))
	if playback.IsCode(err, playback.CodeNotFound) {
		return fmt.Errorf("subscription %s moved to another product, customer %q: %w", sub.ID, sub.Customer, errLinkPending)
	}
	if err != nil {
		return fmt.Errorf("paymentwebhook.moveWaitsForLink: %w", err)
	}
	return nil
}

// checkoutOfOtherProduct reports whether a completed checkout session is
// another product's. Webhooks carry no line items, so the products are
// its subscription's, read through the API; without an API, or without a
// subscription to read, the session cannot be told apart and is the
// service's (README, Payments).
func (s *Server) checkoutOfOtherProduct(ctx context.Context, cs stripeCheckoutSession) (bool, []string, error) {
	if len(s.products) == 0 {
		return false, nil, nil
	}
	if products := cs.productIDs(); len(products) > 0 {
		return s.otherProduct(products), products, nil
	}
	if s.deps.Stripe == nil || cs.Subscription == "" {
		return false, nil, nil
	}
	sub, err := s.deps.Stripe.subscription(ctx, string(cs.Subscription))
	if err != nil {
		if playback.ErrorCode(err).Retryable() {
			return false, nil, err
		}
		return false, nil, nil
	}
	products := sub.productIDs()
	return s.otherProduct(products), products, nil
}

package paymentwebhook

import (
	"context"
	"fmt"
	"slices"
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
// whose prices is one of them is another product's and changes nothing.

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
// since moved to the service's product). asOf 0 drops nothing: an invoice
// does not say what its subscription is now. It logs once, at INFO: such
// events are expected wherever the Stripe account is shared.
//
// Not covered: a subscription moved from the service's product to
// another, whose other-product event arrives first and is followed by a
// stale event of the service's product, is put back by the stale event
// (until a newer event or the hourly listing drops it);
// ordering that needs a clocked "another product's as of t" marker among
// the snapshots (README, Shared Stripe accounts).
func (s *Server) ignoreOtherProduct(ctx context.Context, env event, subID, customer string, products []string, asOf int64, now time.Time) error {
	dropped := false
	if asOf > 0 {
		var err error
		if dropped, err = s.dropOtherProduct(ctx, subID, customer, env.ID, asOf, now); err != nil {
			return err
		}
	}
	httpx.Logger(ctx).InfoContext(ctx, "stripe event of another product ignored", "event_id", env.ID, "type", env.Type,
		"subscription", subID, "customer", customer, "products", products, "dropped", dropped)
	return nil
}

// dropOtherProduct drops subscription subID, another product's as seen at
// provider second asOf, from the account linked to customer when the
// stored subscription is older than asOf, and reports whether it did. An
// unlinked customer, or a link to no account, has nothing to drop.
func (s *Server) dropOtherProduct(ctx context.Context, subID, customer, cause string, asOf int64, now time.Time) (bool, error) {
	if customer == "" || subID == "" {
		return false, nil
	}
	accountID, err := s.deps.Store.AccountIDByCustomer(ctx, customer)
	if playback.IsCode(err, playback.CodeNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("paymentwebhook.dropOtherProduct: %w", err)
	}
	_, dropped, err := s.applyToAccount(ctx, accountID, cause, now, func(a *playback.Account) bool {
		i := slices.IndexFunc(a.Subscriptions, func(x playback.Subscription) bool { return x.ID == subID })
		if i < 0 || a.Subscriptions[i].Clock >= asOf {
			return false
		}
		return a.DropSubscription(subID)
	})
	if playback.IsCode(err, playback.CodeNotFound) {
		return false, nil
	}
	return dropped, err
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

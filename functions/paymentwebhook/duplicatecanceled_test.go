package paymentwebhook

import (
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestDuplicateSubscriptionCanceledKeepsPayingCustomer: support's usual
// answer to a double-submitted checkout is to cancel the duplicate
// subscription (and refund it), keeping its customer. The account names
// the later customer, cus_2; cus_1's subscription is active and cus_1's
// link still resolves to the account: the viewer still pays and must
// stay entitled, as when the duplicate customer is deleted
// (TestCustomerDeletedCancelsOnlyItsOwnSubscriptions).
func TestDuplicateSubscriptionCanceledKeepsPayingCustomer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.linked("acct_d", "cus_1")
	h.run(stripeEvent("evt_1_created", typeSubscriptionCreated, at(time.Hour),
		subObj("sub_1", "cus_1", "active", "price_std", at(time.Hour), at(time.Hour+month))))
	h.run(stripeEvent("evt_co_2", typeCheckoutCompleted, at(time.Hour+time.Minute), checkoutObj("cs_2", "acct_d", "cus_2", "sub_2")))
	h.run(stripeEvent("evt_2_created", typeSubscriptionCreated, at(time.Hour+time.Minute),
		subObj("sub_2", "cus_2", "active", "price_std", at(time.Hour+time.Minute), at(time.Hour+time.Minute+month))))
	h.run(stripeEvent("evt_2_deleted", typeSubscriptionDeleted, at(24*time.Hour),
		subObj("sub_2", "cus_2", "canceled", "price_std", at(time.Hour+time.Minute), at(time.Hour+time.Minute+month))))
	wantState(t, h.getAccount("acct_d"), playback.StatusActive, "standard")
}

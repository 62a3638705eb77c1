package admin_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// TestCustomerMoveTakesItsSubscriptions: an operator moves a Stripe
// customer from one account to another (PUT …/customer on the first,
// naming another customer, then on the second, naming this one). The
// first stops naming the customer, and its subscription, billed to that
// customer, entitles it no more; the second, linked, adopts it and is
// entitled on it, as the customer's events would leave it. Before, the
// first stayed active on a subscription nobody paid it through, and the
// second was linked with status none and no subscription until the
// subscription's next event.
func TestCustomerMoveTakesItsSubscriptions(t *testing.T) {
	t.Parallel()
	for _, st := range everyStore {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessOn(t, auth.DefaultAdminClaim, st.store(t))
			ctx := context.Background()
			h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
			h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"acct_from","plan_id":"std","territory":"DE","customer_id":"cus_move"}`, http.StatusCreated)
			h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"acct_to","plan_id":"std","territory":"DE"}`, http.StatusCreated)
			// The customer's subscription, as its events leave it.
			sub := playback.Subscription{ID: "sub_move", Status: playback.StatusActive, PlanID: "std", Customer: "cus_move",
				Clock: h.now.Unix() - 60, CurrentPeriodEnd: h.now.Add(30 * 24 * time.Hour).Truncate(time.Second)}
			if _, err := h.store.UpdateAccount(ctx, "acct_from", func(a *playback.Account) error {
				a.PutSubscription(sub)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			etag := func(id string) string {
				return h.mustDo("GET", "/v1/admin/accounts/"+id, "", "", http.StatusOK).header.Get("ETag")
			}
			h.mustDo("PUT", "/v1/admin/accounts/acct_from/customer", etag("acct_from"), `{"customer_id":"cus_other"}`, http.StatusOK)
			h.mustDo("PUT", "/v1/admin/accounts/acct_to/customer", etag("acct_to"), `{"customer_id":"cus_move"}`, http.StatusOK)

			from, err := h.store.GetAccount(ctx, "acct_from")
			if err != nil {
				t.Fatal(err)
			}
			to, err := h.store.GetAccount(ctx, "acct_to")
			if err != nil {
				t.Fatal(err)
			}
			held := len(to.Subscriptions) == 1 && to.Subscriptions[0].ID == sub.ID && to.Subscriptions[0].Clock == sub.Clock
			if from.Entitled(h.now, time.Hour) || from.Status != playback.StatusNone ||
				!to.Entitled(h.now, time.Hour) || to.Status != playback.StatusActive || to.PlanID != "std" || !held {
				t.Fatalf("cus_move moved from acct_from to acct_to: acct_from is %s (entitled %v), acct_to is %s/%q (entitled %v) holding %+v; "+
					"want acct_from none, acct_to active/std holding %s as its events left it",
					from.Status, from.Entitled(h.now, time.Hour), to.Status, to.PlanID, to.Entitled(h.now, time.Hour), to.Subscriptions, sub.ID)
			}
		})
	}
}

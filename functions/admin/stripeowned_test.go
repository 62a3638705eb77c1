package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// stripeEvent writes on account id what the payment consumer writes for
// a Stripe event of subscription sub_<id>: its newer state, from which
// the account's status and plan are folded again (Account.PutSubscription,
// where the consumer's merge ends).
func stripeEvent(t *testing.T, store playback.Store, id string, clock int64, status playback.SubscriptionStatus, plan string) {
	t.Helper()
	_, err := store.UpdateAccount(context.Background(), id, func(a *playback.Account) error {
		a.PutSubscription(playback.Subscription{ID: "sub_" + id, Status: status, PlanID: plan, Clock: clock, Customer: a.CustomerID,
			CurrentPeriodEnd: time.Unix(clock, 0).UTC().Add(30 * 24 * time.Hour)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStripeOwnsTheStatusAndPlanOfItsCustomers: an account linked to a
// Stripe customer has the status and plan its Stripe subscriptions fold
// to, and Stripe's next event folds them again. So a PUT or PATCH that
// would change them is 409 managed_in_stripe, naming the fields and the
// customer, and writes nothing: before, it answered 200 and the next
// event of the customer put Stripe's status back. The operator's own lever
// is the hold (suspend), which every Stripe event leaves set; the other
// settings stay the operator's, and an account without a customer stays
// wholly operator-managed.
func TestStripeOwnsTheStatusAndPlanOfItsCustomers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	h.mustDo("POST", "/v1/admin/plans", "", `{"id":"prem","name":"Premium","max_streams":4,"max_devices":8,"max_quality":"UHD"}`, http.StatusCreated)
	account := func(t *testing.T, id string, customer bool) string {
		t.Helper()
		body := `{"id":"` + id + `","plan_id":"std","territory":"DE","status":"active"`
		if customer {
			body += `,"customer_id":"cus_` + id + `"`
		}
		h.mustDo("POST", "/v1/admin/accounts", "", body+`}`, http.StatusCreated)
		if customer {
			stripeEvent(t, h.store, id, 100, playback.StatusActive, "std")
		}
		return "/v1/admin/accounts/" + id
	}
	read := func(t *testing.T, path string) (playback.Account, string) {
		t.Helper()
		r := h.mustDo("GET", path, "", "", http.StatusOK)
		var a playback.Account
		if err := json.Unmarshal(r.body, &a); err != nil {
			t.Fatal(err)
		}
		return a, r.header.Get("ETag")
	}
	write := func(path, etag, method, body string) resp {
		if method == "PATCH" {
			return h.patch(path, etag, admin.MergePatchType, body)
		}
		return h.do(method, path, h.admin, etag, body)
	}

	t.Run("refused", func(t *testing.T) {
		for i, tc := range []struct {
			name, method, body string // body: ACCT is the account's id
			fields             []string
		}{
			{name: "PATCH status canceled", method: "PATCH", body: `{"status":"canceled"}`, fields: []string{"/status"}},
			{name: "PATCH plan", method: "PATCH", body: `{"plan_id":"prem"}`, fields: []string{"/plan_id"}},
			{name: "PUT status and plan", method: "PUT", body: `{"id":"ACCT","plan_id":"prem","territory":"DE","status":"paused","customer_id":"cus_ACCT"}`,
				fields: []string{"/status", "/plan_id"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := fmt.Sprintf("acct_r%d", i)
				path := account(t, id, true)
				_, etag := read(t, path)
				r := write(path, etag, tc.method, strings.ReplaceAll(tc.body, "ACCT", id))
				_, written := read(t, path)
				// Stripe's next event for the customer: the subscription as
				// it was, a second later.
				stripeEvent(t, h.store, id, 101, playback.StatusActive, "std")
				after, _ := read(t, path)
				if r.status != http.StatusConflict || r.errBody(t).Reason != playback.ReasonManagedInStripe {
					t.Fatalf("%s on a Stripe customer's account: %d %s; after Stripe's next event it is %s on %s: want 409 managed_in_stripe",
						tc.name, r.status, r.body, after.Status, after.PlanID)
				}
				if written != etag {
					t.Fatal("the refused write wrote")
				}
				var e struct {
					Error struct {
						Details admin.ManagedInStripe `json:"details"`
					} `json:"error"`
				}
				if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Details.CustomerID != "cus_"+id || !slices.Equal(e.Error.Details.Fields, tc.fields) {
					t.Fatalf("details of %s: %+v (%v), want customer cus_%s, fields %v", r.body, e.Error.Details, err, id, tc.fields)
				}
			})
		}
	})

	t.Run("the operator's own settings and hold", func(t *testing.T) {
		path := account(t, "acct_held", true)
		_, etag := read(t, path)
		// Unchanged status and plan, as a GET sent back holds them: fine.
		r := write(path, etag, "PUT", `{"id":"acct_held","plan_id":"std","territory":"FR","status":"active","customer_id":"cus_acct_held"}`)
		if r.status != http.StatusOK {
			t.Fatalf("PUT of the settings alone: %d %s", r.status, r.body)
		}
		h.mustDo("POST", path+"/suspend", "", "", http.StatusOK)
		stripeEvent(t, h.store, "acct_held", 102, playback.StatusPastDue, "std")
		stripeEvent(t, h.store, "acct_held", 103, playback.StatusActive, "std")
		a, _ := read(t, path)
		if !a.Suspended || a.Entitled(h.now, time.Hour) || a.Territory != "FR" || a.Status != playback.StatusActive {
			t.Fatalf("held account after Stripe's events: %+v; want suspended, not entitled, in FR, active", a)
		}
	})

	t.Run("left over Stripe's by an earlier write", func(t *testing.T) {
		// As a PATCH answered 200 before this rule left it: canceled over
		// the active subscription, until Stripe's next event.
		path := account(t, "acct_old", true)
		if _, err := h.store.UpdateAccount(context.Background(), "acct_old", func(a *playback.Account) error {
			a.Status = playback.StatusCanceled
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		_, etag := read(t, path)
		if r := write(path, etag, "PATCH", `{"status":"trialing"}`); r.status != http.StatusConflict {
			t.Fatalf("PATCH to neither the stored status nor Stripe's: %d %s, want 409", r.status, r.body)
		}
		if r := write(path, etag, "PATCH", `{"status":"active"}`); r.status != http.StatusOK {
			t.Fatalf("PATCH back to Stripe's status: %d %s, want 200", r.status, r.body)
		}
	})

	t.Run("created by a checkout without a plan", func(t *testing.T) {
		// As the payment consumer provisions it when the session's price
		// maps no plan: Stripe has said nothing of the plan yet.
		if err := h.store.PutAccount(context.Background(), playback.Account{ID: "acct_co", Status: playback.StatusNone,
			Territory: "DE", CustomerID: "cus_co"}); err != nil {
			t.Fatal(err)
		}
		_, etag := read(t, "/v1/admin/accounts/acct_co")
		r := write("/v1/admin/accounts/acct_co", etag, "PUT", `{"id":"acct_co","plan_id":"std","territory":"DE","customer_id":"cus_co"}`)
		if r.status != http.StatusOK {
			t.Fatalf("PUT of a plan where Stripe set none: %d %s", r.status, r.body)
		}
	})

	t.Run("a price that maps no plan", func(t *testing.T) {
		// Stripe's subscription is on a price no plan maps: its events keep
		// whatever plan the account has (Account.PutSubscription), so the
		// plan is the operator's, the first one and every correction.
		if err := h.store.PutAccount(context.Background(), playback.Account{ID: "acct_unm", Status: playback.StatusNone,
			Territory: "DE", CustomerID: "cus_unm"}); err != nil {
			t.Fatal(err)
		}
		stripeEvent(t, h.store, "acct_unm", 100, playback.StatusActive, "")
		path := "/v1/admin/accounts/acct_unm"
		for i, plan := range []string{"std", "prem", "std"} {
			_, etag := read(t, path)
			r := write(path, etag, "PATCH", `{"plan_id":"`+plan+`"}`)
			stripeEvent(t, h.store, "acct_unm", int64(101+i), playback.StatusActive, "")
			if after, _ := read(t, path); r.status != http.StatusOK || after.PlanID != plan {
				t.Fatalf("PATCH plan %s under a price that maps none: %d %s; after Stripe's next event on %q: want 200, and the plan kept",
					plan, r.status, r.body, after.PlanID)
			}
		}
	})

	t.Run("no customer", func(t *testing.T) {
		path := account(t, "acct_own", false)
		_, etag := read(t, path)
		r := write(path, etag, "PATCH", `{"status":"canceled","plan_id":"prem"}`)
		if r.status != http.StatusOK {
			t.Fatalf("PATCH of an account without a customer: %d %s", r.status, r.body)
		}
		if a, _ := read(t, path); a.Status != playback.StatusCanceled || a.PlanID != "prem" {
			t.Fatalf("account %+v, want canceled on prem", a)
		}
	})
}

// TestLegacyStripeAccountPastDueKeepsTheSubscriptionsGrace: a Stripe
// account stored active (a record from before the status was Stripe's)
// whose subscription went past due 5 days ago may be patched past_due,
// the subscription's status; its grace is then the subscription's, not
// one restarted at the write.
func TestLegacyStripeAccountPastDueKeepsTheSubscriptionsGrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, auth.DefaultAdminClaim)
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"acct_l","plan_id":"std","territory":"DE","status":"active","customer_id":"cus_l"}`, http.StatusCreated)
	since := h.now.Add(-5 * 24 * time.Hour).UTC().Truncate(time.Second)
	if _, err := h.store.UpdateAccount(ctx, "acct_l", func(a *playback.Account) error {
		// Written past the fold, as a record stored before it was.
		a.Subscriptions = []playback.Subscription{{ID: "sub_l", Status: playback.StatusPastDue, PlanID: "std", Clock: 100,
			Customer: "cus_l", PastDueSince: since}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	etag := h.mustDo("GET", "/v1/admin/accounts/acct_l", "", "", http.StatusOK).header.Get("ETag")
	if r := h.patch("/v1/admin/accounts/acct_l", etag, admin.MergePatchType, `{"status":"past_due"}`); r.status != http.StatusOK {
		t.Fatalf("PATCH status past_due: %d %s", r.status, r.body)
	}
	a, err := h.store.GetAccount(ctx, "acct_l")
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != playback.StatusPastDue || !a.PastDueSince.Equal(since) {
		t.Fatalf("account patched past_due: %s since %v; want past_due since the subscription's %v", a.Status, a.PastDueSince, since)
	}
}

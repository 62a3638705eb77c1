package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/paymentwebhook"
	"github.com/playplane/playplane/shared/playback"
)

// TestOperatorLinkWakesParkedStripeEvents: a Stripe subscriber's events
// arrive for a customer no account is linked to and park; an operator
// creates the account and links the customer through the admin API, and
// the parked events apply at once — no reconciliation, no Stripe API key.
func TestOperatorLinkWakesParkedStripeEvents(t *testing.T) {
	// Park on the first failed attempt rather than retrying for an hour,
	// and leave reconciliation off: only the link can wake the events.
	t.Setenv("STRIPE_LINK_WAIT", "0s")
	t.Setenv("STRIPE_API_KEY", "")
	run, cfg := startEmpty(t)
	if run.app.functions["paymentwebhook"].(*paymentwebhook.Server).CanReconcile() {
		t.Fatal("reconciliation is on; the test must show the link alone applies the events")
	}
	const account, customer = "acct_operator", "cus_Operator01"
	ctx := context.Background()
	adminTok, err := runTrim(t, cfg, "token", "--admin", "ops-bob")
	if err != nil {
		t.Fatal(err)
	}

	created := stripeFixture(t, "customer.subscription.created", "evt_operator_sub", func(o map[string]any) {
		// No account_id in the metadata: nothing but a link names the account.
		o["customer"], o["id"], o["metadata"] = customer, "sub_Operator01", map[string]any{}
		item := o["items"].(map[string]any)["data"].([]any)[0].(map[string]any)
		item["price"].(map[string]any)["id"] = "price_standard"
	})
	if got := run.postStripe(created); got != "recorded" {
		t.Fatalf("subscription created: %q", got)
	}
	run.idle()
	ev, err := run.app.store.GetEvent(ctx, events.StripeSource, "evt_operator_sub")
	if err != nil || ev.ParkedKey != events.StripeCustomerParkKey(customer) || !ev.ProcessedAt.IsZero() {
		t.Fatalf("event before the link: %+v %v (want parked for %s)", ev, err, customer)
	}
	if got := run.postStripe(created); got != "republished" {
		t.Fatalf("redelivery while parked: %q", got)
	}
	run.idle()

	run.mustAPI("POST", "/v1/admin/plans", adminTok, "", `{"id":"standard","name":"Standard","max_streams":2,"max_devices":5,"max_quality":"HD"}`, http.StatusCreated)
	acct := run.mustAPI("POST", "/v1/admin/accounts", adminTok, "", `{"id":"`+account+`","plan_id":"standard","territory":"DE","status":"canceled"}`, http.StatusCreated)
	run.mustAPI("PUT", "/v1/admin/accounts/"+account+"/customer", adminTok, acct.etag, `{"customer_id":"`+customer+`"}`, http.StatusOK)
	run.idle()

	a, err := run.app.store.GetAccount(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != playback.StatusActive || a.PlanID != "standard" || len(a.Subscriptions) != 1 || a.Subscriptions[0].ID != "sub_Operator01" {
		t.Fatalf("account after the link: %+v", a)
	}
	if ev, err := run.app.store.GetEvent(ctx, events.StripeSource, "evt_operator_sub"); err != nil || ev.ProcessedAt.IsZero() || ev.ParkedKey != "" {
		t.Fatalf("event after the link: %+v %v", ev, err)
	}
	if got := run.postStripe(created); got != "duplicate" {
		t.Fatalf("redelivery once applied: %q", got)
	}
	// The operator's GET shows what the payment applied.
	var got playback.Account
	if err := json.Unmarshal(run.mustAPI("GET", "/v1/admin/accounts/"+account, adminTok, "", "", http.StatusOK).body, &got); err != nil || got.Status != playback.StatusActive {
		t.Fatalf("account by API: %+v %v", got, err)
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/playplane/playplane/shared/openapi/openapitest"
)

// stripeFixture reads events/testdata/stripe/<name>.json, lets edit change
// its data.object and dates it now.
func stripeFixture(t *testing.T, name, id string, edit func(object map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../events/testdata/stripe/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["id"], ev["created"] = id, time.Now().Unix()
	edit(ev["data"].(map[string]any)["object"].(map[string]any))
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// postStripe posts payload signed as Stripe signs it and returns the
// webhook's outcome.
func (r *localRun) postStripe(payload []byte) string {
	r.t.Helper()
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: r.app.secrets.StripeWebhook, Timestamp: time.Now()})
	req, _ := http.NewRequest("POST", r.srv.URL+"/v1/webhooks/stripe", strings.NewReader(string(payload)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", signed.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Outcome string `json:"outcome"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil {
		r.t.Fatalf("webhook: %d %s", resp.StatusCode, body)
	}
	return out.Outcome
}

func (r *localRun) idle() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.app.bus.Idle(ctx); err != nil {
		r.t.Fatal(err)
	}
}

// TestNewSubscriberSignsUpAndPlays: on the runner, a subscriber with no
// account pays through Stripe Checkout. The subscription's event arrives
// first and waits; the completed session creates the account in its
// billing country and links the customer; the subscriber plays, then
// manages devices: lists, renames, removes the playing one (its session
// ends, its token stops working).
func TestNewSubscriberSignsUpAndPlays(t *testing.T) {
	run := startLocal(t, t.TempDir())
	const account, customer = "acct_newcomer", "cus_Newcomer01"
	tok := run.token(account)

	created := stripeFixture(t, "customer.subscription.created", "evt_newcomer_sub", func(o map[string]any) {
		o["customer"], o["id"], o["metadata"] = customer, "sub_Newcomer01", map[string]any{}
		item := o["items"].(map[string]any)["data"].([]any)[0].(map[string]any)
		item["price"].(map[string]any)["id"] = "price_standard"
	})
	if got := run.postStripe(created); got != "recorded" {
		t.Fatalf("subscription created: %q", got)
	}
	run.idle()
	// Not applied yet, so not a duplicate.
	if got := run.postStripe(created); got != "republished" {
		t.Fatalf("redelivery while waiting: %q", got)
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"laptop"}`, nil); code != 404 {
		t.Fatalf("play before the account exists: %d", code)
	}

	checkout := stripeFixture(t, "checkout.session.completed", "evt_newcomer_checkout", func(o map[string]any) {
		o["client_reference_id"], o["customer"], o["subscription"] = account, customer, "sub_Newcomer01"
		details := o["customer_details"].(map[string]any)
		details["address"] = map[string]any{"city": "Paris", "country": "FR", "line1": "1 Rue de Rivoli",
			"line2": nil, "postal_code": "75001", "state": nil}
		details["email"] = "newcomer@example.com"
	})
	if got := run.postStripe(checkout); got != "recorded" {
		t.Fatalf("checkout: %q", got)
	}
	run.idle()
	var play struct {
		SessionID     string `json:"session_id"`
		MaxQuality    string `json:"max_quality"`
		PlaybackToken string `json:"playback_token"`
	}
	// Sintel is licensed in FR; the standard plan streams HD.
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"laptop","device_name":"Laptop"}`, &play); code != 201 || play.MaxQuality != "HD" {
		t.Fatalf("new subscriber's play: %d %+v", code, play)
	}
	if got := run.postStripe(created); got != "duplicate" {
		t.Fatalf("redelivery once applied: %q", got)
	}

	var list struct {
		Devices []struct {
			DeviceID  string `json:"device_id"`
			Name      string `json:"name"`
			Playing   bool   `json:"playing"`
			SessionID string `json:"session_id"`
		} `json:"devices"`
		MaxDevices int `json:"max_devices"`
	}
	if code := run.call("GET", "/v1/devices", tok, "", &list); code != 200 || len(list.Devices) != 1 ||
		list.Devices[0].Name != "Laptop" || !list.Devices[0].Playing || list.Devices[0].SessionID != play.SessionID || list.MaxDevices != 5 {
		t.Fatalf("devices: %d %+v", code, list)
	}
	if code := run.call("PATCH", "/v1/devices/laptop", tok, `{"name":"Work laptop"}`, nil); code != 200 {
		t.Fatalf("rename: %d", code)
	}
	// A blank name breaks the document's schema too: the validating client
	// is told the request is meant to be refused.
	blank, _ := http.NewRequest("PATCH", run.srv.URL+"/v1/devices/laptop", strings.NewReader(`{"name":""}`))
	blank.Header.Set("Authorization", "Bearer "+tok)
	blank.Header.Set("Content-Type", "application/json")
	resp, err := run.api.Do(openapitest.Invalid(blank))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("blank rename: %d", resp.StatusCode)
	}
	if code := run.call("DELETE", "/v1/devices/laptop", tok, "", nil); code != 200 {
		t.Fatalf("remove: %d", code)
	}
	if code := run.call("GET", "/v1/devices", tok, "", &list); code != 200 || len(list.Devices) != 0 {
		t.Fatalf("after removal: %d %+v", code, list)
	}
	var sessions struct {
		Sessions []any `json:"sessions"`
	}
	if code := run.call("GET", "/v1/sessions", tok, "", &sessions); code != 200 || len(sessions.Sessions) != 0 {
		t.Fatalf("the removed device still plays: %d %+v", code, sessions)
	}
	if code := run.call("DELETE", "/v1/devices/laptop", tok, "", nil); code != 404 {
		t.Fatalf("second removal: %d", code)
	}
	// The removed device's playback token no longer renews its lease.
	beat := fmt.Sprintf(`{"event":"progress","position_ms":1000,"duration_ms":888000,"device_time":%q}`, time.Now().UTC().Format(time.RFC3339Nano))
	if code := run.call("POST", "/v1/playback/"+play.SessionID+"/heartbeat", play.PlaybackToken, beat, nil); code != 410 {
		t.Fatalf("heartbeat of the removed device's session: %d, want 410", code)
	}
}

// TestCheckoutAccountWithoutAPlanAnswersTheDocument: an account a
// checkout created before its subscription's events named a plan is
// stored with plan_id "", and the admin API answers it so (GET, the hold
// and its lifting) through the validating client. The document answered
// with the catalogue's account, whose plan_id must be an id: 'at
// '/plan_id': minLength: got 0'.
func TestCheckoutAccountWithoutAPlanAnswersTheDocument(t *testing.T) {
	run := startLocal(t, t.TempDir())
	const account, customer = "acct_noplan", "cus_NoPlan01"
	checkout := stripeFixture(t, "checkout.session.completed", "evt_noplan_checkout", func(o map[string]any) {
		o["client_reference_id"], o["customer"], o["subscription"] = account, customer, "sub_NoPlan01"
		o["customer_details"].(map[string]any)["address"] = map[string]any{"city": "Paris", "country": "FR",
			"line1": "1 Rue de Rivoli", "line2": nil, "postal_code": "75001", "state": nil}
	})
	if got := run.postStripe(checkout); got != "recorded" {
		t.Fatalf("checkout: %q", got)
	}
	run.idle()
	adminTok := run.adminToken()
	for _, call := range []struct{ method, path string }{
		{"GET", "/v1/admin/accounts/" + account},
		{"POST", "/v1/admin/accounts/" + account + "/suspend"},
		{"POST", "/v1/admin/accounts/" + account + "/unsuspend"},
	} {
		resp := run.mustAPI(call.method, call.path, adminTok, "", "", http.StatusOK)
		var got struct {
			PlanID    *string `json:"plan_id"`
			Territory string  `json:"territory"`
		}
		if err := json.Unmarshal(resp.body, &got); err != nil || got.PlanID == nil || *got.PlanID != "" || got.Territory != "FR" {
			t.Fatalf("%s %s: %s (%v), want the checkout's account without a plan", call.method, call.path, resp.body, err)
		}
	}
}

// TestCheckoutAccountWithoutAPlanExportsAndImports: a store's export
// imports into a fresh store (a backup restored, a move between stores)
// while a checkout's account waits for its subscription's events to name
// a plan: the account, plan_id "" and linked to its customer, is the
// same there, and the new store exports the same file.
func TestCheckoutAccountWithoutAPlanExportsAndImports(t *testing.T) {
	from := t.TempDir()
	local := startLocal(t, from)
	const account, customer = "acct_noplan", "cus_NoPlan01"
	checkout := stripeFixture(t, "checkout.session.completed", "evt_noplan_checkout", func(o map[string]any) {
		o["client_reference_id"], o["customer"], o["subscription"] = account, customer, "sub_NoPlan01"
		o["customer_details"].(map[string]any)["address"] = map[string]any{"city": "Paris", "country": "FR",
			"line1": "1 Rue de Rivoli", "line2": nil, "postal_code": "75001", "state": nil}
	})
	if got := local.postStripe(checkout); got != "recorded" {
		t.Fatalf("checkout: %q", got)
	}
	local.idle()
	local.stop() // the runner holds the store's file
	cli := func(dir string) Config { return Config{DataDir: dir, Issuer: "playplane-local", Audience: "playplane"} }
	exported, err := run(t, cli(from), "export", "--store=bolt", "--accounts")
	if err != nil || !strings.Contains(exported, `"plan_id": ""`) || !strings.Contains(exported, `"customer_id": "`+customer+`"`) {
		t.Fatalf("export: %v\n%s", err, exported)
	}
	to := t.TempDir()
	if out, err := run(t, cli(to), "import", "--store=bolt", writeFile(t, "backup.json", exported)); err != nil {
		t.Fatalf("import of the export into a fresh store: %v\n%s", err, out)
	}
	again, err := run(t, cli(to), "export", "--store=bolt", "--accounts")
	if err != nil || again != exported {
		t.Fatalf("the fresh store exports (%v):\n%s\nwant:\n%s", err, again, exported)
	}
}

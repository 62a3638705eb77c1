package paymentwebhook

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	"github.com/playplane/playplane/shared/playback"
)

// A Stripe account that also bills other products sends their events too,
// for customers this service links as well. STRIPE_PRODUCTS scopes the
// service to its own products: a subscription none of whose items' price
// (subscription.items.data[].price.product in stripe/openapi spec3.json,
// an id or, expanded, a product object) is one of them is another
// product's. The fixture's product (testdata/stripe/subscription.json) is
// the streaming product here.
const (
	streamingProduct = "prod_OnMHDH6VBmYlTr"
	otherProduct     = "prod_OtherThing01"
	otherPrice       = "price_other"
)

// withProducts sets STRIPE_PRODUCTS.
func withProducts(ids ...string) harnessOption {
	return func(c *Config, _ *Deps) { c.Products = strings.Join(ids, ",") }
}

// ofProduct rewrites a subscription object's items as prices of product,
// expanded when asked (price.product an object with an id).
func ofProduct(o obj, product string, expanded bool) obj {
	items, _ := o["items"].(obj)
	var data []obj
	switch d := items["data"].(type) {
	case []obj:
		data = d
	case []any:
		for _, x := range d {
			data = append(data, x.(obj))
		}
	}
	for _, it := range data {
		var p any = product
		if expanded {
			p = obj{"id": product, "object": "product", "name": "Other thing"}
		}
		it["price"].(obj)["product"] = p
	}
	return o
}

// TestOtherProductKeepsNoCanceledAccountEntitled: a streaming subscriber
// cancels streaming but keeps a subscription to the company's other
// product on the same Stripe customer. The account must end canceled in
// every delivery order of the other product's events and the streaming
// cancellation (its price maps no plan, so without scoping it would keep
// the last plan and active status: playing without paying for it).
func TestOtherProductKeepsNoCanceledAccountEntitled(t *testing.T) {
	t.Parallel()
	for _, expanded := range []bool{false, true} {
		t.Run(fmt.Sprintf("expanded=%v", expanded), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, noLinkWait, withProducts(streamingProduct))
			n, failed := 0, 0
			permutations(3, func(order []int) {
				l := newLifecycle(t, fmt.Sprintf("leak%v%d", expanded, n))
				n++
				t0 := base.Add(time.Hour)
				active := l.signUp(l.sub("", stdP, t0, month), t0)
				h.account(l.account)
				other := l.sub("_o", otherPrice, t0.Add(day), month)
				other.status = "active"
				l.emit(typeSubscriptionCreated, t0.Add(day), ofProduct(other.obj(t), otherProduct, expanded), nil)
				renewed := other
				renewed.start, renewed.end = other.end, other.end+(other.end-other.start)
				b, a := ofProduct(other.obj(t), otherProduct, expanded), ofProduct(renewed.obj(t), otherProduct, expanded)
				l.emit(typeSubscriptionUpdated, time.Unix(other.end, 0), a, previousAttributes(b, a))
				canceled := active
				canceled.status, canceled.canceledAt, canceled.ended = "canceled", unix(t0.Add(2*day)), unix(t0.Add(2*day))
				l.plain(typeSubscriptionDeleted, canceled, t0.Add(2*day))
				perm := []int{len(l.events) - 3, len(l.events) - 2, len(l.events) - 1}
				h.clock.Set(l.end)
				for i := range l.events[:len(l.events)-3] {
					h.run(l.events[i].payload)
				}
				var delivered []string
				for _, o := range order {
					h.run(l.events[perm[o]].payload)
					env, _ := decodeEnvelope(l.events[perm[o]].payload)
					delivered = append(delivered, env.Type)
				}
				if p := h.pending(); len(p) != 0 {
					t.Fatalf("order %v: %d events left unprocessed: first %s %s parked %q", order, len(p), p[0].ID, p[0].Type, p[0].ParkedKey)
				}
				a2 := h.getAccount(l.account)
				if a2.Status != playback.StatusCanceled || a2.Entitled(l.end, testConfig().PastDueGrace) {
					if failed++; failed <= 3 {
						t.Errorf("delivered %s: account %s/%q entitled=%v, want canceled and not entitled; subscriptions %+v",
							strings.Join(delivered, ", "), a2.Status, a2.PlanID, a2.Entitled(l.end, testConfig().PastDueGrace), a2.Subscriptions)
					}
				}
				for _, s := range a2.Subscriptions {
					if s.ID == other.id {
						t.Errorf("delivered %s: the other product's subscription is on the account: %+v", strings.Join(delivered, ", "), s)
					}
				}
			})
			if failed > 0 {
				t.Errorf("%d of %d orders end wrong", failed, n)
			}
		})
	}
}

// TestOtherProductEventChangesNothing: an event of the other product's
// subscription of a linked customer whose streaming subscription is
// active changes nothing, is processed (not parked), and a subscription of
// the other product stored before STRIPE_PRODUCTS was set is dropped by
// the next event that shows it to be the other product's.
func TestOtherProductEventChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withProducts(streamingProduct))
	h.linked("acct_p", "cus_p")
	ours := ofProduct(subObj("sub_p", "cus_p", "active", "price_std", at(0), at(month)), streamingProduct, false)
	h.run(stripeEvent("evt_p1", typeSubscriptionCreated, at(time.Minute), ours))
	before := h.getAccount("acct_p")
	wantState(t, before, playback.StatusActive, "standard")

	h.run(stripeEvent("evt_o1", typeSubscriptionCreated, at(2*time.Minute),
		ofProduct(subObj("sub_o", "cus_p", "past_due", otherPrice, at(0), at(month)), otherProduct, false)))
	after := h.getAccount("acct_p")
	if !equalAccounts(stateOf(before), stateOf(after)) {
		t.Errorf("the other product's event changed the account:\nbefore %+v\nafter  %+v", before, after)
	}
	if ev, err := h.inboxEvent("evt_o1"); err != nil || ev.ProcessedAt.IsZero() || ev.ParkedKey != "" {
		t.Errorf("the other product's event: %+v %v, want processed and not parked", ev, err)
	}

	// An invoice of the other product's subscription of a customer no
	// account links: processed, not parked waiting for a link.
	inv := invoiceObj("in_o", "cus_nobody", "sub_x", "subscription_cycle", otherPrice, 999, at(0), at(month))
	for _, l := range inv["lines"].(obj)["data"].([]any) {
		l.(obj)["price"].(obj)["product"] = otherProduct
	}
	h.run(stripeEvent("evt_oi", typeInvoicePaid, at(time.Hour), inv))
	if ev, err := h.inboxEvent("evt_oi"); err != nil || ev.ProcessedAt.IsZero() || ev.ParkedKey != "" {
		t.Errorf("the other product's invoice: %+v %v, want processed and not parked", ev, err)
	}

	// Stored before the setting: an active other-product subscription
	// beside a canceled streaming one. Its next event drops it.
	h.linked("acct_q", "cus_q")
	h.account("acct_q", func(a *playback.Account) {
		a.CustomerID, a.Status, a.PlanID = "cus_q", playback.StatusActive, "standard"
		a.Subscriptions = []playback.Subscription{
			{ID: "sub_q", Customer: "cus_q", Status: playback.StatusCanceled, PlanID: "standard", Clock: at(time.Minute)},
			{ID: "sub_qo", Customer: "cus_q", Status: playback.StatusActive, Clock: at(time.Minute)},
		}
	})
	h.run(stripeEvent("evt_qo", typeSubscriptionUpdated, at(time.Hour),
		ofProduct(subObj("sub_qo", "cus_q", "active", otherPrice, at(0), at(month)), otherProduct, true)))
	q := h.getAccount("acct_q")
	wantState(t, q, playback.StatusCanceled, "standard")
	if len(q.Subscriptions) != 1 || q.Subscriptions[0].ID != "sub_q" {
		t.Errorf("subscriptions %+v, want only sub_q", q.Subscriptions)
	}
}

// TestOtherProductCheckoutDoesNotRelink: a checkout of the other product
// whose client_reference_id names an existing account (the other product
// uses the same ids, or a guess) must neither relink that account to the
// other product's customer nor create anything; the session names only
// its subscription, which the API tells to be the other product's.
func TestOtherProductCheckoutDoesNotRelink(t *testing.T) {
	t.Parallel()
	api := &scriptedAPI{}
	api.set(ofProduct(subObj("sub_oc", "cus_other", "active", otherPrice, at(0), at(month)), otherProduct, false))
	h := newHarness(t, api.option(t), func(c *Config, _ *Deps) { c.Refetch = false }, withProducts(streamingProduct))
	h.linked("acct_c", "cus_c")
	h.run(stripeEvent("evt_oc", typeCheckoutCompleted, at(time.Hour), checkoutObj("cs_oc", "acct_c", "cus_other", "sub_oc")))
	a := h.getAccount("acct_c")
	if a.CustomerID != "cus_c" {
		t.Errorf("account relinked to %q by the other product's checkout, want cus_c", a.CustomerID)
	}
	if _, err := h.store.AccountIDByCustomer(t.Context(), "cus_other"); !playback.IsCode(err, playback.CodeNotFound) {
		t.Errorf("the other product's customer is linked: %v", err)
	}
	if ev, err := h.inboxEvent("evt_oc"); err != nil || ev.ProcessedAt.IsZero() || ev.ParkedKey != "" {
		t.Errorf("the other product's checkout: %+v %v, want processed and not parked", ev, err)
	}
	h.run(stripeEvent("evt_ocn", typeCheckoutCompleted, at(time.Hour), checkoutObj("cs_ocn", "acct_new", "cus_other", "sub_oc")))
	h.noAccount("acct_new")
}

// TestReconcileSkipsOtherProducts: the hourly listing holds every
// subscription of the Stripe account, the other product's included; it
// applies none of those, and drops one an account still holds.
func TestReconcileSkipsOtherProducts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withProducts(streamingProduct))
	h.linked("acct_r", "cus_r")
	h.account("acct_r", func(a *playback.Account) {
		a.CustomerID, a.Status, a.PlanID = "cus_r", playback.StatusActive, "standard"
		a.Subscriptions = []playback.Subscription{
			{ID: "sub_r", Customer: "cus_r", Status: playback.StatusCanceled, PlanID: "standard", Clock: at(time.Minute)},
			{ID: "sub_ro", Customer: "cus_r", Status: playback.StatusActive, Clock: at(time.Minute)},
		}
	})
	ctx := t.Context()
	r := reconciler{s: h.srv, now: h.clock.Now(), announced: map[string]bool{}}
	for _, o := range []obj{
		ofProduct(subObj("sub_ro", "cus_r", "active", otherPrice, at(0), at(month)), otherProduct, false),
		ofProduct(subObj("sub_rn", "cus_r", "active", otherPrice, at(0), at(month)), otherProduct, true),
	} {
		var listed stripeSubscription
		raw, _ := json.Marshal(o)
		if err := json.Unmarshal(raw, &listed); err != nil {
			t.Fatal(err)
		}
		if err := r.subscription(ctx, listed, h.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	a := h.getAccount("acct_r")
	wantState(t, a, playback.StatusCanceled, "standard")
	if len(a.Subscriptions) != 1 || a.Subscriptions[0].ID != "sub_r" {
		t.Errorf("subscriptions %+v, want only sub_r", a.Subscriptions)
	}
	if r.rep.Repaired != 1 || r.rep.OtherProduct != 2 {
		t.Errorf("report %+v, want the drop repaired and both counted as another product's", r.rep)
	}
}

// TestProductsSetting: STRIPE_PRODUCTS is a list of product ids; empty (a
// deploy that leaves it unset passes "") scopes nothing, and an entry that
// is not a product id is refused at start.
func TestProductsSetting(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	param, _ := lambdatest.LoadTemplate(t).Raw["Parameters"].(map[string]any)["StripeProducts"].(map[string]any)
	allowed, _ := param["AllowedPattern"].(string)
	// CloudFormation matches AllowedPattern against the whole value.
	pattern := regexp.MustCompile(`^(?:` + allowed + `)$`)
	for _, tc := range []struct {
		name, env string
		scoped    []string
		wantErr   bool
	}{
		{name: "unset", env: ""},
		{name: "two", env: "prod_A1, prod_B2", scoped: []string{"prod_A1", "prod_B2"}},
		{name: "spaces around", env: " prod_A1 ,prod_B2 ", scoped: []string{"prod_A1", "prod_B2"}},
		// Stripe lets a product's id be chosen at its creation.
		{name: "chosen id", env: "streaming_2024", scoped: []string{"streaming_2024"}},
		{name: "not an id", env: "prod_a/b", wantErr: true},
		{name: "a dash", env: "prod-a", wantErr: true},
		{name: "empty entry", env: "prod_a,,prod_b", wantErr: true},
		{name: "trailing comma", env: "prod_a,", wantErr: true},
		{name: "blank", env: "  ", wantErr: true},
		{name: "tab", env: "prod_a,\tprod_b", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// template.yaml refuses at deploy exactly what New refuses at start.
			if m := pattern.MatchString(tc.env); m == tc.wantErr {
				t.Errorf("template.yaml StripeProducts AllowedPattern %q matches %q: %v, want %v as New refuses it: %v", pattern, tc.env, m, !tc.wantErr, tc.wantErr)
			}
			var cfg Config
			err := envconfig.ProcessWith(t.Context(), &envconfig.Config{Target: &cfg, Lookuper: envconfig.MapLookuper(map[string]string{
				"STRIPE_WEBHOOK_SECRETS": "whsec_x", "STRIPE_PRICE_PLANS": "price_basic=basic", "STRIPE_PRODUCTS": tc.env,
			})})
			if err != nil {
				t.Fatal(err)
			}
			srv, err := New(cfg, Deps{Store: h.store, Bus: h.bus})
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "STRIPE_PRODUCTS") {
					t.Fatalf("New accepted STRIPE_PRODUCTS=%q: %v", tc.env, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(maps.Keys(srv.products)); !slices.Equal(got, tc.scoped) {
				t.Errorf("products %q, want %q", got, tc.scoped)
			}
		})
	}
}

// TestOtherProductCheckoutWithoutReferenceIsIgnored: the other product's
// checkout need not carry a client_reference_id (it is that product's
// business), and one without is as expected on a shared Stripe account
// as any other event of that product: processed and said once at INFO,
// not rejected at ERROR, which pages. Classification goes first only
// where it can tell: a session it cannot tell apart (no STRIPE_PRODUCTS,
// or nothing to read its products from) without a reference is rejected
// as before.
func TestOtherProductCheckoutWithoutReferenceIsIgnored(t *testing.T) {
	t.Parallel()
	const ignored, rejected = "another product ignored", "stripe event rejected"
	for _, tc := range []struct {
		name     string
		products bool // STRIPE_PRODUCTS set
		sub      string
		want     string // the one message at its level
		level    string
	}{
		{name: "other product", products: true, sub: "sub_nr", want: ignored, level: "INFO"},
		{name: "no STRIPE_PRODUCTS", sub: "sub_nr", want: rejected, level: "ERROR"},
		{name: "products cannot be told", products: true, want: rejected, level: "ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := &scriptedAPI{}
			api.set(ofProduct(subObj("sub_nr", "cus_nr", "active", otherPrice, at(0), at(month)), otherProduct, false))
			opts := []harnessOption{api.option(t), func(c *Config, _ *Deps) { c.Refetch = false }}
			if tc.products {
				opts = append(opts, withProducts(streamingProduct))
			}
			h := newHarness(t, opts...)
			var got []logRecord
			for _, r := range h.handleLogged(stripeEvent("evt_nr", typeCheckoutCompleted, at(time.Hour),
				checkoutObj("cs_nr", "", "cus_nr", tc.sub))) {
				if strings.Contains(r.Msg, ignored) || r.Msg == rejected || r.Level == "ERROR" {
					got = append(got, r)
				}
			}
			if len(got) != 1 || !strings.Contains(got[0].Msg, tc.want) || got[0].Level != tc.level {
				t.Errorf("logged %+v, want %q once at %s", got, tc.want, tc.level)
			}
			if ev, err := h.inboxEvent("evt_nr"); err != nil || ev.ProcessedAt.IsZero() || ev.ParkedKey != "" {
				t.Errorf("the checkout: %+v %v, want processed and not parked", ev, err)
			}
		})
	}
}

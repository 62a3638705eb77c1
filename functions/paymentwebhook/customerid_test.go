package paymentwebhook

import (
	"context"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestLinkRefusesACustomerNoStoreCanKey: a Stripe customer id that is no
// valid customer id (playback.ValidCustomerID) is refused before the
// account is touched, on every store alike. Firestore cannot key the
// link by "__cus__" (reserved) or "cus/1": it wrote the account's
// customer_id, then refused the link; bolt linked it.
func TestLinkRefusesACustomerNoStoreCanKey(t *testing.T) {
	t.Parallel()
	for _, customer := range []string{"__cus__", "cus/1", ".."} {
		t.Run(customer, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.account("acct_k")
			h.run(stripeEvent("evt_co_k", typeCheckoutCompleted, at(0), checkoutObj("cs_k", "acct_k", customer, "")))
			if id, err := h.store.AccountIDByCustomer(context.Background(), customer); !playback.IsCode(err, playback.CodeNotFound) {
				t.Fatalf("customer %q linked to %q (%v)", customer, id, err)
			}
			if a := h.getAccount("acct_k"); a.CustomerID != "" {
				t.Fatalf("account's customer_id = %q, want none", a.CustomerID)
			}
			if ev, err := h.inboxEvent("evt_co_k"); err != nil || ev.ProcessedAt.IsZero() {
				t.Fatalf("the refused event should be processed (rejected): %+v %v", ev, err)
			}
		})
	}
}

// TestNewestCheckoutKeepsTheLink: a subscriber who checks out again as
// another Stripe customer (a new checkout without the old customer) has
// two checkout.session.completed events; Stripe retries the older one
// for days, so it may come last. Whatever the delivery order, the account
// names the customer of the newer checkout, and both customers resolve to
// it (the old one's own events, a cancellation, still apply). Two of one
// second are told apart by the customer id alone, so every order agrees.
// Shapes: testdata/stripe checkout.session (corpus_shapes_test.go).
func TestNewestCheckoutKeepsTheLink(t *testing.T) {
	t.Parallel()
	t0 := at(0)
	for _, tc := range []struct {
		name      string
		oldAt     int64
		provision bool // the checkouts create the account
		want      string
	}{
		{name: "an hour apart", oldAt: t0 - 3600, want: "cus_new"},
		{name: "an hour apart, creating the account", oldAt: t0 - 3600, provision: true, want: "cus_new"},
		{name: "one second", oldAt: t0, want: "cus_old"}, // "cus_old" > "cus_new"
	} {
		for _, order := range []string{"newest first", "oldest first"} {
			t.Run(tc.name+"/"+order, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, func(c *Config, _ *Deps) { c.DefaultTerritory = "DE" })
				if !tc.provision {
					h.account("acct_n")
				}
				old := eventPayload(t, "evt_co_old", typeCheckoutCompleted, tc.oldAt,
					checkoutSession(t, "cs_old", "acct_n", subState{id: "sub_old", customer: "cus_old"}), nil)
				newer := eventPayload(t, "evt_co_new", typeCheckoutCompleted, t0,
					checkoutSession(t, "cs_new", "acct_n", subState{id: "sub_new", customer: "cus_new"}), nil)
				if order == "newest first" {
					h.run(newer)
					h.run(old)
				} else {
					h.run(old)
					h.run(newer)
				}
				if a := h.getAccount("acct_n"); a.CustomerID != tc.want {
					t.Fatalf("account's customer_id = %q, want %q", a.CustomerID, tc.want)
				}
				for _, c := range []string{"cus_old", "cus_new"} {
					if id, err := h.store.AccountIDByCustomer(context.Background(), c); err != nil || id != "acct_n" {
						t.Fatalf("%s resolves to %q (%v), want acct_n", c, id, err)
					}
				}
			})
		}
	}
}

// TestMetadataLinkNamesNoCustomer: a subscription event of the customer a
// subscriber left, newer than the checkout of the one it has now, links
// the left customer by its metadata.account_id (so that its events still
// resolve), but it is no checkout: it must not name the left customer on
// the account, nor make the left customer's late checkout outrank the
// newer one. Before, the link took the subscription event's second as
// news naming the customer, and the account ended on cus_old.
func TestMetadataLinkNamesNoCustomer(t *testing.T) {
	t.Parallel()
	t0 := at(0)
	h := newHarness(t, func(c *Config, _ *Deps) { c.DefaultTerritory = "DE" })
	h.account("acct_n")
	h.run(eventPayload(t, "evt_co_new", typeCheckoutCompleted, t0,
		checkoutSession(t, "cs_new", "acct_n", subState{id: "sub_new", customer: "cus_new"}), nil))
	h.run(stripeEvent("evt_del_old", typeSubscriptionDeleted, t0+60,
		withMeta(subObj("sub_old", "cus_old", "canceled", "price_std", at(-2*month), t0), obj{"account_id": "acct_n"})))
	h.run(eventPayload(t, "evt_co_old", typeCheckoutCompleted, t0-3600,
		checkoutSession(t, "cs_old", "acct_n", subState{id: "sub_old", customer: "cus_old"}), nil))
	if a := h.getAccount("acct_n"); a.CustomerID != "cus_new" {
		t.Fatalf("account's customer_id = %q (clock %d), want cus_new", a.CustomerID, a.CustomerClock)
	}
	if id, err := h.store.AccountIDByCustomer(context.Background(), "cus_old"); err != nil || id != "acct_n" {
		t.Fatalf("cus_old resolves to %q (%v), want acct_n", id, err)
	}
}

// TestNewestMetadataLinkNamesTheCustomer: customers linked to an account
// through metadata.account_id alone (subscriptions made by the API, no
// Checkout): the account named the first one delivered, and a newer
// subscription's customer never moved it. The newest linking object (a
// subscription's created; an invoice's subscription_details carry no
// date) names the customer whatever the delivery order, one second told
// apart by the customer id as checkouts are; a checkout still outranks
// any of them. The event's own second does not count: an old
// subscription's late update is no newer link.
// Shapes: testdata/stripe subscription, invoice and checkout.session.
func TestNewestMetadataLinkNamesTheCustomer(t *testing.T) {
	t.Parallel()
	t0 := at(0)
	sub := func(id, customer string, created int64) subState {
		return subState{id: id, customer: customer, status: "active", price: "price_std", start: created,
			end: created + int64(month/time.Second), created: created}
	}
	meta := obj{"account_id": "acct_m"}
	subEvent := func(id string, created int64, s subState) func(*testing.T) []byte {
		return func(t *testing.T) []byte {
			return eventPayload(t, id, typeSubscriptionUpdated, created, withMeta(s.obj(t), meta), nil)
		}
	}
	invoiceEvent := func(id string, created int64, s subState) func(*testing.T) []byte {
		return func(t *testing.T) []byte {
			inv := invoiceState{id: "in_" + s.id, reason: "subscription_cycle", status: "paid", amountDue: 999,
				amountPaid: 999, attempts: 1, price: s.price, start: s.start, end: s.end}.obj(t, s, created)
			inv["subscription_details"] = obj{"metadata": meta}
			return eventPayload(t, id, typeInvoicePaid, created, inv, nil)
		}
	}
	checkoutEvent := func(id string, created int64, s subState) func(*testing.T) []byte {
		return func(t *testing.T) []byte {
			return eventPayload(t, id, typeCheckoutCompleted, created, checkoutSession(t, "cs_"+s.id, "acct_m", s), nil)
		}
	}
	for _, tc := range []struct {
		name string
		a, b func(*testing.T) []byte
		want string
	}{
		{name: "the newer subscription, its event older",
			a:    subEvent("evt_old", t0+60, sub("sub_old", "cus_old", t0-int64(2*month/time.Second))),
			b:    subEvent("evt_new", t0-3600, sub("sub_new", "cus_new", t0-3600)),
			want: "cus_new"},
		{name: "subscriptions of one second",
			a:    subEvent("evt_a", t0, sub("sub_a", "cus_a", t0)),
			b:    subEvent("evt_b", t0, sub("sub_b", "cus_b", t0)),
			want: "cus_b"},
		{name: "a dated subscription over an undated invoice",
			a:    invoiceEvent("evt_inv", t0+60, sub("sub_z", "cus_z", t0)),
			b:    subEvent("evt_sub", t0-3600, sub("sub_y", "cus_y", t0-3600)),
			want: "cus_y"},
		{name: "a checkout over a newer subscription",
			a:    checkoutEvent("evt_co", t0-3600, sub("sub_co", "cus_co", t0-3600)),
			b:    subEvent("evt_meta", t0, sub("sub_meta", "cus_meta", t0)),
			want: "cus_co"},
	} {
		for _, order := range []string{"a first", "b first"} {
			t.Run(tc.name+"/"+order, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t)
				h.account("acct_m")
				first, second := tc.a(t), tc.b(t)
				if order == "b first" {
					first, second = second, first
				}
				h.run(first)
				h.run(second)
				if a := h.getAccount("acct_m"); a.CustomerID != tc.want {
					t.Fatalf("account's customer_id = %q (clock %d), want %q", a.CustomerID, a.CustomerClock, tc.want)
				}
			})
		}
	}
}

// TestLegacyLinkIsNotRenamedByMetadata: an account linked before links
// were dated (a checkout's or an operator's, written before customer_clock
// and customer_link_created existed: both 0) names the customer the
// subscriber has now. Stripe keeps sending the events of the customer it
// left: its old subscription, still carrying metadata.account_id, is
// updated and then cancelled. Such a link has no news of its own (a
// subscription's metadata, created two months ago); it renamed the legacy
// account, undated as an invoice's link is, to the customer left behind.
// It renames no link of unknown origin, nor dates it (which would let any
// newer metadata link rename it), in either order; the old customer still
// resolves to the account, so the cancellation applies. A checkout still
// renames such an account.
// Shapes: testdata/stripe subscription and checkout.session
// (stripe/openapi fixtures3.json; the lifecycle of stripe-cli's
// customer.subscription.updated and .deleted triggers).
func TestLegacyLinkIsNotRenamedByMetadata(t *testing.T) {
	t.Parallel()
	t0 := at(0)
	meta := obj{"account_id": "acct_l"}
	sub := func(id, customer, status string, created int64) subState {
		return subState{id: id, customer: customer, status: status, price: "price_std", start: t0 - 3600,
			end: t0 - 3600 + int64(month/time.Second), created: created}
	}
	subEvent := func(id, typ string, created int64, s subState) []byte {
		return eventPayload(t, id, typ, created, withMeta(s.obj(t), meta), nil)
	}
	old := sub("sub_old", "cus_old", "active", t0-int64(2*month/time.Second))
	cancelled := old
	cancelled.status, cancelled.canceledAt, cancelled.ended = "canceled", t0+60, t0+60
	for _, tc := range []struct {
		name   string
		events [][]byte
		want   string
	}{
		{name: "the old customer's subscription",
			events: [][]byte{subEvent("evt_upd_old", typeSubscriptionUpdated, t0, old),
				subEvent("evt_del_old", typeSubscriptionDeleted, t0+60, cancelled)},
			want: "cus_new"},
		{name: "the customer's own subscription, then a newer one of another",
			events: [][]byte{subEvent("evt_own", typeSubscriptionUpdated, t0, sub("sub_new", "cus_new", "active", t0-3600)),
				subEvent("evt_other", typeSubscriptionUpdated, t0+60, sub("sub_x", "cus_x", "active", t0))},
			want: "cus_new"},
		{name: "a checkout",
			events: [][]byte{eventPayload(t, "evt_co", typeCheckoutCompleted, t0,
				checkoutSession(t, "cs_co", "acct_l", sub("sub_co", "cus_co", "active", t0)), nil)},
			want: "cus_co"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.account("acct_l", func(a *playback.Account) { a.CustomerID = "cus_new" })
			if err := h.store.LinkCustomer(context.Background(), "cus_new", "acct_l"); err != nil {
				t.Fatal(err)
			}
			for _, ev := range tc.events {
				h.run(ev)
			}
			a := h.getAccount("acct_l")
			if a.CustomerID != tc.want {
				t.Fatalf("account's customer_id = %q (clock %d, link created %d), want %q",
					a.CustomerID, a.CustomerClock, a.CustomerLinkCreated, tc.want)
			}
			if tc.want == "cus_new" && (a.CustomerClock != 0 || a.CustomerLinkCreated != 0) {
				t.Fatalf("the legacy link was dated: clock %d, link created %d", a.CustomerClock, a.CustomerLinkCreated)
			}
			for _, s := range a.Subscriptions {
				if s.ID == "sub_old" && s.Status != playback.StatusCanceled {
					t.Fatalf("the old customer's subscription is %q, want canceled", s.Status)
				}
			}
		})
	}
}

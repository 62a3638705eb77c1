package paymentwebhook

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// stormHistory generates Stripe's event stream for a few customers: sign-up
// (with or without trial), renewals that succeed or fail, retries, plan
// changes, pauses, cancellations and customer deletions, with the
// same-second bursts Stripe really sends. Events come out in true order.
type stormHistory struct {
	rng    *rand.Rand
	events []signedEvent
}

var stormPrices = []string{"price_basic", "price_std", "price_premium"}

func (g *stormHistory) add(typ string, created time.Time, object obj) {
	id := fmt.Sprintf("evt_storm_%04d", len(g.events))
	g.events = append(g.events, signedEvent{id: id, created: created.Unix(), payload: stripeEvent(id, typ, created.Unix(), object)})
}

type stormSub struct {
	id, customer, price string
	start, end          time.Time
}

func (s stormSub) obj(status string) obj {
	return subObj(s.id, s.customer, status, s.price, s.start.Unix(), s.end.Unix())
}

func (s stormSub) invoice(n int, reason string, paid bool) obj {
	amount := int64(0)
	if paid {
		amount = 999
	}
	return invoiceObj(fmt.Sprintf("in_%s_%d", s.id, n), s.customer, s.id, reason, s.price, amount, s.start.Unix(), s.end.Unix())
}

// subscription plays one subscription's life from t; it returns the
// subscription as it ends, whether it is still live (not canceled) and when
// its history ends.
func (g *stormHistory) subscription(s stormSub, t time.Time) (last stormSub, live bool, end time.Time) {
	r := g.rng
	if r.IntN(4) == 0 {
		s.start, s.end = t, t.Add(14*24*time.Hour)
		g.add(typeSubscriptionCreated, t, s.obj("trialing"))
		g.add(typeInvoicePaid, t, s.invoice(0, "subscription_create", false))
	} else {
		s.start, s.end = t, t.Add(month)
		g.add(typeSubscriptionCreated, t, s.obj("incomplete"))
		g.add(typeInvoicePaid, t, s.invoice(0, "subscription_create", true))
		g.add(typeSubscriptionUpdated, t, s.obj("active"))
	}
	for n := 1; n <= 4; n++ {
		mid := s.start.Add(time.Duration(1+r.IntN(10)) * 24 * time.Hour)
		switch r.IntN(6) {
		case 0: // plan change
			s.price = stormPrices[r.IntN(len(stormPrices))]
			g.add(typeSubscriptionUpdated, mid, s.obj("active"))
		case 1: // pause and resume
			g.add(typeSubscriptionPaused, mid, s.obj("paused"))
			g.add(typeSubscriptionResumed, mid.Add(2*24*time.Hour), s.obj("active"))
		case 2: // cancel
			g.add(typeSubscriptionDeleted, mid, s.obj("canceled"))
			return s, false, mid
		}
		// Renewal: the period moves on; the payment follows an hour later.
		s.start, s.end = s.end, s.end.Add(month)
		g.add(typeSubscriptionUpdated, s.start, s.obj("active"))
		pay := s.start.Add(time.Hour)
		if r.IntN(3) > 0 {
			g.add(typeInvoicePaid, pay, s.invoice(n, "subscription_cycle", true))
			continue
		}
		g.add(typeInvoicePaymentFailed, pay, s.invoice(n, "subscription_cycle", false))
		g.add(typeSubscriptionUpdated, pay, s.obj("past_due"))
		retry := s.start.Add(2 * 24 * time.Hour)
		switch r.IntN(3) {
		case 0:
			g.add(typeInvoicePaid, retry, s.invoice(n, "subscription_cycle", true))
			g.add(typeSubscriptionUpdated, retry, s.obj("active"))
		case 1:
			g.add(typeSubscriptionUpdated, retry, s.obj("unpaid"))
			return s, true, retry
		default:
			g.add(typeSubscriptionDeleted, retry, s.obj("canceled"))
			return s, false, retry
		}
	}
	return s, true, s.end
}

func (g *stormHistory) customer(i int) {
	account, customer := fmt.Sprintf("acct_storm_%d", i), fmt.Sprintf("cus_storm_%d", i)
	t := base.Add(time.Duration(i) * 37 * time.Minute)
	g.add(typeCheckoutCompleted, t, checkoutObj("cs_storm_"+account, account, customer, fmt.Sprintf("sub_storm_%d_0", i)))
	var live []stormSub
	last := t
	for j := range 1 + g.rng.IntN(3) {
		// Distinct starts give distinct period ends, so the account's plan
		// never hangs on a tie between subscriptions.
		s := stormSub{id: fmt.Sprintf("sub_storm_%d_%d", i, j), customer: customer,
			price: stormPrices[g.rng.IntN(len(stormPrices))]}
		s, isLive, end := g.subscription(s, t.Add(time.Duration(j)*(3*time.Hour+time.Minute)))
		if isLive {
			live = append(live, s)
		}
		if end.After(last) {
			last = end
		}
	}
	if g.rng.IntN(3) == 0 {
		// Deleting the customer cancels what is left, all in one second.
		del := last.Add(24 * time.Hour)
		for _, s := range live {
			g.add(typeSubscriptionDeleted, del, s.obj("canceled"))
		}
		g.add(typeCustomerDeleted, del, customerObj(customer))
	}
}

// TestStormConvergesOnSerialReplay delivers 200 events shuffled and
// partly duplicated, from several senders at once, and checks every
// account ends exactly where the one-at-a-time in-order replay ends.
func TestStormConvergesOnSerialReplay(t *testing.T) {
	t.Parallel()
	const total = 200
	g := &stormHistory{rng: rand.New(rand.NewPCG(2026, 3))}
	customers := 0
	for ; len(g.events) < total; customers++ {
		g.customer(customers)
	}
	// True order: by second, then as generated within the second.
	sort.SliceStable(g.events, func(i, j int) bool { return g.events[i].created < g.events[j].created })
	g.events = g.events[:total]
	accounts := make([]string, customers)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("acct_storm_%d", i)
	}
	types := map[string]int{}
	for _, ev := range g.events {
		env, _ := decodeEnvelope(ev.payload)
		types[env.Type]++
	}
	for typ := range handledTypes {
		if types[typ] == 0 {
			t.Fatalf("the history lacks %s events: %v", typ, types)
		}
	}

	setup := func(h *harness) {
		h.clock.Set(base.Add(400 * 24 * time.Hour))
		for _, id := range accounts {
			h.account(id)
		}
	}

	serial := newHarness(t)
	setup(serial)
	for _, ev := range g.events {
		serial.run(ev.payload)
	}

	storm := newHarness(t)
	setup(storm)
	// A second consumer, so that events are also applied concurrently.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := storm.bus.Subscribe(ctx, events.TopicStripeEvents, storm.srv.HandleStripeEvents); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	storm.deliverShuffled(t, rng, g.events, 60)
	storm.settle()

	for _, h := range []*harness{serial, storm} {
		if p := h.pending(); len(p) != 0 {
			t.Fatalf("%d events left unprocessed", len(p))
		}
		if dead := h.bus.DeadLetters(events.TopicStripeEvents); len(dead) != 0 {
			t.Fatalf("%d events dead-lettered", len(dead))
		}
	}
	changed := 0
	for _, id := range accounts {
		want, got := stateOf(serial.getAccount(id)), stateOf(storm.getAccount(id))
		if !equalAccounts(want, got) {
			t.Errorf("account %s differs\nserial: %+v\nstorm:  %+v", id, want, got)
		}
		if want.Status != playback.StatusNone {
			changed++
		}
	}
	if changed < len(accounts)-1 {
		t.Fatalf("only %d of %d accounts got a subscription: the history is too thin", changed, len(accounts))
	}
	t.Logf("%d events (%v) for %d accounts, %d deliveries", len(g.events), types, len(accounts), len(g.events)+60)
}

package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// recordingBus keeps what is published; fail makes the next publishes fail.
type recordingBus struct {
	mu   sync.Mutex
	msgs map[string][]playback.Message
	fail int
}

func (b *recordingBus) Publish(_ context.Context, topic string, msgs ...playback.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail > 0 {
		b.fail--
		return playback.Unavailable(errors.New("bus down"), "publish")
	}
	if b.msgs == nil {
		b.msgs = map[string][]playback.Message{}
	}
	b.msgs[topic] = append(b.msgs[topic], msgs...)
	return nil
}

// announced is the ids of the Stripe events announced so far, sorted, and
// forgets them.
func (b *recordingBus) announced(t testing.TB) []string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []string
	for _, m := range b.msgs[events.TopicStripeEvents] {
		var rec events.StripeEventRecorded
		if err := json.Unmarshal(m.Data, &rec); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.EventID)
	}
	delete(b.msgs, events.TopicStripeEvents)
	slices.Sort(ids)
	return ids
}

// parkStripe records a Stripe event and parks it under key.
func parkStripe(t testing.TB, store playback.Store, id, key string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	ev := playback.InboxEvent{Source: events.StripeSource, ID: id, Type: "customer.subscription.created",
		Created: at, Payload: []byte(`{}`), ReceivedAt: at}
	if _, _, err := store.RecordEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := store.ParkEvent(ctx, events.StripeSource, id, key, at, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// TestCustomerLinkWakesParkedPaymentEvents: linking a customer announces
// the Stripe events parked for that customer (and only those) to the
// payment consumer at once, and leaves them to its sweeper; a link whose
// announcement fails answers 503 with the link written, and the retried
// request announces them.
func TestCustomerLinkWakesParkedPaymentEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	testCustomerLinkWakes(t, h)
}

func testCustomerLinkWakes(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	past := h.now.Add(-time.Hour)
	parkStripe(t, h.store, "evt_w1", events.StripeCustomerParkKey("cus_w"), past)
	parkStripe(t, h.store, "evt_w2", events.StripeCustomerParkKey("cus_w"), past.Add(time.Second))
	parkStripe(t, h.store, "evt_other", events.StripeCustomerParkKey("cus_other"), past)
	parkStripe(t, h.store, "evt_retry", "retry", past)
	parkStripe(t, h.store, "evt_done", events.StripeCustomerParkKey("cus_w"), past)
	if err := h.store.MarkEventProcessed(ctx, events.StripeSource, "evt_done", past, past.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	created := h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated)
	if got := h.bus.announced(t); len(got) != 0 {
		t.Fatalf("an account without a customer announced %v", got)
	}
	// The bus is down: the link is written, the request asks for a retry.
	h.bus.mu.Lock()
	h.bus.fail = 1
	h.bus.mu.Unlock()
	r := h.do("PUT", "/v1/admin/accounts/acct_a/customer", h.admin, created.header.Get("ETag"), `{"customer_id":"cus_w"}`)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("link with the bus down: %d %s", r.status, r.body)
	}
	if id, err := h.store.AccountIDByCustomer(ctx, "cus_w"); err != nil || id != "acct_a" {
		t.Fatalf("link after a failed announcement: %q %v", id, err)
	}
	for _, id := range []string{"evt_w1", "evt_w2"} {
		if ev, err := h.store.GetEvent(ctx, events.StripeSource, id); err != nil || ev.ParkedKey != events.StripeAnnouncedParkKey {
			t.Fatalf("%s after a failed announcement: parked under %q (%v), want the sweeper's %q", id, ev.ParkedKey, err, events.StripeAnnouncedParkKey)
		}
	}
	h.mustDo("PUT", "/v1/admin/accounts/acct_a/customer", "*", `{"customer_id":"cus_w"}`, http.StatusOK)
	if got := h.bus.announced(t); len(got) != 0 {
		t.Fatalf("the retry announced %v, which the sweeper has", got)
	}
	// With the bus up, a link announces at once.
	parkStripe(t, h.store, "evt_w3", events.StripeCustomerParkKey("cus_w3"), past)
	parkStripe(t, h.store, "evt_w4", events.StripeCustomerParkKey("cus_w3"), past.Add(time.Second))
	h.mustDo("PUT", "/v1/admin/accounts/acct_a/customer", "*", `{"customer_id":"cus_w3"}`, http.StatusOK)
	if got := h.bus.announced(t); !slices.Equal(got, []string{"evt_w3", "evt_w4"}) {
		t.Fatalf("announced %v, want the two events parked for cus_w3", got)
	}
	// Announced, they wait for the announcement's outcome where the
	// payment consumer's sweeper retries them (nothing consumed them
	// here), no longer for the link: a repeated link announces nothing.
	for _, id := range []string{"evt_w3", "evt_w4"} {
		if ev, err := h.store.GetEvent(ctx, events.StripeSource, id); err != nil || ev.ParkedKey != events.StripeAnnouncedParkKey {
			t.Fatalf("%s after its wake: parked under %q (%v), want %q", id, ev.ParkedKey, err, events.StripeAnnouncedParkKey)
		}
	}
	h.mustDo("PUT", "/v1/admin/accounts/acct_a/customer", "", `{"customer_id":"cus_w3"}`, http.StatusOK)
	if got := h.bus.announced(t); len(got) != 0 {
		t.Fatalf("announced again %v", got)
	}
}

// TestUnknownEdges lists the edges that reported while unknown, newest
// first, with their counts; an empty store answers an empty list.
func TestUnknownEdges(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	var got admin.UnknownEdges
	if err := json.Unmarshal(h.mustDo("GET", "/v1/admin/unknown-edges", "", "", http.StatusOK).body, &got); err != nil ||
		got.Edges == nil || len(got.Edges) != 0 || got.Max != playback.MaxUnknownEdges {
		t.Fatalf("empty: %+v %v", got, err)
	}
	ctx := context.Background()
	for _, n := range []struct {
		id string
		at time.Duration
	}{{"ghost-a", 0}, {"ghost-b", time.Second}, {"ghost-a", 2 * time.Second}} {
		if err := h.store.NoteUnknownEdge(ctx, n.id, h.now.Add(n.at), 1); err != nil {
			t.Fatal(err)
		}
	}
	if r := h.do("GET", "/v1/admin/unknown-edges", h.subscriberToken("acct_a"), "", ""); r.status != http.StatusForbidden {
		t.Fatalf("subscriber: %d", r.status)
	}
	if err := json.Unmarshal(h.mustDo("GET", "/v1/admin/unknown-edges", "", "", http.StatusOK).body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Edges) != 2 || got.Edges[0].ID != "ghost-a" || got.Edges[0].Reports != 2 || !got.Edges[0].FirstReportAt.Equal(h.now) ||
		!got.Edges[0].LastReportAt.Equal(h.now.Add(2*time.Second)) || got.Edges[1].ID != "ghost-b" {
		t.Fatalf("unknown edges %+v", got)
	}
}

// TestAccountCreationWakesParkedPaymentEvents: a Stripe event that names
// an account not created yet (a checkout's client_reference_id, a
// subscription's metadata.account_id) is parked by the payment consumer
// under the account's key; creating the account announces it to the
// consumer at once (and only those of that account), instead of leaving
// it to the sweeper's backoff. A creation whose announcement fails
// answers 503 with the account written and the events the sweeper's.
func TestAccountCreationWakesParkedPaymentEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	ctx := context.Background()
	past := h.now.Add(-time.Hour)
	parkStripe(t, h.store, "evt_a1", events.StripeAccountParkKey("acct_a"), past)
	parkStripe(t, h.store, "evt_a2", events.StripeAccountParkKey("acct_a"), past.Add(time.Second))
	parkStripe(t, h.store, "evt_b", events.StripeAccountParkKey("acct_b"), past)
	parkStripe(t, h.store, "evt_retry", "retry", past)

	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated)
	if got := h.bus.announced(t); !slices.Equal(got, []string{"evt_a1", "evt_a2"}) {
		t.Fatalf("creating acct_a announced %v, want the two events parked for it", got)
	}
	for id, want := range map[string]string{"evt_a1": events.StripeAnnouncedParkKey, "evt_a2": events.StripeAnnouncedParkKey,
		"evt_b": events.StripeAccountParkKey("acct_b"), "evt_retry": "retry"} {
		if ev, err := h.store.GetEvent(ctx, events.StripeSource, id); err != nil || ev.ParkedKey != want {
			t.Fatalf("%s after acct_a's creation: parked under %q (%v), want %q", id, ev.ParkedKey, err, want)
		}
	}

	// The bus is down: the account is written, the events are the
	// sweeper's, the request asks for a retry, which announces nothing.
	parkStripe(t, h.store, "evt_c", events.StripeAccountParkKey("acct_c"), past)
	h.bus.mu.Lock()
	h.bus.fail = 1
	h.bus.mu.Unlock()
	acctC := `{"id":"acct_c","plan_id":"std","territory":"DE","status":"active"}`
	if r := h.do("POST", "/v1/admin/accounts", h.admin, "", acctC); r.status != http.StatusServiceUnavailable {
		t.Fatalf("create with the bus down: %d %s", r.status, r.body)
	}
	if _, err := h.store.GetAccount(ctx, "acct_c"); err != nil {
		t.Fatalf("acct_c after a failed announcement: %v", err)
	}
	if ev, err := h.store.GetEvent(ctx, events.StripeSource, "evt_c"); err != nil || ev.ParkedKey != events.StripeAnnouncedParkKey {
		t.Fatalf("evt_c after a failed announcement: parked under %q (%v), want the sweeper's %q", ev.ParkedKey, err, events.StripeAnnouncedParkKey)
	}
	h.mustDo("POST", "/v1/admin/accounts", "", acctC, http.StatusConflict)
	if got := h.bus.announced(t); len(got) != 0 {
		t.Fatalf("the retry announced %v, which the sweeper has", got)
	}
}

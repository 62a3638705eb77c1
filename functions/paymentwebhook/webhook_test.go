package paymentwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
)

func TestWebhookRejectsBadInputAndWritesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// The account the rejected events are about, linked to their customer,
	// so that anything applied would show on it.
	h.linked("acct_bad_input", "cus_1")
	h.settle()
	accountBefore := h.getAccount("acct_bad_input")
	announcedBefore := len(h.entitlementEvents())
	good := stripeEvent("evt_bad_input", typeSubscriptionUpdated, at(0),
		subObj("sub_1", "cus_1", "active", "price_std", at(0), at(720*time.Hour)))
	now := h.clock.Now().Unix()
	sigAt := func(ts int64, p []byte, secret string) string {
		return fmt.Sprintf("t=%d,v1=%s", ts, hexSig(ts, p, secret))
	}
	wrongVersion := []byte(strings.Replace(string(good), APIVersion, "2024-06-20", 1))
	noObject := []byte(`{"id":"evt_no_object","object":"event","api_version":"` + APIVersion +
		`","created":1772323200,"type":"invoice.paid","data":{"object":null}}`)
	noID := stripeEvent("", typeSubscriptionUpdated, at(0), subObj("sub_1", "cus_1", "active", "price_std", 1, 2))
	badID := stripeEvent("evt bad", typeSubscriptionUpdated, at(0), subObj("sub_1", "cus_1", "active", "price_std", 1, 2))
	// Ids no store can key alike: Firestore refuses them as document ids
	// (its store's 400 became a 503, and Stripe retries that for days).
	slashID := stripeEvent("evt/1", typeSubscriptionUpdated, at(0), subObj("sub_1", "cus_1", "active", "price_std", 1, 2))
	reservedID := stripeEvent("__evt__", typeSubscriptionUpdated, at(0), subObj("sub_1", "cus_1", "active", "price_std", 1, 2))
	dotsID := stripeEvent("..", typeSubscriptionUpdated, at(0), subObj("sub_1", "cus_1", "active", "price_std", 1, 2))
	noCreated := stripeEvent("evt_no_created", typeSubscriptionUpdated, 0, subObj("sub_1", "cus_1", "active", "price_std", 1, 2))
	huge := stripeEvent("evt_huge", typeSubscriptionUpdated, at(0),
		withMeta(subObj("sub_1", "cus_1", "active", "price_std", 1, 2), obj{"pad": strings.Repeat("x", 600<<10)}))

	tests := []struct {
		name    string
		payload []byte
		header  string
		status  int
		reason  string
	}{
		{name: "absent signature", payload: good, header: "", status: 400, reason: reasonSignatureMissing},
		{name: "wrong secret", payload: good, header: sigAt(now, good, "whsec_wrong"), status: 400, reason: reasonSignatureMismatch},
		{name: "signature of another body", payload: good, header: sigAt(now, []byte("{}"), testSecret), status: 400, reason: reasonSignatureMismatch},
		{name: "expired timestamp", payload: good, header: sigAt(now-301, good, testSecret), status: 400, reason: reasonSignatureExpired},
		{name: "malformed header", payload: good, header: "t=1;v1=00", status: 400, reason: reasonSignatureMalformed},
		{name: "wrong api version", payload: wrongVersion, header: sigAt(now, wrongVersion, testSecret), status: 400, reason: "api_version_mismatch"},
		{name: "malformed json", payload: []byte(`{"id":"evt_1",`), header: sigAt(now, []byte(`{"id":"evt_1",`), testSecret), status: 400, reason: "malformed_json"},
		{name: "handled type without object", payload: noObject, header: sigAt(now, noObject, testSecret), status: 400, reason: "event_object"},
		{name: "no event id", payload: noID, header: sigAt(now, noID, testSecret), status: 400, reason: "event_id"},
		{name: "event id with a space", payload: badID, header: sigAt(now, badID, testSecret), status: 400, reason: "event_id"},
		{name: "event id with a slash", payload: slashID, header: sigAt(now, slashID, testSecret), status: 400, reason: "event_id"},
		{name: "reserved event id", payload: reservedID, header: sigAt(now, reservedID, testSecret), status: 400, reason: "event_id"},
		{name: "dot dot event id", payload: dotsID, header: sigAt(now, dotsID, testSecret), status: 400, reason: "event_id"},
		{name: "no created", payload: noCreated, header: sigAt(now, noCreated, testSecret), status: 400, reason: "event_created"},
		{name: "oversized body", payload: huge, header: sigAt(now, huge, testSecret), status: 413, reason: "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.post(tt.payload, tt.header)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var body httpx.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body.Error.Reason != tt.reason {
				t.Fatalf("reason %q, want %q (%s)", body.Error.Reason, tt.reason, body.Error.Message)
			}
		})
	}
	h.settle()
	if p := h.pending(); len(p) != 0 {
		t.Fatalf("rejected requests left %d inbox events", len(p))
	}
	for _, id := range []string{"evt_bad_input", "evt_no_object", "evt_huge", "evt_no_created", "evt/1", "__evt__", ".."} {
		if _, err := h.inboxEvent(id); !playback.IsCode(err, playback.CodeNotFound) {
			t.Fatalf("inbox has %s after a rejected request: %v", id, err)
		}
	}
	// Every field, UpdatedAt included: a rejected request writes nothing.
	if after := h.getAccount("acct_bad_input"); !equalAccounts(accountBefore, after) {
		t.Fatalf("rejected requests changed the account\nbefore: %+v\nafter:  %+v", accountBefore, after)
	}
	if announced := h.entitlementEvents(); len(announced) != announcedBefore {
		t.Fatalf("rejected requests announced entitlement changes: %+v", announced[announcedBefore:])
	}
}

func TestWebhookAPIVersionErrorSaysWhatToDo(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	payload := []byte(strings.Replace(string(stripeEvent("evt_v", typeInvoicePaid, at(0), obj{})), APIVersion, "2024-06-20", 1))
	rec := h.post(payload, h.sign(payload, testSecret))
	var body httpx.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body.Error.Message, "2024-06-20") || !strings.Contains(body.Error.Message, APIVersion) {
		t.Fatalf("message should name both versions: %q", body.Error.Message)
	}
}

func TestWebhookAcknowledgesOnceDurable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.account("acct_a")
	checkout := stripeEvent("evt_checkout", typeCheckoutCompleted, at(0), checkoutObj("cs_1", "acct_a", "cus_a", "sub_a"))

	if got := h.deliver(checkout); got.Outcome != "recorded" || got.EventID != "evt_checkout" {
		t.Fatalf("first delivery: %+v", got)
	}
	h.settle()
	ev, err := h.inboxEvent("evt_checkout")
	if err != nil || ev.ProcessedAt.IsZero() || ev.Type != typeCheckoutCompleted || !ev.Created.Equal(time.Unix(at(0), 0)) {
		t.Fatalf("inbox after processing: %+v, %v", ev, err)
	}
	if string(ev.Payload) != string(checkout) {
		t.Fatal("inbox payload is not the raw body")
	}
	// A duplicate of a processed event is acknowledged and does nothing.
	if got := h.deliver(checkout); got.Outcome != "duplicate" {
		t.Fatalf("duplicate delivery: %+v", got)
	}

	// Signed with the previous secret of a roll.
	rolled := stripeEvent("evt_rolled", typeCustomerDeleted, at(time.Hour), customerObj("cus_unknown"))
	if rec := h.post(rolled, h.sign(rolled, testOldSecret)); rec.Code != http.StatusOK {
		t.Fatalf("previous secret: %d %s", rec.Code, rec.Body)
	}

	// Types the consumer does not act on are acknowledged, not recorded.
	other := stripeEvent("evt_other", "charge.succeeded", at(0), obj{"id": "ch_1", "object": "charge"})
	if got := h.deliver(other); got.Outcome != "ignored" {
		t.Fatalf("unhandled type: %+v", got)
	}
	if _, err := h.inboxEvent("evt_other"); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("unhandled type was recorded: %v", err)
	}
	h.settle()
	if a := h.getAccount("acct_a"); a.CustomerID != "cus_a" {
		t.Fatalf("checkout did not link: %+v", a)
	}
}

// failingPublisher fails while down is set, else forwards.
type failingPublisher struct {
	playback.Publisher
	down  *atomic.Bool
	calls atomic.Int64
}

func (f *failingPublisher) Publish(ctx context.Context, topic string, msgs ...playback.Message) error {
	f.calls.Add(1)
	if f.down.Load() {
		return playback.Unavailable(errors.New("bus down"), "test publisher")
	}
	return f.Publisher.Publish(ctx, topic, msgs...)
}

func TestWebhookOutagesAnswer5xx(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	down.Store(true)
	var pub *failingPublisher
	h := newHarness(t, func(_ *Config, d *Deps) {
		pub = &failingPublisher{Publisher: d.Bus, down: &down}
		d.Bus = pub
	})
	h.account("acct_a")
	checkout := stripeEvent("evt_checkout", typeCheckoutCompleted, at(0), checkoutObj("cs_1", "acct_a", "cus_a", ""))

	// Publish fails after the record: 5xx so Stripe retries...
	rec := h.post(checkout, h.sign(checkout, testSecret))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("publish outage: %d %s", rec.Code, rec.Body)
	}
	if ev, err := h.inboxEvent("evt_checkout"); err != nil || !ev.ProcessedAt.IsZero() {
		t.Fatalf("event should be recorded, unprocessed: %+v %v", ev, err)
	}
	// ...and the retry finds the record and announces it again.
	down.Store(false)
	if got := h.deliver(checkout); got.Outcome != "republished" {
		t.Fatalf("retry after the outage: %+v", got)
	}
	h.settle()
	if a := h.getAccount("acct_a"); a.CustomerID != "cus_a" {
		t.Fatalf("event not applied after the retry: %+v", a)
	}

	// A store outage: nothing can be recorded, so 5xx and no publish.
	calls := pub.calls.Load()
	h.store.Close()
	other := stripeEvent("evt_during_outage", typeCustomerDeleted, at(time.Hour), customerObj("cus_a"))
	rec = h.post(other, h.sign(other, testSecret))
	var body httpx.ErrorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != http.StatusServiceUnavailable || body.Error.Code != playback.CodeUnavailable {
		t.Fatalf("store outage: %d %s", rec.Code, rec.Body)
	}
	if pub.calls.Load() != calls {
		t.Fatal("published an event that was not recorded")
	}
}

func TestSweepRepublishesStrandedEvents(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	down.Store(true)
	h := newHarness(t, func(_ *Config, d *Deps) {
		d.Bus = &failingPublisher{Publisher: d.Bus, down: &down}
	})
	h.account("acct_a")
	checkout := stripeEvent("evt_stranded", typeCheckoutCompleted, at(0), checkoutObj("cs_1", "acct_a", "cus_a", ""))
	if rec := h.post(checkout, h.sign(checkout, testSecret)); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d", rec.Code)
	}
	down.Store(false)
	ctx := context.Background()
	// Younger than SweepAge: the webhook retry may still come.
	if n, err := h.srv.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep of a fresh event: %d %v", n, err)
	}
	h.clock.Set(h.clock.Now().Add(2 * time.Minute))
	if n, err := h.srv.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	h.settle()
	if a := h.getAccount("acct_a"); a.CustomerID != "cus_a" {
		t.Fatalf("swept event not applied: %+v", a)
	}
	if n, err := h.srv.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep after processing: %d %v", n, err)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deps := Deps{Store: h.store, Bus: h.bus}
	tests := []struct {
		name   string
		mod    func(*Config, *Deps)
		wantIn string // in the error, when set
	}{
		{name: "no secrets", mod: func(c *Config, _ *Deps) { c.WebhookSecrets = []string{" ", ""} }},
		{name: "no plans", mod: func(c *Config, _ *Deps) { c.PricePlans = nil }},
		{name: "empty plan", mod: func(c *Config, _ *Deps) { c.PricePlans = map[string]string{"price_x": ""} }},
		{name: "no store", mod: func(_ *Config, d *Deps) { d.Store = nil }},
		{name: "no bus", mod: func(_ *Config, d *Deps) { d.Bus = nil }},
		// What a wiring getter that failed would hand over: not == nil.
		{name: "typed nil store", mod: func(_ *Config, d *Deps) { d.Store = (*bolt.Store)(nil) }},
		{name: "typed nil bus", mod: func(_ *Config, d *Deps) { d.Bus = (*membus.Bus)(nil) }},
		{name: "refetch without key", mod: func(c *Config, _ *Deps) { c.Refetch = true }},
		{name: "zero tolerance", mod: func(c *Config, _ *Deps) { c.Tolerance = 0 }},
		{name: "default territory not alpha-2", mod: func(c *Config, _ *Deps) { c.DefaultTerritory = "GBR" }, wantIn: "STRIPE_DEFAULT_TERRITORY"},
		// In the shape, but no country (playback.NotCountries).
		{name: "default territory a grouping", mod: func(c *Config, _ *Deps) { c.DefaultTerritory = "EU" }, wantIn: "STRIPE_DEFAULT_TERRITORY"},
		{name: "default territory unknown", mod: func(c *Config, _ *Deps) { c.DefaultTerritory = "XX" }, wantIn: "STRIPE_DEFAULT_TERRITORY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, d := testConfig(), deps
			tt.mod(&cfg, &d)
			if _, err := New(cfg, d); err == nil {
				t.Fatal("New accepted an invalid configuration")
			} else if strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error leaks a secret: %v", err)
			} else if !strings.Contains(err.Error(), tt.wantIn) {
				t.Fatalf("New: %v, want it to name %s", err, tt.wantIn)
			}
		})
	}
}

// TestStripeEventRecordedMessage pins the message the webhook publishes to
// the type in events.
func TestStripeEventRecordedMessage(t *testing.T) {
	t.Parallel()
	var got []playback.Message
	h := newHarness(t, func(_ *Config, d *Deps) {
		d.Bus = publishFunc(func(_ context.Context, topic string, msgs ...playback.Message) error {
			if topic == events.TopicStripeEvents {
				got = append(got, msgs...)
			}
			return nil
		})
	})
	payload := stripeEvent("evt_msg", typeInvoicePaid, at(time.Minute), invoiceObj("in_1", "cus_1", "sub_1", "subscription_cycle", "price_std", 999, 1, 2))
	h.deliver(payload)
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	var rec events.StripeEventRecorded
	if err := json.Unmarshal(got[0].Data, &rec); err != nil {
		t.Fatal(err)
	}
	want := events.StripeEventRecorded{EventID: "evt_msg", Type: typeInvoicePaid, Created: time.Unix(at(time.Minute), 0).UTC(),
		ReceivedAt: h.clock.Now()}
	if !rec.Created.Equal(want.Created) || !rec.ReceivedAt.Equal(want.ReceivedAt) || rec.EventID != want.EventID || rec.Type != want.Type {
		t.Fatalf("message %+v, want %+v", rec, want)
	}
	if got[0].Attributes["type"] != typeInvoicePaid {
		t.Fatalf("attributes %v", got[0].Attributes)
	}
}

type publishFunc func(ctx context.Context, topic string, msgs ...playback.Message) error

func (f publishFunc) Publish(ctx context.Context, topic string, msgs ...playback.Message) error {
	return f(ctx, topic, msgs...)
}

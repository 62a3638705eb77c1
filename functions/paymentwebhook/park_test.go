package paymentwebhook

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// TestSignatureTimestampRefusedBothWays: a timestamp further than the
// tolerance ahead is as unverifiable as an old one, and writes nothing.
func TestSignatureTimestampRefusedBothWays(t *testing.T) {
	t.Parallel()
	payload := stripeEvent("evt_ts", typeSubscriptionUpdated, at(time.Hour), subObj("sub_ts", "cus_ts", "active", "price_std", at(0), at(month)))
	for _, tc := range []struct {
		name   string
		offset time.Duration
		status int
	}{
		{name: "an hour ahead", offset: time.Hour, status: http.StatusBadRequest},
		{name: "just outside the tolerance ahead", offset: 301 * time.Second, status: http.StatusBadRequest},
		{name: "just inside the tolerance ahead", offset: 299 * time.Second, status: http.StatusOK},
		{name: "just outside the tolerance behind", offset: -301 * time.Second, status: http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			header := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: testSecret,
				Timestamp: h.clock.Now().Add(tc.offset)}).Header
			rec := h.post(payload, header)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status != http.StatusOK {
				var body struct {
					Error struct {
						Reason string `json:"reason"`
					} `json:"error"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				if body.Error.Reason != reasonSignatureExpired {
					t.Fatalf("reason %q: %s", body.Error.Reason, rec.Body)
				}
				if _, err := h.inboxEvent("evt_ts"); !playback.IsCode(err, playback.CodeNotFound) {
					t.Fatalf("a refused request wrote the event: %v", err)
				}
			}
		})
	}
}

// TestUnknownStatusIsParkedNotDropped: a status this code cannot map is
// neither applied nor marked processed: it stays in the inbox for the
// sweeper (and a release that knows the status), and Stripe's redelivery
// is reprocessed rather than answered "duplicate".
func TestUnknownStatusIsParkedNotDropped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.linked("acct_u", "cus_u")
	h.run(stripeEvent("evt_ok", typeSubscriptionCreated, at(time.Hour), subObj("sub_u", "cus_u", "active", "price_std", at(0), at(month))))
	odd := stripeEvent("evt_odd", typeSubscriptionUpdated, at(2*time.Hour), subObj("sub_u", "cus_u", "frozen", "price_std", at(0), at(month)))
	h.run(odd)
	wantState(t, h.getAccount("acct_u"), playback.StatusActive, "standard")
	ev, err := h.inboxEvent("evt_odd")
	if err != nil || !ev.ProcessedAt.IsZero() {
		t.Fatalf("unknown status should be parked unprocessed: %+v %v", ev, err)
	}
	if dead := h.bus.DeadLetters(events.TopicStripeEvents); len(dead) != 0 {
		t.Fatalf("parked, not dead-lettered: %d", len(dead))
	}
	if got := h.deliver(odd); got.Outcome != "republished" {
		t.Fatalf("redelivery of a parked event: %q", got.Outcome)
	}
	h.settle()
	h.clock.Set(h.clock.Now().Add(2 * time.Minute))
	if n, err := h.srv.Sweep(t.Context()); err != nil || n != 1 {
		t.Fatalf("the sweeper should announce the parked event again: %d %v", n, err)
	}
	h.settle()
}

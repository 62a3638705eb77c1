package paymentwebhook

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// logRecord is one line a captured logger wrote.
type logRecord struct {
	Level     string `json:"level"`
	Msg       string `json:"msg"`
	ExpiresAt string `json:"expires_at"`
}

// capturedLog collects what the consumer logs for one test, where the
// process default is shared by every parallel test.
type capturedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capturedLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *capturedLog) records(t *testing.T) []logRecord {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []logRecord
	for line := range bytes.Lines(c.buf.Bytes()) {
		var r logRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// handleLogged records payload in the inbox and hands its announcement to
// the consumer twice (Stripe's redelivery, or a second wake), with a
// logger of its own.
func (h *harness) handleLogged(payload []byte) []logRecord {
	h.t.Helper()
	head, err := decodeEnvelope(payload)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx := context.Background()
	ev, _ := mustRecord(h.t)(h.store.RecordEvent(ctx, playback.InboxEvent{Source: Source, ID: head.ID, Type: head.Type,
		Created: time.Unix(head.Created, 0).UTC(), Payload: payload, ReceivedAt: h.clock.Now()}))
	data, err := json.Marshal(events.NewStripeEventRecorded(ev))
	if err != nil {
		h.t.Fatal(err)
	}
	var log capturedLog
	ctx = httpx.WithLogger(ctx, slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	for i := range 2 {
		h.srv.HandleStripeEvents(ctx, []playback.Message{{ID: "m" + strconv.Itoa(i), Data: data}})
	}
	return log.records(h.t)
}

func mustRecord(t *testing.T) func(playback.InboxEvent, bool, error) (playback.InboxEvent, bool) {
	return func(ev playback.InboxEvent, created bool, err error) (playback.InboxEvent, bool) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ev, created
	}
}

// TestParkLogLevel: a Stripe account that also bills other products sends
// this endpoint every event of their customers, which no account will ever
// link; parking such an event is expected and must not page (ERROR is what
// alerting on logs reads), so it is said once per event at WARN. An event
// parked because something is broken (a status this release cannot map)
// stays an ERROR.
func TestParkLogLevel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		payload []byte
		level   string
	}{
		{name: "subscription of a customer no account links",
			payload: stripeEvent("evt_foreign_sub", typeSubscriptionCreated, at(time.Hour),
				subObj("sub_foreign", "cus_foreign", "active", "price_std", at(0), at(month))),
			level: "WARN"},
		{name: "deletion of a customer no account links",
			payload: stripeEvent("evt_foreign_del", typeCustomerDeleted, at(time.Hour), customerObj("cus_foreign")),
			level:   "WARN"},
		{name: "status this release cannot map",
			payload: stripeEvent("evt_frozen", typeSubscriptionUpdated, at(2*time.Hour),
				subObj("sub_l", "cus_l", "frozen", "price_std", at(0), at(month))),
			level: "ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, noLinkWait, func(c *Config, _ *Deps) { c.GiveUpAfter = time.Nanosecond })
			h.linked("acct_l", "cus_l")
			var parked []logRecord
			for _, r := range h.handleLogged(tc.payload) {
				if r.Msg == msgParked {
					parked = append(parked, r)
				} else if r.Level == "ERROR" {
					t.Errorf("ERROR besides the park: %+v", r)
				}
			}
			if len(parked) != 1 || parked[0].Level != tc.level {
				t.Fatalf("%q logged %+v, want once at %s", msgParked, parked, tc.level)
			}
			// Without reconciliation (this harness has no API) it waits
			// for good: no end to log, not year 1.
			if parked[0].ExpiresAt != "" {
				t.Errorf("%q logged expires_at %q without an end", msgParked, parked[0].ExpiresAt)
			}
		})
	}
}

// TestUnlinkedWaitIsBounded: an event parked for a customer no account
// links waits InboxRetention from its receipt, then is gone, but only
// where the reconcile job reads Stripe (an API key): a link after that
// gets the subscription from the listing (status=all, deleted customers'
// cancelled ones included) at the next run. Without the API the event is
// the only copy of that state, so it waits for good. Events parked for
// retry never expire. Within its wait the event still applies when the
// customer is linked.
func TestUnlinkedWaitIsBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		api  bool
	}{
		{name: "reconcile reads Stripe", api: true},
		{name: "no Stripe API", api: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, noLinkWait, func(c *Config, d *Deps) {
				c.GiveUpAfter = time.Nanosecond
				if tc.api {
					// Never called: no refetch, and no reconcile runs here.
					api, err := NewStripeAPI("sk_test_unused", "http://127.0.0.1:9")
					if err != nil {
						t.Fatal(err)
					}
					d.Stripe = api
				}
			})
			retention := testConfig().InboxRetention
			received := h.clock.Now()
			h.linked("acct_b", "cus_b")
			h.account("acct_late")
			h.run(stripeEvent("evt_frozen_b", typeSubscriptionUpdated, at(2*time.Hour),
				subObj("sub_b", "cus_b", "frozen", "price_std", at(0), at(month))),
				stripeEvent("evt_late", typeSubscriptionCreated, at(time.Hour),
					subObj("sub_late", "cus_late", "active", "price_std", at(0), at(month))),
				stripeEvent("evt_foreign_del", typeCustomerDeleted, at(time.Hour), customerObj("cus_foreign")))

			want := time.Time{}
			if tc.api {
				want = received.Add(retention)
			}
			for _, id := range []string{"evt_late", "evt_foreign_del"} {
				if ev, err := h.inboxEvent(id); err != nil || !strings.HasPrefix(ev.ParkedKey, parkCustomer("")) || !ev.ExpiresAt.Equal(want) {
					t.Fatalf("%s parked under %q until %v (%v); want parked for its customer until %v", id, ev.ParkedKey, ev.ExpiresAt, err, want)
				}
			}
			if ev, err := h.inboxEvent("evt_frozen_b"); err != nil || ev.ParkedKey != parkRetry || !ev.ExpiresAt.IsZero() {
				t.Fatalf("evt_frozen_b parked under %q until %v (%v); want under retry, no expiry", ev.ParkedKey, ev.ExpiresAt, err)
			}

			// Linked within the wait: the event applies.
			h.clock.Set(received.Add(24 * time.Hour))
			h.run(stripeEvent("evt_co_late", typeCheckoutCompleted, at(25*time.Hour), checkoutObj("cs_late", "acct_late", "cus_late", "")))
			h.wantProcessed("evt_late", "")
			wantState(t, h.getAccount("acct_late"), playback.StatusActive, "standard")

			// Past it: gone where reconcile can stand in for it.
			h.clock.Set(received.Add(retention))
			parked := len(h.parked(parkCustomer("cus_foreign")))
			_, err := h.inboxEvent("evt_foreign_del")
			if tc.api && (parked != 0 || !playback.IsCode(err, playback.CodeNotFound)) {
				t.Fatalf("past its wait: %d parked for cus_foreign, GetEvent %v; want none, not found", parked, err)
			}
			if !tc.api && (parked != 1 || err != nil) {
				t.Fatalf("without the API: %d parked for cus_foreign, GetEvent %v; want it kept", parked, err)
			}
			if got := h.parked(parkRetry); len(got) != 1 || got[0].ID != "evt_frozen_b" {
				t.Fatalf("%d parked for retry after the wait, want evt_frozen_b", len(got))
			}
		})
	}
}

package paymentwebhook

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// logRecord is one line a captured logger wrote.
type logRecord struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
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
		})
	}
}

package heartbeat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// publishedLease is the lease end the last published heartbeat message
// carries (lease_expires_at), zero when it carries none.
func (h *harness) publishedLease() time.Time {
	h.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(h.pub.lastPublished(h.t), &m); err != nil {
		h.t.Fatal(err)
	}
	s, ok := m["lease_expires_at"].(string)
	if !ok {
		h.t.Fatalf("message %v carries no lease_expires_at", m)
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		h.t.Fatal(err)
	}
	return at
}

// TestMessageCarriesTheLeaseItLeft: each heartbeat message carries where
// its accepted heartbeat left the session's lease, the expiry the store
// holds and the response tells the player, for the warehouse, which
// cannot read LEASE_TTL, to time out silent views by. Inside the write
// slack a heartbeat does not renew the lease, so its end is the earlier
// renewal's, not received_at + LEASE_TTL; after a stop it is when the
// session ended. With or without the lease cache.
func TestMessageCarriesTheLeaseItLeft(t *testing.T) {
	t.Parallel()
	for _, cache := range []bool{false, true} {
		t.Run(fmt.Sprintf("lease cache %v", cache), func(t *testing.T) {
			t.Parallel()
			cfg := defaultConfig()
			cfg.LeaseCache = cache
			h := newHarness(t, harnessOptions{cfg: cfg, noConsume: true})
			id, tok := h.play("acct_l", "title_1", 2)
			played := h.clock()
			beat := func(name string, want time.Time) {
				t.Helper()
				rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 1000, 0, ""))
				if rec.Code != http.StatusOK {
					t.Fatalf("%s: %d %s", name, rec.Code, rec.Body)
				}
				told := decode[HeartbeatAnswer](t, rec).LeaseExpiresAt
				if got := h.publishedLease(); !got.Equal(want) || !told.Equal(want) || !h.session(id).ExpiresAt.Equal(want) {
					t.Fatalf("%s: message lease %v, response %v, stored %v, want %v", name, got, told, h.session(id).ExpiresAt, want)
				}
			}
			h.advance(time.Second)
			beat("inside the slack of the play's lease", played.Add(2*time.Minute))
			h.advance(30 * time.Second)
			renewed := h.clock().Add(cfg.LeaseTTL)
			beat("past the slack", renewed)
			h.advance(5 * time.Second)
			beat("inside the slack of the renewal", renewed)

			h.advance(time.Second)
			rec := h.report(http.MethodPost, h.cmcdURL(id, "acct_l", "title_1"), "application/cmcd", fmt.Sprintf("e=t,sta=p,ts=%d\n", h.ts(0)))
			if rec.Code != http.StatusNoContent {
				t.Fatalf("cmcd report: %d %s", rec.Code, rec.Body)
			}
			if got := h.publishedLease(); !got.Equal(renewed) {
				t.Fatalf("CMCD report's message lease %v, want %v", got, renewed)
			}

			h.advance(time.Second)
			stopped := h.clock()
			if rec := h.beat(id, tok, h.body(events.HeartbeatStop, 2000, 0, "")); rec.Code != http.StatusOK {
				t.Fatalf("stop: %d %s", rec.Code, rec.Body)
			}
			if got := h.publishedLease(); !got.Equal(stopped) {
				t.Fatalf("stop's message lease %v, want the session's end %v", got, stopped)
			}
		})
	}
}

// withLease is msg with the lease end lease_expires_at added, as a
// producer that knows the field writes it.
func withLease(t *testing.T, msg playback.Message, at time.Time) playback.Message {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(msg.Data, &m); err != nil {
		t.Fatal(err)
	}
	m["lease_expires_at"], _ = json.Marshal(at)
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	msg.Data = data
	return msg
}

// TestViewTimesOutByTheLeaseItsMessagesCarry: the consumer times a silent
// view out by the lease end its messages carry, as the warehouse does, not
// by received_at + its own LEASE_TTL. Messages from producers older than
// the field carry none: their view never times out, as the warehouse
// queries treat them, and only a stop or error ends it.
func TestViewTimesOutByTheLeaseItsMessagesCarry(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		t.Run(wp.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{noConsume: true, unbatched: wp.unbatched, qoeViews: true})
			now := h.clock()
			lease := now.Add(90 * time.Second) // not received_at + LEASE_TTL (2m)
			msgs := h.messages(beat{id: "old", session: "s-old"}, beat{id: "new", session: "s-new"})
			msgs[1] = withLease(t, msgs[1], lease)
			if retry := h.consume(msgs); len(retry) != 0 {
				t.Fatalf("retry %v", retry)
			}
			views, err := h.bolt.QoEViews(context.Background(), now.Add(-time.Hour), now.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if len(views) != 2 {
				t.Fatalf("views %+v, want 2", views)
			}
			for _, v := range views {
				for _, tc := range []struct {
					at   time.Time
					want bool
				}{
					{lease, false},
					{lease.Add(time.Millisecond), v.SessionID == "s-new"},
					{now.Add(24 * time.Hour), v.SessionID == "s-new"},
				} {
					if got := v.ExitedBeforeStart(tc.at); got != tc.want {
						t.Errorf("view %s exited before start at %v: %v, want %v (lease end %v)", v.SessionID, tc.at.Sub(now), got, tc.want, v.LeaseEndsBy)
					}
				}
			}
		})
	}
}

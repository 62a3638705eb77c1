package heartbeat_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// TestGoneNamesTheEndReason: the 410 of a session that is over says why in
// details.end_reason, the reason its record stores, or "lapsed" when its
// lease ran out with no end written, so a player can tell its viewer;
// with and without the lease cache, on heartbeats and on late stops. Its
// reason is the one every route gives the same state: lease_expired for a
// lapsed lease (as the urls and manifest routes said, where heartbeats
// said session_ended), session_ended for an end.
func TestGoneNamesTheEndReason(t *testing.T) {
	t.Parallel()
	end := func(reason string) func(h *harness, id string) {
		return func(h *harness, id string) {
			h.t.Helper()
			if _, err := h.bolt.EndSession(context.Background(), id, reason, h.clock()); err != nil {
				h.t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		end  func(h *harness, id string)
		want string
	}{
		{"ended from another screen (DELETE /v1/sessions/{id})", end(playback.EndByUser), playback.EndByUser},
		{"entitlement lost", end(playback.EndEntitlement), playback.EndEntitlement},
		{"device removed", end(playback.EndDeviceRemoved), playback.EndDeviceRemoved},
		{"stopped", end(playback.EndStopped), playback.EndStopped},
		{"stopped by this player", func(h *harness, id string) {
			h.t.Helper()
			if rec := h.beat(id, h.playbackToken(id, "acct_end", "title_1"), h.body(events.HeartbeatStop, 1500, 0, "")); rec.Code != http.StatusOK {
				h.t.Fatalf("stop: %d %s", rec.Code, rec.Body)
			}
		}, playback.EndStopped},
		{"replaced by the device's new play", func(h *harness, _ string) { h.play("acct_end", "title_2", 1) }, playback.EndReplaced},
		{"lease lapsed", func(h *harness, id string) { h.advance(h.session(id).ExpiresAt.Sub(h.clock()) + time.Second) }, playback.EndLapsed},
	} {
		for _, cache := range []bool{false, true} {
			for _, event := range []string{events.HeartbeatProgress, events.HeartbeatStop} {
				name := tc.name + "/" + event
				if cache {
					name += "/cache"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					cfg := defaultConfig()
					cfg.LeaseCache = cache
					h := newHarness(t, harnessOptions{cfg: cfg})
					id, tok := h.play("acct_end", "title_1", 1)
					h.advance(time.Second)
					if rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 1000, 0, "")); rec.Code != http.StatusOK {
						t.Fatalf("progress: %d %s", rec.Code, rec.Body)
					}
					tc.end(h, id)
					// Past the cache's slack, so the end is seen, and past
					// StopGrace, so a stop is refused too.
					h.advance(time.Minute)
					reads := h.store.leaseReads()
					rec := h.beat(id, tok, h.body(event, 2000, 0, ""))
					// The cache knows the end of a stop it saw: no read.
					if cache && event == events.HeartbeatProgress && tc.name == "stopped by this player" && h.store.leaseReads() != reads {
						t.Fatalf("a heartbeat after this instance's stop made %d store calls, want none", h.store.leaseReads()-reads)
					}
					reason := playback.ReasonSessionEnded
					if tc.want == playback.EndLapsed {
						reason = playback.ReasonLeaseExpired
					}
					wantError(t, rec, http.StatusGone, playback.CodeGone, reason)
					details, _ := decode[httpx.ErrorBody](t, rec).Error.Details.(map[string]any)
					if got := details["end_reason"]; got != tc.want {
						t.Fatalf("details %s, want end_reason %q", rec.Body, tc.want)
					}
				})
			}
		}
	}
}

package signurl_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestGoneNamesTheEndReason: the urls route's 410 says why the session is
// over in details.end_reason, the stored reason or "lapsed", so a player
// can tell its viewer.
func TestGoneNamesTheEndReason(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tc := range []struct {
		name   string
		end    string // "" lets the lease lapse
		reason string
		// lapseFirst lets the lease lapse before end is written, as the
		// enders write ends (playback.EndSessions): the lapse is its end.
		lapseFirst bool
	}{
		{"ended from another screen", playback.EndByUser, "session_ended", false},
		{"replaced", playback.EndReplaced, "session_ended", false},
		{"entitlement lost", playback.EndEntitlement, "session_ended", false},
		{"device removed", playback.EndDeviceRemoved, "session_ended", false},
		{"stopped", playback.EndStopped, "session_ended", false},
		{"lapsed", "", "lease_expired", false},
		{"lapsed, then the device removed", playback.EndDeviceRemoved, "lease_expired", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: the lapsed row moves the shared clock.
			sess, tok := h.session(accountA, titleID, time.Minute)
			want := tc.end
			if tc.lapseFirst {
				h.clock.add(time.Minute)
				want = playback.EndLapsed
			}
			if tc.end != "" {
				if _, err := h.store.EndSession(context.Background(), sess.ID, tc.end, h.clock.now()); err != nil {
					t.Fatal(err)
				}
			} else {
				h.clock.add(time.Minute)
				want = playback.EndLapsed
			}
			rec := h.sign(sess.ID, tok, "")
			e := errorOf(t, rec.Code, rec.Body.Bytes())
			details, _ := e.Details.(map[string]any)
			if rec.Code != http.StatusGone || e.Reason != tc.reason || details["end_reason"] != want {
				t.Fatalf("got %d %s, want 410 %s with end_reason %q", rec.Code, rec.Body, tc.reason, want)
			}
			// The message tells the same end as the fields.
			if said := strings.Contains(e.Message, "expired"); said != (want == playback.EndLapsed) {
				t.Errorf("message %q, want it to tell the end %q", e.Message, want)
			}
		})
	}
}

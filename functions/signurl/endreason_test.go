package signurl_test

import (
	"context"
	"net/http"
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
	}{
		{"ended from another screen", playback.EndByUser, "session_ended"},
		{"replaced", playback.EndReplaced, "session_ended"},
		{"entitlement lost", playback.EndEntitlement, "session_ended"},
		{"device removed", playback.EndDeviceRemoved, "session_ended"},
		{"stopped", playback.EndStopped, "session_ended"},
		{"lapsed", "", "lease_expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: the lapsed row moves the shared clock.
			sess, tok := h.session(accountA, titleID, time.Minute)
			want := tc.end
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
		})
	}
}

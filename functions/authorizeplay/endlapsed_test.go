package authorizeplay_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestEndLapsedSession: DELETE /v1/sessions/{id} of a session whose lease
// already ran out unrenewed (the page's stop path after its playback token
// expired in a sleeping tab) answers the end it had, lapsed at its lease's
// expiry, as every 410 on the session names it (Session.Over), and its
// stored record still reads so: the viewer did not end a stream that had
// ended by itself. The DELETE does write its end (a heartbeat that read the
// lease just before it lapsed could renew it otherwise:
// TestEndersEndALeaseThatJustLapsed), which Session.Over reads as the lapse.
func TestEndLapsedSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first, _ := h.admitted(t, h.play(demo.AccountSolo, "sintel", "tv"))
	h.now = first.LeaseExpiresAt.Add(10 * time.Minute)
	v := decodeAs[authorizeplay.SessionView](t, h.do(http.MethodDelete, "/v1/sessions/"+first.SessionID, h.token(demo.AccountSolo), ""), http.StatusOK)
	if v.EndReason != playback.EndLapsed || !v.EndedAt.Equal(first.LeaseExpiresAt) {
		t.Errorf("DELETE of a lapsed session answered end_reason %q at %s, want %q at its lease's expiry %s",
			v.EndReason, v.EndedAt, playback.EndLapsed, first.LeaseExpiresAt)
	}
	got, err := h.store.GetSession(context.Background(), first.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if at, reason := got.Over(); reason != playback.EndLapsed || !at.Equal(first.LeaseExpiresAt) {
		t.Errorf("DELETE of a lapsed session stored an end read as %q at %s, want %q at its lease's expiry %s",
			reason, at, playback.EndLapsed, first.LeaseExpiresAt)
	}
}

// TestEndLapsedSessionStaysEnded: DELETE /v1/sessions/{id} of a session
// whose lease lapsed and whose place another device's play has since
// taken (no renewal can extend it any more), from a list read before the
// lapse, ends it all the same: the tab asleep in it that wakes and
// authorizes again naming it is refused 410 lease_expired, as for an end
// while a renewal still could (TestReauthorize), rather than the stream
// the viewer ended coming back. So too when the DELETE names the session
// its play's re-authorization replaced and the play lapsed in the one
// that took over.
func TestEndLapsedSessionStaysEnded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		reauth bool // the play was re-authorized once before it lapsed
	}{
		{name: "the session named"},
		{name: "the session its re-authorization went on in", reauth: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tok := h.token(demo.AccountFamily)
			listed, _ := h.admitted(t, h.play(demo.AccountFamily, "sintel", "tv"))
			asleep := listed
			if tc.reauth {
				asleep, _ = h.admitted(t, h.do(http.MethodPost, "/v1/play", tok,
					`{"title_id":"sintel","device_id":"tv","replaces_session_id":"`+listed.SessionID+`"}`))
			}
			h.now = asleep.LeaseExpiresAt.Add(time.Minute)
			h.admitted(t, h.play(demo.AccountFamily, "sintel", "phone")) // counts the lapsed lease out
			h.mustDo(http.MethodDelete, "/v1/sessions/"+listed.SessionID, http.StatusOK)
			rec := h.do(http.MethodPost, "/v1/play", tok,
				`{"title_id":"sintel","device_id":"tv","replaces_session_id":"`+asleep.SessionID+`"}`)
			if e := errorOf(t, rec); rec.Code != http.StatusGone || e.Reason != playback.ReasonLeaseExpired {
				t.Fatalf("the woken tab's re-authorization of %s after the viewer ended it: %d %q, want 410 %s",
					asleep.SessionID, rec.Code, e.Reason, playback.ReasonLeaseExpired)
			}
		})
	}
}

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

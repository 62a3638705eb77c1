package authorizeplay_test

import (
	"net/http"
	"testing"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestEndAtTheLapseReadsAsTheLapse: a DELETE /v1/sessions/{id} at the very
// instant its lease runs out finds it lapsed (Session.Active is false at
// ExpiresAt), answers so, and ends it only so that no late heartbeat
// renews it (EndSessions, which reports no lease taken). Its retry, and
// every 410 after, must name the same end: the stored end at that instant
// reads as the lapse, not as the viewer's.
func TestEndAtTheLapseReadsAsTheLapse(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	play, _ := h.admitted(t, h.play(demo.AccountSolo, "sintel", "tv"))
	h.now = play.LeaseExpiresAt
	for _, try := range []string{"DELETE", "its retry"} {
		v := decodeAs[authorizeplay.SessionView](t, h.do(http.MethodDelete, "/v1/sessions/"+play.SessionID, h.token(demo.AccountSolo), ""), http.StatusOK)
		if v.EndReason != playback.EndLapsed || !v.EndedAt.Equal(play.LeaseExpiresAt) {
			t.Errorf("%s at the lease's expiry %s answered end_reason %q at %s, want %q then",
				try, play.LeaseExpiresAt, v.EndReason, v.EndedAt, playback.EndLapsed)
		}
	}
}

package heartbeat_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// TestStopWithATokenJustExpired: a player whose playback token the server
// refused (401 token_expired: its clock runs behind the server's, or its
// tab slept) re-authorizes, and its old session's play and stalls since its
// last accepted heartbeat would be told by neither session. Within
// TokenStopGrace of the token's expiry that session's final stop is still
// taken, with its counters and position, and ends it (or, once the new
// play replaced it, is recorded as a late stop is) without renewing its
// lease; nothing else is: every other event, a stop past the grace and a
// token whose signature fails stay 401, writing nothing.
func TestStopWithATokenJustExpired(t *testing.T) {
	t.Parallel()
	const grace = 30 * time.Second
	for _, tc := range []struct {
		name       string
		grace      time.Duration
		replaced   bool          // the re-authorization's play replaced the session before the stop
		after      time.Duration // from the token's expiry to the late heartbeat
		event      string
		forged     bool
		wantCode   int
		wantReason string
	}{
		{name: "stop 5 s after expiry", grace: grace, after: 5 * time.Second, event: events.HeartbeatStop, wantCode: 200},
		{name: "stop at the grace's edge", grace: grace, after: grace - time.Millisecond, event: events.HeartbeatStop, wantCode: 200},
		{name: "stop 5 s after expiry, once the session was replaced", grace: grace, replaced: true, after: 5 * time.Second,
			event: events.HeartbeatStop, wantCode: 200},
		{name: "progress 5 s after expiry", grace: grace, after: 5 * time.Second, event: events.HeartbeatProgress,
			wantCode: 401, wantReason: auth.ReasonTokenExpired},
		{name: "pause 5 s after expiry", grace: grace, after: 5 * time.Second, event: events.HeartbeatPause,
			wantCode: 401, wantReason: auth.ReasonTokenExpired},
		{name: "start 5 s after expiry", grace: grace, after: 5 * time.Second, event: events.HeartbeatStart,
			wantCode: 401, wantReason: auth.ReasonTokenExpired},
		{name: "stop past the grace", grace: grace, after: grace, event: events.HeartbeatStop,
			wantCode: 401, wantReason: auth.ReasonTokenExpired},
		{name: "stop with no grace", after: time.Second, event: events.HeartbeatStop,
			wantCode: 401, wantReason: auth.ReasonTokenExpired},
		{name: "forged stop 5 s after expiry", grace: grace, after: 5 * time.Second, event: events.HeartbeatStop, forged: true,
			wantCode: 401, wantReason: auth.ReasonTokenSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := stopGraceHarness(t, tc.grace)
			id, _ := h.play("acct_exp", "title_1", 1)
			expires := h.clock().Add(time.Minute).Truncate(time.Second)
			tok, err := h.tokens.Issue(auth.PlaybackClaims{SessionID: id, AccountID: "acct_exp", TitleID: "title_1",
				DeviceID: "dev_acct_exp", IssuedAt: h.clock(), ExpiresAt: expires})
			if err != nil {
				t.Fatal(err)
			}
			h.advance(30 * time.Second)
			if rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 30_000, 0,
				`{"played_ms":28000,"rebuffer_count":1,"rebuffer_ms":1000}`)); rec.Code != http.StatusOK {
				t.Fatalf("progress: %d %s", rec.Code, rec.Body)
			}
			h.idle()
			if tc.replaced {
				h.advance(expires.Add(tc.after - time.Second).Sub(h.clock()))
				h.play("acct_exp", "title_1", 1)
			}
			before := h.stopState(id, "acct_exp", "title_1")
			h.advance(expires.Add(tc.after).Sub(h.clock()))
			if tc.forged {
				tok = forged(tok)
			}

			body := h.body(tc.event, 52_000, 0, `{"played_ms":49000,"rebuffer_count":2,"rebuffer_ms":2500}`)
			rec := h.beat(id, tok, body)
			after := h.stopState(id, "acct_exp", "title_1")
			if tc.wantCode != http.StatusOK {
				wantError(t, rec, tc.wantCode, playback.CodeUnauthenticated, tc.wantReason)
				after.wantUnchanged(t, before, "a refused "+tc.event)
				return
			}
			if rec.Code != http.StatusOK || !decode[heartbeat.HeartbeatResponse](t, rec).Ended {
				t.Fatalf("stop: %d %s", rec.Code, rec.Body)
			}
			after.wantStopped(t, before, h.clock(), 52_000)
			wantEnd := playback.EndStopped
			if tc.replaced {
				wantEnd = playback.EndReplaced
			}
			if after.session.EndReason != wantEnd {
				t.Fatalf("the stop left the session %+v: want it ended (%s)", after.session, wantEnd)
			}
			if tc.replaced && !after.session.EndedAt.Equal(before.session.EndedAt) {
				t.Fatalf("the stop moved the replaced session's end from %s to %s", before.session.EndedAt, after.session.EndedAt)
			}
			if after.view.PlayedMS != 49000 || after.view.RebufferMS != 2500 {
				t.Fatalf("view %+v: want the stop's counters folded", after.view)
			}

			// Sent again (a retry whose answer was lost): nothing changes.
			if again := h.beat(id, tok, body); again.Code == http.StatusOK {
				t.Fatalf("stop replayed: %d %s", again.Code, again.Body)
			}
			h.stopState(id, "acct_exp", "title_1").wantUnchanged(t, after, "the replayed stop")
		})
	}
}

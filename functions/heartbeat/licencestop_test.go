package heartbeat_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// TestStopWithATokenTheLicenceEnded: a play ends with the licence window it
// was admitted under — its playback token and its lease end there — and
// the player learns it from the heartbeat after the end. Its play and
// stalls since its last accepted heartbeat, and where it got to, are told
// by no other session, so within TokenStopGrace of the end its final stop
// with that token is taken, as a stop with a token that expired is:
// whether the token says the licence ended it (PLAYBACK_TOKEN_LEASE on:
// refused 403 licence_window_ended) or only expires there (off: 401
// token_expired). It renews no lease. Nothing else is: every other event,
// a stop past the grace and a forged token stay refused with their own
// reason, writing nothing.
func TestStopWithATokenTheLicenceEnded(t *testing.T) {
	t.Parallel()
	const grace = 30 * time.Second
	type row struct {
		name       string
		grace      time.Duration
		after      time.Duration // from the licence's end to the late heartbeat
		event      string
		forged     bool
		wantCode   int
		wantReason string // with PLAYBACK_TOKEN_LEASE on; off, the expiry's 401 stands for a 403
	}
	rows := []row{
		{name: "stop 5 s after the end", grace: grace, after: 5 * time.Second, event: events.HeartbeatStop, wantCode: 200},
		{name: "stop at the end", grace: grace, event: events.HeartbeatStop, wantCode: 200},
		{name: "stop at the grace's edge", grace: grace, after: grace - time.Millisecond, event: events.HeartbeatStop, wantCode: 200},
		{name: "progress 5 s after the end", grace: grace, after: 5 * time.Second, event: events.HeartbeatProgress,
			wantCode: 403, wantReason: playback.ReasonLicenceEnded},
		{name: "progress at the end", grace: grace, event: events.HeartbeatProgress,
			wantCode: 403, wantReason: playback.ReasonLicenceEnded},
		{name: "pause 5 s after the end", grace: grace, after: 5 * time.Second, event: events.HeartbeatPause,
			wantCode: 403, wantReason: playback.ReasonLicenceEnded},
		{name: "start 5 s after the end", grace: grace, after: 5 * time.Second, event: events.HeartbeatStart,
			wantCode: 403, wantReason: playback.ReasonLicenceEnded},
		{name: "error 5 s after the end", grace: grace, after: 5 * time.Second, event: events.HeartbeatError,
			wantCode: 403, wantReason: playback.ReasonLicenceEnded},
		{name: "stop past the grace", grace: grace, after: grace, event: events.HeartbeatStop,
			wantCode: 403, wantReason: playback.ReasonLicenceEnded},
		{name: "stop with no grace", after: time.Second, event: events.HeartbeatStop,
			wantCode: 403, wantReason: playback.ReasonLicenceEnded},
		{name: "forged stop 5 s after the end", grace: grace, after: 5 * time.Second, event: events.HeartbeatStop, forged: true,
			wantCode: 401, wantReason: auth.ReasonTokenSignature},
	}
	for _, lease := range []bool{true, false} {
		for _, tc := range rows {
			name := "token lease on/" + tc.name
			if !lease {
				name = "token lease off/" + tc.name
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := stopGraceHarness(t, tc.grace)
				id, _ := h.play("acct_lic", "title_1", 1)
				start := h.clock()
				end := start.Add(150 * time.Second).Truncate(time.Second)
				// As authorize play issues it: with the setting on, the
				// token carries the lease and says the licence ends it.
				claims := auth.PlaybackClaims{SessionID: id, AccountID: "acct_lic", TitleID: "title_1", DeviceID: "dev_acct_lic",
					IssuedAt: start, ExpiresAt: end}
				if lease {
					s := h.session(id)
					claims.StartedAt, claims.Lease, claims.LicenceEnds = s.StartedAt, s.Lease, true
				}
				tok, err := h.tokens.Issue(claims)
				if err != nil {
					t.Fatal(err)
				}
				// Heartbeats every 40 s up to the end renew the lease to
				// the licence's end and no further.
				for i, at := range []time.Duration{60 * time.Second, 100 * time.Second, 140 * time.Second} {
					h.advance(start.Add(at).Sub(h.clock()))
					played := int64(at/time.Millisecond) - 2000
					qoe := `{"played_ms":` + strconv.FormatInt(played, 10) + `,"rebuffer_count":1,"rebuffer_ms":1000}`
					if rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 10_000*int64(i+1), 0, qoe)); rec.Code != http.StatusOK {
						t.Fatalf("progress at +%s: %d %s", at, rec.Code, rec.Body)
					}
				}
				before := h.stopState(id, "acct_lic", "title_1")
				if before.session.ExpiresAt.After(end) {
					t.Fatalf("the lease runs to %s, past the licence's end %s", before.session.ExpiresAt, end)
				}
				h.advance(end.Add(tc.after).Sub(h.clock()))
				if tc.forged {
					tok = forged(tok)
				}

				body := h.body(tc.event, 52_000, 0, `{"played_ms":147000,"rebuffer_count":2,"rebuffer_ms":2500}`)
				rec := h.beat(id, tok, body)
				after := h.stopState(id, "acct_lic", "title_1")
				if tc.wantCode != http.StatusOK {
					wantEndRefused(t, rec, tc.wantCode, tc.wantReason, lease)
					after.wantUnchanged(t, before, "a refused "+tc.event)
					return
				}
				if rec.Code != http.StatusOK || !decode[heartbeat.HeartbeatResponse](t, rec).Ended {
					t.Fatalf("stop %s after the licence's end: %d %s", tc.after, rec.Code, rec.Body)
				}
				after.wantStopped(t, before, h.clock(), 52_000)
				if after.view.PlayedMS != 147000 || after.view.RebufferMS != 2500 {
					t.Fatalf("view %+v: want the stop's counters folded", after.view)
				}

				// Sent again (a retry whose answer was lost): nothing changes.
				if again := h.beat(id, tok, body); again.Code == http.StatusOK {
					t.Fatalf("stop replayed: %d %s", again.Code, again.Body)
				}
				h.stopState(id, "acct_lic", "title_1").wantUnchanged(t, after, "the replayed stop")
			})
		}
	}
}

package heartbeat_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// TestCMCDStopWithAnEndedCredential: a CMCD collector credential has its
// playback token's claims and end (authorize play issues both from one
// set), so a play that reports through CMCD alone meets the licence
// window's end, or the token's expiry, on its collector URL. A request
// whose reports stop the session (sta, CMCD v2's player state: e, the
// media finished playing, or q, quit; alone or at the end of a flushed
// queue) is its stop, and is taken within TokenStopGrace as a JSON stop
// with such a token is: its position and the play up to it are told by no
// other session. Every other report, a stop past the grace and a forged
// credential stay refused with their own reason, writing nothing.
func TestCMCDStopWithAnEndedCredential(t *testing.T) {
	t.Parallel()
	const grace = 30 * time.Second
	const (
		ended    = "e=ps,pt=149000,sta=e,ts=%d,v=2"
		quit     = "e=ps,pt=149000,sta=q,ts=%d,v=2"
		playing  = "e=t,pt=149000,sta=p,ts=%d,v=2"
		paused   = "e=ps,pt=149000,sta=a,ts=%d,v=2"
		failed   = "e=e,pt=149000,sta=f,ts=%d,v=2"
		flushing = "e=t,pt=148000,sta=p,ts=%d,v=2\ne=ps,pt=149000,sta=q,ts=%d,v=2"
	)
	type row struct {
		name       string
		grace      time.Duration
		after      time.Duration // from the credential's end to the last report
		report     string        // a line per report, %d for its ts
		forged     bool
		wantCode   int
		wantReason string // with the licence flag; without it, the expiry's 401 stands for a 403
	}
	rows := []row{
		{name: "ended 5 s after the end", grace: grace, after: 5 * time.Second, report: ended, wantCode: 204},
		{name: "quit at the end", grace: grace, report: quit, wantCode: 204},
		{name: "quit at the grace's edge", grace: grace, after: grace - time.Millisecond, report: quit, wantCode: 204},
		{name: "flush ending in quit 5 s after the end", grace: grace, after: 5 * time.Second, report: flushing, wantCode: 204},
		{name: "playing 5 s after the end", grace: grace, after: 5 * time.Second, report: playing,
			wantCode: 403, wantReason: playback.ReasonLicenceEnded},
		{name: "paused 5 s after the end", grace: grace, after: 5 * time.Second, report: paused,
			wantCode: 403, wantReason: playback.ReasonLicenceEnded},
		{name: "fatal error 5 s after the end", grace: grace, after: 5 * time.Second, report: failed,
			wantCode: 403, wantReason: playback.ReasonLicenceEnded},
		{name: "quit past the grace", grace: grace, after: grace, report: quit,
			wantCode: 403, wantReason: playback.ReasonLicenceEnded},
		{name: "quit with no grace", after: time.Second, report: quit,
			wantCode: 403, wantReason: playback.ReasonLicenceEnded},
		{name: "forged quit 5 s after the end", grace: grace, after: 5 * time.Second, report: quit, forged: true,
			wantCode: 401, wantReason: auth.ReasonTokenSignature},
	}
	for _, licence := range []bool{true, false} {
		for _, tc := range rows {
			name := "licence ends it/" + tc.name
			if !licence {
				name = "token expires/" + tc.name
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := stopGraceHarness(t, tc.grace)
				id, _ := h.play("acct_cmcd", "title_1", 1)
				start := h.clock()
				end := start.Add(150 * time.Second).Truncate(time.Second)
				cred, err := h.tokens.IssueCMCD(auth.PlaybackClaims{SessionID: id, AccountID: "acct_cmcd", TitleID: "title_1",
					DeviceID: "dev_acct_cmcd", IssuedAt: start, ExpiresAt: end, LicenceEnds: licence})
				if err != nil {
					t.Fatal(err)
				}
				target := "/v1/playback/" + id + "/cmcd/"
				send := func(report string) {
					t.Helper()
					if rec := h.report(http.MethodPost, target+cred, "application/cmcd", report); rec.Code != http.StatusNoContent {
						t.Fatalf("%q: %d %s", report, rec.Code, rec.Body)
					}
				}
				send(fmt.Sprintf("e=ps,sta=s,ts=%d,v=2", h.ts(0)))
				h.advance(time.Second)
				send(fmt.Sprintf("e=ps,msd=900,pt=0,sta=p,ts=%d,v=2", h.ts(0)))
				for _, at := range []time.Duration{60 * time.Second, 100 * time.Second, 140 * time.Second} {
					h.advance(start.Add(at).Sub(h.clock()))
					send(fmt.Sprintf("e=t,pt=%d,sta=p,ts=%d,v=2", (at - time.Second).Milliseconds(), h.ts(0)))
				}
				before := h.stopState(id, "acct_cmcd", "title_1")
				h.advance(end.Add(tc.after).Sub(h.clock()))
				if tc.forged {
					cred = forged(cred)
				}

				body := fmt.Sprintf(tc.report, h.ts(-time.Second), h.ts(0))
				if tc.report != flushing {
					body = fmt.Sprintf(tc.report, h.ts(0))
				}
				rec := h.report(http.MethodPost, target+cred, "application/cmcd", body)
				after := h.stopState(id, "acct_cmcd", "title_1")
				if tc.wantCode != http.StatusNoContent {
					wantEndRefused(t, rec, tc.wantCode, tc.wantReason, licence)
					after.wantUnchanged(t, before, fmt.Sprintf("a refused %q", body))
					return
				}
				if rec.Code != http.StatusNoContent {
					t.Fatalf("%q %s after the credential's end: %d %s", body, tc.after, rec.Code, rec.Body)
				}
				after.wantStopped(t, before, h.clock(), 149_000)
				if after.view.PlayedMS <= before.view.PlayedMS {
					t.Fatalf("view %+v, was %+v: want the play up to the stop", after.view, before.view)
				}

				// Sent again (a retry whose answer was lost): nothing changes.
				if again := h.report(http.MethodPost, target+cred, "application/cmcd", body); again.Code == http.StatusNoContent {
					t.Fatalf("stop replayed: %d %s", again.Code, again.Body)
				}
				h.stopState(id, "acct_cmcd", "title_1").wantUnchanged(t, after, "the replayed stop")
			})
		}
	}
}

package heartbeat_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// TestCMCDPlayAcrossSessionsIsOneView: a play a player reports through
// CMCD alone goes on across a re-authorization (its playback token
// expired, or the licence window was extended at its end): the app plays
// the same title again, is given a new session and its collector URL, and
// hands the URL to the same player, which plays on. CTA-5004's sid is "a
// GUID identifying the current playback session", the id that ties a
// player's reports of one play together; set to the session id of the
// play's first POST /v1/play and kept, it names the play as a heartbeat's
// qoe.view does (the URL still names the session). The play is one view,
// with the first session's startup once (the CML reporter repeats msd in
// every report), and the play of both sessions. A sid that names no
// session of the account and title (a player's own random one, the
// default; another account's session) ties nothing: each session is a
// view of its own, with its own startup, as before.
func TestCMCDPlayAcrossSessionsIsOneView(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// sid is the sid the player reports with in both sessions: %s is
		// the first session's id.
		sid         string
		otherOwner  bool // the first session is another account's
		wantViews   int
		wantStartup []int64
	}{
		{name: "sid is the first session's", sid: "%s", wantViews: 1, wantStartup: []int64{900}},
		{name: "a player's own sid", sid: "6e2fb550-c457-11e9-bb97-0800200c9a66", wantViews: 2, wantStartup: []int64{900, 900}},
		{name: "no sid", wantViews: 2, wantStartup: []int64{900, 900}},
		{name: "sid of another account's session", sid: "%s", otherOwner: true, wantViews: 2, wantStartup: []int64{900, 900}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{qoeViews: true})
			from := h.clock().Truncate(time.Hour)
			firstAccount := "acct_a"
			if tc.otherOwner {
				firstAccount = "acct_b"
			}
			first, _ := h.play(firstAccount, "title_1", 1)
			sid := ""
			if tc.sid != "" {
				sid = `,sid="` + strings.ReplaceAll(tc.sid, "%s", first) + `"`
			}
			// A session's reports as Shaka Player's and dash.js's CML
			// reporter sends them: msd in each once playing began.
			playFor := func(target string, starting bool) {
				t.Helper()
				send := func(report string) {
					t.Helper()
					if rec := h.report(http.MethodPost, target, "application/cmcd", report+sid); rec.Code != http.StatusNoContent {
						t.Fatalf("%q: %d %s", report, rec.Code, rec.Body)
					}
				}
				if starting {
					send(fmt.Sprintf("e=ps,sta=s,ts=%d,v=2", h.ts(0)))
					h.advance(time.Second)
				}
				send(fmt.Sprintf("e=ps,msd=900,sta=p,ts=%d,v=2", h.ts(0)))
				h.advance(30 * time.Second)
				send(fmt.Sprintf("e=t,msd=900,sta=p,ts=%d,v=2", h.ts(0)))
			}
			playFor(h.cmcdURL(first, firstAccount, "title_1"), true)
			// The re-authorization: a new session of the same title, the
			// same player playing on with its new collector URL.
			second, _ := h.play("acct_a", "title_1", 1)
			playFor(h.cmcdURL(second, "acct_a", "title_1"), false)
			h.idle()

			views, err := h.bolt.QoEViews(t.Context(), from, from.Add(2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			plays := playback.QoEPlays(views, from, from.Add(2*time.Hour))
			var startups []int64
			var played int64
			for _, p := range plays {
				startups = append(startups, p.Startup())
				played += p.PlayedMS
			}
			if len(plays) != tc.wantViews || fmt.Sprint(startups) != fmt.Sprint(tc.wantStartup) || played != 2*30_000 {
				t.Fatalf("%d sessions are %d views with startups %v and %d ms of play; want %d, %v and %d ms",
					len(views), len(plays), startups, played, tc.wantViews, tc.wantStartup, 2*30_000)
			}
			// GET /v1/admin/qoe folds the store's pages as QoEPlays does.
			streamed := 0
			if err := playback.StreamQoEPlays(t.Context(), h.bolt, from, from.Add(2*time.Hour), playback.QoEPageViews,
				func(playback.QoEView) { streamed++ }); err != nil || streamed != len(plays) {
				t.Fatalf("the admin route's fold answered %d views (%v), QoEPlays %d", streamed, err, len(plays))
			}
		})
	}
}

// TestPlayReportedBothWaysIsOneView: a player that reports through the
// JSON heartbeat (its position, its lease, qoe.view naming the play after
// a re-authorization) and also hands the session's cmcd_report_url to its
// library as a CMCD event target, whose sid the app leaves at the
// library's own random UUID (dash.js, Shaka Player and hls.js send one
// unless told another). The play goes on across a re-authorization: the
// second session names the first in qoe.view. A UUID is no session's id
// (NewID(SessionIDPrefix) never mints one), so it names no play: the play
// is one view, as it was before sid was read. Read as the play, it was the
// least named of each session (playback.LeastPlay: hex sorts before
// "ses_"), so the first session named a play but its own and began none,
// and the second's qoe.view was outranked: two views.
func TestPlayReportedBothWaysIsOneView(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sid  string // %s is the first session's id
	}{
		{name: "the library's own UUID", sid: "6e2fb550-c457-11e9-bb97-0800200c9a66"},
		{name: "an app's id that is no session's", sid: "play-42"},
		{name: "the first session's", sid: "%s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{qoeViews: true})
			from := h.clock().Truncate(time.Hour)
			first, firstToken := h.play("acct_a", "title_1", 1)
			sid := `,sid="` + strings.ReplaceAll(tc.sid, "%s", first) + `"`
			playFor := func(session, token, qoe string) {
				t.Helper()
				if rec := h.beat(session, token, h.body(events.HeartbeatStart, 0, 0, qoe)); rec.Code != http.StatusOK {
					t.Fatalf("start of %s: %d %s", session, rec.Code, rec.Body)
				}
				h.advance(30 * time.Second)
				report := fmt.Sprintf("e=t,sta=p,ts=%d,v=2", h.ts(0)) + sid
				if rec := h.report(http.MethodPost, h.cmcdURL(session, "acct_a", "title_1"), "application/cmcd", report); rec.Code != http.StatusNoContent {
					t.Fatalf("%q: %d %s", report, rec.Code, rec.Body)
				}
			}
			playFor(first, firstToken, `{"startup_ms":900}`)
			second, secondToken := h.play("acct_a", "title_1", 1)
			playFor(second, secondToken, fmt.Sprintf(`{"continued":true,"view":%q}`, first))
			h.idle()

			views, err := h.bolt.QoEViews(t.Context(), from, from.Add(2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			named := map[string]string{}
			for _, v := range views {
				named[v.SessionID] = v.ViewID
			}
			if plays := playback.QoEPlays(views, from, from.Add(2*time.Hour)); len(plays) != 1 {
				t.Fatalf("%d sessions, the first naming play %q, the second %q (its qoe.view %q), are %d views; want 1",
					len(views), named[first], named[second], first, len(plays))
			}
		})
	}
}

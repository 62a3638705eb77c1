package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestBrowserCMCDEventMode plays the local stream with Shaka Player and
// with dash.js in headless Chromium, each configured only through its own
// CMCD v2 options (web/player/cmcd.html: an event target at the session's
// cmcd_report_url, no heartbeat or reporting code in the page), from a
// page on another origin. Each player stalls once for real: the test's
// edge holds back the segments from the first one that starts half a
// second or more into the play (the stream is 6 s in 2 s segments) until the player
// has been stalled for 3 s (segmentHold, released by drive.cjs). The
// viewer pauses half a second of play after the stall (Shaka while the
// picture moves, see drive.cjs) and stays paused for longer than a lease:
// the session must still be alive then, held by the player's own
// time-interval reports; the startup time, bitrate, play time and the
// stall (count and time) the player reported must be in the session's
// QoE record; and the resume position an app reads (GET /v1/progress) must
// have moved on towards where the player paused, never past it. Neither
// player sends pt (events/schemas/cmcd.md cites their source), so that
// position is the one derived from their play states and ts. The page
// resumes where the previous subtest left off, as an app does, so Shaka
// carries on from dash.js's position. Request mode rides along: the segment
// requests carry CMCD for the same player session id as the event
// reports, and the edge's access log has it.
func TestBrowserCMCDEventMode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	// It mostly waits (each player pauses for longer than a lease): it
	// plays beside the other browser tests, on a runner of its own.
	t.Parallel()
	tools := browserTools(t)

	cross := startPageServer(t)
	// Leases of 30 s renewed by reports every second: a pause of 35 s
	// outlives a lease unless the reports keep it.
	const cmcdLeaseTTL = 30 * time.Second
	run := startRecordedRunner(t, cross.URL, map[string]string{
		"LEASE_TTL":                   cmcdLeaseTTL.String(),
		"HEARTBEAT_LEASE_RENEW_SLACK": "1s",
		"HEARTBEAT_INTERVAL":          "1s",
	})
	browser := startChromium(t, tools.chromium)
	h := &harness{t: t, tools: tools, run: run, cdp: browser, driver: startDriver(t, tools, browser), cross: cross.URL, artifacts: artifactDir(t)}
	stallControl := startStallControl(t, run)
	const stallFor = 3 * time.Second

	// dash.js first: it pauses on time, while Shaka may play on through
	// stalls before it is paused, and the second player resumes where
	// the first left off, with the end of the 6 s stream to spare.
	for _, player := range []string{"dashjs", "shaka"} {
		t.Run(player, func(t *testing.T) {
			device := playback.NewID("cmcd")
			account := demo.AccountKids
			run.reset()
			tok := run.token(t, account)
			// The app's resume: where GET /v1/progress says to start. The
			// second player resumes where the first paused, unless that
			// leaves no segment after the first to stall at (the first
			// player's pause landed late: dash.js paused at 4.2 s instead
			// of ~2.5 s in a run at load 12). Then it plays in another
			// household, with no resume point: starting over in this one
			// would not do, as a report without pt moves the position on
			// from the resume point the server knows, not from where the
			// app started the player.
			resumeFrom := progressMS(t, run, tok)
			if heldSegment(resumeFrom) > segmentCount {
				t.Logf("%s: the resume point %d ms leaves no segment of the %d s stream to stall at: playing as %s instead", player, resumeFrom, segmentCount*segmentSeconds, demo.AccountSolo)
				account = demo.AccountSolo
				tok = run.token(t, account)
				if resumeFrom = progressMS(t, run, tok); heldSegment(resumeFrom) > segmentCount {
					t.Fatalf("%s's resume point %d ms leaves no segment to stall at either", account, resumeFrom)
				}
			}
			t.Cleanup(func() { run.endDeviceSessions(t, account, device) })
			startAt := float64(max(resumeFrom, 0)) / 1000
			var play struct {
				SessionID     string    `json:"session_id"`
				PlaybackToken string    `json:"playback_token"`
				LeaseExpires  time.Time `json:"lease_expires_at"`
				CMCDReportURL string    `json:"cmcd_report_url"`
			}
			if code := run.post(t, "/v1/play", tok, map[string]string{"title_id": "big-buck-bunny", "device_id": device}, &play); code != http.StatusCreated {
				t.Fatalf("POST /v1/play: %d", code)
			}
			var urls struct {
				Manifests map[string]string `json:"manifests"`
			}
			if code := run.post(t, "/v1/playback/"+play.SessionID+"/urls", play.PlaybackToken, map[string]string{"cdn": localCloudFront}, &urls); code != http.StatusOK || urls.Manifests["dash"] == "" {
				t.Fatalf("POST urls: %d %+v", code, urls)
			}
			started, err := run.app.store.GetSession(context.Background(), play.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			defer holdFirstLease(t, run, play.SessionID, cmcdLeaseTTL)()
			// The stall: the edge holds back the first segment that starts
			// half a second or more into this play (so the stall comes
			// after playing, not in the startup buffering, and dash.js's
			// pause, which may land late, leaves Shaka a segment to stall
			// at), so the player plays what it has, runs dry at that
			// segment's start and stalls there until drive.cjs, having seen
			// it stalled for stallFor, releases it; the viewer pauses half
			// a second of play later.
			holdFrom := heldSegment(resumeFrom)
			stallAt := float64((holdFrom - 1) * segmentSeconds)
			run.stall.arm(holdFrom)
			t.Cleanup(func() { run.stall.release() })
			q := url.Values{"player": {player}, "mpd": {urls.Manifests["dash"]}, "collector": {run.url + play.CMCDReportURL},
				"cid": {"big-buck-bunny"}, "interval": {"1"}, "start": {strconv.FormatFloat(startAt, 'f', 3, 64)}}
			var out struct {
				Reached bool `json:"reached"`
				Played  struct {
					Phase       string  `json:"phase"`
					Error       string  `json:"error"`
					CurrentTime float64 `json:"currentTime"`
				} `json:"played"`
				Stall struct {
					Stalled     bool    `json:"stalled"`
					CurrentTime float64 `json:"currentTime"`
					Held        int     `json:"held"`
				} `json:"stall"`
				PausedAt int64 `json:"pausedAt"`
				Held     struct {
					CurrentTime float64 `json:"currentTime"`
				} `json:"held"`
				Reports []struct {
					Method      string `json:"method"`
					At          int64  `json:"at"`
					Status      int    `json:"status"`
					ContentType string `json:"contentType"`
					Body        string `json:"body"`
					Query       string `json:"query"`
					Failure     string `json:"failure"`
				} `json:"reports"`
				Console []string `json:"console"`
			}
			hold := 35 * time.Second
			h.drive(t, map[string]any{"kind": "cmcd", "url": cross.URL + "/player/cmcd.html?" + q.Encode(),
				"untilTime": stallAt + 0.5, "notStalled": player == "shaka", "timeoutMS": 30000, "holdMS": hold.Milliseconds(),
				"stall": map[string]any{"at": stallAt, "ms": stallFor.Milliseconds(), "release": stallControl}}, &out)
			var lines []string
			for _, r := range out.Reports {
				lines = append(lines, strings.TrimSpace(r.Method+" "+http.StatusText(r.Status)+" "+r.ContentType+" "+r.Query+" "+r.Body+" "+r.Failure))
			}
			kinds := map[string]int{}
			keys := map[string]bool{}
			reportSID := ""
			var sequence []string // e/sta of each report, in the order sent
			var stamps []int64    // and its ts
			for _, r := range out.Reports {
				for _, line := range strings.Split(strings.TrimSpace(r.Body), "\n") {
					var e, sta string
					var ts int64
					for _, kv := range strings.Split(line, ",") {
						k, v, _ := strings.Cut(kv, "=")
						keys[k] = true
						switch k {
						case "e":
							e = v
						case "sta":
							sta = v
						case "ts":
							ts, _ = strconv.ParseInt(v, 10, 64)
						case "sid":
							reportSID = strings.Trim(v, `"`)
						}
					}
					kinds["e="+e+" sta="+sta]++
					sequence = append(sequence, e+"/"+sta)
					stamps = append(stamps, ts)
				}
			}
			t.Logf("%s: %d reports to the collector %v, e.g.\n  %s", player, len(out.Reports), kinds, strings.Join(lines[:min(len(lines), 4)], "\n  "))
			if !out.Reached {
				s, err := run.app.store.GetSession(context.Background(), play.SessionID)
				t.Logf("session now: %+v %v (first lease until %s); server saw:\n%s", s, err, started.ExpiresAt, seenText(run.requests()))
				t.Fatalf("%s did not play to %.1f s: %+v\nconsole: %q\nreports:\n%s", player, startAt+1, out.Played, out.Console, strings.Join(lines, "\n"))
			}

			// The lease: alive after a pause longer than a lease, renewed by
			// reports sent during the pause, each accepted.
			sess, err := run.app.store.GetSession(context.Background(), play.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			if !sess.Active(time.Now()) || !sess.ExpiresAt.After(started.ExpiresAt.Add(hold)) {
				t.Errorf("session after a %s pause: active %v, lease until %s (first lease until %s)", hold, sess.Active(time.Now()), sess.ExpiresAt, started.ExpiresAt)
			}
			during, bad := 0, 0
			for _, r := range out.Reports {
				if r.Status != http.StatusNoContent {
					bad++
					t.Errorf("report %s %q %q: status %d %s", r.Method, r.Body, r.Query, r.Status, r.Failure)
				}
				if r.At > out.PausedAt {
					during++
				}
			}
			if during < 5 || bad > 0 {
				t.Errorf("%d reports during the %s pause, %d refused", during, hold, bad)
			}
			// QoE, as the consumer stored it from the reports alone.
			deadline := time.Now().Add(15 * time.Second)
			var sq playback.SessionQoE
			for {
				sq, err = run.app.store.GetSessionQoE(context.Background(), play.SessionID)
				if err == nil && sq.QoE.StartupMS > 0 && sq.QoE.BitrateKbps > 0 && sq.QoE.RebufferCount > 0 && sq.QoE.RebufferMS >= 1000 || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			t.Logf("%s: session QoE %+v after %d reports", player, sq.QoE, sq.Heartbeats)
			if sq.QoE.StartupMS <= 0 || sq.QoE.BitrateKbps <= 0 || sq.QoE.PlayedMS <= 0 || sq.Heartbeats < 5 {
				t.Errorf("QoE from %s's CMCD: %+v (%d reports counted), want startup (msd), bitrate (br) and play time", player, sq.QoE, sq.Heartbeats)
			}
			// The stall, as the player told of it and the session's QoE
			// holds it: a change into rebuffering (e=ps, sta=r) after it
			// was playing, which counts one stall, and the time spent in
			// it (interval reports saying rebuffering, or bsd) as stall
			// time. Both players also report their first buffering as
			// rebuffering, so the count alone would not tell the forced
			// stall from startup; its time (at least stallFor, reported
			// every second) does: a second of it is the least asked.
			playing, midPlay := false, false
			for _, es := range sequence {
				playing = playing || es == "ps/p"
				midPlay = midPlay || playing && es == "ps/r"
			}
			t.Logf("%s: stalled at %.2f s (%v) with %d segment requests held back for %s: rebuffer count %d, %d ms",
				player, out.Stall.CurrentTime, out.Stall.Stalled, out.Stall.Held, stallFor, sq.QoE.RebufferCount, sq.QoE.RebufferMS)
			switch {
			case !out.Stall.Stalled || out.Stall.Held == 0:
				t.Errorf("%s did not stall at %.0f s with the segments from %d held back: %+v", player, stallAt, holdFrom, out.Stall)
			case !midPlay:
				t.Errorf("%s reported no change into rebuffering (e=ps, sta=r) after it was playing: %s", player, strings.Join(sequence, " "))
			case sq.QoE.RebufferCount < 1 || sq.QoE.RebufferMS < 1000:
				t.Errorf("QoE from %s's CMCD after a %s stall: rebuffer count %d, %d ms; want the stall counted and at least 1 s of it timed (sta=r, bsd)",
					player, stallFor, sq.QoE.RebufferCount, sq.QoE.RebufferMS)
			}
			// Play states: both players report playing and the pause as
			// they happen (e=ps), which is what moves the position.
			if kinds["e=ps sta=p"] == 0 || kinds["e=ps sta=a"] == 0 {
				t.Errorf("%s reported no play-state change to playing and paused: %v", player, kinds)
			}
			if keys["pt"] {
				t.Logf("%s sent pt: the position is the player's own", player)
			}

			// The resume position, as the app reads it to resume: moved on
			// from where this session started, towards where the player
			// paused and never past it. The rule errs early: play time
			// counts only between reports the device-time gate lets
			// through, and a report that reaches the consumer after a
			// newer one (the players post each report on its own, so they
			// overtake each other) is dropped with the state change it
			// carried. Half a second is the least movement asked of a
			// second of play or more.
			from := max(resumeFrom, 0)
			pausedMS := int64(out.Held.CurrentTime * 1000)
			var resumed int64
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				resumed = progressMS(t, run, tok)
				if resumed >= from+500 || time.Now().After(deadline) {
					break
				}
			}
			t.Logf("%s: resume position %d ms → %d ms; the player went from %d to %d ms (%.0f%% of its play counted); reports (e/sta): %s",
				player, resumeFrom, resumed, from, pausedMS, 100*float64(resumed-from)/float64(max(pausedMS-from, 1)),
				strings.Join(sequence[:min(len(sequence), 24)], " "))
			// A seek reported without pt once playing began loses the derived
			// position (cmcdPlayhead), but for one straight after the first
			// play, within heartbeat.FirstPlaySeekWindow: Shaka Player's own
			// (CI, stop 56: "ps/p ps/k" 84 ms apart), which takes it back to
			// where the play began, to move on from there, so the row asks
			// the 500 ms of such a run too. After a seek that lost it, the
			// position stays where the seek found it: never back, never past
			// the pause.
			seekAfterPlay, firstPlay, changes := false, -1, 0
			for i, es := range sequence {
				if !strings.HasPrefix(es, "ps/") {
					continue
				}
				if firstPlay >= 0 {
					changes++
				}
				switch {
				case es == "ps/p" && firstPlay < 0:
					firstPlay = i
				case es == "ps/k" && firstPlay >= 0 && !keys["pt"]:
					if after := stamps[i] - stamps[firstPlay]; changes == 1 && after <= heartbeat.FirstPlaySeekWindow.Milliseconds() {
						t.Logf("%s reported a seek %d ms after it first played, its own: the position goes back to where the play began", player, after)
					} else {
						seekAfterPlay = true
					}
				}
			}
			if seekAfterPlay {
				t.Logf("%s seeked after it began playing and sent no pt: the position is lost from then on", player)
				if resumed < from || resumed > pausedMS+1000 {
					t.Errorf("%s: resume position %d ms after the session (was %d), want from %d ms up to where the player paused, %d ms (+1 s)",
						player, resumed, resumeFrom, from, pausedMS)
				}
			} else if resumed < from+500 || resumed > pausedMS+1000 {
				t.Errorf("%s: resume position %d ms after the session (was %d), want moved on by at least 500 ms and at most to where the player paused, %d ms (+1 s)",
					player, resumed, resumeFrom, pausedMS)
			}
			if !sq.Playhead.Known {
				t.Errorf("%s: no derived playhead in the session's QoE: %+v", player, sq.Playhead)
			}

			// Request mode: the segment requests carried CMCD for the
			// player's own session id, and the edge logged it.
			logged := 0
			for _, l := range run.edgeLog() {
				if isSegment(l.Path) && l.Status == http.StatusOK && l.CMCD["sid"] == reportSID && l.CMCD["cid"] == "big-buck-bunny" &&
					l.CMCD["ot"] != "" && l.CMCD["br"] != "" {
					logged++
				}
			}
			if reportSID == "" || logged == 0 {
				t.Errorf("no segment line in the edge's access log with CMCD ot, br, cid and the sid %q of %s's event reports", reportSID, player)
			}
		})
	}
}

// holdFirstLease renews the session's lease every second, as its app
// would, until the collector has accepted a report for it, and returns
// what stops it. The page's load is not what TestBrowserCMCDEventMode is
// about, and on a loaded machine it has taken longer than a lease from
// POST /v1/play to the player's first report: the session lapsed and every
// report was answered 410. From the first accepted report on, only the
// player's reports hold the lease, and the viewer's pause (longer than a
// lease) starts after it: a lease that reports do not renew has lapsed
// by the pause's end.
func holdFirstLease(t *testing.T, run *recordedRunner, sessionID string, ttl time.Duration) (stop func()) {
	t.Helper()
	collector := "/v1/playback/" + sessionID + "/cmcd/"
	reported := func() bool {
		for _, r := range run.requests() {
			if strings.HasPrefix(r.Path, collector) && r.Status == http.StatusNoContent {
				return true
			}
		}
		return false
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			// Taken before the look: the last lease granted here runs
			// from before the first accepted report was recorded.
			now := time.Now()
			if reported() {
				return
			}
			if _, err := run.app.store.ExtendLease(context.Background(), sessionID, now.Add(ttl), now); err != nil {
				t.Errorf("holding the first lease of %s: %v", sessionID, err)
				return
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// heldSegment is the segment (1-based) TestBrowserCMCDEventMode holds back
// for a play resuming at resumeMS (-1: none): the first that starts half a
// second or more into the play. Past segmentCount the stream has none.
func heldSegment(resumeMS int64) int {
	startAt := float64(max(resumeMS, 0)) / 1000
	return int((startAt+0.5)/segmentSeconds) + 2
}

// progressMS is the caller's resume position on the test title, as an app
// reads it (GET /v1/progress), or -1 when there is none.
func progressMS(t *testing.T, run *recordedRunner, caller string) int64 {
	t.Helper()
	var p struct {
		PositionMS int64 `json:"position_ms"`
	}
	switch code := run.call(t, http.MethodGet, "/v1/progress?title_id=big-buck-bunny", caller, &p); code {
	case http.StatusOK:
		return p.PositionMS
	case http.StatusNotFound:
		return -1
	default:
		t.Fatalf("GET /v1/progress: %d", code)
		return 0
	}
}

// post sends body as JSON and decodes a 2xx answer into out.
func (r *recordedRunner) post(t *testing.T, path, token string, body, out any) int {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, r.url+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Logf("POST %s: %d %s", path, resp.StatusCode, got)
		return resp.StatusCode
	}
	if err := json.Unmarshal(got, out); err != nil {
		t.Fatalf("POST %s: %s: %v", path, got, err)
	}
	return resp.StatusCode
}

// segmentHold makes the local edge hold back the stream's segments from
// one number on (every rendition) until released: a player that has
// played what it had runs dry there and stalls for real, as behind a CDN
// that stops delivering. The test arms it before the page loads, the
// viewer (drive.cjs) releases it once the player has been stalled for a
// while.
type segmentHold struct {
	mu       sync.Mutex
	from     int           // 0: holds nothing
	released chan struct{} // closed on release
	held     int           // segment requests held back so far
}

// The local stream's shape (shared/localedge ladder.go: three segments of
// 2 s), which the stall is placed by.
const (
	segmentSeconds = 2
	segmentCount   = 3
)

var segmentNumber = regexp.MustCompile(`/seg([0-9]+)\.m4s$`)

// arm holds segment from and later ones until release.
func (s *segmentHold) arm(from int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.from, s.released, s.held = from, make(chan struct{}), 0
}

// release lets the held requests (and later ones) through and reports
// how many were held.
func (s *segmentHold) release() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.from > 0 {
		close(s.released)
		s.from = 0
	}
	return s.held
}

// wait blocks a request for a held segment until the release or until
// its client gave up.
func (s *segmentHold) wait(req *http.Request) {
	m := segmentNumber.FindStringSubmatch(req.URL.Path)
	if m == nil || !isSegment(req.URL.Path) {
		return
	}
	n, _ := strconv.Atoi(m[1])
	s.mu.Lock()
	if s.from == 0 || n < s.from {
		s.mu.Unlock()
		return
	}
	s.held++
	released := s.released
	s.mu.Unlock()
	select {
	case <-released:
	case <-req.Context().Done():
	}
}

// startStallControl serves drive.cjs's "end the stall" call: POST
// releases the held segments and answers {"held": n}.
func startStallControl(t *testing.T, r *recordedRunner) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]int{"held": r.stall.release()})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// testCMCDReauthorized: a play reported through the player's own CMCD
// alone (web/player/cmcd.html) goes on across a re-authorization. The page
// holds no token, so the app re-authorizes: it plays a second (the
// viewer pauses, reports go on), then POST /v1/play on the same device
// replaces the session, and the app loads the page again with the new
// session's collector from where it paused, with the same sid: the
// session_id of the play's first POST /v1/play, which the collector reads
// as the play the session goes on with (events/schemas/cmcd.md). The
// runner's QoE then holds one started view for the play, not one per
// session, each counting start-up again.
func (h *harness) testCMCDReauthorized(t *testing.T, player string) {
	run := h.run
	device := playback.NewID("cmcd")
	tok := run.token(t, demo.AccountSolo)
	t.Cleanup(func() { run.endDeviceSessions(t, demo.AccountSolo, device) })
	counted := h.qoeTotals(t)
	var first string
	startAt := 0.0
	for i := range 2 {
		var play struct {
			SessionID     string `json:"session_id"`
			PlaybackToken string `json:"playback_token"`
			CMCDReportURL string `json:"cmcd_report_url"`
		}
		if code := run.post(t, "/v1/play", tok, map[string]string{"title_id": "big-buck-bunny", "device_id": device}, &play); code != http.StatusCreated {
			t.Fatalf("POST /v1/play (%d): %d", i+1, code)
		}
		if first == "" {
			first = play.SessionID
		}
		var urls struct {
			Manifests map[string]string `json:"manifests"`
		}
		if code := run.post(t, "/v1/playback/"+play.SessionID+"/urls", play.PlaybackToken, map[string]string{"cdn": localCloudFront}, &urls); code != http.StatusOK || urls.Manifests["dash"] == "" {
			t.Fatalf("POST urls: %d %+v", code, urls)
		}
		stop := holdFirstLease(t, run, play.SessionID, leaseTTL)
		q := url.Values{"player": {player}, "mpd": {urls.Manifests["dash"]}, "collector": {run.url + play.CMCDReportURL},
			"cid": {"big-buck-bunny"}, "interval": {"1"}, "sid": {first}, "start": {strconv.FormatFloat(startAt, 'f', 3, 64)}}
		var out struct {
			Reached bool `json:"reached"`
			Played  struct {
				Phase string `json:"phase"`
				Error string `json:"error"`
			} `json:"played"`
			Held struct {
				CurrentTime float64 `json:"currentTime"`
			} `json:"held"`
			Reports []struct {
				Status int    `json:"status"`
				Body   string `json:"body"`
			} `json:"reports"`
			Console []string `json:"console"`
		}
		h.drive(t, map[string]any{"kind": "cmcd", "url": h.cross + "/player/cmcd.html?" + q.Encode(),
			"untilTime": startAt + 1, "notStalled": player == "shaka", "timeoutMS": 30000, "holdMS": 2000}, &out)
		stop()
		accepted := 0
		for _, r := range out.Reports {
			if r.Status == http.StatusNoContent {
				accepted++
			}
		}
		if !out.Reached || accepted == 0 {
			t.Fatalf("%s in session %d (%s) did not play to %.1f s with reports accepted: %+v, %d of %d reports accepted\nconsole: %q",
				player, i+1, play.SessionID, startAt+1, out.Played, accepted, len(out.Reports), out.Console)
		}
		t.Logf("%s in session %d (%s): paused at %.2f s, %d reports accepted", player, i+1, play.SessionID, out.Held.CurrentTime, accepted)
		startAt = out.Held.CurrentTime
	}
	now := h.qoeTotals(t)
	got := playback.QoEAggregate{Views: now.Views - counted.Views, Started: now.Started - counted.Started,
		ExitsBeforeStart: now.ExitsBeforeStart - counted.ExitsBeforeStart, Failures: now.Failures - counted.Failures}
	if got != (playback.QoEAggregate{Views: 1, Started: 1}) {
		t.Errorf("GET /v1/admin/qoe counts %d views, %d started, %d exits before start, %d failures more for the CMCD-only play re-authorized from %s; want one started view",
			got.Views, got.Started, got.ExitsBeforeStart, got.Failures, first)
	}
}

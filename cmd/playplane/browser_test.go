package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/playurl"
	"github.com/playplane/playplane/web"
)

// TestBrowserPlayback plays the player page (web/player) in headless
// Chromium against the local runner: from a page on a second origin, so
// every /v1 call crosses origins as a web app's would, for HLS and DASH and
// for each CDN and grant style the runner signs (CloudFront and Cloud CDN,
// signed query and signed cookies). It checks, in the browser and at the
// server: CORS (and that a page of a disallowed origin is refused),
// playback past 3 s of currentTime, CMCD on every segment request and in
// the edge's access log, heartbeats reaching /v1/progress with the page's
// QoE, content steering (the pathway in use fails, the player moves to the
// other CDN's host), the renditions the plan allows (a basic plan is
// offered SD only and a guessed UHD URL gets 403 from the page), the 409
// list's "end this stream", 410 for the ended session's manifests, and
// that a stop clicked while a progress heartbeat is in flight reaches the
// server after it (beatHold).
//
// Chromium is Debian's headless shell, chromium-headless-shell
// (infra/local/install-browser.sh, which `make test` runs, says why),
// driven over CDP by web/browsertest/drive.cjs with playwright-core; the
// test starts and stops the browser itself, by the process group its PID
// leads.
func TestBrowserPlayback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	t.Parallel()
	tools := browserTools(t)

	// Every CDN and grant style, half of them on the basic plan (SD only)
	// and half on premium (the whole ladder). Each row makes the pathway
	// it plays from fail and watches the player steer to the other one,
	// except DASH with query grants: a query-grant MPD serves one pathway
	// (docs/manifests.md), so there is nothing to steer to.
	rows := []playRow{
		// One API call before the manifest: the page plays from the
		// play answer, on the steering server's first choice.
		{name: "play-answer-only", grant: "query", account: demo.AccountKids, oneCall: true},
		{name: "cloudfront-query", cdn: localCloudFront, grant: "query", account: demo.AccountKids},
		{name: "cloudfront-cookies", cdn: localCloudFront, grant: "cookies", account: demo.AccountSolo},
		{name: "cloudcdn-query", cdn: localCloudCDN, grant: "query", account: demo.AccountSolo},
		{name: "cloudcdn-cookies", cdn: localCloudCDN, grant: "cookies", account: demo.AccountKids},
		// The default CDN failed before the session: it starts on the
		// steering server's first choice (from the play answer, and
		// from urls without a CDN), so the first steering answer,
		// held to land while the first segment loads, moves nothing.
		// hls.js 1.7.4 never played when that answer moved it.
		{name: "play-answer-off-default", grant: "query", account: demo.AccountKids, oneCall: true, offDefault: true},
		{name: "urls-off-default", grant: "cookies", account: demo.AccountSolo, offDefault: true},
		// The page names the CDN the steady ranking does not put
		// first: the first steering answer, held to land while the
		// first segment loads, keeps it first (the steering URI
		// names the start); the answers after it move the player,
		// mid-play. hls.js 1.7.4 never played when that first answer
		// moved it.
		{name: "named-off-ranking", cdn: localCloudFront, grant: "query", account: demo.AccountKids, namedOffRanking: true},
		// The viewer clicks stop while the server holds a progress
		// heartbeat: the page must send its stop only once that
		// progress is answered (beatHold).
		{name: "stop-during-progress", grant: "query", account: demo.AccountKids, stopDuringBeat: true},
		// A title whose stored manifests name their objects in legal
		// forms a packager may write (oddTitle): the personalized
		// manifests must lead the player to the same objects, granted.
		{name: "stored-dot-segments-period-template", grant: "query", account: demo.AccountSolo, title: oddTitle},
	}
	// HLS and DASH play side by side, each on a harness of its own (its
	// runner and data, page origins, steering control and Chromium), so
	// the CDN failures and holds one row sets up reach no other format's
	// player. A row mostly waits for the stream to play in real time
	// (5-11 s each, ~75 s for HLS's nine in a row), so side by side they
	// take the time of the longer one. DASH's harness also runs CORS and
	// the stream limit (~60 s in all). They run from goroutines rather
	// than as parallel subtests: -parallel (default: the number of CPUs)
	// sizes CPU-bound tests, and two waiting players would otherwise take
	// both of a 2-core machine's slots, or wait for them.
	var formats sync.WaitGroup
	for _, format := range []string{"hls", "dash"} {
		formats.Go(func() {
			t.Run(format, func(t *testing.T) {
				h := newBrowserHarness(t, tools)
				if format == "dash" {
					t.Run("cors", h.testCORS)
				}
				for _, r := range rows {
					if r.namedOffRanking && format != "hls" {
						continue // the stall is hls.js's
					}
					if r.stopDuringBeat && format != "hls" {
						continue // the page's heartbeats, whatever plays
					}
					r.format = format
					// The one-call rows prove the start from the play answer, the
					// CDN rows steering mid-play (the pathway fails once the
					// player has buffered, which hls.js survives).
					r.steer = !r.oneCall && !r.offDefault && !r.namedOffRanking && !r.stopDuringBeat && r.title == "" && (format == "hls" || r.grant == "cookies")
					t.Run(r.name, func(t *testing.T) {
						h.testPlay(t, r, h.cross)
					})
				}
				if format == "dash" {
					t.Run("stream limit: end this stream", h.testConflict)
				}
				if len(h.firstFrames) > 0 {
					t.Logf("time to first frame: %s", strings.Join(h.firstFrames, ", "))
				}
				if len(h.switches) > 0 {
					t.Logf("pathway failure to steering answer without it, in the player: %s", strings.Join(h.switches, ", "))
				}
			})
		})
	}
	formats.Wait()
}

// newBrowserHarness starts what the browser tests play against: the
// runner (recorded, with the test as the edges' health agents), the page's
// two origins, the steering control and Chromium.
func newBrowserHarness(t *testing.T, tools browserToolPaths) *harness {
	t.Helper()
	// The runner's variables, its own (startRecordedRunner): harnesses
	// run side by side.
	vars := map[string]string{
		// Heartbeats every second instead of every 30: the server tells the
		// page its cadence, and the test wants several within seconds.
		"HEARTBEAT_INTERVAL": "1s",
		// Steering answers live a second (the floor) instead of 300 s, so a
		// player learns within seconds that its pathway's edges failed.
		"STEERING_TTL":          "1s",
		"STEERING_DEGRADED_TTL": "1s",
		// The rankings' cached edge tables (pickedge's, and signurl's for the
		// pathway a session starts on) follow the table within this.
		"PICKEDGE_REFRESH": rankingRefresh.String(),
	}

	cross := startPageServer(t)   // the web app's origin, allowed by CORS
	blocked := startPageServer(t) // an origin CORS_ALLOWED_ORIGINS leaves out
	run := startRecordedRunner(t, cross.URL, vars)
	browser := startChromium(t, tools.chromium)
	return &harness{t: t, tools: tools, run: run, cdp: browser, driver: startDriver(t, tools, browser), cross: cross.URL, blocked: blocked.URL, artifacts: artifactDir(t),
		control: startSteeringControl(t, run), beatControl: startBeatControl(t, run.beats), soloDevices: [2]string{playback.NewID("tv"), playback.NewID("laptop")}}
}

// rankingRefresh is PICKEDGE_REFRESH in the browser tests.
const rankingRefresh = 100 * time.Millisecond

// playRow is one playback of TestBrowserPlayback.
type playRow struct {
	name, format, cdn, grant, account string
	steer                             bool
	oneCall                           bool // ?start=play: no urls or edges call
	// offDefault: the default CDN's edges fail before the session starts,
	// so the steering server's first choice is the other CDN, and its
	// first answer lands while the first segment loads (firstAnswerRace).
	offDefault bool
	// namedOffRanking: the row's CDN is not the steady ranking's first
	// choice, and the first answer lands while the first segment loads;
	// the second lands once that segment is played in
	// (firstAnswerRace.armSettled), so the move it makes is a mid-play one.
	namedOffRanking bool
	// stopDuringBeat: the viewer clicks stop while the server holds the
	// page's next progress heartbeat (beatHold).
	stopDuringBeat bool
	title          string // default big-buck-bunny
}

// oddTitle's stored manifests, as the runner's origin serves them to
// signurl, name their objects in forms the specifications allow and
// packagers write (oddStored): HLS URIs with dot segments (./seg1.m4s,
// ../sd/seg2.m4s, RFC 3986 5.2.4), and the MPD's SegmentTemplate at Period
// level (ISO/IEC 23009-1 5.3.9.1). Its objects are every title's.
const oddTitle = "sintel"

// oddStored rewrites a stored manifest of oddTitle (name is its path
// under the title's folder) into those forms.
func oddStored(name string, body []byte) []byte {
	s := string(body)
	switch {
	case name == "master.m3u8":
		s = strings.ReplaceAll(s, "\nsd/", "\n./sd/")
	case strings.HasSuffix(name, "/media.m3u8"):
		rendition, _, _ := strings.Cut(name, "/")
		s = strings.NewReplacer(`URI="init.mp4"`, `URI="./init.mp4"`, "\nseg1.", "\n./seg1.", "\nseg2.", "\n../"+rendition+"/seg2.",
			"\nseg3.", "\nparts/../seg3.").Replace(s)
	case name == "manifest.mpd":
		start, end := strings.Index(s, "<SegmentTemplate"), strings.Index(s, "</SegmentTemplate>")
		period := strings.Index(s, "<Period")
		if start < 0 || end < 0 || period < 0 {
			return body
		}
		end += len("</SegmentTemplate>")
		tmpl := s[start:end]
		s = s[:start] + s[end:]
		at := period + strings.IndexByte(s[period:], '>') + 1
		s = s[:at] + tmpl + s[at:]
	}
	return []byte(s)
}

type harness struct {
	t              *testing.T
	tools          browserToolPaths
	run            *recordedRunner
	cdp            string
	driver         *driver
	cross, blocked string
	artifacts      string
	control        string // startSteeringControl's URL
	beatControl    string // startBeatControl's URL
	// soloDevices are the basic plan's two devices (it allows two
	// registered devices), shared by every test playing on it.
	soloDevices [2]string
	mu          sync.Mutex
	firstFrames []string
	switches    []string
}

// pageURL is the player page on origin playing for account. It starts
// from the beginning unless q says from: the rows measure from a start at
// 0 (seconds played, segments left to steer), while the account's resume
// position on the title moves with every row.
func (h *harness) pageURL(origin string, q url.Values) string {
	if origin != h.run.url {
		q.Set("api", h.run.url)
	}
	if !q.Has("from") {
		q.Set("from", "beginning")
	}
	return origin + "/player/?" + q.Encode()
}

// pageState is the part of window.playplane the test reads.
type pageState struct {
	Phase       string      `json:"phase"`
	Error       string      `json:"error"`
	SessionID   string      `json:"sessionID"`
	Device      string      `json:"device"`
	CrossOrigin bool        `json:"crossOrigin"`
	StartupMS   *int        `json:"startupMS"`
	CurrentTime float64     `json:"currentTime"`
	CMCDMode    string      `json:"cmcdMode"`
	Pathway     string      `json:"pathway"`
	Edge        string      `json:"edge"`
	Stalls      int         `json:"stalls"`
	StallMS     float64     `json:"stallMS"`
	PlayedMS    float64     `json:"playedMS"`
	Steering    int         `json:"steeringLoads"`
	Priority    []string    `json:"steeringPriority"`
	Levels      []pageLevel `json:"levels"`
	FromPlay    bool        `json:"startedFromPlay"`
	Source      *struct {
		Kind string `json:"kind"`
		URL  string `json:"url"`
	} `json:"source"`
	URLs *struct {
		ManifestURL string            `json:"manifest_url"`
		Manifests   map[string]string `json:"manifests"`
		SteeringURI string            `json:"steering_uri"`
		CDN         string            `json:"cdn"`
	} `json:"urls"`
	Play *struct {
		TokenExpiresAt time.Time `json:"token_expires_at"`
		LicenceEndsAt  time.Time `json:"licence_ends_at"`
	} `json:"play"`
	// EndReason is a 410's details.end_reason, EndNotice what the page
	// told its viewer of it.
	EndReason string `json:"endReason"`
	EndNotice string `json:"endNotice"`
	Conflict  []struct {
		SessionID string `json:"session_id"`
		DeviceID  string `json:"device_id"`
	} `json:"conflict"`
	Beats struct {
		Sent, OK int
		Last     *struct {
			Event      string `json:"event"`
			Status     int    `json:"status"`
			PositionMS int64  `json:"position_ms"`
		} `json:"last"`
		Statuses []int `json:"statuses"`
		// OKSessions are the sessions with a heartbeat accepted, in order.
		OKSessions []string `json:"okSessions"`
	} `json:"beats"`
	Log []string `json:"log"`
}

// pageLevel is a rendition the player was offered.
type pageLevel struct {
	Height  int    `json:"height"`
	Bitrate int    `json:"bitrate"`
	Pathway string `json:"pathway"`
}

type pageRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Status  int               `json:"status"`
	CMCD    map[string]string `json:"cmcd"`
	Failure string            `json:"failure"`
}

func (h *harness) testPlay(t *testing.T, row playRow, origin string) {
	format, cdn, grant, account := row.format, row.cdn, row.grant, row.account
	device := playback.NewID("web")
	if account == demo.AccountSolo {
		device = h.soloDevices[0]
	}
	t.Cleanup(func() {
		if account == demo.AccountSolo {
			h.run.endDeviceSessions(t, account, device)
			return
		}
		// Every other row registers a device of its own: removing it
		// (which ends its sessions too) keeps the rows together under
		// the plan's device limit, whatever order they run in.
		h.run.removeDevice(t, account, device)
	})
	h.run.reset()
	shot := filepath.Join(h.artifacts, strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())+".png")
	var out struct {
		Reached   bool          `json:"reached"`
		Played    pageState     `json:"played"`
		Stopped   *pageState    `json:"stopped"`
		Requests  []pageRequest `json:"requests"`
		Console   []string      `json:"console"`
		Manifests []struct {
			URL  string `json:"url"`
			Body string `json:"body"`
		} `json:"manifests"`
		Steer    *steerResult    `json:"steer"`
		BeatHold *beatHoldResult `json:"beatHold"`
		Guess    *struct {
			URL    string `json:"url"`
			Status int    `json:"status"`
			Reason string `json:"reason"`
			Error  string `json:"error"`
		} `json:"guess"`
	}
	basic := account == demo.AccountSolo
	title := row.title
	if title == "" {
		title = "big-buck-bunny"
	}
	page := url.Values{"autoplay": {"1"}, "account": {account}, "title": {title},
		"format": {format}, "cdn": {cdn}, "grant": {grant}, "device": {device}}
	scenario := map[string]any{"kind": "play", "untilTime": 3, "timeoutMS": 30000, "stop": true, "screenshot": shot,
		"guessUHD": basic, "grantCookies": grant == "cookies"}
	if row.oneCall {
		page.Set("start", "play")
	}
	if row.offDefault {
		h.run.failCDNNow(t, localCloudFront)
		t.Cleanup(func() { h.run.failCDNNow(t, "") })
		h.run.race.arm()
		t.Cleanup(h.run.race.disarm)
	}
	if row.namedOffRanking {
		h.run.race.armSettled()
		t.Cleanup(h.run.race.disarm)
	}
	if row.stopDuringBeat {
		// drive.cjs arms the hold itself once the player is paused.
		scenario["beatHold"] = h.beatControl
		t.Cleanup(h.run.beats.disarm)
	}
	if row.steer && cdn != "" {
		// The row's CDN is the steering server's first choice while it
		// starts (the other's edges report unhealthy until the steer makes
		// the row's CDN fail instead): for this title the steady ranking
		// puts local-cloudcdn first, and a first steering answer that
		// moves a player off the CDN its app named can stop hls.js 1.7.4
		// for good (firstAnswerRace). The only pathway switch is the one
		// the row makes, once the player has buffered.
		for other := range h.run.cdnHosts {
			if other != cdn {
				h.run.failCDNNow(t, other)
			}
		}
	}
	if row.steer {
		// A one-second buffer leaves the later segments of the 6 s test
		// stream to be fetched after the steer; playing to 4.5 s needs
		// the last one.
		page.Set("buffer", "1")
		scenario["untilTime"] = 4.5
		scenario["steer"] = map[string]any{"control": h.control, "timeoutMS": 15000}
		// Healed before the next row starts: a row naming its CDN starts
		// there whatever the ranking says, and a first steering answer
		// that moves it can stop hls.js (see firstAnswerRace).
		t.Cleanup(func() { h.run.failCDNNow(t, "") })
	}
	scenario["url"] = h.pageURL(origin, page)
	h.drive(t, scenario, &out)
	t.Logf("screenshot: %s", shot)
	s := out.Played
	if format == "dash" && s.URLs != nil && s.URLs.Manifests["dash"] == "" {
		t.Fatalf("the urls response has no manifests.dash; page said: %s", s.Error)
	}
	if !out.Reached || s.StartupMS == nil {
		t.Fatalf("playback did not pass 3 s: phase %s (%s), currentTime %.2f\npage log:\n%s\nrequests:\n%s\nconsole: %q",
			s.Phase, s.Error, s.CurrentTime, strings.Join(s.Log, "\n"), requestsText(out.Requests), out.Console)
	}
	if s.CrossOrigin != (origin != h.run.url) {
		t.Fatalf("page crossOrigin=%v, want %v", s.CrossOrigin, origin != h.run.url)
	}
	t.Logf("%s %s/%s from %s: source %s, first frame after %d ms, currentTime %.2f s, CMCD %s, pathway %s, edge %s, stalls %d",
		format, cdn, grant, origin, s.Source.Kind, *s.StartupMS, s.CurrentTime, s.CMCDMode, s.Pathway, s.Edge, s.Stalls)
	h.mu.Lock()
	h.firstFrames = append(h.firstFrames, fmt.Sprintf("%s=%dms", t.Name(), *s.StartupMS))
	h.mu.Unlock()

	seen := h.run.requests()
	if row.oneCall {
		// The page's only API call before the manifest was play: it asked
		// for no urls and no edges, and loaded the play answer's manifest.
		if !s.FromPlay || s.Source == nil || s.URLs == nil || s.Source.URL != s.URLs.Manifests[format] {
			t.Errorf("the page did not start from the play answer: fromPlay %v, source %+v", s.FromPlay, s.Source)
		}
		for _, r := range seen {
			if r.Method == http.MethodPost && (r.Path == "/v1/playback/"+s.SessionID+"/urls" || r.Path == "/v1/playback/"+s.SessionID+"/edges") {
				t.Errorf("one-call start made %s %s", r.Method, r.Path)
			}
		}
	}
	// CORS: the page's API calls went across origins and were let through
	// (a refused call never reaches playback); the server saw the
	// preflight and the call carrying the page's Origin.
	if origin != h.run.url {
		if !slices.ContainsFunc(seen, func(r seenRequest) bool {
			return r.Method == http.MethodOptions && r.Path == "/v1/play" && r.Origin == origin && r.Status == http.StatusNoContent
		}) || !slices.ContainsFunc(seen, func(r seenRequest) bool {
			return r.Method == http.MethodPost && r.Path == "/v1/play" && r.Origin == origin && r.Status == http.StatusCreated
		}) {
			t.Errorf("no cross-origin preflight and POST /v1/play from %s at the server:\n%s", origin, seenText(seen))
		}
	}

	// CMCD: every segment request carried it, for this session, as the
	// query parameter (headers would need a preflight, which a CDN refuses
	// for a Cloud CDN signed URL).
	if s.CMCDMode != "query" {
		t.Errorf("CMCD mode %q, want query", s.CMCDMode)
	}
	segments := 0
	for _, r := range seen {
		// HEAD is the page's guess at a UHD URL, not the player.
		if !isSegment(r.Path) || r.Method == http.MethodHead {
			continue
		}
		segments++
		if !strings.Contains(r.CMCDQuery, `sid="`+s.SessionID+`"`) {
			t.Errorf("segment request %s %s without CMCD for session %s: query %q headers %q", r.Method, r.Path, s.SessionID, r.CMCDQuery, r.CMCDHeaders)
		}
		if r.Status != http.StatusOK {
			t.Errorf("segment %s: %d", r.Path, r.Status)
		}
	}
	if segments == 0 {
		t.Errorf("the edge saw no segment requests:\n%s", seenText(seen))
	}
	// The same, as the edge's access log has it (what a CDN's logs would
	// feed to analytics): every segment line carries the session's CMCD.
	logged := 0
	for _, l := range h.run.edgeLog() {
		if !isSegment(l.Path) || l.Status != http.StatusOK {
			continue
		}
		logged++
		if l.CMCD["sid"] != s.SessionID || l.CMCD["cid"] != title || l.CMCD["ot"] != "v" || l.CMCD["br"] == "" {
			t.Errorf("edge access log line %s: CMCD %v, want sid %s, cid, ot=v and br", l.Path, l.CMCD, s.SessionID)
		}
	}
	if logged == 0 {
		t.Errorf("no segment line in the edge's access log")
	}

	// The plan's cap, as the player sees it: its rendition list, and a
	// guessed UHD URL fetched from the page.
	heights := map[int]bool{}
	for _, l := range s.Levels {
		heights[l.Height] = true
	}
	want := map[int]bool{360: true, 720: true, 2160: true}
	if basic {
		want = map[int]bool{360: true}
	}
	if !maps.Equal(heights, want) {
		t.Errorf("the player was offered renditions of heights %v, want %v (plan %s)", slices.Sorted(maps.Keys(heights)), slices.Sorted(maps.Keys(want)), account)
	}
	if basic {
		if g := out.Guess; g == nil || g.Status != http.StatusForbidden {
			t.Errorf("a guessed UHD URL fetched from the basic plan's page: %+v, want 403", g)
		} else {
			t.Logf("guessed %s from the page: %d", strings.SplitN(g.URL, "?", 2)[0], g.Status)
		}
	}
	if row.steer {
		h.checkSteer(t, out.Steer, s, seen)
	}
	if row.offDefault {
		h.checkStartOffDefault(t, s, seen, out.Manifests)
	}
	if row.namedOffRanking {
		h.checkNamedStart(t, s, cdn, seen, out.Manifests)
	}

	if row.stopDuringBeat {
		h.checkStopDuringBeat(t, out.BeatHold, out.Stopped)
	}
	if title == oddTitle {
		// Not vacuous: signurl read the rewritten manifests, the ones
		// this format's player was served from.
		h.run.mu.Lock()
		served := slices.Clone(h.run.oddServed)
		h.run.mu.Unlock()
		want := map[string]string{"hls": "sd/media.m3u8", "dash": "manifest.mpd"}[format]
		if !slices.Contains(served, want) {
			t.Errorf("the origin served %v of %s rewritten, want %s", served, oddTitle, want)
		}
	}

	// Heartbeats: start, progress and stop reached the server, and the
	// resume position this device reached is stored.
	if out.Stopped == nil || out.Stopped.Beats.Last == nil || out.Stopped.Beats.Last.Event != "stop" || out.Stopped.Beats.Last.Status != http.StatusOK {
		t.Fatalf("stop heartbeat not accepted: %+v", out.Stopped)
	}
	beats := 0
	for _, r := range seen {
		if r.Method == http.MethodPost && r.Path == "/v1/playback/"+s.SessionID+"/heartbeat" && r.Status == http.StatusOK {
			beats++
		}
	}
	if beats < 2 {
		t.Errorf("the server accepted %d heartbeats of session %s, want start and stop at least", beats, s.SessionID)
	}
	progress := h.run.waitProgress(t, account, title, device, 3000)
	t.Logf("progress stored: %d of %d ms by %s after %d heartbeats", progress.PositionMS, progress.DurationMS, progress.DeviceID, beats)
	// The QoE the page measured from player events is what the session's
	// record holds (written by the same consumer batch as the position).
	q, err := h.run.app.store.GetSessionQoE(context.Background(), s.SessionID)
	if err != nil {
		t.Fatalf("session QoE of %s: %v", s.SessionID, err)
	}
	if q.QoE.StartupMS != *s.StartupMS || q.QoE.StartupMS <= 0 || q.QoE.CDN != s.Pathway || q.QoE.EdgeID != s.Edge ||
		q.QoE.PlayedMS < 1000 || q.QoE.BitrateKbps <= 0 {
		t.Errorf("stored QoE %+v, want startup %d ms, pathway %s, edge %s, 1 s played and a bitrate", q.QoE, *s.StartupMS, s.Pathway, s.Edge)
	}

	t.Run("steering", func(t *testing.T) {
		if !slices.ContainsFunc(out.Manifests, func(m struct {
			URL  string `json:"url"`
			Body string `json:"body"`
		}) bool {
			return strings.Contains(m.Body, "#EXT-X-CONTENT-STEERING") || strings.Contains(m.Body, "<ContentSteering")
		}) {
			t.Fatalf("the manifest the player loaded names no steering server (no EXT-X-CONTENT-STEERING / ContentSteering)")
		}
		fetched := 0
		for _, r := range seen {
			if r.Method == http.MethodGet && strings.HasPrefix(r.Path, "/v1/steering/") && r.Status == http.StatusOK {
				fetched++
			}
		}
		if fetched == 0 || s.Steering == 0 {
			t.Errorf("manifest names a steering server but the server answered %d steering requests and the player loaded %d steering manifests", fetched, s.Steering)
		}
	})
}

// steerResult is what drive.cjs saw while it made a pathway fail.
type steerResult struct {
	Started       bool     `json:"started"`
	Error         string   `json:"error"`
	FailedHost    string   `json:"failedHost"`
	FailedCDN     string   `json:"failedCDN"`
	FailAt        int64    `json:"failAt"`    // Unix ms
	SteeredAt     int64    `json:"steeredAt"` // Unix ms
	Steered       bool     `json:"steered"`
	Priority      []string `json:"priority"`
	SteeringLoads int      `json:"steeringLoads"`
}

// checkSteer: once the pathway the player fetched from reported its edges
// unhealthy, the steering server left it out, the player's steering
// answer named the other pathway first, and every segment the player
// fetched after that came from the other pathway's host.
func (h *harness) checkSteer(t *testing.T, st *steerResult, s pageState, seen []seenRequest) {
	t.Helper()
	if st == nil || !st.Started || st.Error != "" {
		t.Fatalf("steering scenario did not run: %+v", st)
	}
	other := ""
	for cdn := range h.run.cdnHosts {
		if cdn != st.FailedCDN {
			other = cdn
		}
	}
	if !st.Steered || len(st.Priority) == 0 || st.Priority[0] != other {
		t.Fatalf("after %s (%s) failed, the player's steering answer is %v after %d loads, want %s first", st.FailedCDN, st.FailedHost, st.Priority, st.SteeringLoads, other)
	}
	switchMS := st.SteeredAt - st.FailAt
	t.Logf("steering: %s failed at the player's pathway; the player had %v after %d ms; it ends on pathway %s", st.FailedCDN, st.Priority, switchMS, s.Pathway)
	h.mu.Lock()
	h.switches = append(h.switches, fmt.Sprintf("%s=%dms", t.Name(), switchMS))
	h.mu.Unlock()
	if s.Pathway != other {
		t.Errorf("the player reports pathway %q, want %q", s.Pathway, other)
	}
	steeredAt := time.UnixMilli(st.SteeredAt)
	before, after := map[string]int{}, map[string]int{}
	for _, r := range seen {
		if !isSegment(r.Path) || r.Method != http.MethodGet {
			continue
		}
		if r.At.Before(time.UnixMilli(st.FailAt)) {
			before[r.Host]++
		} else if r.At.After(steeredAt) {
			after[r.Host]++
		}
	}
	t.Logf("segment requests by host: before the failure %v, after the steer %v", before, after)
	if before[st.FailedHost] == 0 {
		t.Errorf("no segment came from the failed pathway's host %s before it failed: %v", st.FailedHost, before)
	}
	if after[h.run.cdnHosts[other]] == 0 || len(after) != 1 {
		t.Errorf("segments after the steer came from %v, want %s (%s) only", after, h.run.cdnHosts[other], other)
	}
}

// checkStartOffDefault: with the default CDN failed, the session started
// on the other one, the steering server's first choice: the manifest the
// player loaded names it as the pathway to start on, the first steering
// answer (held to land while the first segment loaded) left the player
// there, and every segment came from its host.
func (h *harness) checkStartOffDefault(t *testing.T, s pageState, seen []seenRequest, manifests []struct {
	URL  string `json:"url"`
	Body string `json:"body"`
}) {
	t.Helper()
	if raced := h.run.race.result(); raced != [2]bool{true, true} {
		t.Errorf("the first steering answer did not land while the first segment loaded (held until a segment asked: %v; segment held until the next steering request: %v)", raced[0], raced[1])
	}
	if len(s.Priority) == 0 || s.Priority[0] != localCloudCDN {
		t.Errorf("the player's steering answer is %v, want %s first", s.Priority, localCloudCDN)
	}
	if !slices.ContainsFunc(manifests, func(m struct {
		URL  string `json:"url"`
		Body string `json:"body"`
	}) bool {
		for line := range strings.Lines(m.Body) {
			if strings.HasPrefix(line, "#EXT-X-CONTENT-STEERING:") && strings.Contains(line, `PATHWAY-ID="`+localCloudCDN+`"`) {
				return true
			}
		}
		return strings.Contains(m.Body, `<ContentSteering defaultServiceLocation="`+localCloudCDN+`"`)
	}) {
		t.Errorf("no manifest the player loaded starts on %s", localCloudCDN)
	}
	if s.Pathway != localCloudCDN {
		t.Errorf("the player reports pathway %q, want %q", s.Pathway, localCloudCDN)
	}
	hosts := map[string]int{}
	for _, r := range seen {
		if isSegment(r.Path) && r.Method == http.MethodGet {
			hosts[r.Host]++
		}
	}
	if len(hosts) != 1 || hosts[h.run.cdnHosts[localCloudCDN]] == 0 {
		t.Errorf("segments came from %v, want %s (%s) only", hosts, h.run.cdnHosts[localCloudCDN], localCloudCDN)
	}
}

// checkNamedStart: the session started on cdn, the page's, which the
// steady ranking does not put first: the manifest the player loaded names
// it as the pathway to start on and its steering URI names it as the
// start, the first steering answer (held to land while the first segment
// loaded) left the player there, so the first segment came from its host
// (and the player played, which testPlay checked); later answers rank
// freely.
func (h *harness) checkNamedStart(t *testing.T, s pageState, cdn string, seen []seenRequest, manifests []struct {
	URL  string `json:"url"`
	Body string `json:"body"`
}) {
	t.Helper()
	if raced := h.run.race.result(); raced != [2]bool{true, true} {
		t.Errorf("the first steering answer did not land while the first segment loaded (held until a segment asked: %v; segment held until the next steering request: %v)", raced[0], raced[1])
	}
	named := false
	for _, m := range manifests {
		for line := range strings.Lines(m.Body) {
			if strings.HasPrefix(line, "#EXT-X-CONTENT-STEERING:") && strings.Contains(line, `PATHWAY-ID="`+cdn+`"`) &&
				strings.Contains(line, playurl.SteeringStart+"="+cdn+"&") {
				named = true
			}
		}
	}
	if !named {
		t.Errorf("no manifest the player loaded starts on %s with a steering URI naming it", cdn)
	}
	var first, steered []seenRequest
	for _, r := range seen {
		switch {
		case isSegment(r.Path) && r.Method == http.MethodGet:
			first = append(first, r)
		case strings.HasPrefix(r.Path, "/v1/steering/"):
			steered = append(steered, r)
		}
	}
	if len(first) == 0 || first[0].Host != h.run.cdnHosts[cdn] {
		t.Errorf("the first segment came from %+v, want %s (%s)", first[:min(1, len(first))], h.run.cdnHosts[cdn], cdn)
	}
	if len(steered) == 0 || !strings.Contains(steered[0].RawQuery, playurl.SteeringStart+"="+cdn) {
		t.Errorf("the first steering request %+v does not name the start %s", steered[:min(1, len(steered))], cdn)
	}
	// The answers after the first, to its RELOAD-URI, name no start and
	// are the ranking's; one that still puts cdn first means the ranking
	// does, and the row would pass without the start.
	if len(steered) < 2 {
		t.Errorf("%d steering requests, want a second one", len(steered))
	} else if strings.Contains(steered[1].RawQuery, playurl.SteeringStart+"=") {
		t.Errorf("the second steering request (to RELOAD-URI) names the start: %s", steered[1].RawQuery)
	}
	if len(s.Priority) == 0 || s.Priority[0] == cdn {
		t.Errorf("the player's last steering answer %v puts %s first: the ranking does not put another CDN first, so this row does not test the start", s.Priority, cdn)
	}
	t.Logf("steering requests %d, the player's last answer %v, pathway %s", len(steered), s.Priority, s.Pathway)
}

// testCORS: a page of the allowed origin may call /v1 (here POST /v1/play,
// preflighted for its Authorization and Content-Type); the same call from a
// page of an origin outside CORS_ALLOWED_ORIGINS fails in the browser and
// never reaches the handler.
func (h *harness) testCORS(t *testing.T) {
	h.run.reset()
	allowedDevice, blockedDevice := playback.NewID("cors"), playback.NewID("cors")
	t.Cleanup(func() {
		h.run.removeDevice(t, demo.AccountKids, allowedDevice)
		h.run.removeDevice(t, demo.AccountKids, blockedDevice)
	})
	body := func(device string) map[string]string {
		return map[string]string{"title_id": "big-buck-bunny", "device_id": device}
	}
	type result struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
		Error  string          `json:"error"`
	}
	var out map[string]result
	h.drive(t, map[string]any{
		"kind": "cors", "api": h.run.url, "token": h.run.token(t, demo.AccountKids),
		"pages":  map[string]string{"allowed": h.cross + "/player/", "blocked": h.blocked + "/player/"},
		"bodies": map[string]any{"allowed": body(allowedDevice), "blocked": body(blockedDevice)},
	}, &out)
	if r := out["allowed"]; r.Status != http.StatusCreated || !bytes.Contains(r.Body, []byte(`"session_id"`)) {
		t.Errorf("POST /v1/play from allowed origin %s: %+v", h.cross, r)
	}
	if r := out["blocked"]; r.Error == "" || !strings.HasPrefix(r.Error, "TypeError") || r.Status != 0 {
		t.Errorf("POST /v1/play from disallowed origin %s was not blocked: %+v", h.blocked, r)
	}
	for _, r := range h.run.requests() {
		if r.Origin == h.blocked && r.Method != http.MethodOptions && strings.HasPrefix(r.Path, "/v1/") {
			t.Errorf("a %s %s from the disallowed origin got past the preflight (status %d)", r.Method, r.Path, r.Status)
		}
	}
	var sessions struct {
		Sessions []struct {
			DeviceID string `json:"device_id"`
		} `json:"sessions"`
	}
	h.run.call(t, http.MethodGet, "/v1/sessions", h.run.token(t, demo.AccountKids), &sessions)
	if slices.ContainsFunc(sessions.Sessions, func(s struct {
		DeviceID string `json:"device_id"`
	}) bool {
		return s.DeviceID == blockedDevice
	}) {
		t.Errorf("the disallowed origin's play admitted a session")
	}
}

// testConflict: the one-stream basic plan plays on device A (the page on
// the runner's own origin, token from /dev/token); device B (cross-origin)
// gets 409 with A in the list, ends A with its "End this stream" button
// and plays; A's next heartbeat is 410 and A stops.
func (h *harness) testConflict(t *testing.T) {
	h.run.reset()
	devA, devB := h.soloDevices[0], h.soloDevices[1]
	t.Cleanup(func() {
		h.run.endDeviceSessions(t, demo.AccountSolo, devA)
		h.run.endDeviceSessions(t, demo.AccountSolo, devB)
	})
	page := func(origin, device string) string {
		// No CDN: each page starts on the steering server's first choice.
		return h.pageURL(origin, url.Values{"autoplay": {"1"}, "account": {demo.AccountSolo}, "title": {"big-buck-bunny"},
			"format": {"hls"}, "grant": {"query"}, "device": {device}})
	}
	shot := filepath.Join(h.artifacts, "conflict-409-list.png")
	var out struct {
		APlaying    bool          `json:"aPlaying"`
		A           pageState     `json:"a"`
		BConflict   *pageState    `json:"bConflict"`
		ButtonFound bool          `json:"buttonFound"`
		BPlaying    bool          `json:"bPlaying"`
		B           *pageState    `json:"b"`
		BRequests   []pageRequest `json:"bRequests"`
		BConsole    []string      `json:"bConsole"`
		AEnded      bool          `json:"aEnded"`
		AAfter      *pageState    `json:"aAfter"`
		AReload     map[string]struct {
			Status   int    `json:"status"`
			Reason   string `json:"reason"`
			Manifest bool   `json:"manifest"`
			Error    string `json:"error"`
		} `json:"aReload"`
	}
	h.drive(t, map[string]any{"kind": "conflict", "timeoutMS": 30000, "screenshot": shot,
		"urlA": page(h.run.url, devA), "urlB": page(h.cross, devB)}, &out)
	t.Logf("screenshot: %s", shot)
	if !out.APlaying {
		t.Fatalf("device A did not play: %s (%s)\n%s", out.A.Phase, out.A.Error, strings.Join(out.A.Log, "\n"))
	}
	if out.BConflict == nil || out.BConflict.Phase != "conflict" ||
		!slices.ContainsFunc(out.BConflict.Conflict, func(c struct {
			SessionID string `json:"session_id"`
			DeviceID  string `json:"device_id"`
		}) bool {
			return c.SessionID == out.A.SessionID && c.DeviceID == devA
		}) {
		t.Fatalf("device B did not get the 409 list with A's session %s: %+v", out.A.SessionID, out.BConflict)
	}
	if !out.ButtonFound {
		t.Fatalf("no End this stream button for %s", out.A.SessionID)
	}
	if !out.BPlaying || out.B == nil {
		t.Fatalf("device B did not play after ending A: %+v\nrequests:\n%s\nconsole: %q", out.B, requestsText(out.BRequests), out.BConsole)
	}
	if out.B.StartupMS != nil {
		t.Logf("device B: first frame after %d ms", *out.B.StartupMS)
	}
	if !out.AEnded || out.AAfter == nil || !slices.Contains(out.AAfter.Beats.Statuses, http.StatusGone) {
		t.Fatalf("device A did not stop on 410 after its stream was ended: %+v", out.AAfter)
	}
	// A's manifests and steering, reloaded from its page after the end:
	// 410 session_ended, no manifest.
	for _, k := range []string{"hls", "dash", "steering"} {
		r, ok := out.AReload[k]
		if !ok || r.Status != http.StatusGone || r.Reason != "session_ended" || r.Manifest {
			t.Errorf("reloading A's %s after its end: %+v (present %v), want 410 session_ended without a manifest", k, r, ok)
		}
	}
	if a := out.A.Levels; len(a) == 0 || slices.ContainsFunc(a, func(l pageLevel) bool { return l.Height != 360 }) {
		t.Errorf("the basic plan's player was offered %+v, want SD (360p) only", a)
	}
	seen := h.run.requests()
	if !slices.ContainsFunc(seen, func(r seenRequest) bool {
		return r.Method == http.MethodDelete && r.Path == "/v1/sessions/"+out.A.SessionID && r.Origin == h.cross && r.Status == http.StatusOK
	}) {
		t.Errorf("the server saw no cross-origin DELETE /v1/sessions/%s", out.A.SessionID)
	}

	// Both devices are on the basic plan (SD): the players only ever
	// fetched SD segments, and an SD grant does not open UHD at the edge.
	t.Run("basic plan sees SD only", func(t *testing.T) {
		var sd *seenRequest
		for _, r := range seen {
			if !isSegment(r.Path) {
				continue
			}
			rendition := segmentRendition(r.Path)
			if rendition == "" {
				t.Fatalf("segment %s is outside any rendition folder", r.Path)
			}
			if rendition != "sd" {
				t.Errorf("a basic plan's player fetched %s (%d)", r.Path, r.Status)
			}
			if sd == nil && r.Status == http.StatusOK {
				sd = &r
			}
		}
		if sd == nil {
			t.Fatal("no SD segment was served")
		}
		guess := h.run.url + strings.Replace(sd.Path, "/sd/", "/uhd/", 1) + "?" + sd.RawQuery
		resp, err := http.Get(guess)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s with the SD grant: %d, want 403", strings.Replace(sd.Path, "/sd/", "/uhd/", 1), resp.StatusCode)
		}
	})
}

// segmentRendition is the rendition folder of /titles/<id>/<rendition>/<file>,
// "" for a flat /titles/<id>/<file>.
func segmentRendition(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "/titles/"), "/")
	if len(parts) == 3 {
		return parts[1]
	}
	return ""
}

// drive plays a scenario in the suite's driver (startDriver) and decodes
// what it printed.
func (h *harness) drive(t *testing.T, scenario map[string]any, out any) {
	t.Helper()
	raw := h.driver.play(t, scenario)
	var probe struct {
		ScriptError string `json:"scriptError"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		t.Fatalf("drive.cjs printed %q: %v", raw, err)
	}
	if probe.ScriptError != "" {
		t.Fatalf("drive.cjs: %s", probe.ScriptError)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("drive.cjs output: %v", err)
	}
}

// driveTimeout bounds one scenario.
const driveTimeout = 2 * time.Minute

// driver is one web/browsertest/drive.cjs (node with playwright-core)
// connected to the suite's Chromium, playing the suite's scenarios one
// after the other: starting node and loading playwright-core costs about a
// CPU-second, once per suite instead of once per row. Each scenario opens
// and closes its own browser contexts, so the rows stay as apart as with a
// node each. A driver that failed (exited, or a scenario past
// driveTimeout, when it is killed) is replaced for the next scenario.
type driver struct {
	script, cdp, core string
	tmp               string // the node's TMPDIR
	mu                sync.Mutex
	cur               *driverProc
	scenarios         int           // sent, also the seq of the last one
	cpu               time.Duration // of the drivers that ended
}

type driverProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte   // stdout, a line at a time; closed at EOF
	quit   chan struct{} // closed by stop: no more lines are read
	stderr *lockedBuffer
	exited chan struct{}
}

// startDriver returns the suite's driver; its node starts with the first
// scenario and is stopped, by its PID, when t ends.
func startDriver(t *testing.T, tools browserToolPaths, cdp string) *driver {
	// The node's TMPDIR, removed once it has stopped (cleanups run last
	// registered first): playwright-core leaves a playwright-artifacts-*
	// directory in it, which only browser.close() removes, and the driver
	// never closes the browser the test owns.
	tmp := t.TempDir()
	d := &driver{script: filepath.Join(repoRoot(t), "web", "browsertest", "drive.cjs"), cdp: cdp, core: tools.playwright, tmp: tmp}
	t.Cleanup(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.stop()
		if d.scenarios > 0 {
			t.Logf("drive.cjs: %d scenarios, %.2f CPU-s", d.scenarios, d.cpu.Seconds())
		}
	})
	return d
}

func (d *driver) start() (*driverProc, error) {
	cmd := exec.Command("node", d.script, d.cdp)
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_CORE_DIR="+d.core, "TMPDIR="+d.tmp)
	p := &driverProc{cmd: cmd, lines: make(chan []byte), quit: make(chan struct{}), stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		defer close(p.lines)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return
			}
			select {
			case p.lines <- line:
			case <-p.quit:
				return
			}
		}
	}()
	go func() {
		// Wait only once stdout is at EOF: Wait closes the pipe.
		<-drained
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// play sends one scenario and returns the driver's answer to it.
func (d *driver) play(t *testing.T, scenario map[string]any) []byte {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur == nil {
		p, err := d.start()
		if err != nil {
			t.Fatalf("node drive.cjs: %v", err)
		}
		d.cur = p
	}
	p := d.cur
	// The answer echoes the scenario's seq: a line printed besides an
	// answer (a stray log, a late write) is not taken for the next
	// scenario's.
	d.scenarios++
	seq := d.scenarios
	raw, err := json.Marshal(map[string]any{"seq": seq, "scenario": scenario})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(raw, '\n')); err != nil {
		d.stop()
		t.Fatalf("node drive.cjs: %v", err)
	}
	deadline := time.NewTimer(driveTimeout)
	defer deadline.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				d.stop()
				t.Fatalf("node drive.cjs exited: %s", p.stderr.String())
			}
			var answer struct {
				Seq int             `json:"seq"`
				Out json.RawMessage `json:"out"`
			}
			if err := json.Unmarshal(line, &answer); err != nil || answer.Seq != seq || answer.Out == nil {
				t.Logf("drive.cjs: a line that is not scenario %d's answer: %q", seq, line)
				continue
			}
			return answer.Out
		case <-deadline.C:
			d.stop()
			t.Fatalf("node drive.cjs: no answer within %s: %s", driveTimeout, p.stderr.String())
		}
	}
}

// stop ends the current driver: stdin closed, which it exits on, else
// killed by its PID.
func (d *driver) stop() {
	p := d.cur
	if p == nil {
		return
	}
	d.cur = nil
	close(p.quit)
	_ = p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	if ps := p.cmd.ProcessState; ps != nil {
		d.cpu += ps.UserTime() + ps.SystemTime()
	}
}

// lockedBuffer is a bytes.Buffer written by one goroutine (a process's
// stderr) and read by another.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// isSegment tells media segment requests: MPEG-TS today, CMAF (.m4s)
// after the ladder; not init segments, which players need not tag.
func isSegment(path string) bool {
	return strings.HasPrefix(path, "/titles/") && (strings.HasSuffix(path, ".ts") || strings.HasSuffix(path, ".m4s"))
}

func requestsText(rs []pageRequest) string {
	var b strings.Builder
	for _, r := range rs {
		u := r.URL
		if len(u) > 160 {
			u = u[:160] + "…"
		}
		fmt.Fprintf(&b, "  %s %d %s %s\n", r.Method, r.Status, u, r.Failure)
	}
	return b.String()
}

// --- tools -------------------------------------------------------------------

type browserToolPaths struct{ chromium, playwright string }

// browserTools runs infra/local/install-browser.sh (idempotent; `make test`
// ran it already) and reads where Chromium and playwright-core are. Where it
// could not install them it printed why: the test skips with that, except
// under CI=true, where the script itself fails.
func browserTools(t *testing.T) browserToolPaths {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot(t), "infra", "local", "install-browser.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("install-browser.sh: %v\n%s", err, stderr.String())
	}
	var p browserToolPaths
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "\t")
		switch k {
		case "chromium":
			p.chromium = v
		case "playwright-core":
			p.playwright = v
		}
	}
	if p.chromium == "" || p.playwright == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("install-browser.sh found no browser under CI=true: %s", stderr.String())
		}
		t.Skipf("no browser: %s", strings.TrimSpace(stderr.String()))
	}
	return p
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// artifactDir keeps screenshots after the test: $TEST_ARTIFACTS, else
// .ci/artifacts under CI, else a fresh directory under the system temp
// directory. The path is logged.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TEST_ARTIFACTS")
	switch {
	case dir != "":
	case os.Getenv("CI") == "true":
		dir = filepath.Join(repoRoot(t), ".ci", "artifacts")
	default:
		var err error
		if dir, err = os.MkdirTemp("", "playplane-browser-"); err != nil {
			t.Fatal(err)
		}
	}
	dir = filepath.Join(dir, "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("browser test artifacts (screenshots) in %s", dir)
	return dir
}

// startChromium starts headless Chromium with a fresh profile and remote
// debugging on a port it picks, and returns its CDP endpoint. The flags
// keep it off the network (this machine refuses outside connections) and
// let the muted test stream autoplay. It is stopped by the process group
// its PID leads.
func startChromium(t *testing.T, bin string) string {
	t.Helper()
	// Not t.TempDir: Chromium's helper processes may still be writing to
	// the profile for a moment after the browser exits, and TempDir's
	// cleanup fails the test on "directory not empty".
	profile, err := os.MkdirTemp("", "playplane-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--autoplay-policy=no-user-gesture-required", "--mute-audio",
		"--user-data-dir="+profile, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank")
	logFile, err := os.Create(filepath.Join(t.TempDir(), "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A process group of its own, led by the PID started here: a wrapper
	// script that runs Chromium without exec (Debian's
	// /usr/bin/chromium-headless-shell is one) would otherwise outlive a
	// signal to that PID with every Chromium process under it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	group := -cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(group, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(group, syscall.SIGKILL)
			<-exited
		}
		// The browser process is the one naming this profile; still
		// running 10 s after the stop, it was left behind (its helpers,
		// zygotes and renderers, end with it).
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			left := processesNaming(profile)
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				for _, pid := range left {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
				t.Errorf("chromium (%s) still running 10 s after it was stopped: PIDs %v", bin, left)
				break
			}
		}
		logFile.Close()
		var err error
		for range 50 {
			if err = os.RemoveAll(profile); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("chromium profile %s left behind: %v", profile, err)
	})
	// Chromium writes the port it bound to DevToolsActivePort in the
	// profile once it listens.
	deadline := time.Now().Add(60 * time.Second)
	for {
		raw, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		if port, _, ok := strings.Cut(string(raw), "\n"); err == nil && ok && port != "" {
			return "http://127.0.0.1:" + port
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("chromium exited at start:\n%s", log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("chromium did not open its debugging port within 60s")
		}
	}
}

// processesNaming lists the processes with arg among their command-line
// arguments (a unique path: this test's own).
func processesNaming(arg string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(raw, []byte(arg)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// startPageServer serves the player page on another loopback port: a
// second origin, as a web app's own server would be.
func startPageServer(t *testing.T) *pageServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: web.Handler(), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return &pageServer{URL: "http://" + ln.Addr().String()}
}

type pageServer struct{ URL string }

// --- the runner, with what it was asked ----------------------------------------

type recordedRunner struct {
	app      *App
	url      string
	cdnHosts map[string]string // CDN (pathway) → host:port of its edges
	edges    *edgeLogSink
	keys     pickedge.EdgeKeys
	mu       sync.Mutex
	log      []seenRequest
	failed   string // the CDN whose edges report themselves unhealthy
	stall    *segmentHold
	race     *firstAnswerRace
	beats    *beatHold
	faults   *beatFaults
	// oddServed lists the stored manifests of oddTitle served rewritten.
	oddServed []string
}

type seenRequest struct {
	Method, Host, Path, RawQuery, Origin string
	CMCDQuery, CMCDHeaders               string
	Status                               int
	At                                   time.Time
}

// startRecordedRunner serves the runner as `make run` does (limits, CORS,
// the edge on the same listener) on a random loopback port, allowing
// exactly the page origin, and records every request it answers. The
// Cloud CDN pathway gets a listener of its own (SIGNURL_CDN_BASES), as
// two real CDNs are two hosts: the pathways are told apart by where the
// segments went. The test plays the demo edges' health agents itself
// (reportHealth), so it can fail one CDN's edges. vars are the functions'
// variables for this runner alone (Config.vars), not the process
// environment's: browser tests run their runners side by side.
func startRecordedRunner(t *testing.T, pageOrigin string, vars map[string]string) *recordedRunner {
	t.Helper()
	var cfg Config
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &cfg, Lookuper: envconfig.MapLookuper(map[string]string{
		"CORS_ALLOWED_ORIGINS":   pageOrigin,
		"DEMO_EDGE_HEALTH_EVERY": "0s",
	})}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	cfg.DataDir, cfg.PublicURL, cfg.Sync = t.TempDir(), "http://"+ln.Addr().String(), false
	hosts := map[string]string{localCloudFront: ln.Addr().String(), localCloudCDN: ln2.Addr().String()}
	cfg.vars = maps.Clone(vars)
	if cfg.vars == nil {
		cfg.vars = map[string]string{}
	}
	cfg.vars["SIGNURL_CDN_BASES"] = localCloudFront + "=http://" + hosts[localCloudFront] + "," + localCloudCDN + "=http://" + hosts[localCloudCDN]
	sink := &edgeLogSink{}
	app, err := NewApp(context.Background(), cfg, slog.New(edgeLogHandler{sink}))
	if err != nil {
		ln.Close()
		ln2.Close()
		t.Fatal(err)
	}
	srv, limited, err := app.Server(ln)
	if err != nil {
		ln.Close()
		ln2.Close()
		app.Close()
		t.Fatal(err)
	}
	keys, err := pickedge.ParseEdgeKeys(app.secrets.EdgeKeys)
	if err != nil {
		t.Fatal(err)
	}
	r := &recordedRunner{app: app, url: cfg.PublicURL, cdnHosts: hosts, edges: sink, keys: keys, stall: &segmentHold{}, race: &firstAnswerRace{}, beats: &beatHold{}, faults: &beatFaults{}}
	next := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		r.stall.wait(req)
		r.race.wait(req)
		beat := r.beats.wait(req)
		logged, faulted := r.faults.serve(sw, req)
		if name, odd := strings.CutPrefix(req.URL.Path, "/titles/"+oddTitle+"/"); !faulted && odd && (strings.HasSuffix(name, ".m3u8") || strings.HasSuffix(name, ".mpd")) {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, req)
			for k, v := range rec.Header() {
				if k != "Content-Length" && k != "Etag" {
					sw.Header()[k] = v
				}
			}
			sw.WriteHeader(rec.Code)
			odd := oddStored(name, rec.Body.Bytes())
			_, _ = sw.Write(odd)
			if rec.Code == http.StatusOK && !bytes.Equal(odd, rec.Body.Bytes()) {
				r.mu.Lock()
				r.oddServed = append(r.oddServed, name)
				r.mu.Unlock()
			}
		} else if !faulted && !r.faults.servePlayHeld(sw, req, next) {
			next.ServeHTTP(sw, req)
		}
		r.race.done(req)
		r.beats.done(beat, sw.status)
		r.faults.done(logged, sw.status)
		var hdr []string
		for _, k := range []string{"CMCD-Request", "CMCD-Object", "CMCD-Status", "CMCD-Session"} {
			if v := req.Header.Get(k); v != "" {
				hdr = append(hdr, v)
			}
		}
		r.mu.Lock()
		r.log = append(r.log, seenRequest{Method: req.Method, Host: req.Host, Path: req.URL.Path, RawQuery: req.URL.RawQuery, Origin: req.Header.Get("Origin"),
			CMCDQuery: req.URL.Query().Get("CMCD"), CMCDHeaders: strings.Join(hdr, ","), Status: sw.status, At: time.Now()})
		r.mu.Unlock()
	})
	srv2 := &http.Server{Handler: srv.Handler, ReadHeaderTimeout: 5 * time.Second}
	done, done2 := make(chan struct{}), make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(limited) }()
	go func() { defer close(done2); _ = srv2.Serve(ln2) }()
	stopAgents, agentsDone := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() {
		close(stopAgents)
		<-agentsDone
		srv.Close()
		srv2.Close()
		<-done
		<-done2
		app.Close()
	})
	if err := r.reportHealth(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(agentsDone)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopAgents:
				return
			case <-tick.C:
				if err := r.reportHealth(); err != nil {
					t.Logf("edge health agents: %v", err)
				}
			}
		}
	}()
	return r
}

// reportHealth plays the demo edges' health agents: each edge reports
// itself, signed with its key, through POST /v1/edges/health (the
// production path: HMAC check, bus, consumer, edge table), healthy unless
// it belongs to the failed CDN.
func (r *recordedRunner) reportHealth() error {
	r.mu.Lock()
	failed := r.failed
	r.mu.Unlock()
	now := time.Now()
	var errs []error
	for _, e := range demo.EdgesOn(r.app.cdnBases, now) {
		report := playback.EdgeReport{EdgeID: e.ID, Load: e.Load, Capacity: e.ReportedCapacity, Healthy: e.CDN != failed, ReportedAt: now}
		req, err := pickedge.NewReportRequest(context.Background(), r.url+"/v1/edges/health", r.keys[e.ID][0], report, now)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			errs = append(errs, fmt.Errorf("edge %s health report: %d", e.ID, resp.StatusCode))
		}
	}
	return errors.Join(errs...)
}

// failCDN makes the edges of cdn report themselves unhealthy from now on
// ("" heals them all), at once.
func (r *recordedRunner) failCDN(t *testing.T, cdn string) {
	r.mu.Lock()
	r.failed = cdn
	r.mu.Unlock()
	if err := r.reportHealth(); err != nil {
		t.Errorf("failing %q: %v", cdn, err)
	}
}

// failCDNNow is failCDN, returning once every ranking the runner serves
// has it: pickedge's (steering answers) and signurl's (the pathway a
// session starts on) rank the title for a loopback viewer with exactly the
// CDNs that are not failed. Their rebuilds are serialized, so a rebuild
// that read the table before the change cannot be served after one that
// has it: the next play then starts, and the next steering answer ranks,
// on health that a previous row can no longer leave behind. The deadline
// only bounds a hang.
func (r *recordedRunner) failCDNNow(t *testing.T, cdn string) {
	t.Helper()
	r.failCDN(t, cdn)
	want := make([]string, 0, len(r.cdnHosts))
	for c := range r.cdnHosts {
		if c != cdn {
			want = append(want, c)
		}
	}
	slices.Sort(want)
	rankings := map[string]signurl.Steering{
		"pickedge": r.app.functions["pickedge"].(*pickedge.Server).Ranker,
		"signurl":  r.app.functions["signurl"].(*signurl.Server).Steering(),
	}
	deadline := time.Now().Add(15 * time.Second)
	for name, rk := range rankings {
		for {
			req := httptest.NewRequest(http.MethodGet, r.url, nil)
			req.RemoteAddr = "127.0.0.1:1"
			got, err := rk.Pathways(req, "big-buck-bunny", time.Now())
			got = slices.DeleteFunc(got, func(c string) bool { _, ok := r.cdnHosts[c]; return !ok })
			slices.Sort(got)
			if err == nil && slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still ranks %v (%v) 15 s after failing %q, want %v", name, got, err, cdn, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// startSteeringControl serves drive.cjs's "fail the pathway I play
// from" call: POST {"host": "127.0.0.1:port"} fails the CDN whose edges
// are at that host and answers {"cdn": name}.
func startSteeringControl(t *testing.T, r *recordedRunner) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var in struct {
			Host string `json:"host"`
		}
		if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for cdn, host := range r.cdnHosts {
			if host == in.Host {
				r.failCDN(t, cdn)
				_ = json.NewEncoder(w).Encode(map[string]string{"cdn": cdn})
				return
			}
		}
		http.Error(w, "no CDN at "+in.Host, http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// edgeLogSink keeps the local edge's access log lines ("edge request"),
// the rest of the runner's log is dropped.
type edgeLogSink struct {
	mu    sync.Mutex
	lines []edgeLogLine
}

type edgeLogLine struct {
	Path   string
	Status int
	CMCD   map[string]string
}

type edgeLogHandler struct{ sink *edgeLogSink }

func (h edgeLogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h edgeLogHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h edgeLogHandler) WithGroup(string) slog.Handler                { return h }

func (h edgeLogHandler) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != "edge request" {
		return nil
	}
	l := edgeLogLine{CMCD: map[string]string{}}
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "path":
			l.Path = a.Value.String()
		case "status":
			l.Status = int(a.Value.Int64())
		case "cmcd":
			for _, g := range a.Value.Group() {
				l.CMCD[g.Key] = g.Value.String()
			}
		}
		return true
	})
	h.sink.mu.Lock()
	h.sink.lines = append(h.sink.lines, l)
	h.sink.mu.Unlock()
	return nil
}

func (r *recordedRunner) edgeLog() []edgeLogLine {
	r.edges.mu.Lock()
	defer r.edges.mu.Unlock()
	return slices.Clone(r.edges.lines)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (r *recordedRunner) reset() {
	r.mu.Lock()
	r.log = nil
	r.mu.Unlock()
	r.edges.mu.Lock()
	r.edges.lines = nil
	r.edges.mu.Unlock()
}

func (r *recordedRunner) requests() []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

func seenText(rs []seenRequest) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "  %s %s%s %d origin=%q\n", r.Method, r.Host, r.Path, r.Status, r.Origin)
	}
	return b.String()
}

func (r *recordedRunner) token(t *testing.T, account string) string {
	t.Helper()
	tok, err := r.app.DevToken(account, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (r *recordedRunner) call(t *testing.T, method, path, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, r.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// endDeviceSessions ends what a failed subtest left playing, so the next
// one is not refused for the account's stream limit.
func (r *recordedRunner) endDeviceSessions(t *testing.T, account, device string) {
	var list struct {
		Sessions []struct {
			SessionID string `json:"session_id"`
			DeviceID  string `json:"device_id"`
		} `json:"sessions"`
	}
	tok := r.token(t, account)
	r.call(t, http.MethodGet, "/v1/sessions", tok, &list)
	for _, s := range list.Sessions {
		if s.DeviceID == device {
			r.call(t, http.MethodDelete, "/v1/sessions/"+s.SessionID, tok, nil)
		}
	}
}

// removeDevice removes a device the test registered, ending its sessions;
// one the test never got to register (404) is fine.
func (r *recordedRunner) removeDevice(t *testing.T, account, device string) {
	if code := r.call(t, http.MethodDelete, "/v1/devices/"+device, r.token(t, account), nil); code != http.StatusOK && code != http.StatusNotFound {
		t.Errorf("DELETE /v1/devices/%s: %d, want 200 or 404", device, code)
	}
}

type progressView struct {
	PositionMS int64  `json:"position_ms"`
	DurationMS int64  `json:"duration_ms"`
	DeviceID   string `json:"device_id"`
}

// waitProgress polls GET /v1/progress until the device's heartbeats are
// stored (the consumer writes batches behind the bus) with at least minMS.
func (r *recordedRunner) waitProgress(t *testing.T, account, title, device string, minMS int64) progressView {
	t.Helper()
	var p progressView
	deadline := time.Now().Add(15 * time.Second)
	for {
		p = progressView{}
		code := r.call(t, http.MethodGet, "/v1/progress?title_id="+title, r.token(t, account), &p)
		if code == http.StatusOK && p.DeviceID == device && p.PositionMS >= minMS {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/progress: %d %+v, want device %s at %d ms or more", code, p, device, minMS)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// firstAnswerRace lands a player's first steering answer while its first
// media segment is loading, and has that segment arrive before the media
// playlist of any pathway the answer moved the player to: the window in
// which hls.js 1.7.4 drops the segment and stops for good. Every time,
// rather than 1 run in 3: the first steering request is held until the
// first segment request arrives; that segment until the second steering
// request, which the player sends once it has applied the first answer
// (its TTL timer starts there); and an HLS media playlist asked for after
// the first segment, until the third steering request, a TTL after the
// segment was let go. A player the answer does not move asks for no such
// playlist. Each hold gives up after raceHoldMax, so a player that never
// sends the other request is only slowed down.
type firstAnswerRace struct {
	mu       sync.Mutex
	armed    bool
	steering int
	segments int
	// settled (armSettled) holds the second steering request, once it has
	// let the first segment go, until that segment was served and
	// raceSettle more: an answer that moves the player then moves it
	// mid-play, not during the first segment. served is closed when it
	// was.
	settled bool
	served  chan struct{}
	// released[i] is closed on the event hold i waits for: the first
	// segment request, the second and the third steering request.
	released [3]chan struct{}
	// raced: the first steering answer was held until the first segment
	// request arrived, and that segment until the second steering request.
	raced [2]bool
}

const raceHoldMax = 10 * time.Second

func (f *firstAnswerRace) arm() { f.armWith(false) }

// armSettled is arm for a row whose second steering answer moves the
// player.
func (f *firstAnswerRace) armSettled() { f.armWith(true) }

// raceSettle is how long after the first segment was served the second
// steering request of a settled race is held: the player's transmuxer
// exists by then.
const raceSettle = time.Second

func (f *firstAnswerRace) armWith(settled bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.steering, f.segments, f.raced, f.settled = true, 0, 0, [2]bool{}, settled
	for i := range f.released {
		f.released[i] = make(chan struct{})
	}
	f.served = make(chan struct{})
}

// done is told of every request once served: the first segment's closes
// served.
func (f *firstAnswerRace) done(req *http.Request) {
	if !isSegment(req.URL.Path) || req.Method != http.MethodGet {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed && f.segments >= 1 {
		select {
		case <-f.served:
		default:
			close(f.served)
		}
	}
}

func (f *firstAnswerRace) disarm() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = false
}

// isMediaPlaylist tells /v1/manifests/{session}/hls/{pathway}/{rendition}.
func isMediaPlaylist(path string) bool {
	rest, ok := strings.CutPrefix(path, "/v1/manifests/")
	return ok && strings.Count(rest, "/") == 3 && strings.Contains(rest, "/hls/")
}

func (f *firstAnswerRace) wait(req *http.Request) {
	steering := strings.HasPrefix(req.URL.Path, "/v1/steering/")
	segment := isSegment(req.URL.Path) && req.Method == http.MethodGet
	playlist := isMediaPlaylist(req.URL.Path)
	if !steering && !segment && !playlist {
		return
	}
	f.mu.Lock()
	if !f.armed {
		f.mu.Unlock()
		return
	}
	hold, which := -1, -1
	var settle chan struct{}
	switch {
	case steering:
		f.steering++
		switch f.steering {
		case 1:
			hold, which = 0, 0
		case 2, 3:
			close(f.released[f.steering-1])
			if f.steering == 2 && f.settled {
				settle = f.served
			}
		}
	case segment:
		f.segments++
		if f.segments == 1 {
			close(f.released[0])
			hold, which = 1, 1
		}
	case playlist:
		if f.segments > 0 {
			hold = 2
		}
	}
	var ch chan struct{}
	if hold >= 0 {
		ch = f.released[hold]
	}
	f.mu.Unlock()
	if settle != nil {
		select {
		case <-settle:
			select {
			case <-time.After(raceSettle):
			case <-req.Context().Done():
			}
		case <-req.Context().Done():
		case <-time.After(raceHoldMax):
		}
		return
	}
	if ch == nil {
		return
	}
	select {
	case <-ch:
		if which >= 0 {
			f.mu.Lock()
			f.raced[which] = true
			f.mu.Unlock()
		}
	case <-req.Context().Done():
	case <-time.After(raceHoldMax):
	}
}

// result says whether both holds ended on the other request.
func (f *firstAnswerRace) result() [2]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.raced
}

package heartbeat_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// cmcdURL is the session's collector path with a credential for it.
func (h *harness) cmcdURL(session, account, title string) string {
	h.t.Helper()
	now := h.clock()
	cred, err := h.tokens.IssueCMCD(auth.PlaybackClaims{SessionID: session, AccountID: account, TitleID: title,
		DeviceID: "dev_" + account, IssuedAt: now, ExpiresAt: now.Add(4 * time.Hour)})
	if err != nil {
		h.t.Fatal(err)
	}
	return "/v1/playback/" + session + "/cmcd/" + cred
}

// report sends a CMCD request: body with contentType, or none.
func (h *harness) report(method, target, contentType, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return rec
}

// ts is h.now+offset as CMCD's ts.
func (h *harness) ts(offset time.Duration) int64 { return h.clock().Add(offset).UnixMilli() }

func (h *harness) sessionQoE(id string) playback.SessionQoE {
	h.t.Helper()
	q, err := h.bolt.GetSessionQoE(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return q
}

// TestCMCDEventReportsDriveTheSession plays a session through CMCD alone,
// as Shaka Player and dash.js send it (application/cmcd lines, inner-list
// bitrates): start, play with interval reports, a stall, pause, quit.
func TestCMCDEventReportsDriveTheSession(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		t.Run(wp.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{unbatched: wp.unbatched})
			id, _ := h.play("acct_a", "title_1", 2)
			target := h.cmcdURL(id, "acct_a", "title_1")
			leased := h.session(id).ExpiresAt
			send := func(body string) {
				t.Helper()
				if rec := h.report(http.MethodPost, target, "application/cmcd", body); rec.Code != http.StatusNoContent {
					t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
				}
			}
			send(fmt.Sprintf("cid=\"title_1\",e=ps,sid=\"6e2f\",sn=0,sta=s,ts=%d,v=2\n", h.ts(0)))
			h.advance(time.Second)
			send(fmt.Sprintf("br=(3000;v 128;a),e=ps,msd=850,mtp=(24000),sta=p,ts=%d,v=2\n", h.ts(0)))
			h.advance(30 * time.Second)
			// Batched: an interval report while playing, then a stall.
			send(fmt.Sprintf("br=(3000),e=t,pt=31000,sta=p,ts=%d,v=2\ne=ps,sta=r,ts=%d,v=2\n", h.ts(-time.Second), h.ts(0)))
			h.advance(2 * time.Second)
			send(fmt.Sprintf("e=t,sta=r,ts=%d,v=2\n", h.ts(0)))
			send(fmt.Sprintf("bsd=(400),e=ps,sta=p,ts=%d,v=2,com.example-custom=\"x\",zz=?1\n", h.ts(time.Millisecond)))
			h.advance(10 * time.Second)
			send(fmt.Sprintf("e=ps,pt=41000,sta=a,ts=%d,v=2\n", h.ts(0)))
			h.idle()

			if s := h.session(id); !s.Active(h.clock()) || !s.ExpiresAt.After(leased) {
				t.Fatalf("lease not kept: %+v (was until %s)", s, leased)
			}
			p, err := h.bolt.GetProgress(context.Background(), "acct_a", "title_1")
			if err != nil {
				t.Fatal(err)
			}
			if p.PositionMS != 41_000 || p.SessionID != id {
				t.Fatalf("progress %+v", p)
			}
			q := h.sessionQoE(id)
			// Played: the 29 s before the interval report that says
			// playing, the 1 s from it to the change into rebuffering and
			// the 9.999 s from playing again to the pause (the time before
			// a change was spent in the state reported before it; the 1 s
			// starting→playing is startup, not play). Stalled: the 2 s gap
			// before the interval report that says rebuffering and the 1 ms
			// from it to playing again; bsd tells that stall again.
			// The player's own sid is no session's id: it names no play
			// (cmcdPlay).
			want := playback.QoE{BitrateKbps: 3000, ThroughputKbps: 24000, StartupMS: 850, RebufferCount: 1,
				RebufferMS: 2_000 + 1, PlayedMS: 29_000 + 1_000 + 9_999}
			if q.QoE != want {
				t.Fatalf("QoE %+v, want %+v", q.QoE, want)
			}

			// Quit ends the session; the reporter is told 410 afterwards.
			h.advance(time.Second)
			send(fmt.Sprintf("e=ps,sta=q,ts=%d,v=2\n", h.ts(0)))
			if s := h.session(id); s.Active(h.clock()) || s.EndReason != playback.EndStopped {
				t.Fatalf("quit left the session %+v", s)
			}
			h.advance(time.Minute)
			rec := h.report(http.MethodPost, target, "application/cmcd", fmt.Sprintf("e=t,sta=p,ts=%d\n", h.ts(0)))
			wantError(t, rec, http.StatusGone, playback.CodeGone, "")
		})
	}
}

// TestCMCDStallIsCountedOnce: CTA-5004-B's bsd is the duration of a
// buffer starvation period, reported once the rebuffering has completed
// (https://cta-wave.github.io/Resources/common-media-client-data--cta-5004-b.html#buffer-starvation-duration),
// and a starvation event is the state's change to rebuffering (bsa, same
// spec). A player that reports its states (sta) reports the stall's, from
// the change into rebuffering to the change out of it, which times the
// stall: its bsd is the same stall again, whichever report carries it. A
// player that reports no state tells its stall by bsd alone: one stall,
// that long. The session's QoE and its view agree.
func TestCMCDStallIsCountedOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		reports []string
		at      []time.Duration // each report's ts, from the first's
		// wantPlayedMS: the gaps spent playing, as the states tell them.
		wantCount            int
		wantMS, wantPlayedMS int64
		// wantViewMS: the view's stall time, held to its play time
		// (QoEBounds: stall time beyond play time is absurd QoE, issue 18).
		wantViewMS int64
	}{
		{
			name:    "bsd on the change out of rebuffering",
			reports: []string{"e=ps,sta=s", "e=ps,msd=900,sta=p", "e=ps,sta=r", "e=t,sta=r", "e=t,sta=r", "bsd=(2500),e=ps,sta=p", "e=ps,sta=a"},
			at:      []time.Duration{0, time.Second, 11 * time.Second, 12 * time.Second, 13 * time.Second, 13500 * time.Millisecond, 15500 * time.Millisecond},
			// 11 s to 13.5 s, which bsd tells again.
			wantCount: 1, wantMS: 2500, wantPlayedMS: 10_000 + 2_000, wantViewMS: 2500,
		},
		{
			name:      "bsd on a report after it",
			reports:   []string{"e=ps,sta=s", "e=ps,msd=900,sta=p", "e=ps,sta=r", "e=ps,sta=p", "bsd=(1000),e=t,sta=p", "e=ps,sta=a"},
			at:        []time.Duration{0, time.Second, 11 * time.Second, 12 * time.Second, 13 * time.Second, 14 * time.Second},
			wantCount: 1, wantMS: 1000, wantPlayedMS: 10_000 + 1_000 + 1_000, wantViewMS: 1000,
		},
		{
			// A report with no state (here a response received) between
			// the changes into and out of rebuffering: every change is
			// reported, so the stall went on through it.
			name:      "a report without a state inside the stall",
			reports:   []string{"e=ps,sta=s", "e=ps,msd=900,sta=p", "e=ps,sta=r", "e=rr", "bsd=(2500),e=ps,sta=p", "e=ps,sta=a"},
			at:        []time.Duration{0, time.Second, 11 * time.Second, 12 * time.Second, 13500 * time.Millisecond, 15500 * time.Millisecond},
			wantCount: 1, wantMS: 2500, wantPlayedMS: 10_000 + 2_000, wantViewMS: 2500,
		},
		{
			name:    "reports without a state while playing and stalled",
			reports: []string{"e=ps,sta=s", "e=ps,msd=900,sta=p", "e=rr", "e=ps,sta=r", "e=rr", "e=rr", "bsd=(1500),e=ps,sta=p", "e=rr", "e=ps,sta=a"},
			at: []time.Duration{0, time.Second, 6 * time.Second, 11 * time.Second, 11500 * time.Millisecond, 12 * time.Second,
				12500 * time.Millisecond, 14 * time.Second, 15500 * time.Millisecond},
			wantCount: 1, wantMS: 1500, wantPlayedMS: 10_000 + 3_000, wantViewMS: 1500,
		},
		{
			name:    "no states: bsd alone tells a stall",
			reports: []string{"e=t,msd=900", "e=t", "bsd=(700),e=t"},
			at:      []time.Duration{0, 5 * time.Second, 10 * time.Second},
			// No state tells play time, so the view holds none of the
			// stall: a rebuffer percentage needs the time played.
			wantCount: 1, wantMS: 700, wantViewMS: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{qoeViews: true})
			id, _ := h.play("acct_a", "title_1", 2)
			target := h.cmcdURL(id, "acct_a", "title_1")
			// Each report on its own, as its ts comes.
			first := h.clock()
			for i, r := range tc.reports {
				h.advance(first.Add(tc.at[i]).Sub(h.clock()))
				body := fmt.Sprintf("%s,ts=%d,v=2\n", r, h.ts(0))
				if rec := h.report(http.MethodPost, target, "application/cmcd", body); rec.Code != http.StatusNoContent {
					t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
				}
			}
			h.idle()
			q := h.sessionQoE(id).QoE
			if q.RebufferCount != tc.wantCount || q.RebufferMS != tc.wantMS || q.PlayedMS != tc.wantPlayedMS {
				t.Errorf("session QoE: %d stalls, %d ms stalled, %d ms played; want %d, %d, %d",
					q.RebufferCount, q.RebufferMS, q.PlayedMS, tc.wantCount, tc.wantMS, tc.wantPlayedMS)
			}
			views, err := h.bolt.QoEViews(t.Context(), h.clock().Add(-time.Hour), h.clock().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if len(views) != 1 || views[0].RebufferMS != tc.wantViewMS {
				t.Errorf("views %+v, want one with %d ms of stall", views, tc.wantViewMS)
			}
		})
	}
}

// TestCMCDStateStoredWithStallTimeInNoStall: a session's state stored
// before stalls were counted with their time (each bsd was added as stall
// time alone) tells stall time in no stall. Carried on into every view
// report derived from it, QoEBounds would refuse that stall time, with a
// correction, in each report until the session ended; the time was one
// stall at least, and counts as one from the next report on.
func TestCMCDStateStoredWithStallTimeInNoStall(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		state   string // the stored playhead's state
		played  int64  // the stored play time
		reports []string
		// wantViewMS and wantCorrections: the view's stall time and
		// corrections. A player that reports no state tells no play time,
		// so its view holds none of the stall (be24729), a correction each.
		wantViewMS      int64
		wantCorrections int
	}{
		{name: "a player that reports states", state: events.CMCDStatePlaying, played: 20_000,
			reports: []string{"e=t,sta=p", "e=t,sta=p"}, wantViewMS: 700},
		{name: "a player that reports no state", reports: []string{"e=t", "e=t"}, wantCorrections: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{qoeViews: true})
			id, _ := h.play("acct_a", "title_1", 2)
			target := h.cmcdURL(id, "acct_a", "title_1")
			h.advance(25 * time.Second)
			old := playback.SessionQoE{SessionID: id, AccountID: "acct_a", TitleID: "title_1", DeviceTime: h.clock(), UpdatedAt: h.clock(),
				Heartbeats: 20, QoE: playback.QoE{StartupMS: 900, PlayedMS: tc.played, RebufferMS: 700},
				Playhead: playback.Playhead{Known: true, PositionMS: tc.played, State: tc.state, Began: tc.played > 0}}
			if _, applied, err := h.bolt.SaveSessionQoE(t.Context(), old, time.Time{}); err != nil || !applied {
				t.Fatalf("storing the old state: %v %v", applied, err)
			}
			for _, r := range tc.reports {
				h.advance(time.Second)
				body := fmt.Sprintf("%s,ts=%d,v=2\n", r, h.ts(0))
				if rec := h.report(http.MethodPost, target, "application/cmcd", body); rec.Code != http.StatusNoContent {
					t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
				}
			}
			h.idle()
			if q := h.sessionQoE(id).QoE; q.RebufferCount != 1 || q.RebufferMS != 700 {
				t.Errorf("session QoE: %d stalls, %d ms stalled; want 1, 700", q.RebufferCount, q.RebufferMS)
			}
			views, err := h.bolt.QoEViews(t.Context(), h.clock().Add(-time.Hour), h.clock().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if len(views) != 1 || views[0].RebufferMS != tc.wantViewMS || views[0].Corrections != tc.wantCorrections {
				t.Errorf("views %+v, want one with %d ms of stall and %d corrections", views, tc.wantViewMS, tc.wantCorrections)
			}
		})
	}
}

// TestCMCDFlushAfterOutage: the flush of a player whose reports queued up
// while it was offline is taken whole, its end of play included. The CML
// reporter that dash.js 5.2, Shaka Player 5.2 and hls.js 1.7 bundle keeps
// every report it could not send (a network failure, 429 or a 5xx puts the
// batch back in its queue, unbounded) and, when the player is destroyed or
// loads another source (stop with flush), POSTs the whole queue as one
// application/cmcd body, then drops the reporter: any answer but a 2xx
// loses that batch, a 4xx at once. The batch here is dash.js's, with every
// key it puts in an event report, at the 1 s interval web/player/cmcd.js
// sets under TestBrowserCMCDEventMode: the network drops once playback
// started, the player plays on from its buffer for 90 s to the end of the
// title, and the app tears the player down as the network returns.
func TestCMCDFlushAfterOutage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id, _ := h.play("acct_a", "title_1", 2)
	target := h.cmcdURL(id, "acct_a", "title_1")
	const sid = `"6e2f5c1a-8c1e-4f7e-9d0b-2f6b5a1c9e3d"`
	sn := 0
	// line is one report as CML serialises it: keys sorted, inner lists
	// tagged by object type.
	line := func(e, sta string, at time.Duration) string {
		sn++
		return fmt.Sprintf(`ab=(3000;v 128;a),bl=(30000;v 30000;a),br=(3000;v 128;a),cid="big-buck-bunny",e=%s,mtp=(24000),`+
			`pb=(3000;v 128;a),pr=1,sf=d,sid=%s,sn=%d,st=v,sta=%s,tb=(3000;v 128;a),tpb=(3000;v 128;a),ts=%d,v=2`+"\n",
			e, sid, sn-1, sta, h.ts(at))
	}
	send := func(body string) *httptest.ResponseRecorder {
		t.Helper()
		return h.report(http.MethodPost, target, "application/cmcd", body)
	}
	if rec := send(line("ps", "s", 0)); rec.Code != http.StatusNoContent {
		t.Fatalf("start: %d %s", rec.Code, rec.Body)
	}
	if rec := send(line("ps", "p", time.Second)); rec.Code != http.StatusNoContent {
		t.Fatalf("playing: %d %s", rec.Code, rec.Body)
	}
	var queued strings.Builder
	const offline = 90
	for i := 1; i <= offline; i++ {
		queued.WriteString(line("t", "p", time.Duration(1+i)*time.Second-time.Millisecond))
	}
	queued.WriteString(line("ps", "e", (1+offline)*time.Second))
	h.advance((1 + offline + 2) * time.Second)
	if rec := send(queued.String()); rec.Code != http.StatusNoContent {
		t.Fatalf("the flush of %d reports (%d bytes): %d %s", offline+1, queued.Len(), rec.Code, rec.Body)
	}
	h.idle()
	if s := h.session(id); s.Active(h.clock()) || s.EndReason != playback.EndStopped {
		t.Fatalf("the end of play in the flush left the session %+v", s)
	}
	// Played: from playing (1 s) to the end (91 s), every second of it
	// told by an interval report that says playing.
	if q := h.sessionQoE(id); q.QoE.PlayedMS != offline*1000 {
		t.Fatalf("played %d ms, want %d: %+v", q.QoE.PlayedMS, offline*1000, q.QoE)
	}
	p, err := h.bolt.GetProgress(context.Background(), "acct_a", "title_1")
	if err != nil {
		t.Fatal(err)
	}
	if p.PositionMS != offline*1000 {
		t.Fatalf("resume position %d ms, want %d", p.PositionMS, offline*1000)
	}
}

// TestCMCDRequestIsOnePublish: the reports of a request reach the bus in
// one publish, which the bus adapters send in batches (SQS 10 messages a
// call, Pub/Sub one request per ordering key), so a flush of
// MaxCMCDReports costs a few round trips, not one per report.
func TestCMCDRequestIsOnePublish(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id, _ := h.play("acct_a", "title_1", 2)
	target := h.cmcdURL(id, "acct_a", "title_1")
	var body strings.Builder
	for i := range events.MaxCMCDReports {
		fmt.Fprintf(&body, "br=(3000;v),e=t,sta=p,ts=%d,v=2\n", h.ts(time.Duration(i-events.MaxCMCDReports)*time.Second))
	}
	before := h.pub.calls.Load()
	if rec := h.report(http.MethodPost, target, "application/cmcd", body.String()); rec.Code != http.StatusNoContent {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if n := h.pub.calls.Load() - before; n != 1 {
		t.Fatalf("%d reports took %d publish calls, want 1", events.MaxCMCDReports, n)
	}
	h.idle()
	if q := h.sessionQoE(id); q.Heartbeats != events.MaxCMCDReports {
		t.Fatalf("%d heartbeats counted, want %d", q.Heartbeats, events.MaxCMCDReports)
	}
}

// TestCMCDTransmissionForms: the query parameter (GET and POST), text
// lines and JSON reach the same heartbeat.
func TestCMCDTransmissionForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, contentType string
		query, body               func(ts int64) string
	}{
		{"GET query", http.MethodGet, "", func(ts int64) string { return fmt.Sprintf("br=(2500),e=t,pt=5000,sta=p,ts=%d", ts) }, nil},
		{"POST query", http.MethodPost, "", func(ts int64) string { return fmt.Sprintf("br=2500,e=t,pt=5000,sta=p,ts=%d", ts) }, nil},
		{"application/cmcd", http.MethodPost, "application/cmcd", nil, func(ts int64) string { return fmt.Sprintf("br=(2500),e=t,pt=5000,sta=p,ts=%d\n", ts) }},
		{"text/cmcd CRLF", http.MethodPost, "text/cmcd", nil, func(ts int64) string { return fmt.Sprintf("br=(2500), e=t, pt=5000, sta=p, ts=%d\r\n\r\n", ts) }},
		{"JSON object", http.MethodPost, "application/json", nil, func(ts int64) string {
			return fmt.Sprintf(`{"br":[2500],"e":"t","pt":5000,"sta":"p","ts":%d,"unknown":{"x":1}}`, ts)
		}},
		{"JSON array", http.MethodPost, "application/json", nil, func(ts int64) string {
			return fmt.Sprintf(`[{"br":2500,"e":"t","pt":5000,"sta":"p","ts":%d}]`, ts)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			id, _ := h.play("acct_a", "title_1", 2)
			target := h.cmcdURL(id, "acct_a", "title_1")
			var body string
			if tc.query != nil {
				target += "?CMCD=" + url.QueryEscape(tc.query(h.ts(0)))
			}
			if tc.body != nil {
				body = tc.body(h.ts(0))
			}
			if rec := h.report(tc.method, target, tc.contentType, body); rec.Code != http.StatusNoContent {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			h.idle()
			p, err := h.bolt.GetProgress(context.Background(), "acct_a", "title_1")
			if err != nil {
				t.Fatal(err)
			}
			if q := h.sessionQoE(id); p.PositionMS != 5000 || !p.DeviceTime.Equal(h.clock()) || q.QoE.BitrateKbps != 2500 {
				t.Fatalf("progress %+v, QoE %+v", p, q.QoE)
			}
		})
	}
}

// TestCMCDBadInput: malformed values are refused per key, with a typed
// reason, and nothing is written; unknown keys are ignored.
func TestCMCDBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{noConsume: true})
	id, _ := h.play("acct_a", "title_1", 2)
	target := h.cmcdURL(id, "acct_a", "title_1")
	other, _ := h.play("acct_b", "title_1", 2)
	otherTarget := h.cmcdURL(other, "acct_b", "title_1")
	ts := h.ts(0)
	for _, tc := range []struct {
		name, target, contentType, body string
		status                          int
		code                            playback.Code
		reason                          string
	}{
		{"ts missing", target, "application/cmcd", "e=t,sta=p", 400, playback.CodeInvalid, "cmcd_ts_missing"},
		{"ts a string", target, "application/cmcd", `ts="1"`, 400, playback.CodeInvalid, "cmcd_ts_invalid"},
		{"ts negative", target, "application/cmcd", "ts=-1", 400, playback.CodeInvalid, "cmcd_ts_invalid"},
		{"ts decimal", target, "application/cmcd", "ts=1.5", 400, playback.CodeInvalid, "cmcd_ts_invalid"},
		{"ts in the future", target, "application/cmcd", fmt.Sprintf("ts=%d", ts+int64(time.Hour/time.Millisecond)), 400, playback.CodeInvalid, "cmcd_ts_in_future"},
		{"ts ancient", target, "application/cmcd", "ts=1000", 400, playback.CodeInvalid, "cmcd_ts_too_old"},
		{"sta unknown", target, "application/cmcd", fmt.Sprintf("sta=x,ts=%d", ts), 400, playback.CodeInvalid, "cmcd_sta_invalid"},
		{"sta a string", target, "application/cmcd", fmt.Sprintf(`sta="p",ts=%d`, ts), 400, playback.CodeInvalid, "cmcd_sta_invalid"},
		{"e a number", target, "application/cmcd", fmt.Sprintf("e=1,ts=%d", ts), 400, playback.CodeInvalid, "cmcd_e_invalid"},
		{"br negative", target, "application/cmcd", fmt.Sprintf("br=(-1),ts=%d", ts), 400, playback.CodeInvalid, "cmcd_br_invalid"},
		{"br a token", target, "application/cmcd", fmt.Sprintf("br=high,ts=%d", ts), 400, playback.CodeInvalid, "cmcd_br_invalid"},
		{"mtp list of strings", target, "application/cmcd", fmt.Sprintf(`mtp=("a"),ts=%d`, ts), 400, playback.CodeInvalid, "cmcd_mtp_invalid"},
		{"pt negative", target, "application/cmcd", fmt.Sprintf("pt=-5,ts=%d", ts), 400, playback.CodeInvalid, "cmcd_pt_invalid"},
		{"msd decimal", target, "application/cmcd", fmt.Sprintf("msd=1.5,ts=%d", ts), 400, playback.CodeInvalid, "cmcd_msd_invalid"},
		{"sid too long", target, "application/cmcd", fmt.Sprintf(`sid="%s",ts=%d`, strings.Repeat("x", 65), ts), 400, playback.CodeInvalid, "cmcd_sid_invalid"},
		{"cdn not an id", target, "application/cmcd", fmt.Sprintf(`cdn="a b",ts=%d`, ts), 400, playback.CodeInvalid, "cmcd_cdn_invalid"},
		{"JSON ts a string", target, "application/json", `{"ts":"1"}`, 400, playback.CodeInvalid, "cmcd_ts_invalid"},
		{"JSON not an object", target, "application/json", `"x"`, 400, playback.CodeInvalid, events.ReasonCMCDMalformed},
		{"not a dictionary", target, "application/cmcd", "{}", 400, playback.CodeInvalid, events.ReasonCMCDMalformed},
		{"trailing comma", target, "application/cmcd", fmt.Sprintf("ts=%d,", ts), 400, playback.CodeInvalid, events.ReasonCMCDMalformed},
		{"unterminated string", target, "application/cmcd", fmt.Sprintf(`sid="x,ts=%d`, ts), 400, playback.CodeInvalid, events.ReasonCMCDMalformed},
		{"bad report among good", target, "application/cmcd", fmt.Sprintf("e=t,ts=%d\nbr=(x,ts=%d\n", ts, ts), 400, playback.CodeInvalid, events.ReasonCMCDMalformed},
		{"too many reports", target, "application/cmcd", strings.Repeat(fmt.Sprintf("ts=%d\n", ts), events.MaxCMCDReports+1), 400, playback.CodeInvalid, "cmcd_too_many_reports"},
		{"body over the bound", target, "application/cmcd", fmt.Sprintf("ts=%d,com.example-pad=\"%s\"\n", ts, strings.Repeat("x", events.MaxCMCDBodyBytes)), 413, playback.CodeTooLarge, "body_too_large"},
		{"no report", target, "", "", 400, playback.CodeInvalid, "cmcd_no_reports"},
		{"wrong content type", target, "text/plain", fmt.Sprintf("ts=%d", ts), 415, playback.CodeUnsupportedMediaType, ""},
		{"another session's credential", strings.Replace(otherTarget, other, id, 1), "application/cmcd", fmt.Sprintf("ts=%d", ts), 403, playback.CodeForbidden, ""},
		{"forged credential", target + "x", "application/cmcd", fmt.Sprintf("ts=%d", ts), 401, playback.CodeUnauthenticated, ""},
		{"playback token as credential", "/v1/playback/" + id + "/cmcd/" + h.playbackToken(id, "acct_a", "title_1"), "application/cmcd", fmt.Sprintf("ts=%d", ts), 401, playback.CodeUnauthenticated, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.report(http.MethodPost, tc.target, tc.contentType, tc.body)
			wantError(t, rec, tc.status, tc.code, tc.reason)
		})
	}
	if st := h.srv.Stats(); st.Accepted != 0 {
		t.Fatalf("bad input enqueued %d heartbeats", st.Accepted)
	}
	// Unknown keys and unmapped events are accepted and ignored.
	body := fmt.Sprintf("e=xyz,ts=%d,com.example-k=(1 2;q=\"a\"),nor=\"../seg2.m4s\",bg,ot=v,d=4004,rc=200,su\n", ts)
	if rec := h.report(http.MethodPost, target, "application/cmcd", body); rec.Code != http.StatusNoContent {
		t.Fatalf("unknown keys: %d %s", rec.Code, rec.Body)
	}
}

// TestCMCDReplayedReportsNeverMoveBack: reports replayed, reordered or
// retried after a 503 never move the position or the counters backwards.
func TestCMCDReplayedReportsNeverMoveBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id, _ := h.play("acct_a", "title_1", 2)
	target := h.cmcdURL(id, "acct_a", "title_1")
	early := fmt.Sprintf("e=ps,sta=r,pt=10000,ts=%d\n", h.ts(0))
	late := fmt.Sprintf("e=t,sta=p,pt=60000,br=(4000),ts=%d\n", h.ts(50*time.Second))
	for _, body := range []string{late, early, late, early} {
		if rec := h.report(http.MethodPost, target, "application/cmcd", body); rec.Code != http.StatusNoContent {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		h.idle()
	}
	p, err := h.bolt.GetProgress(context.Background(), "acct_a", "title_1")
	if err != nil {
		t.Fatal(err)
	}
	q := h.sessionQoE(id)
	if p.PositionMS != 60_000 || q.QoE.RebufferCount != 0 || q.QoE.BitrateKbps != 4000 || q.Heartbeats != 1 {
		t.Fatalf("progress %+v, QoE %+v", p, q)
	}
}

// TestCMCDPositionWithoutPlayhead: players that send no pt (Shaka Player
// 5.2.12 and dash.js 5.2.1 do not) still move the resume position, by the
// play time between their reports (events/schemas/cmcd.md, "Resume
// position without pt"), read back as an app does, GET /v1/progress.
func TestCMCDPositionWithoutPlayhead(t *testing.T) {
	t.Parallel()
	type report struct {
		wait time.Duration // server time that passes before it
		line string        // the report without ts
		ts   time.Duration // its ts, relative to the server clock
	}
	const none = -1
	for _, tc := range []struct {
		name   string
		stored [2]int64 // resume position and duration before the session; zero: none
		batch  bool     // all reports in one request at the end
		steps  []report
		want   int64 // resume position afterwards, or none
	}{
		{name: "plays on from the resume position, through a pause", stored: [2]int64{100_000, 600_000}, steps: []report{
			{0, "e=t", 0}, {time.Second, "e=ps,sta=p,msd=900", 0}, {10 * time.Second, "e=t,sta=p", 0},
			{3 * time.Second, "e=ps,sta=a", 0}, {35 * time.Second, "e=t,sta=a", 0},
			{2 * time.Second, "e=ps,sta=p", 0}, {5 * time.Second, "e=t,sta=p", 0}},
			want: 100_000 + 10_000 + 3_000 + 5_000},
		{name: "the same reports in one request", stored: [2]int64{100_000, 600_000}, batch: true, steps: []report{
			{0, "e=t", 0}, {time.Second, "e=ps,sta=p,msd=900", 0}, {10 * time.Second, "e=t,sta=p", 0},
			{3 * time.Second, "e=ps,sta=a", 0}, {35 * time.Second, "e=t,sta=a", 0},
			{2 * time.Second, "e=ps,sta=p", 0}, {5 * time.Second, "e=t,sta=p", 0}},
			want: 118_000},
		{name: "a new viewer starts at 0; stalls are not play", steps: []report{
			{0, "e=ps,sta=s", 0}, {time.Second, "e=ps,sta=p", 0}, {4 * time.Second, "e=t,sta=p", 0},
			{time.Second, "e=ps,sta=r", 0}, {2 * time.Second, "e=ps,sta=p", 0}, {3 * time.Second, "e=t,sta=p", 0}},
			want: 4_000 + 1_000 + 3_000},
		{name: "a finished title starts over", stored: [2]int64{590_000, 600_000}, steps: []report{
			{0, "e=ps,sta=p", 0}, {6 * time.Second, "e=t,sta=p", 0}},
			want: 6_000},
		{name: "never past the known duration", stored: [2]int64{90_000, 100_000}, steps: []report{
			{0, "e=ps,sta=p", 0}, {20 * time.Second, "e=t,sta=p", 0}},
			want: 100_000},
		{name: "a seek without pt holds it until a pt", steps: []report{
			{0, "e=ps,sta=p", 0}, {5 * time.Second, "e=t,sta=p", 0}, {time.Second, "e=ps,sta=k", 0},
			{time.Second, "e=ps,sta=p", 0}, {5 * time.Second, "e=t,sta=p", 0},
			{time.Second, "e=t,sta=p,pt=200000", 0}, {2 * time.Second, "e=t,sta=p", 0}},
			want: 202_000},
		{name: "a seek before playback began is the player going to its start", stored: [2]int64{100_000, 600_000}, steps: []report{
			{0, "e=t", 0}, {0, "e=ps,sta=r", time.Millisecond}, {time.Second, "e=ps,sta=k", 0}, {time.Second, "e=t,sta=k", 0},
			{time.Second, "e=ps,sta=p", 0}, {3 * time.Second, "e=t,sta=p", 0}, {time.Second, "e=ps,sta=a", 0}},
			want: 104_000},
		// Stop 56's CI: Shaka Player, loaded at the resume position,
		// reported a seek 84 ms after it first played, one of its own
		// (FirstPlaySeekWindow): to the start, or 0.1 s on.
		{name: "Shaka's seek straight after it first played", stored: [2]int64{2_449, 600_000}, steps: []report{
			{0, "e=t", 0}, {0, "e=ps,sta=r", time.Millisecond}, {time.Second, "e=ps,sta=p", 0},
			{84 * time.Millisecond, "e=ps,sta=k,msd=865", 0}, {300 * time.Millisecond, "e=ps,sta=p", 0},
			{time.Second, "e=t,sta=p", 0}, {time.Second, "e=ps,sta=a", 0}},
			want: 2_449 + 2_000},
		{name: "the same reports in one request, Shaka's seek", stored: [2]int64{2_449, 600_000}, batch: true, steps: []report{
			{0, "e=t", 0}, {0, "e=ps,sta=r", time.Millisecond}, {time.Second, "e=ps,sta=p", 0},
			{84 * time.Millisecond, "e=ps,sta=k,msd=865", 0}, {300 * time.Millisecond, "e=ps,sta=p", 0},
			{time.Second, "e=t,sta=p", 0}, {time.Second, "e=ps,sta=a", 0}},
			want: 4_449},
		{name: "Shaka's seek after an interval report that says playing", stored: [2]int64{2_449, 600_000}, steps: []report{
			{0, "e=ps,sta=r", 0}, {time.Second, "e=ps,sta=p", 0}, {600 * time.Millisecond, "e=t,sta=p", 0},
			{300 * time.Millisecond, "e=ps,sta=k", 0}, {300 * time.Millisecond, "e=ps,sta=p", 0}, {2 * time.Second, "e=t,sta=p", 0}},
			want: 2_449 + 2_000},
		{name: "after Shaka's seek, the viewer's still loses it", stored: [2]int64{2_449, 600_000}, steps: []report{
			{0, "e=ps,sta=r", 0}, {time.Second, "e=ps,sta=p", 0}, {84 * time.Millisecond, "e=ps,sta=k", 0},
			{300 * time.Millisecond, "e=ps,sta=p", 0}, {3 * time.Second, "e=t,sta=p", 0}, {time.Second, "e=ps,sta=k", 0},
			{time.Second, "e=ps,sta=p", 0}, {5 * time.Second, "e=t,sta=p", 0}},
			want: 2_449 + 4_000},
		{name: "a seek after more than a second of play is the viewer's", stored: [2]int64{2_449, 600_000}, steps: []report{
			{0, "e=ps,sta=r", 0}, {time.Second, "e=ps,sta=p", 0}, {1_500 * time.Millisecond, "e=ps,sta=k", 0},
			{300 * time.Millisecond, "e=ps,sta=p", 0}, {5 * time.Second, "e=t,sta=p", 0}},
			want: 2_449 + 1_500},
		{name: "a seek in the first second but not straight from playing is the viewer's", stored: [2]int64{2_449, 600_000}, steps: []report{
			{0, "e=ps,sta=p", 0}, {300 * time.Millisecond, "e=ps,sta=a", 0}, {2 * time.Second, "e=ps,sta=k", 0},
			{300 * time.Millisecond, "e=ps,sta=p", 0}, {5 * time.Second, "e=t,sta=p", 0}},
			want: 2_449 + 300},
		{name: "a report without a state moves it on in the state before", steps: []report{
			{0, "e=ps,sta=p", 0}, {4 * time.Second, "e=rr", 0}, {time.Second, "e=t", 0}, {5 * time.Second, "e=ps,sta=a", 0}},
			want: 10_000},
		{name: "an interval report that says another state counts nothing", steps: []report{
			{0, "e=ps,sta=p", 0}, {5 * time.Second, "e=t,sta=a", 0}, {5 * time.Second, "e=t,sta=p", 0}},
			want: none},
		{name: "no play state, no position (Shaka's optimised build)", steps: []report{
			{0, "e=t,br=(3000)", 0}, {5 * time.Second, "e=t", 0}, {5 * time.Second, "e=t", 0}},
			want: none},
		{name: "replayed and late reports move nothing", steps: []report{
			{0, "e=ps,sta=p", 0}, {5 * time.Second, "e=t,sta=p", 0}, {0, "e=t,sta=p", 0},
			{time.Second, "e=ps,sta=p", -3 * time.Second}},
			want: 5_000},
		{name: "play time is bounded by the server clock", steps: []report{
			// Five minutes of play claimed by a session one second old on
			// the server clock: the position moves by at most that second
			// plus the 10 s slack the edge figures allow.
			{0, "e=ps,sta=p", -5 * time.Minute}, {time.Second, "e=t,sta=p", 0}},
			want: 11_000},
	} {
		for _, wp := range writePaths {
			t.Run(tc.name+"/"+wp.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, harnessOptions{unbatched: wp.unbatched})
				ctx := context.Background()
				if tc.stored[1] > 0 {
					if _, err := h.bolt.SaveProgress(ctx, playback.Progress{AccountID: "acct_a", TitleID: "title_1", SessionID: "ses_old",
						PositionMS: tc.stored[0], DurationMS: tc.stored[1], DeviceTime: h.clock().Add(-time.Hour), UpdatedAt: h.clock()}); err != nil {
						t.Fatal(err)
					}
				}
				id, _ := h.play("acct_a", "title_1", 2)
				target := h.cmcdURL(id, "acct_a", "title_1")
				send := func(body string) {
					t.Helper()
					if rec := h.report(http.MethodPost, target, "application/cmcd", body); rec.Code != http.StatusNoContent {
						t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
					}
					h.idle()
				}
				var body strings.Builder
				for _, r := range tc.steps {
					h.advance(r.wait)
					line := fmt.Sprintf("%s,ts=%d,v=2\n", r.line, h.ts(r.ts))
					if tc.batch {
						body.WriteString(line)
					} else {
						send(line)
					}
				}
				if tc.batch {
					send(body.String())
				}
				rec := h.do(http.MethodGet, "/v1/progress?title_id=title_1", h.callerToken("acct_a"), "")
				switch {
				case tc.want == none && tc.stored[1] == 0:
					if rec.Code != http.StatusNotFound {
						t.Fatalf("progress: %d %s, want none", rec.Code, rec.Body)
					}
				case rec.Code != http.StatusOK:
					t.Fatalf("progress: %d %s", rec.Code, rec.Body)
				default:
					p := decode[heartbeat.ProgressResponse](t, rec)
					if p.PositionMS != tc.want {
						t.Fatalf("resume position %d ms, want %d (%+v; playhead %+v)", p.PositionMS, tc.want, p, h.sessionQoE(id).Playhead)
					}
				}
			})
		}
	}
}

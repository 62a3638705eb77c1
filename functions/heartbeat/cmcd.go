package heartbeat

import (
	"cmp"
	"context"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// cmcd is the CMCD v2 event-mode collector,
// GET|POST /v1/playback/{session_id}/cmcd/{credential}: the URL an app
// gives its player as a CMCD event target (authorizeplay returns it as
// cmcd_report_url). Players add no headers to it, so the session's
// collector credential (auth.IssueCMCD) is part of the path. Each report
// becomes a heartbeat (events.Heartbeat, Source cmcd) and goes the
// heartbeat's way: the lease is held once per request, the reports are
// enqueued and the consumer writes them in batches under the same
// device-time gate (ts), so replayed or reordered reports never move the
// position or the QoE backwards.
//
// Answers: 204 when every report was enqueued; 410 when the session is
// over (CML's reporter, in Shaka Player and dash.js, then drops the target
// and stops reporting); 400 with cmcd_<key>_invalid or cmcd_malformed for
// a bad report, and then nothing of the request is kept; 400
// cmcd_too_many_reports or 413 past the bounds of events.MaxCMCDReports,
// which let a player's flush after an outage through whole; 401 bad
// credential, or an expired one (403 licence_window_ended when the
// licence window ended it) on anything but a request that stops the
// session within TokenStopGrace (stopClaims, as for a heartbeat's stop);
// 403 another session's credential; 503 when the store or the bus is down
// (the reporter re-queues the reports and sends them again).
func (s *Server) cmcd(w http.ResponseWriter, r *http.Request) error {
	now := s.deps.Now()
	cred := r.PathValue("credential")
	claims, expired := s.deps.Tokens.VerifyCMCD(cred, now)
	if expired != nil {
		var ok bool
		if claims, ok = s.stopClaims(expired, now, func(at time.Time) (auth.PlaybackClaims, error) {
			return s.deps.Tokens.VerifyCMCD(cred, at)
		}); !ok {
			return expired
		}
	}
	// As on the heartbeat route, a credential let through by stopClaims
	// may end its session and do nothing else: up to the reports' events,
	// every refusal of its request is its own.
	id := r.PathValue("session_id")
	if id != claims.SessionID {
		return cmp.Or(expired, error(playback.SessionMismatch(id)))
	}
	var buf [4]events.CMCDReport
	reports, err := s.decodeCMCD(r, buf[:0])
	if err != nil {
		return cmp.Or(expired, err)
	}
	// One lease decision for the request: a stop anywhere ends the
	// session, whatever its order in the batch (the reporter's flush at
	// teardown ends with it).
	lease := events.HeartbeatRequest{Event: events.HeartbeatProgress}
	for i := range reports {
		if cmcdEvent(&reports[i]) == events.HeartbeatStop {
			lease.Event = events.HeartbeatStop
		}
	}
	if !stopsWith(expired, lease.Event) {
		return expired
	}
	beats := make([]events.Heartbeat, len(reports))
	for i := range reports {
		if err := s.cmcdBeat(&beats[i], &reports[i], now); err != nil {
			return err
		}
		if beats[i].DeviceTime.After(lease.DeviceTime) {
			lease.DeviceTime = beats[i].DeviceTime
		}
	}
	sess, err := s.holdLease(r.Context(), claims, &lease, now, false)
	if err != nil {
		return err
	}
	if sess.AccountID != claims.AccountID {
		return playback.SessionMismatch(id)
	}
	ptrs := make([]*events.Heartbeat, len(beats))
	leaseEnd := leaseLeft(sess, lease.Event)
	for i := range beats {
		h := &beats[i]
		h.SessionID, h.AccountID, h.TitleID, h.DeviceID = id, sess.AccountID, sess.TitleID, sess.DeviceID
		h.QoE.View = cmcdPlay(&reports[i], id)
		// A heartbeat is known by its device time and acceptance
		// (playback.QoEBeat): a view takes one with both of another's for
		// that one delivered again. ts is in milliseconds, so two events of
		// one request can share it; each report is accepted the smallest
		// step a message tells (events.MessageTimeUnit) after the one
		// before it, which keeps them apart, in the request's order.
		h.ReceivedAt = now.UTC().Add(time.Duration(i) * events.MessageTimeUnit)
		h.SessionStartedAt, h.LeaseExpiresAt = sess.StartedAt.UTC(), leaseEnd
		h.Country, h.ASN, h.DeviceType = claims.Viewer.Country, claims.Viewer.ASN, claims.Viewer.DeviceType
		ptrs[i] = h
	}
	if err := s.enqueue(r.Context(), ptrs...); err != nil {
		return err
	}
	s.stats.accepted.Add(int64(len(beats)))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decodeCMCD reads the reports of every transmission form the request
// uses: the CMCD query parameter, and a body of application/cmcd (or
// text/cmcd) lines or JSON.
func (s *Server) decodeCMCD(r *http.Request, dst []events.CMCDReport) ([]events.CMCDReport, error) {
	if q := r.URL.Query()["CMCD"]; len(q) > 0 {
		if len(q) > 1 {
			return dst, playback.Errorf(playback.CodeInvalid, events.ReasonCMCDMalformed, "the CMCD query parameter appears %d times", len(q))
		}
		rep, err := events.DecodeCMCDQuery(q[0])
		if err != nil {
			return dst, err
		}
		dst = append(dst, rep)
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	body, err := httpx.AppendBody((*bp)[:0], r, events.MaxCMCDBodyBytes)
	*bp = body[:0]
	if err != nil {
		return dst, err
	}
	if len(body) > 0 {
		ct := r.Header.Get("Content-Type")
		mt, _, perr := mime.ParseMediaType(ct)
		switch {
		case perr == nil && (mt == "application/cmcd" || mt == "text/cmcd"):
			dst, err = events.DecodeCMCDText(dst, body)
		case perr == nil && mt == "application/json":
			dst, err = events.DecodeCMCDJSON(dst, body)
		default:
			return dst, playback.Errorf(playback.CodeUnsupportedMediaType, httpx.ReasonContentType,
				"Content-Type must be application/cmcd, text/cmcd or application/json, got %q", ct)
		}
		if err != nil {
			return dst, err
		}
	}
	if len(dst) == 0 {
		return dst, playback.Errorf(playback.CodeInvalid, "cmcd_no_reports", "no CMCD report: send the CMCD query parameter or a body")
	}
	return dst, nil
}

// cmcdBeat maps a report to a heartbeat (without the session's identity).
func (s *Server) cmcdBeat(h *events.Heartbeat, rep *events.CMCDReport, now time.Time) error {
	invalid := func(reason, format string, args ...any) error {
		return playback.Errorf(playback.CodeInvalid, reason, format, args...)
	}
	if rep.TS == 0 {
		// ts is mandatory in event mode, and the reports' only order.
		return invalid("cmcd_ts_missing", "CMCD event reports must carry ts")
	}
	dt := time.UnixMilli(rep.TS).UTC()
	switch {
	case dt.After(now.Add(s.cfg.MaxClockSkew)):
		return invalid("cmcd_ts_in_future", "CMCD ts is more than %s ahead of the server clock", s.cfg.MaxClockSkew)
	case dt.Before(now.Add(-s.cfg.MaxAge)):
		return invalid("cmcd_ts_too_old", "CMCD ts is more than %s behind the server clock", s.cfg.MaxAge)
	}
	*h = events.Heartbeat{Event: cmcdEvent(rep), DeviceTime: dt, Source: events.SourceCMCD,
		CMCDEvent: rep.Event, CMCDState: rep.State, StarvationMS: rep.StarvationMS,
		PositionMS: rep.PlayheadMS, PositionUnknown: !rep.HasPlayhead,
		QoE: playback.QoE{BitrateKbps: rep.BitrateKbps, BufferMS: rep.BufferMS, ThroughputKbps: rep.ThroughputKbps,
			StartupMS: rep.StartupMS, CDN: rep.CDN}}
	if h.QoE.CDN != "" && !playback.ValidID(h.QoE.CDN) {
		return invalid("cmcd_cdn_invalid", "CMCD key cdn must be an id: %s", playback.IDRule)
	}
	return nil
}

// cmcdPlay is the play a report of session id names (QoE.View): its sid
// when that is the id of a session other than its own. CTA-5004 defines
// sid as the GUID that identifies the current playback session, which
// ties a player's reports of one play together; an app that sets it to
// the session id of the play's first POST /v1/play (dash.js
// streaming.cmcd.sid, Shaka Player and hls.js cmcd.sessionId) and keeps
// it when it re-authorizes names the play as a heartbeat's qoe.view does,
// and the play is one view (playback.QoEPlays). The session is still the
// URL's. A session of another account names a play no session of the
// account and title began, and QoEPlays leaves such a session a view of
// its own, startup and all (no qoe.continued is read into it: the play's
// first session, when it is there, keeps the play's startup).
//
// Any other sid (a library's own random UUID, the default; an app's own
// play id) names no play: read as one, it would be the least a session
// named (playback.LeastPlay) beside the qoe.view of the JSON heartbeats
// of a player that reports both ways, so that the play's first session,
// which names none there, would seem to go on with another, and the
// sessions that name it would be views of their own.
func cmcdPlay(rep *events.CMCDReport, id string) string {
	if rep.SessionID == id || !playback.IsSessionID(rep.SessionID) {
		return ""
	}
	return rep.SessionID
}

// cmcdEvent maps a report's event and play state to a heartbeat event:
// quitting or reaching the end stops the session (and frees its stream);
// an error report or a fatal-error state is a playback failure; starting
// starts, paused pauses; every other state (playing, seeking, rebuffering,
// waiting, preloading) and every report without a state is progress,
// which keeps the lease.
func cmcdEvent(rep *events.CMCDReport) string {
	switch {
	case rep.State == events.CMCDStateQuit || rep.State == events.CMCDStateEnded:
		return events.HeartbeatStop
	case rep.Event == events.CMCDEventError || rep.State == events.CMCDStateFatalError:
		return events.HeartbeatError
	case rep.State == events.CMCDStateStarting:
		return events.HeartbeatStart
	case rep.State == events.CMCDStatePaused:
		return events.HeartbeatPause
	}
	return events.HeartbeatProgress
}

// cmcdIntervals folds the time between a session's CMCD reports into its
// play and stall time; prevState is the state (sta) of the report counted
// before h, "" if unknown. Every state change is reported (e=ps) as it
// happens, so the gap before a report was spent in prevState when h is a
// state change, says the state held, or says no state (a report of
// another event, such as e=rr: no change came before it): play time when
// that was playing (the same time cmcdPlayhead moves the position by, so
// the two agree), stall time when it was rebuffering. An interval report
// (e=t) that says playing or rebuffering says so of the gap before it
// too. A gap whose state no report says is not counted: the figures err
// low. A change into
// rebuffering counts one stall (CTA-5004-B's buffer starvation event).
//
// bsd is the duration of a starvation period, told once it is over: of a
// player that reports its states, the stall those reports timed already,
// so it is not added again. Only a player that has reported no state
// tells its stalls by bsd alone, each one stall of that time.
func cmcdIntervals(q *playback.QoE, h *events.Heartbeat, prev time.Time, prevState string) {
	if h.Source != events.SourceCMCD {
		return
	}
	if h.CMCDState == events.CMCDStateRebuffering && prevState != events.CMCDStateRebuffering {
		q.RebufferCount++
	}
	if h.StarvationMS > 0 && prevState == "" && h.CMCDState == "" {
		q.RebufferCount++
		q.RebufferMS += h.StarvationMS
	}
	if prev.IsZero() {
		return
	}
	gap := h.DeviceTime.Sub(prev).Milliseconds()
	held := func(state string) bool {
		return spentIn(prevState, h, state) || h.CMCDEvent == events.CMCDEventTimeInterval && h.CMCDState == state
	}
	switch {
	case held(events.CMCDStatePlaying):
		q.PlayedMS += gap
	case held(events.CMCDStateRebuffering):
		q.RebufferMS += gap
	}
}

// playheadStart is where a session's derived playhead starts: the playhead
// base already holds, or, before the session's first CMCD report is
// counted, the resume position the app found when it started the player
// (GET /v1/progress, the resume flow), from the start again when that
// position is within the credits. Deriving from 0 instead would let a
// resumed session's first seconds overwrite where the viewer had got to.
// It reads the store once per CMCD session.
func playheadStart(ctx context.Context, store playback.ProgressStore, base playback.SessionQoE, beats []events.Heartbeat) (playback.Playhead, error) {
	if base.Playhead.Known || !slices.ContainsFunc(beats, func(h events.Heartbeat) bool { return h.Source == events.SourceCMCD }) {
		return base.Playhead, nil
	}
	latest := &beats[len(beats)-1]
	p, err := store.GetProgress(ctx, latest.AccountID, latest.TitleID)
	switch {
	case playback.IsCode(err, playback.CodeNotFound):
		return playback.Playhead{Known: true}, nil
	case err != nil:
		return playback.Playhead{}, err
	}
	ph := playback.Playhead{Known: true, PositionMS: p.PositionMS, DurationMS: p.DurationMS}
	if p.DurationMS > 0 && float64(p.PositionMS) >= CompletedFraction*float64(p.DurationMS) {
		ph.PositionMS = 0
	}
	return ph, nil
}

// FirstPlaySeekWindow is the play, counted from the first report that
// said playing, within which a seek without pt reported straight from
// playing is taken for Shaka Player's own and takes the position back to
// where the play began. Shaka seeks there, once it was told a start, in
// two ways. Its move to the start (lib/media/video_wrapper.js
// setStartTime_, run once the element has its metadata; PlayheadMover sets
// it again every 100 ms, up to 10 times, while the element has not taken
// it) goes to the load's start (lib/media/playhead.js getStartTime_); with
// nothing buffered Shaka fetches the segment 2 s before that start first
// (streaming.inaccurateManifestTolerance), so the element can have data
// at 0 and a playing event queued before that seek's. And its stall
// detector (lib/media/gap_jumping_controller.js), whose clock runs while
// that seek waits for its segment, skips 0.1 s forward (stallSkip) at its
// first poll after playing when the element has not moved for 1 s. Every
// other seek Shaka makes in a play without ads goes forward (gap jump,
// initial buffer gap) or back 1 ms (flush_ of an emptied buffer): the
// position taken back errs early, never late, for all of them. A
// viewer's seek back within that second is read as Shaka's: the position
// is then late by the seek, as for one before the first play.
const FirstPlaySeekWindow = time.Second

// cmcdPlayhead moves the session's playhead by one counted heartbeat h
// (prev: the device time of the one counted before it, zero if none) and
// reports whether the position changed. A pt sets it. Without pt, the time
// since the previous report is play time, and moves it on, when that
// report said playing and h says the state held (an interval report that
// says playing), says no state, or is the report of the state's change
// (e=ps: every change is reported as it happens, so the time before it
// was spent in the previous state). Anything else moves nothing: the position errs
// early, never late. A seek without pt, once playback began, loses the
// position until a report carries pt again; one before it (Shaka Player
// seeks to the start it was given while it first buffers) keeps it, and
// one straight from playing within the first FirstPlaySeekWindow of play
// (Shaka's own, reported after it first played) takes it back to where
// the play began. The position never passes the known duration, and the play time it was
// moved by, all told, never passes the session's age on the server clock
// when h arrived (plus plausibilitySlack, as for the edge figures): a
// player's ts cannot claim more play than there was time.
func cmcdPlayhead(ph *playback.Playhead, h *events.Heartbeat, prev time.Time) bool {
	if h.Source != events.SourceCMCD || !ph.Known {
		return false
	}
	limit := MaxDurationMS
	if ph.DurationMS > 0 {
		limit = ph.DurationMS
	}
	changed := false
	switch {
	case !h.PositionUnknown:
		ph.PositionMS, ph.Lost, changed = min(h.PositionMS, limit), false, true
	case !ph.Lost && !prev.IsZero() && spentIn(ph.State, h, events.CMCDStatePlaying):
		budget := MaxDurationMS
		if !h.SessionStartedAt.IsZero() {
			budget = (h.ReceivedAt.Sub(h.SessionStartedAt) + plausibilitySlack).Milliseconds() - ph.AdvancedMS
		}
		if step := min(h.DeviceTime.Sub(prev).Milliseconds(), budget, limit-ph.PositionMS); step > 0 {
			ph.PositionMS += step
			ph.AdvancedMS += step
			changed = true
		}
	}
	if h.PositionUnknown && h.CMCDState == events.CMCDStateSeeking && ph.Began && !ph.Lost {
		if ph.State == events.CMCDStatePlaying && ph.AdvancedMS <= FirstPlaySeekWindow.Milliseconds() {
			// Undoing the play counted since the play began (none was
			// counted before it) puts the position back where it began,
			// or earlier should a pt have come between.
			if ph.AdvancedMS > 0 {
				ph.PositionMS, ph.AdvancedMS, changed = max(ph.PositionMS-ph.AdvancedMS, 0), 0, true
			}
		} else {
			ph.Lost = true
		}
	}
	if h.CMCDState == events.CMCDStatePlaying {
		ph.Began = true
	}
	if h.CMCDState != "" {
		ph.State = h.CMCDState
	}
	return changed
}

// latestPosition is the newest heartbeat of beats (sorted by device time)
// that carries a position, if any does.
func latestPosition(beats []events.Heartbeat) (*events.Heartbeat, bool) {
	for i := len(beats) - 1; i >= 0; i-- {
		if !beats[i].PositionUnknown {
			return &beats[i], true
		}
	}
	return nil, false
}

// spentIn reports whether the time since the report before h, whose
// state was prev, was spent in state: prev was state, and h is the
// change out of it (a play-state report), still says it, or says no
// state (every change is reported as it happens, so none came between).
// The stall and play time and the derived position read it alike.
func spentIn(prev string, h *events.Heartbeat, state string) bool {
	return prev == state && (h.CMCDEvent == events.CMCDEventPlayState || h.CMCDState == state || h.CMCDState == "")
}

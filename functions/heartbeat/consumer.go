package heartbeat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// plausibilitySlack is what a session's play plus stall time may exceed
// the server time between two of its heartbeats by (network jitter,
// buffered heartbeats) before the excess is treated as a lie and kept out
// of the edge figures.
const plausibilitySlack = 10 * time.Second

// session is the part of a batch that belongs to one session.
type session struct {
	ids   []string           // every message coalesced here
	beats []events.Heartbeat // in bus order, then sorted by device time
	// derived is the session's QoE after each of beats that coalesce
	// counted, zero for the others: a CMCD report's play and stall time
	// are derived from the reports before it.
	derived []playback.QoE
	err     error // a retryable store failure
	viewed  bool  // its view reports were folded with its write
}

// consume is the heartbeats BatchHandler. It decodes the batch, coalesces
// it per session and writes each session's state once: the resume position
// of the newest heartbeat and the session's QoE, both gated on device time
// by the store, so late or replayed heartbeats never move state backwards.
// It asks for redelivery only of the messages of sessions whose write
// failed with a retryable error; malformed messages are logged and
// acknowledged.
func (s *Server) consume(ctx context.Context, msgs []playback.Message) []string {
	s.stats.batches.Add(1)
	var order []*session
	bySession := make(map[string]*session, len(msgs))
	for _, m := range msgs {
		h, err := events.DecodeHeartbeat(m.Data)
		if err == nil {
			err = checkMessage(&h)
		}
		if err != nil {
			s.stats.malformed.Add(1)
			s.deps.Log.WarnContext(ctx, "heartbeat message dropped", "message_id", m.ID, "err", err)
			continue
		}
		g := bySession[h.SessionID]
		if g == nil {
			g = &session{}
			bySession[h.SessionID] = g
			order = append(order, g)
		}
		g.ids = append(g.ids, m.ID)
		g.beats = append(g.beats, h)
	}
	for _, g := range order {
		slices.SortStableFunc(g.beats, func(a, b events.Heartbeat) int { return a.DeviceTime.Compare(b.DeviceTime) })
		g.derived = make([]playback.QoE, len(g.beats))
	}

	var edges edgeDeltas
	batched := false
	if s.deps.Batch != nil && len(order) > 0 {
		err := s.applyBatch(ctx, s.deps.Batch, order, &edges)
		if err != nil {
			// Nothing of the batch was written: each session on its own
			// finds out which of them fail.
			s.deps.Log.WarnContext(ctx, "heartbeat batch write failed; writing session by session", "sessions", len(order), "err", err)
		} else {
			s.stats.batchWrites.Add(1)
		}
		batched = err == nil
	}
	if !batched {
		sem := make(chan struct{}, s.cfg.ConsumerParallelism)
		var wg sync.WaitGroup
		for _, g := range order {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				// No recover of the bus's (playback.BatchHandler.Call)
				// reaches this goroutine: a panic here killed the
				// process, and on Lambda failed the whole batch. It fails
				// this session's write, as a store failure would.
				defer func() {
					if p := recover(); p != nil {
						g.err = fmt.Errorf("heartbeat.consume: writing session %s panicked: %v", g.beats[0].SessionID, p)
					}
				}()
				g.err = s.apply(ctx, g, &edges)
			})
		}
		wg.Wait()
	}
	if s.cfg.EdgeQoEFeedback {
		s.foldEdges(ctx, &edges)
	}
	if s.deps.QoE != nil {
		// The heartbeats the warehouse stream gets (forward): all but
		// those being redelivered, late and replayed ones included.
		var views []playback.QoEReport
		for _, g := range order {
			if g.err == nil && !g.viewed {
				views = append(views, viewReports(g)...)
			}
		}
		s.recordViews(ctx, views)
	}

	var retry []string
	for _, g := range order {
		if g.err != nil {
			retry = append(retry, g.ids...)
			s.deps.Log.ErrorContext(ctx, "heartbeat write failed; asking for redelivery",
				"session_id", g.beats[0].SessionID, "messages", len(g.ids), "err", g.err)
		}
	}
	s.stats.retried.Add(int64(len(retry)))
	s.stats.consumed.Add(int64(len(msgs) - len(retry)))
	if s.deps.Stream != nil {
		s.forward(ctx, msgs, order)
	}
	return retry
}

// forward hands the batch's well-formed messages that are not being
// redelivered to Deps.Stream (their redelivery forwards them then). A
// failure is logged and counted, never retried: the warehouse is
// analytics, and holding heartbeats back for it would stall resume
// positions.
func (s *Server) forward(ctx context.Context, msgs []playback.Message, order []*session) {
	keep := make(map[string]bool, len(msgs))
	for _, g := range order {
		if g.err == nil {
			for _, id := range g.ids {
				keep[id] = true
			}
		}
	}
	out := make([]playback.Message, 0, len(keep))
	for _, m := range msgs {
		if keep[m.ID] {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return
	}
	if err := s.deps.Stream.Forward(ctx, out); err != nil {
		s.stats.streamLost.Add(int64(len(out)))
		s.deps.Log.ErrorContext(ctx, "heartbeats not forwarded to the warehouse stream", "messages", len(out), "err", err)
		return
	}
	s.stats.forwarded.Add(int64(len(out)))
}

// checkMessage refuses messages no producer of ours writes.
func checkMessage(h *events.Heartbeat) error {
	switch {
	case h.SessionID == "" || h.AccountID == "" || h.TitleID == "":
		return errors.New("session_id, account_id and title_id are required")
	case h.DeviceTime.IsZero() || h.ReceivedAt.IsZero():
		return errors.New("device_time and received_at are required")
	case h.Source == events.SourceCMCD:
		// CMCD carries no content duration: 0, and the position unbounded.
		if h.DurationMS != 0 || h.PositionMS < 0 || h.PositionMS > MaxDurationMS {
			return errors.New("position_ms or duration_ms out of range")
		}
	case h.Source != "":
		return errors.New("unknown source " + h.Source)
	case h.PositionUnknown:
		// A player's heartbeat before its first frame: no position at all.
		if h.DurationMS != 0 || h.PositionMS != 0 {
			return errors.New("position_ms or duration_ms set on a heartbeat without a position")
		}
	case h.DurationMS <= 0 || h.PositionMS < 0 || h.PositionMS > h.DurationMS:
		return errors.New("position_ms or duration_ms out of range")
	}
	return nil
}

// qoeAttempts bounds apply's rounds of building a session's QoE state on
// the stored one: each round that loses found a newer state another
// consumer wrote, so only a storm of consumers of one session exhausts it,
// and then the messages are redelivered.
const qoeAttempts = 4

// apply writes one session's coalesced heartbeats. Only retryable store
// errors are returned; anything else would fail again on redelivery, so it
// is logged and the messages acknowledged.
//
// Consumers of one session run side by side (Lambda runs batches of a
// standard SQS queue concurrently, each Pub/Sub push is an invocation of
// its own), so the QoE state is written on the state it was built on
// (SaveSessionQoE's on): when another consumer's write landed between the
// read and the write, the heartbeats are folded again onto the state it
// stored, never over it.
func (s *Server) apply(ctx context.Context, g *session, edges *edgeDeltas) error {
	latest := &g.beats[len(g.beats)-1]
	keep := func(op string, err error) error {
		if err == nil || playback.ErrorCode(err).Retryable() {
			return err
		}
		s.deps.Log.ErrorContext(ctx, "heartbeat write refused; dropping", "op", op, "session_id", latest.SessionID, "err", err)
		return nil
	}

	base, err := s.deps.Store.GetSessionQoE(ctx, latest.SessionID)
	if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
		return keep("GetSessionQoE", err)
	}
	for attempt := 1; ; attempt++ {
		if base.Playhead, err = playheadStart(ctx, s.deps.Store, base, g.beats); err != nil {
			return keep("GetProgress", err)
		}
		next, counted, moved := coalesce(base, g.beats, g.derived)
		if counted == 0 {
			// The stored state holds every heartbeat here already (a
			// redelivery), or a newer one overtook them. The position it
			// implies is written again: the gate makes that a no-op,
			// unless it is the write that failed after the state's.
			if p, _, ok := positionOf(g.beats, base, base.Playhead.MovedAt); ok {
				if _, err := s.deps.Store.SaveProgress(ctx, p); err != nil {
					return keep("SaveProgress", err)
				}
			}
			s.stats.stale.Add(int64(len(g.beats)))
			return nil
		}

		// A position a heartbeat carries goes before the QoE: if the QoE
		// write fails, the redelivery finds the position already saved
		// and the gate makes that second save a no-op. One derived from
		// the state is only as good as the state it was derived from, so
		// it waits until that state is stored on the state it was built
		// on; if its write fails then, the redelivery derives it again
		// from the stored state (above).
		p, fromState, ok := positionOf(g.beats, next, moved)
		if ok && !fromState {
			if _, err := s.deps.Store.SaveProgress(ctx, p); err != nil {
				return keep("SaveProgress", err)
			}
		}
		prev, applied, err := s.deps.Store.SaveSessionQoE(ctx, next, base.DeviceTime)
		if playback.IsCode(err, playback.CodePrecondition) {
			if attempt == qoeAttempts {
				return playback.Unavailable(err, "heartbeat.apply: session %q QoE contended", latest.SessionID)
			}
			base = prev
			continue
		}
		if err != nil {
			return keep("SaveSessionQoE", err)
		}
		s.account(ctx, g, counted, applied, prev, next, edges)
		if applied && ok && fromState {
			if _, err := s.deps.Store.SaveProgress(ctx, p); err != nil {
				return keep("SaveProgress", err)
			}
		}
		return nil
	}
}

// applyBatch is apply for every session of the batch at once, on a store
// that writes them in one transaction: one read of the sessions' QoE
// states, one write of all positions and states.
func (s *Server) applyBatch(ctx context.Context, bs playback.ProgressBatchStore, order []*session, edges *edgeDeltas) error {
	ids := make([]string, len(order))
	for i, g := range order {
		ids[i] = g.beats[0].SessionID
	}
	bases, err := bs.GetSessionQoEs(ctx, ids)
	if err != nil {
		return err
	}
	writes := make([]playback.ProgressWrite, len(order))
	nexts := make([]playback.SessionQoE, len(order))
	counts := make([]int, len(order))
	for i, g := range order {
		base := bases[ids[i]]
		if base.Playhead, err = playheadStart(ctx, bs, base, g.beats); err != nil {
			return err
		}
		var moved time.Time
		nexts[i], counts[i], moved = coalesce(base, g.beats, g.derived)
		if counts[i] == 0 {
			moved = base.Playhead.MovedAt // as apply: the position the stored state implies
		}
		// The position goes in the state's transaction, so one derived
		// from a state that moved since the read is refused with it.
		if p, _, ok := positionOf(g.beats, nexts[i], moved); ok {
			writes[i].Progress = p
		} else {
			writes[i].NoProgress = true
		}
		if counts[i] > 0 {
			writes[i].QoE, writes[i].QoEOn = &nexts[i], base.DeviceTime
		}
		if s.deps.QoE != nil {
			writes[i].Views = viewReports(g)
		}
	}
	results, err := bs.SaveProgressBatch(ctx, writes)
	if err != nil {
		return err
	}
	for i, g := range order {
		if results[i].ViewApplied {
			g.viewed = true // folded in the batch's transaction
			s.stats.qoeViews.Add(int64(len(writes[i].Views)))
		}
		s.account(ctx, g, counts[i], results[i].QoEApplied, results[i].PrevQoE, nexts[i], edges)
	}
	return nil
}

// account counts a session's heartbeats once its QoE write is settled and
// hands the viewing it adds to its edge.
func (s *Server) account(ctx context.Context, g *session, counted int, applied bool, prev, next playback.SessionQoE, edges *edgeDeltas) {
	if !applied {
		// Nothing newer than the stored state, or a concurrent consumer
		// stored a newer state between our read and write: ours is older
		// and was refused whole.
		s.stats.stale.Add(int64(len(g.beats)))
		return
	}
	s.stats.applied.Add(int64(counted))
	s.stats.stale.Add(int64(len(g.beats) - counted))
	if s.cfg.EdgeQoEFeedback {
		if d, ok := s.delta(ctx, prev, next, &g.beats[len(g.beats)-1]); ok {
			edges.add(next.EdgeID, d)
		}
	}
}

func progressOf(h *events.Heartbeat) playback.Progress {
	return playback.Progress{AccountID: h.AccountID, TitleID: h.TitleID, SessionID: h.SessionID, DeviceID: h.DeviceID,
		PositionMS: h.PositionMS, DurationMS: h.DurationMS, DeviceTime: h.DeviceTime, UpdatedAt: h.ReceivedAt}
}

// positionOf is the resume position a session's batch writes, if any: the
// newest heartbeat that carries one, or the playhead of the state next
// (its CMCD reports moved it at moved, zero if they did not), whichever is
// newer. fromState says it is the state's.
func positionOf(beats []events.Heartbeat, next playback.SessionQoE, moved time.Time) (_ playback.Progress, fromState, ok bool) {
	p, ok := latestPosition(beats)
	if moved.IsZero() || ok && moved.Before(p.DeviceTime) {
		if !ok {
			return playback.Progress{}, false, false
		}
		return progressOf(p), false, true
	}
	latest := &beats[len(beats)-1]
	return playback.Progress{AccountID: latest.AccountID, TitleID: latest.TitleID, SessionID: latest.SessionID, DeviceID: latest.DeviceID,
		PositionMS: next.Playhead.PositionMS, DurationMS: next.Playhead.DurationMS, DeviceTime: moved, UpdatedAt: latest.ReceivedAt}, true, true
}

// coalesce folds the heartbeats newer than base into the session's next QoE
// state and counts them; heartbeats at or before base's device time (late or
// replayed) and repeats of one device time count nothing. moved is the
// device time of the last counted CMCD report that moved the session's
// playhead, zero if none did. derived (as long as beats) gets the state
// after each counted heartbeat, zero for the others.
func coalesce(base playback.SessionQoE, beats []events.Heartbeat, derived []playback.QoE) (next playback.SessionQoE, counted int, moved time.Time) {
	latest := &beats[len(beats)-1]
	next = playback.SessionQoE{SessionID: latest.SessionID, AccountID: latest.AccountID, TitleID: latest.TitleID,
		Heartbeats: base.Heartbeats, QoE: base.QoE, Playhead: base.Playhead}
	// A state stored before a CMCD stall was counted with its time (each
	// bsd was added as stall time alone) tells stall time in no stall,
	// which QoEBounds would refuse in every view report derived from it
	// until the session ended. That time was one stall at least.
	if next.QoE.RebufferMS > 0 && next.QoE.RebufferCount == 0 {
		next.QoE.RebufferCount = 1
	}
	clear(derived)
	last := base.DeviceTime
	for i := range beats {
		h := &beats[i]
		if !h.DeviceTime.After(last) {
			continue
		}
		counted++
		next.QoE = mergeQoE(next.QoE, h.QoE)
		cmcdIntervals(&next.QoE, h, last, next.Playhead.State) // the state before cmcdPlayhead moves it on
		if cmcdPlayhead(&next.Playhead, h, last) {
			moved = h.DeviceTime
			next.Playhead.MovedAt = moved
		}
		derived[i] = next.QoE
		last = h.DeviceTime
	}
	next.Heartbeats += counted
	next.DeviceTime, next.UpdatedAt, next.EdgeID = latest.DeviceTime, latest.ReceivedAt, next.QoE.EdgeID
	return next, counted, moved
}

// mergeQoE lays a newer report over the state. Cumulative counters never go
// back (a report that omits them, like a pause event's, must not reset
// them, or the next report would count the same stalls again), nor does
// Continued, which the session says of itself, nor the play it names
// (View: the least named, as its view keeps); other figures keep their
// last known value when a report omits them.
func mergeQoE(state, report playback.QoE) playback.QoE {
	state.RebufferCount = max(state.RebufferCount, report.RebufferCount)
	state.RebufferMS = max(state.RebufferMS, report.RebufferMS)
	state.PlayedMS = max(state.PlayedMS, report.PlayedMS)
	state.DroppedFrames = max(state.DroppedFrames, report.DroppedFrames)
	state.Continued = state.Continued || report.Continued
	state.View = playback.LeastPlay(state.View, report.View)
	nonZero := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	nonZero(&state.BitrateKbps, report.BitrateKbps)
	nonZero(&state.BufferMS, report.BufferMS)
	nonZero(&state.ThroughputKbps, report.ThroughputKbps)
	nonZero(&state.StartupMS, report.StartupMS)
	if report.CDN != "" {
		state.CDN = report.CDN
	}
	if report.EdgeID != "" {
		state.EdgeID = report.EdgeID
	}
	return state
}

// edgeDelta is viewing an edge served since its sessions' previous states.
type edgeDelta struct {
	rebufferMS, playedMS int64
	// throughput weighted by the play time it was measured over
	kbpsTimesMS, kbpsWeightMS float64
}

// delta is what the session's applied write adds to its edge: the growth of
// the cumulative counters from the state the store replaced (not the one we
// read: that is the state the write really followed). A redelivered batch
// is refused by the device-time gate and adds nothing, so no viewing is
// counted twice; a crash between the session write and the edge write
// loses the delta instead, the safe side.
func (s *Server) delta(ctx context.Context, prev, next playback.SessionQoE, latest *events.Heartbeat) (edgeDelta, bool) {
	if next.EdgeID == "" {
		return edgeDelta{}, false
	}
	d := edgeDelta{rebufferMS: max(0, next.QoE.RebufferMS-prev.QoE.RebufferMS), playedMS: max(0, next.QoE.PlayedMS-prev.QoE.PlayedMS)}
	if d.rebufferMS+d.playedMS == 0 {
		return edgeDelta{}, false
	}
	// A player's counters are its word; the server clock bounds them. A
	// session cannot play and stall longer than the time between its
	// heartbeats' arrivals, so one token holder cannot sink an edge with a
	// claimed hour of stalls.
	since := latest.SessionStartedAt
	if prev.SessionID != "" && !prev.UpdatedAt.IsZero() {
		since = prev.UpdatedAt
	}
	// Compared in milliseconds, neither multiplied nor summed: both are
	// non-negative player figures, which either would let wrap.
	if budget := latest.ReceivedAt.Sub(since) + plausibilitySlack; d.rebufferMS > budget.Milliseconds() ||
		d.playedMS > budget.Milliseconds()-d.rebufferMS {
		s.deps.Log.WarnContext(ctx, "implausible QoE delta kept out of edge figures", "session_id", next.SessionID,
			"edge_id", next.EdgeID, "rebuffer_ms", d.rebufferMS, "played_ms", d.playedMS, "budget", budget)
		return edgeDelta{}, false
	}
	// A throughput no link measures would hold the edge's figure up for
	// dozens of windows while it decays: left out, as the CMCD route
	// refuses it.
	if kbps := next.QoE.ThroughputKbps; kbps > 0 && kbps <= playback.MaxQoEThroughputKbps && d.playedMS > 0 {
		d.kbpsWeightMS = float64(d.playedMS)
		d.kbpsTimesMS = float64(kbps) * d.kbpsWeightMS
	}
	return d, true
}

// edgeDeltas sums a batch's deltas per edge, so each edge is written once
// per batch.
type edgeDeltas struct {
	mu sync.Mutex
	m  map[string]edgeDelta
}

func (e *edgeDeltas) add(edgeID string, d edgeDelta) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]edgeDelta{}
	}
	sum := e.m[edgeID]
	sum.rebufferMS += d.rebufferMS
	sum.playedMS += d.playedMS
	sum.kbpsTimesMS += d.kbpsTimesMS
	sum.kbpsWeightMS += d.kbpsWeightMS
	e.m[edgeID] = sum
}

// foldEdges writes the batch's deltas into the edge table. Failures are
// logged, never retried: the session writes they follow are acknowledged
// already, and a retry could count them twice.
func (s *Server) foldEdges(ctx context.Context, edges *edgeDeltas) {
	ids := make([]string, 0, len(edges.m))
	for id := range edges.m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	window := float64(s.cfg.EdgeQoEWindow.Milliseconds())
	for _, id := range ids {
		d := edges.m[id]
		_, err := s.deps.Store.UpdateEdge(ctx, id, func(e *playback.Edge) error {
			foldEdge(e, d, window)
			return nil
		})
		switch {
		case err == nil:
			s.stats.edgeUpdates.Add(1)
		case playback.IsCode(err, playback.CodeNotFound):
			s.deps.Log.InfoContext(ctx, "heartbeats name an edge that is not in the table", "edge_id", id)
		default:
			s.deps.Log.ErrorContext(ctx, "edge QoE update lost", "edge_id", id, "err", err)
		}
	}
}

// foldEdge moves the edge's figures towards the batch's, each sample
// weighing 1-exp(-w/window) for the w ms of viewing it covers: an
// exponentially weighted average over viewing time, so a minute of one
// session moves the figure little and an hour of many sessions a lot, and
// old viewing fades at the same rate however it was batched.
func foldEdge(e *playback.Edge, d edgeDelta, windowMS float64) {
	if w := float64(d.rebufferMS + d.playedMS); w > 0 {
		alpha := -math.Expm1(-w / windowMS)
		ratio := float64(d.rebufferMS) / w
		e.RebufferRatio = clamp(e.RebufferRatio+alpha*(ratio-e.RebufferRatio), 0, 1)
	}
	if d.kbpsWeightMS > 0 {
		kbps := d.kbpsTimesMS / d.kbpsWeightMS
		if e.ThroughputKbps <= 0 {
			e.ThroughputKbps = kbps
		} else {
			e.ThroughputKbps += -math.Expm1(-d.kbpsWeightMS/windowMS) * (kbps - e.ThroughputKbps)
		}
	}
}

func clamp[T cmp.Ordered](v, lo, hi T) T { return min(max(v, lo), hi) }

// viewReports are the view reports of a session's heartbeats: each one's
// own figures, event, server times and lease end (playback.QoEReport), as
// the warehouse reads each message, whether or not the session's state
// counted it (late and replayed ones included: the view is a function of
// the set). A CMCD report tells no play or stall time of its own: it
// carries what the session's state derived up to it (zero when the state
// did not count it). There are none for messages from before
// session_started_at existed: a view is bucketed by the hour it started,
// which they do not tell (any stand-in would move with each batch and
// count the view once per hour), and the warehouse queries leave them out
// too. Messages from before lease_expires_at carry no lease end, and a
// view told none never times out.
func viewReports(g *session) []playback.QoEReport {
	out := make([]playback.QoEReport, 0, len(g.beats))
	for i := range g.beats {
		h := &g.beats[i]
		if h.SessionStartedAt.IsZero() {
			continue
		}
		q := h.QoE
		if h.Source == events.SourceCMCD {
			q.PlayedMS, q.RebufferMS, q.RebufferCount = g.derived[i].PlayedMS, g.derived[i].RebufferMS, g.derived[i].RebufferCount
		}
		out = append(out, playback.QoEReport{SessionID: h.SessionID, AccountID: h.AccountID, TitleID: h.TitleID, Country: h.Country, ASN: h.ASN,
			DeviceType: h.DeviceType, Stopped: h.Event == events.HeartbeatStop, Failed: h.Event == events.HeartbeatError,
			SessionStartedAt: h.SessionStartedAt, ReceivedAt: h.ReceivedAt, DeviceTime: h.DeviceTime,
			LeaseEndsBy: h.LeaseExpiresAt, QoE: q})
	}
	return out
}

// recordViews hands the batch's view reports to the QoE store, in one
// write. A failure is logged and counted, never retried: the session
// writes the reports follow are acknowledged already, and analytics must
// not hold heartbeats back.
func (s *Server) recordViews(ctx context.Context, views []playback.QoEReport) {
	if len(views) == 0 {
		return
	}
	if err := s.deps.QoE.ApplyQoEReports(ctx, views); err != nil {
		s.stats.qoeLost.Add(int64(len(views)))
		s.deps.Log.ErrorContext(ctx, "QoE view reports lost", "reports", len(views), "err", err)
		return
	}
	s.stats.qoeViews.Add(int64(len(views)))
}

package playback

import (
	"context"
	"slices"
	"time"
)

// QoEPageViews is how many views StreamQoEPlays asks the store for at a
// time.
const QoEPageViews = 1000

// StreamQoEPlays hands emit the plays QoEPlays answers for [from, to),
// reading the sessions that started in [from-QoEPlaySlack,
// to+QoEPlaySlack) from store a page of limit views at a time, in the
// order QoEViewPage lists them, so that what it holds at once is a page
// and the plays that sessions may still join (QoEPlayFold), not the
// range. The plays come in the order they are complete, not QoEPlays'.
func StreamQoEPlays(ctx context.Context, store QoEStore, from, to time.Time, limit int, emit func(QoEView)) error {
	limit = max(limit, 1)
	fold := NewQoEPlayFold(from, to, emit)
	var after QoEViewMark
	for {
		page, err := store.QoEViewPage(ctx, from.Add(-QoEPlaySlack), to.Add(QoEPlaySlack), after, limit)
		if err != nil {
			return err
		}
		for _, v := range page {
			if v.Mark().Compare(after) <= 0 {
				// A store that pages from the start again would have
				// the route read for ever.
				e := Errorf(CodeInternal, "qoe_views_out_of_order", "view %q listed after %v is not after it", v.SessionID, after)
				e.RetryAfter = NoRetry
				return e
			}
			after = v.Mark()
			if err := fold.Add(v); err != nil {
				return err
			}
		}
		if len(page) < limit {
			break
		}
	}
	fold.Close()
	return nil
}

// QoEPlayFold is QoEPlays over sessions' views handed to it in the order
// of their start hours (QoEViewPage's; within an hour any order): it holds
// the views of the hour being read and of the plays whose first session
// started less than QoEPlaySlack before it, and hands every other play to
// emit as soon as no session to come can join it. A session can join a
// play only if it started no earlier than the play's first and less than
// QoEPlaySlack after it, so once the views of an hour are all read a
// session naming a play whose first is not among them or before is a
// view of its own, and a play whose first started QoEPlaySlack or more
// before the next hour read is complete. Views are taken to start in
// their Hour (QoEView.Observe makes it QoEHour(StartedAt)).
//
// A play is emitted only if it started in [from, to), as QoEPlays
// answers it. Were two views to be of one session, account and title (a
// store keeps one a session), QoEPlays takes the play to begin at the one
// it reads last and the fold at the first.
type QoEPlayFold struct {
	from, to time.Time
	emit     func(QoEView)
	hour     time.Time  // the start hour of the views being read
	reading  []QoEView  // the views of hour read so far
	open     []*qoeOpen // the plays sessions may still join, by their first's start
	byPlay   map[QoEPlay]*qoeOpen
	held     int
	started  bool
}

type qoeOpen struct {
	play     QoEPlay
	began    time.Time // the first session's start
	sessions []QoEView
}

// NewQoEPlayFold folds the plays of [from, to) into emit.
func NewQoEPlayFold(from, to time.Time, emit func(QoEView)) *QoEPlayFold {
	return &QoEPlayFold{from: from, to: to, emit: emit, byPlay: map[QoEPlay]*qoeOpen{}}
}

// Held is how many views the fold holds.
func (f *QoEPlayFold) Held() int { return f.held }

// Add folds in v, which started in the hour of the views before it or
// later.
func (f *QoEPlayFold) Add(v QoEView) error {
	switch {
	case !f.started:
		f.hour, f.started = v.Hour, true
	case v.Hour.Before(f.hour):
		// A store that breaks QoEViewPage's order: reading again cannot
		// heal it.
		e := Errorf(CodeInternal, "qoe_views_out_of_order", "view %q of hour %s came after views of %s",
			v.SessionID, v.Hour.Format(time.RFC3339), f.hour.Format(time.RFC3339))
		e.RetryAfter = NoRetry
		return e
	case v.Hour.After(f.hour):
		f.settle()
		f.closeBefore(v.Hour)
		f.hour = v.Hour
	}
	f.reading = append(f.reading, v)
	f.held++
	return nil
}

// Close hands emit every play it holds: no more views come.
func (f *QoEPlayFold) Close() {
	f.settle()
	for _, p := range f.open {
		f.done(p.sessions)
	}
	clear(f.open)
	f.open = f.open[:0]
	clear(f.byPlay)
}

// settle takes the views of the hour read into their plays: no view to
// come started in it or before.
func (f *QoEPlayFold) settle() {
	began := len(f.open)
	for _, v := range f.reading {
		if p := v.Play(); p.ViewID == v.SessionID && f.byPlay[p] == nil {
			o := &qoeOpen{play: p, began: v.StartedAt}
			f.byPlay[p] = o
			f.open = append(f.open, o)
		}
	}
	// Earlier hours' plays began before this hour's.
	slices.SortFunc(f.open[began:], func(a, b *qoeOpen) int { return a.began.Compare(b.began) })
	for _, v := range f.reading {
		if o := f.byPlay[v.Play()]; o != nil && !v.StartedAt.Before(o.began) && v.StartedAt.Before(o.began.Add(QoEPlaySlack)) {
			o.sessions = append(o.sessions, v)
			continue
		}
		f.done([]QoEView{v})
	}
	clear(f.reading)
	f.reading = f.reading[:0]
}

// closeBefore emits the plays no session starting at t or later can join.
func (f *QoEPlayFold) closeBefore(t time.Time) {
	n := 0
	for _, o := range f.open {
		if t.Before(o.began.Add(QoEPlaySlack)) {
			break
		}
		f.done(o.sessions)
		delete(f.byPlay, o.play)
		n++
	}
	clear(f.open[:n])
	f.open = f.open[n:]
}

// done emits the play of sessions if it started in [from, to).
func (f *QoEPlayFold) done(sessions []QoEView) {
	f.held -= len(sessions)
	if len(sessions) == 0 {
		return
	}
	v := sessions[0]
	if len(sessions) > 1 {
		v = mergePlay(sessions)
	}
	if !v.Hour.Before(f.from) && v.Hour.Before(f.to) {
		f.emit(v)
	}
}

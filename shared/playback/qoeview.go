package playback

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"time"
)

// QoE analytics (issue 18). A view is one playback attempt: our session,
// or the sessions of a play that went on across re-authorizations
// (QoEPlays), which is what Mux Data calls a view ("an attempt, successful
// or not, to play a video";
// https://docs.mux.com/guides/data/understand-metric-definitions).
// Per view we keep the metrics below, following Mux Data's definitions
// where they exist:
//
//   - Video startup time: from the player being told to play to the first
//     frame (Mux "Video Startup Time",
//     https://www.mux.com/docs/guides/data-startup-time-metric); the player
//     reports it as QoE.StartupMS.
//   - Rebuffer percentage: time spent rebuffering over watch time, the time
//     the viewer asked for video (startup + playing + rebuffering) (Mux
//     "Rebuffering Percentage",
//     https://mux.com/blog/recover-from-rebuffering-mux-metrics-explained/).
//   - Exit before video start: the view ended without a first frame and
//     without an error (Mux "Exits Before Video Start",
//     https://docs.mux.com/guides/data/playback-success-metric): stopped
//     by the player, or timed out (QoEView.Abandoned), as Mux ends a view
//     that sends nothing more. Until it times out a silent view is in
//     progress, neither started nor an exit. A session that goes on with
//     a play another session of the page started (a re-authorization
//     replaced that one) has started: the first frame came, and its
//     startup time was told, in the session replaced (QoE.Continued).
//   - Playback failure: the player reported a fatal error (heartbeat event
//     "error") at any point of the view (Mux "Playback Failure
//     Percentage", same page).
//   - Average bitrate: the encoded bitrate weighted by the play time it was
//     reported over; peak bitrate: the highest reported. Mux has no
//     bitrate metric of this name; these are the usual time-weighted
//     definitions.
//
// Mux aggregates QoE by each view's end time. A view here may still be
// running when it is read, so it is bucketed by the hour it started, which
// never changes: an hour's figures grow while its views play, but a view
// never moves between hours or counts twice.

// LeastPlay is the play a session names once it has named cur and then
// n (QoE.View, "" for none): a player names its play on every heartbeat
// of the session; were two to differ, the least keeps what is kept of
// them (a view, the consumer's session state) a function of the set of
// the reports, whatever their order.
func LeastPlay(cur, n string) string {
	if n != "" && (cur == "" || n < cur) {
		return n
	}
	return cur
}

// QoEDimension is what aggregates are broken down by.
type QoEDimension string

const (
	QoEByTitle      QoEDimension = "title"
	QoEByCDN        QoEDimension = "cdn" // the content steering pathway
	QoEByEdge       QoEDimension = "edge"
	QoEByASN        QoEDimension = "asn"
	QoEByCountry    QoEDimension = "country"
	QoEByDeviceType QoEDimension = "device_type"
)

// QoEDimensions lists every dimension.
var QoEDimensions = []QoEDimension{QoEByTitle, QoEByCDN, QoEByEdge, QoEByASN, QoEByCountry, QoEByDeviceType}

// Valid reports whether d is one of QoEDimensions.
func (d QoEDimension) Valid() bool { return slices.Contains(QoEDimensions, d) }

// QoEReport is one accepted heartbeat of a view as the heartbeat consumer
// sees it: the heartbeat's own figures (a player's counters are
// cumulative for the session), event, server times and lease end, which is
// what the warehouse queries (docs/qoe) read of each message. A view is a
// function of the set of its reports (QoEView.Apply), so a queue that
// delivers them late, out of order or twice changes nothing.
type QoEReport struct {
	SessionID  string
	AccountID  string
	TitleID    string
	Country    string // viewer's ISO 3166-1 alpha-2 country, "" when unknown
	ASN        uint32 // viewer's network, 0 when unknown
	DeviceType string // "" when unknown
	// The heartbeat's event was stop, or error.
	Stopped, Failed bool
	// SessionStartedAt and ReceivedAt are server clocks: together they
	// bound how much time the view can have spent starting, playing and
	// stalling.
	SessionStartedAt time.Time
	ReceivedAt       time.Time
	DeviceTime       time.Time
	// LeaseEndsBy is where the heartbeat left the session's lease (the
	// message's lease_expires_at). Zero when unknown (messages from before
	// the field).
	LeaseEndsBy time.Time
	QoE         QoE
}

// QoEView is one view's metrics as stored.
type QoEView struct {
	SessionID  string    `json:"session_id"`
	AccountID  string    `json:"account_id,omitempty"` // the session's (views stored before it have none)
	ViewID     string    `json:"view_id,omitempty"`    // the play its reports named (QoEView.Play)
	Hour       time.Time `json:"hour"`                 // the UTC hour the view started in
	StartedAt  time.Time `json:"started_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	DeviceTime time.Time `json:"device_time"`
	TitleID    string    `json:"title_id"`
	CDN        string    `json:"cdn,omitempty"`
	EdgeID     string    `json:"edge_id,omitempty"`
	Country    string    `json:"country,omitempty"`
	ASN        uint32    `json:"asn,omitempty"`
	DeviceType string    `json:"device_type,omitempty"`
	Reports    int       `json:"reports"`
	// StartupMS is 0 until the player reports a first frame, or when its
	// first report of it was refused by QoEBounds (StartupRefused).
	StartupMS      int64 `json:"startup_ms,omitempty"`
	StartupRefused bool  `json:"startup_refused,omitempty"`
	PlayedMS       int64 `json:"played_ms,omitempty"`
	RebufferMS     int64 `json:"rebuffer_ms,omitempty"`
	// BitrateKbpsMS sums bitrate × the play time it was reported over.
	BitrateKbpsMS   float64 `json:"bitrate_kbps_ms,omitempty"`
	PeakBitrateKbps int     `json:"peak_bitrate_kbps,omitempty"`
	LastBitrateKbps int     `json:"last_bitrate_kbps,omitempty"`
	Stopped         bool    `json:"stopped,omitempty"`
	Failed          bool    `json:"failed,omitempty"`
	// Continued: a report said the session goes on with a play that
	// started in a session it replaced (QoE.Continued), so the view has
	// started with no startup time of its own.
	Continued bool `json:"continued,omitempty"`
	// LeaseEndsBy is the latest of its reports' QoEReport.LeaseEndsBy: past
	// it no heartbeat can renew the session (it is refused 410), so a view
	// that has not started, stopped or failed by then was abandoned.
	LeaseEndsBy time.Time `json:"lease_ends_by,omitzero"`
	// Corrections counts the reports QoEBounds changed (clamped or refused
	// figures), so an operator can see how much a view was not believed.
	Corrections int `json:"corrections,omitempty"`
	// Beats are the view's distinct reports as QoEBounds believed them, in
	// QoEBeat order: the figures above that depend on the order of the
	// reports (the first startup, the bitrate in force, the latest CDN and
	// edge, DeviceTime and UpdatedAt: the last beat's) are computed from
	// them, never from the order they came in. Apply keeps them here; a
	// store may keep them apart, and folds them in with Follow and
	// Refigure as Apply does.
	Beats []QoEBeat `json:"beats,omitempty"`
}

// QoEBeat is what a view keeps of one report: the figures QoEBounds
// believed, at the report's device time and the time it was accepted.
// Beats are ordered by device time, then by acceptance (a player that
// retries a heartbeat sends it again with its device time), which is the
// order of the warehouse queries too; a report with the device time and
// acceptance of one the view holds is that one delivered again. The
// routes accept no two of a session's heartbeats at one time (the CMCD
// route accepts a request's reports a microsecond apart, in its order),
// except requests of one session handled in the same microsecond: were
// two of them to carry one device time too, the view would keep the one
// it was handed first.
type QoEBeat struct {
	DeviceTime time.Time `json:"dt"`
	ReceivedAt time.Time `json:"rt"`
	// StartupMS is -1 when QoEBounds refused it; PlayedMS and RebufferMS
	// are -1 when it refused the counters.
	StartupMS   int64  `json:"su,omitempty"`
	PlayedMS    int64  `json:"pl,omitempty"`
	RebufferMS  int64  `json:"rb,omitempty"`
	BitrateKbps int    `json:"br,omitempty"`
	CDN         string `json:"cdn,omitempty"`
	EdgeID      string `json:"edge,omitempty"`
	Corrected   bool   `json:"c,omitempty"`
	// Carried is set on the beat that stands for every report of a view
	// stored before views kept their beats (QoEView.Carry).
	Carried *QoECarried `json:"carried,omitempty"`
}

// QoECarried are the figures of a view stored before views kept their
// beats that no one beat can tell: they were folded from reports that
// are gone.
type QoECarried struct {
	Reports         int     `json:"reports"`
	Corrections     int     `json:"corrections,omitempty"`
	BitrateKbpsMS   float64 `json:"bitrate_kbps_ms,omitempty"`
	PeakBitrateKbps int     `json:"peak_bitrate_kbps,omitempty"`
}

// Compare orders beats by device time, then by acceptance.
func (b QoEBeat) Compare(o QoEBeat) int {
	return cmp.Or(b.DeviceTime.Compare(o.DeviceTime), b.ReceivedAt.Compare(o.ReceivedAt))
}

// QoEHour is the hour bucket of a view that started at t.
func QoEHour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// Started reports whether the view reached its first frame, or goes on
// with a play that did in the session it replaced.
func (v QoEView) Started() bool {
	return v.StartupMS > 0 || v.StartupRefused || v.PlayedMS > 0 || v.Continued
}

// ExitedBeforeStart is Mux's EBVS at now: ended before the first frame,
// without an error, by the viewer (stop) or by timing out (Abandoned).
func (v QoEView) ExitedBeforeStart(now time.Time) bool {
	return !v.Failed && !v.Started() && (v.Stopped || v.Abandoned(now))
}

// Abandoned reports whether the view had timed out at now: its session's
// lease had run out, renewed by no heartbeat since its last report (a
// page that died without a word: a tab crash, a kill, a lost network).
// Mux tracks a view "until playback is explicitly ended or 60 minutes
// after playback stops"
// (https://docs.mux.com/guides/data/understand-metric-definitions), and
// its real-time stream reports an exit before video start a minute after
// an intent to play that never began
// (https://docs.mux.com/guides/export-monitoring-data). Here a view times
// out when its session does: a session whose lease has run out takes no
// more heartbeats, so its view can never start. A view whose reports did
// not tell the lease never times out.
func (v QoEView) Abandoned(now time.Time) bool {
	return !v.LeaseEndsBy.IsZero() && now.After(v.LeaseEndsBy)
}

// WatchMS is the time the viewer asked for video: startup, play and stalls.
func (v QoEView) WatchMS() int64 { return v.Startup() + v.PlayedMS + v.RebufferMS }

// Startup is the view's video startup time, 0 when it has none: a view
// that continued a play (Continued) has none of its own, whatever a report
// of it told, since the play's first frame came, and counted, in the
// session it replaced. The heartbeat route refuses the two together in
// one request; a player telling them in different ones is held here.
func (v QoEView) Startup() int64 {
	if v.Continued {
		return 0
	}
	return v.StartupMS
}

// RebufferPercent is rebuffering over watch time, in [0, 100]; ok is false
// for a view that has not started (no watch time to speak of).
func (v QoEView) RebufferPercent() (pct float64, ok bool) {
	w := v.WatchMS()
	if !v.Started() || w <= 0 {
		return 0, false
	}
	return 100 * float64(v.RebufferMS) / float64(w), true
}

// AvgBitrateKbps is the play-time-weighted bitrate; ok is false before any
// play time was reported with a bitrate.
func (v QoEView) AvgBitrateKbps() (kbps float64, ok bool) {
	if v.PlayedMS <= 0 || v.BitrateKbpsMS <= 0 {
		return 0, false
	}
	return v.BitrateKbpsMS / float64(v.PlayedMS), true
}

// DimensionValue is the view's value of d ("" when unknown).
func (v QoEView) DimensionValue(d QoEDimension) string {
	switch d {
	case QoEByTitle:
		return v.TitleID
	case QoEByCDN:
		return v.CDN
	case QoEByEdge:
		return v.EdgeID
	case QoEByASN:
		if v.ASN == 0 {
			return ""
		}
		return strconv.FormatUint(uint64(v.ASN), 10)
	case QoEByCountry:
		return v.Country
	case QoEByDeviceType:
		return v.DeviceType
	}
	return ""
}

// The bounds QoEBounds holds a report to.
const (
	// QoEClockSlack is how far a view's claimed startup, play and stall
	// time may exceed the server time since its session started (network
	// latency before the first heartbeat, buffered heartbeats).
	QoEClockSlack = 10 * time.Second
	// MaxQoEBitrateKbps is far above any rendition we package (8K HEVC is
	// ~100 Mbit/s); a higher figure is a unit mistake (bit/s for kbit/s).
	MaxQoEBitrateKbps = 1_000_000
	// MaxQoEThroughputKbps bounds a player's measured throughput (CMCD
	// mtp): 100 Gbit/s, which no player's link measures. The CMCD route
	// refuses a higher figure; an edge's throughput leaves it out.
	MaxQoEThroughputKbps = 100_000_000
)

// Reasons QoEBounds gives for what it changed.
const (
	QoENegative              = "negative"                // a negative figure, clamped to 0
	QoEStartupBeyondAge      = "startup_exceeds_age"     // startup longer than the session existed: refused
	QoETimeBeyondAge         = "time_exceeds_age"        // play + stalls longer than the session existed: counters refused
	QoERebufferBeyondPlayed  = "rebuffer_exceeds_played" // more stall than play: stall clamped to play
	QoERebufferWithoutStall  = "rebuffer_without_stall"  // stall time with no stall counted: stall time refused
	QoEBitrateImplausible    = "bitrate_implausible"     // above MaxQoEBitrateKbps: refused
	qoeStartupRefusedMarker  = -1                        // internal: startup refused, view did start
	qoeCountersRefusedMarker = int64(math.MinInt64 + 1)  // internal: counters refused
)

// QoEBounds is the rule that keeps absurd reports out of the aggregates,
// applied by QoEView.Apply to every report. A player's figures are its word
// and the server clocks bound them; each rule either clamps a figure to
// the nearest believable value or refuses it (the view keeps what it had):
//
//  1. A negative figure is clamped to 0. (The heartbeat route refuses
//     negative QoE with 400 qoe_invalid; this guards the bus.)
//  2. Stall time with no stall counted (rebuffer_ms above 0 with no
//     rebuffer_count) is refused: the stall counter keeps its previous
//     value. A player that times stalls it never counted is miscounting (a pause,
//     a seek or startup taken for a stall). The heartbeat route refuses
//     it with 400 qoe_invalid; this guards the bus. Judged before the
//     age, so that a stall figure nobody believes does not take the play
//     time with it.
//  3. Startup longer than the session's age (ReceivedAt - SessionStartedAt
//     + QoEClockSlack) is refused: the view counts as started (the player
//     says it did) but gets no startup time, so it cannot drag p95. Only
//     the first report of a startup is judged; later ones change nothing.
//  4. Play + stall time longer than the session's age is refused: both
//     counters keep their previous values.
//  5. Stall time longer than play time is clamped to the play time (at
//     most 50 % rebuffering): a player claiming to have stalled longer
//     than it played is far likelier miscounting (pauses or startup as
//     stalls) than honest, and one such view must not set p95 to 100 %.
//     Counters are cumulative and the view keeps the maximum, so an
//     honest player's early clamp heals with its next report.
//  6. Bitrate above MaxQoEBitrateKbps is refused.
//
// It returns the report's figures as believed and the reasons of every
// rule that changed something.
func QoEBounds(r QoEReport) (q QoE, reasons []string) {
	q = r.QoE
	clampNeg := func(v *int) {
		if *v < 0 {
			*v, reasons = 0, appendOnce(reasons, QoENegative)
		}
	}
	clampNeg64 := func(v *int64) {
		if *v < 0 {
			*v, reasons = 0, appendOnce(reasons, QoENegative)
		}
	}
	clampNeg(&q.BitrateKbps)
	clampNeg(&q.BufferMS)
	clampNeg(&q.ThroughputKbps)
	clampNeg(&q.StartupMS)
	clampNeg(&q.RebufferCount)
	clampNeg64(&q.RebufferMS)
	clampNeg64(&q.PlayedMS)
	clampNeg(&q.DroppedFrames)

	if q.RebufferMS > 0 && q.RebufferCount == 0 {
		q.RebufferMS, reasons = 0, append(reasons, QoERebufferWithoutStall)
	}
	age := r.ReceivedAt.Sub(r.SessionStartedAt) + QoEClockSlack
	ageMS := max(0, age.Milliseconds())
	if int64(q.StartupMS) > ageMS {
		q.StartupMS, reasons = qoeStartupRefusedMarker, append(reasons, QoEStartupBeyondAge)
	}
	// Both are non-negative here; their sum could wrap, so neither is added.
	if q.PlayedMS > ageMS || q.RebufferMS > ageMS-q.PlayedMS {
		q.PlayedMS, q.RebufferMS, reasons = qoeCountersRefusedMarker, qoeCountersRefusedMarker, append(reasons, QoETimeBeyondAge)
	} else if q.RebufferMS > q.PlayedMS {
		q.RebufferMS, reasons = q.PlayedMS, append(reasons, QoERebufferBeyondPlayed)
	}
	if q.BitrateKbps > MaxQoEBitrateKbps {
		q.BitrateKbps, reasons = 0, append(reasons, QoEBitrateImplausible)
	}
	return q, reasons
}

func appendOnce(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// Apply folds report r into the view (a zero view for the first report)
// under QoEBounds, and returns the reasons of what the bounds changed.
// The view is a function of the set of its reports: in any order, each
// delivered any number of times, they give the same view. Flags only turn
// on and the lease's end only moves later (Observe); the figures that
// depend on the reports' order follow a beat that comes after every other
// (Follow) and are computed again from all of them when one does not
// (Refigure).
func (v *QoEView) Apply(r QoEReport) []string {
	if b, ok := v.Carry(); ok {
		v.Beats = []QoEBeat{b}
	}
	reasons, _ := v.Fold(viewBeats{v}, r) // the view's own beats fail nothing
	return reasons
}

// QoEBeats is where a view's beats are kept: in the view (QoEView.Beats,
// Apply) or apart from it (a store's).
type QoEBeats interface {
	// Add keeps b; false when a beat with its device time and acceptance
	// is kept already (a report delivered again).
	Add(b QoEBeat) (bool, error)
	// All are the beats kept, in QoEBeat order.
	All() ([]QoEBeat, error)
}

// Fold folds report r into the view, whose beats beats keeps (a view
// stored before views kept beats has its carried beat among them first:
// Carry), and returns the reasons of what QoEBounds changed: Observe, then
// a beat not kept before is Followed when it comes after every other and
// Refigured with all of them when it does not.
func (v *QoEView) Fold(beats QoEBeats, r QoEReport) ([]string, error) {
	last := v.Last() // zero for a new view: every beat follows it
	b, reasons := v.Observe(r)
	added, err := beats.Add(b)
	if err != nil || !added {
		return reasons, err
	}
	if b.Compare(last) > 0 {
		v.Follow(b)
		return reasons, nil
	}
	all, err := beats.All()
	if err != nil {
		return reasons, err
	}
	v.Refigure(all)
	return reasons, nil
}

// viewBeats keeps a view's beats in the view itself.
type viewBeats struct{ v *QoEView }

func (s viewBeats) Add(b QoEBeat) (bool, error) {
	i, found := slices.BinarySearchFunc(s.v.Beats, b, QoEBeat.Compare)
	if !found {
		s.v.Beats = slices.Insert(s.v.Beats, i, b)
	}
	return !found, nil
}

func (s viewBeats) All() ([]QoEBeat, error) { return s.v.Beats, nil }

// Observe folds into the view what report r tells whatever its order (the
// view's start, its stop, failure and continued flags, its lease's end,
// the session's title and viewer) and returns the beat r adds, which the caller folds in
// with Follow or Refigure unless the view holds it already (a report
// delivered again), and the reasons of what QoEBounds changed.
func (v *QoEView) Observe(r QoEReport) (QoEBeat, []string) {
	q, reasons := QoEBounds(r)
	started := r.SessionStartedAt.UTC()
	if v.SessionID == "" {
		*v = QoEView{SessionID: r.SessionID, StartedAt: started}
	}
	if started.Before(v.StartedAt) {
		v.StartedAt = started
	}
	v.Hour = QoEHour(v.StartedAt)
	v.Stopped = v.Stopped || r.Stopped
	v.Failed = v.Failed || r.Failed
	v.Continued = v.Continued || r.QoE.Continued
	if r.LeaseEndsBy.After(v.LeaseEndsBy) {
		v.LeaseEndsBy = r.LeaseEndsBy.UTC()
	}
	// The viewer and the title are the session's, the same on each of
	// its heartbeats (messages from before the fields carry none).
	v.TitleID = cmp.Or(v.TitleID, r.TitleID)
	v.Country = cmp.Or(v.Country, r.Country)
	v.DeviceType = cmp.Or(v.DeviceType, r.DeviceType)
	v.ASN = cmp.Or(v.ASN, r.ASN)
	v.AccountID = cmp.Or(v.AccountID, r.AccountID)
	v.ViewID = LeastPlay(v.ViewID, r.QoE.View)

	b := QoEBeat{DeviceTime: r.DeviceTime.UTC(), ReceivedAt: r.ReceivedAt.UTC(), PlayedMS: q.PlayedMS, RebufferMS: q.RebufferMS,
		CDN: q.CDN, EdgeID: q.EdgeID, Corrected: len(reasons) > 0}
	if q.StartupMS > 0 || q.StartupMS == qoeStartupRefusedMarker {
		b.StartupMS = int64(q.StartupMS)
	}
	if q.PlayedMS == qoeCountersRefusedMarker {
		b.PlayedMS, b.RebufferMS = -1, -1
	}
	if q.BitrateKbps > 0 {
		b.BitrateKbps = q.BitrateKbps
	}
	return b, reasons
}

// Carry is, for a view stored before views kept their beats (one with
// reports but none of their beats), the beat that stands for them: the
// view's figures, at its last report's device time and acceptance. The
// caller keeps it among the view's beats before it folds any other, so
// that Refigure starts from those figures instead of losing them: the
// reports behind them are gone. A beat before it in QoEBeat order counts
// for nothing but what Observe takes of it, as before views kept beats
// (it is one already folded, delivered again, or one the view then
// refused as late; which, the figures cannot tell); a beat after it
// follows it. ok is false for any other view.
func (v QoEView) Carry() (b QoEBeat, ok bool) {
	if v.Reports == 0 || len(v.Beats) > 0 {
		return QoEBeat{}, false
	}
	b = QoEBeat{DeviceTime: v.DeviceTime, ReceivedAt: v.UpdatedAt, StartupMS: v.StartupMS, PlayedMS: v.PlayedMS,
		RebufferMS: v.RebufferMS, BitrateKbps: v.LastBitrateKbps, CDN: v.CDN, EdgeID: v.EdgeID,
		Carried: &QoECarried{Reports: v.Reports, Corrections: v.Corrections, BitrateKbpsMS: v.BitrateKbpsMS, PeakBitrateKbps: v.PeakBitrateKbps}}
	if v.StartupRefused {
		b.StartupMS = -1
	}
	return b, true
}

// Last is the key of the view's last beat in QoEBeat order: a beat that
// compares after it is Followed, any other Refigured.
func (v QoEView) Last() QoEBeat {
	return QoEBeat{DeviceTime: v.DeviceTime, ReceivedAt: v.UpdatedAt}
}

// Refigure computes the view's order-dependent figures from all its beats
// (in QoEBeat order), as the warehouse queries do from a view's heartbeats.
func (v *QoEView) Refigure(beats []QoEBeat) {
	v.Reports, v.Corrections = 0, 0
	v.StartupMS, v.StartupRefused = 0, false
	v.PlayedMS, v.RebufferMS, v.BitrateKbpsMS, v.PeakBitrateKbps, v.LastBitrateKbps = 0, 0, 0, 0, 0
	v.CDN, v.EdgeID = "", ""
	v.DeviceTime, v.UpdatedAt = time.Time{}, time.Time{}
	for _, b := range beats {
		v.Follow(b)
	}
}

// Follow folds in beat b, which comes after every beat the view holds:
//
//   - startup is the first beat's that tells of one: the first frame
//     happens once, before the first report of it, which is judged and
//     stands (a player repeats it in every report, and a refused one must
//     not be believed once the session has grown older than the lie);
//   - play and stall time are the largest believed (they are cumulative);
//   - play time a beat adds over the most played before it went out at the
//     bitrate the player last reported before it (the beat's own when it
//     is the first), which is what it was playing over that time;
//   - CDN and edge are the latest told;
//   - a Carried beat's figures stand for every report before it.
func (v *QoEView) Follow(b QoEBeat) {
	if c := b.Carried; c != nil {
		v.Reports, v.Corrections = c.Reports, c.Corrections
		v.StartupMS, v.StartupRefused = max(b.StartupMS, 0), b.StartupMS < 0
		v.PlayedMS, v.RebufferMS = b.PlayedMS, b.RebufferMS
		v.BitrateKbpsMS, v.PeakBitrateKbps, v.LastBitrateKbps = c.BitrateKbpsMS, c.PeakBitrateKbps, b.BitrateKbps
		v.CDN, v.EdgeID = b.CDN, b.EdgeID
		v.DeviceTime, v.UpdatedAt = b.DeviceTime, b.ReceivedAt
		return
	}
	v.Reports++
	if b.Corrected {
		v.Corrections++
	}
	if v.StartupMS == 0 && !v.StartupRefused && b.StartupMS != 0 {
		v.StartupRefused = b.StartupMS < 0
		v.StartupMS = max(b.StartupMS, 0)
	}
	if b.PlayedMS >= 0 {
		if grown := b.PlayedMS - v.PlayedMS; grown > 0 {
			v.BitrateKbpsMS += float64(cmp.Or(v.LastBitrateKbps, b.BitrateKbps)) * float64(grown)
			v.PlayedMS = b.PlayedMS
		}
		v.RebufferMS = max(v.RebufferMS, b.RebufferMS)
	}
	if b.BitrateKbps > 0 {
		v.LastBitrateKbps = b.BitrateKbps
		v.PeakBitrateKbps = max(v.PeakBitrateKbps, b.BitrateKbps)
	}
	v.CDN = cmp.Or(b.CDN, v.CDN)
	v.EdgeID = cmp.Or(b.EdgeID, v.EdgeID)
	v.DeviceTime, v.UpdatedAt = b.DeviceTime, b.ReceivedAt
}

// QoEStore keeps views for the aggregates. The embedded store implements it;
// in the cloud the heartbeat stream lands in a warehouse instead (Firehose
// → S3/Athena, Pub/Sub → BigQuery, docs/qoe/), so DynamoDB and Firestore
// do not.
type QoEStore interface {
	// ApplyQoEReports folds each report into its view with QoEView.Apply,
	// atomically per view.
	ApplyQoEReports(ctx context.Context, reports []QoEReport) error
	// QoEViewPage lists the views that started in [from, to) (their
	// start hour in [from's hour, to)) a page at a time, in QoEViewMark
	// order (by start hour, then session id): at most limit of those
	// that come after after, the Mark of the previous page's last view
	// (the zero mark for the first page). A page shorter than limit is
	// the last. A reader of a long range holds a page, not the range
	// (StreamQoEPlays); it is the only listing a store implements.
	QoEViewPage(ctx context.Context, from, to time.Time, after QoEViewMark, limit int) ([]QoEView, error)
}

// QoEViewMark is a view's place in the order QoEStore.QoEViewPage lists
// views in: its start hour, then its session id. The zero mark comes
// before every view.
type QoEViewMark struct {
	Hour      time.Time
	SessionID string
}

// Mark is the view's place in QoEViewPage's order.
func (v QoEView) Mark() QoEViewMark { return QoEViewMark{Hour: v.Hour, SessionID: v.SessionID} }

// IsZero reports whether m is the mark before every view (a view always
// has a session id).
func (m QoEViewMark) IsZero() bool { return m.SessionID == "" }

// Compare orders marks as QoEViewPage lists views.
func (m QoEViewMark) Compare(o QoEViewMark) int {
	if m.IsZero() || o.IsZero() {
		return cmp.Compare(btoi(!m.IsZero()), btoi(!o.IsZero()))
	}
	return cmp.Or(m.Hour.Compare(o.Hour), cmp.Compare(m.SessionID, o.SessionID))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// QoEPlay names the play a session's view belongs to: its account and
// title, and the session the play began in (QoE.View), its own when it
// named none.
type QoEPlay struct{ AccountID, TitleID, ViewID string }

// Play is the play the view belongs to.
func (v QoEView) Play() QoEPlay {
	return QoEPlay{AccountID: v.AccountID, TitleID: v.TitleID, ViewID: cmp.Or(v.ViewID, v.SessionID)}
}

// QoEPlaySlack is how long after a play's first session (the session it
// began in, which names no play but its own) the sessions that name the
// play are still its: a session that names a play is the play's only if
// that first session, of the same account and title, started no later
// than it and less than QoEPlaySlack before it. Any other session is a
// view of its own, in its own hour: one that names a session not read, a
// session that did not begin a play (a player naming the session it
// replaced, not the first), a session started after it, or one that
// began more than QoEPlaySlack before it (a play left on for longer, its
// later sessions views of their own). Whether a session is a play's is
// thus a fact of the two sessions alone, whatever range is asked: the
// plays that started in [from, to) are all in the sessions that started
// in [from-QoEPlaySlack, to+QoEPlaySlack), which GET /v1/admin/qoe reads,
// and an hour answers the same asked alone or within a wider range. The
// warehouse queries (docs/qoe) take a session into a play by the same
// rule.
const QoEPlaySlack = 24 * time.Hour

// QoEPlays are the views of the plays that started in [from, to) among
// views, the views of the sessions that started in [from-QoEPlaySlack,
// to+QoEPlaySlack). A view is a playback attempt (Mux Data's), and a play
// that goes on across re-authorizations (QoE.View) is one, however many
// sessions it went through: the views of the sessions that are the play's
// (QoEPlaySlack) fold into one (mergePlay), in the hour of the play's
// first session. Views of one session, and of sessions that are no play's,
// are the session's as stored. A function of the set of views, whatever
// their order.
func QoEPlays(views []QoEView, from, to time.Time) []QoEView {
	began := map[QoEPlay]time.Time{} // the plays' first sessions' starts
	for _, v := range views {
		if p := v.Play(); p.ViewID == v.SessionID {
			began[p] = v.StartedAt
		}
	}
	plays := map[QoEPlay][]QoEView{}
	for _, v := range views {
		p := v.Play()
		if first, ok := began[p]; !ok || v.StartedAt.Before(first) || !v.StartedAt.Before(first.Add(QoEPlaySlack)) {
			p.ViewID = v.SessionID
		}
		plays[p] = append(plays[p], v)
	}
	out := make([]QoEView, 0, len(plays))
	for _, sessions := range plays {
		v := sessions[0]
		if len(sessions) > 1 {
			v = mergePlay(sessions)
		}
		if !v.Hour.Before(from) && v.Hour.Before(to) {
			out = append(out, v)
		}
	}
	// No two plays answered have one Play, so this order is total, even
	// were a session id to be the views of two accounts or titles.
	slices.SortFunc(out, func(a, b QoEView) int {
		pa, pb := a.Play(), b.Play()
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.SessionID, b.SessionID), cmp.Compare(pa.AccountID, pb.AccountID),
			cmp.Compare(pa.TitleID, pb.TitleID), cmp.Compare(pa.ViewID, pb.ViewID))
	})
	return out
}

// mergePlay folds the views of a play's sessions into the play's view, in
// the order the sessions started:
//
//   - the hour and the viewer (country, ASN, device type) are the first
//     session's, as Mux's dimensions are a view's;
//   - the startup is the first frame's, in the first session that told
//     one and did not go on with a play (Continued sessions have none);
//     with none, the play has started if a session went on with one;
//   - play and stall time, bitrate × play time and reports add up (each
//     session's counters are its own), the peak bitrate is the highest;
//   - CDN, edge and the last bitrate are the latest session's that told
//     them, as a session's are its latest beat's;
//   - it stopped or failed if any session did, and its lease is the
//     latest session's.
//
// Its SessionID is the play's (QoEPlay.ViewID) and it keeps no beats.
func mergePlay(sessions []QoEView) QoEView {
	sessions = slices.Clone(sessions)
	slices.SortFunc(sessions, func(a, b QoEView) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.SessionID, b.SessionID))
	})
	first := sessions[0]
	p := QoEView{SessionID: first.Play().ViewID, AccountID: first.AccountID, Hour: first.Hour, StartedAt: first.StartedAt,
		TitleID: first.TitleID, Country: first.Country, ASN: first.ASN, DeviceType: first.DeviceType}
	continued, startup := false, false
	for _, s := range sessions {
		if !startup && !s.Continued && (s.StartupMS > 0 || s.StartupRefused) {
			startup, p.StartupMS, p.StartupRefused = true, s.StartupMS, s.StartupRefused
		}
		continued = continued || s.Continued
		p.Reports += s.Reports
		p.Corrections += s.Corrections
		p.PlayedMS += s.PlayedMS
		p.RebufferMS += s.RebufferMS
		p.BitrateKbpsMS += s.BitrateKbpsMS
		p.PeakBitrateKbps = max(p.PeakBitrateKbps, s.PeakBitrateKbps)
		p.LastBitrateKbps = cmp.Or(s.LastBitrateKbps, p.LastBitrateKbps)
		p.CDN, p.EdgeID = cmp.Or(s.CDN, p.CDN), cmp.Or(s.EdgeID, p.EdgeID)
		p.Stopped, p.Failed = p.Stopped || s.Stopped, p.Failed || s.Failed
		if s.LeaseEndsBy.After(p.LeaseEndsBy) {
			p.LeaseEndsBy = s.LeaseEndsBy
		}
		if s.UpdatedAt.After(p.UpdatedAt) {
			p.UpdatedAt = s.UpdatedAt
		}
		if s.DeviceTime.After(p.DeviceTime) {
			p.DeviceTime = s.DeviceTime
		}
	}
	p.Continued = continued && !startup
	return p
}

// MaxQoERange bounds one aggregate query: a month of hours.
const MaxQoERange = 31 * 24 * time.Hour

// Quantiles are a metric's p50 and p95 over the views that have a value
// for it (nearest rank).
type Quantiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	N   int     `json:"n"`
}

// QoEAggregate is one hour's figures for one value of a dimension.
type QoEAggregate struct {
	Hour             time.Time `json:"hour"`
	Value            string    `json:"value"` // "" for views with no value (unknown)
	Views            int       `json:"views"`
	Started          int       `json:"started"`
	ExitsBeforeStart int       `json:"exits_before_start"`
	Failures         int       `json:"failures"`
	PlayedMS         int64     `json:"played_ms"`
	RebufferMS       int64     `json:"rebuffer_ms"`
	StartupMS        Quantiles `json:"startup_ms"`
	RebufferPercent  Quantiles `json:"rebuffer_percent"`
	AvgBitrateKbps   Quantiles `json:"avg_bitrate_kbps"`
	PeakBitrateKbps  Quantiles `json:"peak_bitrate_kbps"`
}

// AggregateQoE sums views per hour and value of d as they stand at now
// (a silent view becomes an exit once it times out), ordered by hour,
// then views (most first), then value.
func AggregateQoE(views []QoEView, d QoEDimension, now time.Time) []QoEAggregate {
	a := NewQoEAggregator(d, now)
	for _, v := range views {
		a.Add(v)
	}
	return a.Aggregates()
}

// QoEAggregator is AggregateQoE over views handed to it one at a time, so
// that its caller need not hold them: it keeps per hour and value the
// sums, and the figures the quantiles are taken from (nearest rank is
// exact, so those are kept whole: four numbers a view at most).
type QoEAggregator struct {
	d      QoEDimension
	now    time.Time
	groups map[qoeAggKey]*qoeAgg
}

type qoeAggKey struct {
	hour  time.Time
	value string
}

type qoeAgg struct {
	agg                       QoEAggregate
	startup, rebuf, avg, peak []float64
}

// NewQoEAggregator aggregates by d as the views stand at now.
func NewQoEAggregator(d QoEDimension, now time.Time) *QoEAggregator {
	return &QoEAggregator{d: d, now: now, groups: map[qoeAggKey]*qoeAgg{}}
}

// Add counts v in its hour and value.
func (x *QoEAggregator) Add(v QoEView) {
	k := qoeAggKey{v.Hour.UTC(), v.DimensionValue(x.d)}
	g := x.groups[k]
	if g == nil {
		g = &qoeAgg{agg: QoEAggregate{Hour: k.hour, Value: k.value}}
		x.groups[k] = g
	}
	a := &g.agg
	a.Views++
	if v.Started() {
		a.Started++
	}
	if v.ExitedBeforeStart(x.now) {
		a.ExitsBeforeStart++
	}
	if v.Failed {
		a.Failures++
	}
	a.PlayedMS += v.PlayedMS
	a.RebufferMS += v.RebufferMS
	if s := v.Startup(); s > 0 {
		g.startup = append(g.startup, float64(s))
	}
	if p, ok := v.RebufferPercent(); ok {
		g.rebuf = append(g.rebuf, p)
	}
	if b, ok := v.AvgBitrateKbps(); ok {
		g.avg = append(g.avg, b)
	}
	if v.PeakBitrateKbps > 0 {
		g.peak = append(g.peak, float64(v.PeakBitrateKbps))
	}
}

// Aggregates are the figures of the views added, as AggregateQoE orders
// them.
func (x *QoEAggregator) Aggregates() []QoEAggregate {
	out := make([]QoEAggregate, 0, len(x.groups))
	for _, g := range x.groups {
		g.agg.StartupMS = quantiles(g.startup)
		g.agg.RebufferPercent = quantiles(g.rebuf)
		g.agg.AvgBitrateKbps = quantiles(g.avg)
		g.agg.PeakBitrateKbps = quantiles(g.peak)
		out = append(out, g.agg)
	}
	slices.SortFunc(out, func(a, b QoEAggregate) int {
		return cmp.Or(a.Hour.Compare(b.Hour), cmp.Compare(b.Views, a.Views), cmp.Compare(a.Value, b.Value))
	})
	return out
}

// quantiles is the nearest-rank p50 and p95 of xs (sorted in place): the
// smallest value at least that share of views is at or below. Exact, and
// the same as the warehouse SQL's percentile_disc.
func quantiles(xs []float64) Quantiles {
	if len(xs) == 0 {
		return Quantiles{}
	}
	slices.Sort(xs)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(xs)))) - 1
		return xs[min(max(i, 0), len(xs)-1)]
	}
	return Quantiles{P50: rank(0.50), P95: rank(0.95), N: len(xs)}
}

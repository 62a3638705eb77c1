package playback_test

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

var qoeT0 = time.Date(2026, 12, 4, 21, 10, 0, 0, time.UTC)

// report is a heartbeat's QoE state sent age after its session started.
func report(age time.Duration, q playback.QoE) playback.QoEReport {
	return playback.QoEReport{SessionID: "s1", TitleID: "t1", SessionStartedAt: qoeT0, ReceivedAt: qoeT0.Add(age),
		DeviceTime: qoeT0.Add(age), QoE: q}
}

func TestQoEBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		in          playback.QoEReport
		want        playback.QoEView // after applying in to a fresh view
		wantReasons []string
	}{
		{
			name: "believable report is kept as sent",
			in:   report(time.Minute, playback.QoE{StartupMS: 800, PlayedMS: 50_000, RebufferCount: 1, RebufferMS: 2_000, BitrateKbps: 3000, CDN: "a", EdgeID: "e1"}),
			want: playback.QoEView{StartupMS: 800, PlayedMS: 50_000, RebufferMS: 2_000, PeakBitrateKbps: 3000, CDN: "a", EdgeID: "e1",
				BitrateKbpsMS: 3000 * 50_000},
		},
		{
			name:        "negative figures are clamped to zero",
			in:          report(time.Minute, playback.QoE{StartupMS: -5, PlayedMS: -1, RebufferMS: -7, BitrateKbps: -3}),
			want:        playback.QoEView{Corrections: 1},
			wantReasons: []string{playback.QoENegative},
		},
		{
			name:        "startup longer than the session existed is refused but the view started",
			in:          report(time.Minute, playback.QoE{StartupMS: 3_600_000, PlayedMS: 1_000}),
			want:        playback.QoEView{StartupRefused: true, PlayedMS: 1_000, Corrections: 1},
			wantReasons: []string{playback.QoEStartupBeyondAge},
		},
		{
			name:        "startup within the clock slack is believed",
			in:          report(time.Second, playback.QoE{StartupMS: 9_000}),
			want:        playback.QoEView{StartupMS: 9_000},
			wantReasons: nil,
		},
		{
			name:        "play and stalls longer than the session existed are refused",
			in:          report(time.Minute, playback.QoE{StartupMS: 500, PlayedMS: 3_600_000, RebufferCount: 1, RebufferMS: 10, BitrateKbps: 2000}),
			want:        playback.QoEView{StartupMS: 500, PeakBitrateKbps: 2000, Corrections: 1},
			wantReasons: []string{playback.QoETimeBeyondAge},
		},
		{
			// The route refuses it (qoe_invalid); a message on the bus that
			// tells it anyway keeps its stall time out of the view.
			name:        "stall time without a stall is refused",
			in:          report(time.Minute, playback.QoE{StartupMS: 500, PlayedMS: 10_000, RebufferMS: 2_000}),
			want:        playback.QoEView{StartupMS: 500, PlayedMS: 10_000, Corrections: 1},
			wantReasons: []string{playback.QoERebufferWithoutStall},
		},
		{
			name:        "more stall than play is clamped to the play time",
			in:          report(2*time.Minute, playback.QoE{StartupMS: 500, PlayedMS: 10_000, RebufferCount: 1, RebufferMS: 90_000}),
			want:        playback.QoEView{StartupMS: 500, PlayedMS: 10_000, RebufferMS: 10_000, Corrections: 1},
			wantReasons: []string{playback.QoERebufferBeyondPlayed},
		},
		{
			// The sum of the two wraps to a negative int64: the age check must
			// not be done on it.
			name:        "play and stalls whose sum overflows are refused",
			in:          report(time.Minute, playback.QoE{StartupMS: 500, PlayedMS: math.MaxInt64, RebufferCount: 1, RebufferMS: 1}),
			want:        playback.QoEView{StartupMS: 500, Corrections: 1},
			wantReasons: []string{playback.QoETimeBeyondAge},
		},
		{
			name:        "equal play and stalls whose sum overflows are refused",
			in:          report(time.Minute, playback.QoE{StartupMS: 500, PlayedMS: 1 << 62, RebufferCount: 1, RebufferMS: 1 << 62}),
			want:        playback.QoEView{StartupMS: 500, Corrections: 1},
			wantReasons: []string{playback.QoETimeBeyondAge},
		},
		{
			name:        "bitrate in bit/s instead of kbit/s is refused",
			in:          report(time.Minute, playback.QoE{StartupMS: 500, PlayedMS: 10_000, BitrateKbps: 3_000_000}),
			want:        playback.QoEView{StartupMS: 500, PlayedMS: 10_000, Corrections: 1},
			wantReasons: []string{playback.QoEBitrateImplausible},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v playback.QoEView
			reasons := v.Apply(tc.in)
			if !slices.Equal(reasons, tc.wantReasons) {
				t.Fatalf("reasons %v, want %v", reasons, tc.wantReasons)
			}
			got := playback.QoEView{StartupMS: v.StartupMS, StartupRefused: v.StartupRefused, PlayedMS: v.PlayedMS,
				RebufferMS: v.RebufferMS, PeakBitrateKbps: v.PeakBitrateKbps, CDN: v.CDN, EdgeID: v.EdgeID,
				BitrateKbpsMS: v.BitrateKbpsMS, Corrections: v.Corrections}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("view %+v\nwant %+v", got, tc.want)
			}
			if p, ok := v.RebufferPercent(); ok && (p < 0 || p > 50) {
				t.Fatalf("rebuffer percent %v outside [0, 50]", p)
			}
		})
	}
}

// TestQoEViewApplySequence follows one view through its reports: the
// counters are cumulative, replays change nothing, and an absurd report in
// the middle leaves no trace in what is aggregated.
func TestQoEViewApplySequence(t *testing.T) {
	t.Parallel()
	var v playback.QoEView
	steps := []playback.QoEReport{
		report(5*time.Second, playback.QoE{StartupMS: 1_200, PlayedMS: 3_000, BitrateKbps: 1000, CDN: "a"}),
		report(35*time.Second, playback.QoE{PlayedMS: 30_000, RebufferCount: 1, RebufferMS: 1_000, BitrateKbps: 4000}),
		// A liar: a day of play 65 s in, and a new startup figure.
		report(65*time.Second, playback.QoE{StartupMS: 100, PlayedMS: 86_400_000, RebufferCount: 1, RebufferMS: 86_400_000, BitrateKbps: 4000}),
		report(95*time.Second, playback.QoE{PlayedMS: 90_000, RebufferCount: 1, RebufferMS: 1_000, BitrateKbps: 4000}),
	}
	for _, r := range steps {
		v.Apply(r)
	}
	replay := steps[1]
	v.Apply(replay)
	if v.StartupMS != 1_200 || v.PlayedMS != 90_000 || v.RebufferMS != 1_000 || v.Reports != 4 || v.Corrections != 1 {
		t.Fatalf("view %+v", v)
	}
	// 3 s at 1000, then 27 s at 1000 (the bitrate in force until the
	// report that told of 4000), then 60 s at 4000.
	if avg, _ := v.AvgBitrateKbps(); avg != (1000*30_000+4000*60_000)/90_000.0 {
		t.Fatalf("average bitrate %v", avg)
	}
	if v.PeakBitrateKbps != 4000 || v.Hour != qoeT0.Truncate(time.Hour) {
		t.Fatalf("peak %d, hour %v", v.PeakBitrateKbps, v.Hour)
	}
}

// TestQoEViewRefusedStartupStaysRefused: a player repeats its startup
// time in every report (the counters are cumulative). One that reported
// a startup longer than its session had existed, such as a figure in µs
// for ms, must not have it believed once the session has grown older than
// the figure: the first frame happened before the first report told of it.
func TestQoEViewRefusedStartupStaysRefused(t *testing.T) {
	t.Parallel()
	var v playback.QoEView
	v.Apply(report(5*time.Second, playback.QoE{StartupMS: 1_500_000, PlayedMS: 3_000}))
	v.Apply(report(30*time.Minute, playback.QoE{StartupMS: 1_500_000, PlayedMS: 1_790_000}))
	if v.StartupMS != 0 || !v.StartupRefused || !v.Started() || v.PlayedMS != 1_790_000 {
		t.Fatalf("view %+v", v)
	}
	agg := playback.AggregateQoE([]playback.QoEView{v}, playback.QoEByTitle, qoeT0.Add(time.Hour))
	if agg[0].StartupMS.N != 0 || agg[0].Started != 1 {
		t.Fatalf("aggregate %+v", agg[0])
	}
}

// TestQoEViewReplayOfACorrectedReport: a report the bounds corrected,
// delivered again (the bus delivers at least once), changes nothing
// either: Apply is idempotent, Corrections included.
func TestQoEViewReplayOfACorrectedReport(t *testing.T) {
	t.Parallel()
	var v playback.QoEView
	v.Apply(report(5*time.Second, playback.QoE{StartupMS: 1_200, PlayedMS: 3_000, BitrateKbps: 1000}))
	liar := report(35*time.Second, playback.QoE{PlayedMS: 86_400_000, BitrateKbps: 1000})
	v.Apply(liar)
	once := v
	v.Apply(liar)
	if !reflect.DeepEqual(v, once) {
		t.Fatalf("replay changed the view: %+v, was %+v", v, once)
	}
}

// TestQoEViewFromBeforeBeatsKeepsItsFigures: a view decoded from a record
// written before views kept their beats (no beats, figures folded from
// reports that are gone) keeps its figures through a redelivery of its
// last report and a late one, and grows by a newer one, in any order.
func TestQoEViewFromBeforeBeatsKeepsItsFigures(t *testing.T) {
	t.Parallel()
	old := playback.QoEView{SessionID: "s1", Hour: playback.QoEHour(qoeT0), StartedAt: qoeT0, TitleID: "t1", CDN: "b",
		UpdatedAt: qoeT0.Add(600 * time.Second), DeviceTime: qoeT0.Add(600 * time.Second), Reports: 60, StartupRefused: true,
		PlayedMS: 590_000, RebufferMS: 2_000, BitrateKbpsMS: 1500*300_000 + 3000*290_000, PeakBitrateKbps: 3000, LastBitrateKbps: 3000}
	last := report(600*time.Second, playback.QoE{StartupMS: 900_000, PlayedMS: 590_000, RebufferCount: 1, RebufferMS: 2_000, BitrateKbps: 3000, CDN: "b"})
	late := report(300*time.Second, playback.QoE{StartupMS: 900_000, PlayedMS: 290_000, BitrateKbps: 1500, CDN: "a"})
	newer := report(610*time.Second, playback.QoE{StartupMS: 900_000, PlayedMS: 600_000, RebufferCount: 1, RebufferMS: 2_000, BitrateKbps: 6000, CDN: "b"})
	figures := func(v playback.QoEView) playback.QoEView {
		v.Beats = nil
		return v
	}
	grown := old
	grown.Reports, grown.PlayedMS, grown.BitrateKbpsMS = 61, 600_000, old.BitrateKbpsMS+3000*10_000
	grown.PeakBitrateKbps, grown.LastBitrateKbps = 6000, 6000
	grown.Corrections++ // its startup, older than the session, is refused
	grown.DeviceTime, grown.UpdatedAt = newer.DeviceTime, newer.ReceivedAt
	for _, tc := range []struct {
		name  string
		order []playback.QoEReport
		want  playback.QoEView
	}{
		{"redelivery of its last report", []playback.QoEReport{last}, old},
		{"late", []playback.QoEReport{late}, old},
		{"late then newer", []playback.QoEReport{late, newer}, grown},
		{"newer then late", []playback.QoEReport{newer, late}, grown},
		{"newer, last, late", []playback.QoEReport{newer, last, late}, grown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := old
			for _, r := range tc.order {
				v.Apply(r)
			}
			if got := figures(v); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("view\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestAggregateQoE(t *testing.T) {
	t.Parallel()
	view := func(id, cdn string, mutate func(*playback.QoEView)) playback.QoEView {
		v := playback.QoEView{SessionID: id, Hour: qoeT0.Truncate(time.Hour), TitleID: "t1", CDN: cdn}
		mutate(&v)
		return v
	}
	views := []playback.QoEView{
		view("1", "a", func(v *playback.QoEView) { v.StartupMS, v.PlayedMS, v.RebufferMS = 1000, 90_000, 9_000 }),
		view("2", "a", func(v *playback.QoEView) { v.StartupMS, v.PlayedMS = 2000, 98_000 }),
		view("3", "a", func(v *playback.QoEView) { v.Stopped = true }),                 // exit before start
		view("4", "a", func(v *playback.QoEView) { v.Stopped, v.Failed = true, true }), // failed before start: not an EBVS
		view("5", "b", func(v *playback.QoEView) {
			v.StartupMS, v.PlayedMS, v.BitrateKbpsMS, v.PeakBitrateKbps = 4000, 10_000, 2000*10_000, 2500
		}),
		{SessionID: "6", Hour: qoeT0.Add(time.Hour).Truncate(time.Hour), CDN: "a", StartupMS: 700, PlayedMS: 1},
	}
	got := playback.AggregateQoE(views, playback.QoEByCDN, qoeT0)
	if len(got) != 3 {
		t.Fatalf("aggregates %+v", got)
	}
	a, b, later := got[0], got[1], got[2]
	if a.Value != "a" || a.Views != 4 || a.Started != 2 || a.ExitsBeforeStart != 1 || a.Failures != 1 {
		t.Fatalf("cdn a %+v", a)
	}
	if a.StartupMS != (playback.Quantiles{P50: 1000, P95: 2000, N: 2}) {
		t.Fatalf("cdn a startup %+v", a.StartupMS)
	}
	if a.RebufferPercent.N != 2 || a.RebufferPercent.P50 != 0 || a.RebufferPercent.P95 != 100*9_000/100_000.0 {
		t.Fatalf("cdn a rebuffer %+v", a.RebufferPercent)
	}
	if b.Value != "b" || b.Views != 1 || b.AvgBitrateKbps != (playback.Quantiles{P50: 2000, P95: 2000, N: 1}) || b.PeakBitrateKbps.P95 != 2500 {
		t.Fatalf("cdn b %+v", b)
	}
	if !later.Hour.Equal(qoeT0.Add(time.Hour).Truncate(time.Hour)) || later.Views != 1 {
		t.Fatalf("later hour %+v", later)
	}
	for _, d := range playback.QoEDimensions {
		if !d.Valid() {
			t.Fatalf("%q not valid", d)
		}
	}
}

// TestQoEViewAbandonedBeforeStart: a view that never reached its first
// frame and whose page died without a word (tab crash, kill, lost network:
// no stop, no error) is Mux's exit before video start once it has timed
// out, which here is once its session's lease has run out with no
// heartbeat to renew it (QoEReport.LeaseEndsBy); until then it is in
// progress. A stop or an error decides at once, whatever the lease.
func TestQoEViewAbandonedBeforeStart(t *testing.T) {
	t.Parallel()
	const lease = 2 * time.Minute
	// beat is a heartbeat at age, received then, which held the lease to lease after it.
	beat := func(age time.Duration, q playback.QoE, mutate func(*playback.QoEReport)) playback.QoEReport {
		r := report(age, q)
		r.LeaseEndsBy = r.ReceivedAt.Add(lease)
		if mutate != nil {
			mutate(&r)
		}
		return r
	}
	stop := func(r *playback.QoEReport) { r.Stopped = true }
	fail := func(r *playback.QoEReport) { r.Failed = true }
	for _, tc := range []struct {
		name     string
		reports  []playback.QoEReport
		at       time.Duration // since the session started
		wantExit bool
	}{
		{name: "admitted, then silent, inside the lease: in progress", reports: []playback.QoEReport{beat(time.Second, playback.QoE{}, nil)},
			at: time.Second + lease - time.Millisecond},
		{name: "admitted, then silent, at the lease's end: in progress", reports: []playback.QoEReport{beat(time.Second, playback.QoE{}, nil)},
			at: time.Second + lease},
		{name: "admitted, then silent past the lease: abandoned", reports: []playback.QoEReport{beat(time.Second, playback.QoE{}, nil)},
			at: time.Second + lease + time.Millisecond, wantExit: true},
		{name: "a later heartbeat holds it in progress", reports: []playback.QoEReport{
			beat(time.Second, playback.QoE{}, nil), beat(time.Minute, playback.QoE{BufferMS: 10}, nil)},
			at: time.Second + lease + time.Minute/2},
		{name: "a replay of the first heartbeat does not shorten the lease", reports: []playback.QoEReport{
			beat(time.Minute, playback.QoE{}, nil), beat(time.Second, playback.QoE{}, nil)},
			at: time.Second + lease + time.Second},
		{name: "stopped before the first frame: an exit at once", reports: []playback.QoEReport{
			beat(time.Second, playback.QoE{}, nil), beat(2*time.Second, playback.QoE{}, stop)},
			at: 3 * time.Second, wantExit: true},
		{name: "failed before the first frame, then silent: a failure, never an exit", reports: []playback.QoEReport{
			beat(time.Second, playback.QoE{}, fail)},
			at: time.Hour},
		{name: "started, then silent: not an exit", reports: []playback.QoEReport{
			beat(time.Second, playback.QoE{StartupMS: 800, PlayedMS: 100}, nil)},
			at: time.Hour},
		{name: "started with a refused startup, then silent: not an exit", reports: []playback.QoEReport{
			beat(time.Second, playback.QoE{StartupMS: 3_600_000}, nil)},
			at: time.Hour},
		// A session that replaced the page's session (a re-authorization)
		// while it was paused or stalled, and was stopped before it played:
		// the play had started in the session replaced, which told the
		// first frame; this one has none of its own to tell.
		{name: "continuing a play started before, stopped before playing on: not an exit", reports: []playback.QoEReport{
			beat(time.Second, playback.QoE{Continued: true}, nil), beat(2*time.Second, playback.QoE{Continued: true}, stop)},
			at: 3 * time.Second},
		{name: "continuing a play started before, then silent past the lease: not an exit", reports: []playback.QoEReport{
			beat(time.Second, playback.QoE{Continued: true, RebufferCount: 1, RebufferMS: 900}, nil)},
			at: time.Hour},
		// Reports from before the consumer told the lease: nothing says
		// when they timed out, so they stay in progress.
		{name: "no lease told: in progress", reports: []playback.QoEReport{
			beat(time.Second, playback.QoE{}, func(r *playback.QoEReport) { r.LeaseEndsBy = time.Time{} })},
			at: time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v playback.QoEView
			for _, r := range tc.reports {
				v.Apply(r)
			}
			now := qoeT0.Add(tc.at)
			if got := v.ExitedBeforeStart(now); got != tc.wantExit {
				t.Fatalf("exited before start %v at %s, want %v: view %+v", got, tc.at, tc.wantExit, v)
			}
			agg := playback.AggregateQoE([]playback.QoEView{v}, playback.QoEByTitle, now)
			if len(agg) != 1 || agg[0].Views != 1 || agg[0].ExitsBeforeStart != btoi(tc.wantExit) {
				t.Fatalf("aggregate %+v, want one view, exits before start %v", agg, tc.wantExit)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestContinuedViewHasNoStartupOfItsOwn: a session that says it continues
// a play (its first frame came, and was told, in the session it replaced)
// has no startup of its own, even when one of its reports told one: in
// either order the view's startup counts in no startup figure and no
// watch time. The route refuses the two in one request; this holds a
// player that tells them in two.
func TestContinuedViewHasNoStartupOfItsOwn(t *testing.T) {
	t.Parallel()
	startup := report(time.Second, playback.QoE{StartupMS: 900})
	continued := report(2*time.Second, playback.QoE{Continued: true, PlayedMS: 1000, RebufferCount: 1, RebufferMS: 1000})
	for _, tc := range []struct {
		name    string
		reports []playback.QoEReport
	}{
		{name: "startup first", reports: []playback.QoEReport{startup, continued}},
		{name: "continued first", reports: []playback.QoEReport{continued, startup}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v playback.QoEView
			for _, r := range tc.reports {
				v.Apply(r)
			}
			agg := playback.AggregateQoE([]playback.QoEView{v}, playback.QoEByTitle, qoeT0.Add(time.Minute))
			if len(agg) != 1 || agg[0].StartupMS.N != 0 || agg[0].Started != 1 {
				t.Fatalf("aggregate %+v, want one started view with no startup figure", agg)
			}
			if pct, ok := v.RebufferPercent(); !ok || pct != 50 {
				t.Fatalf("rebuffer percent %v (%v), want 50: watch time is play and stalls only", pct, ok)
			}
		})
	}
}

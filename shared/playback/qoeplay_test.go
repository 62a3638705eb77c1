package playback_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// reauthorizedPlay are the accepted heartbeats of one play that went on
// across a re-authorization (web/player's reauthorize): session s1 began
// it half a minute before 22:00, told its first frame, played and stalled;
// s2 replaced it (POST /v1/play again) after 22:00 and went on with it on
// another network (the viewer's ASN changed), telling qoe.continued and
// the play it goes on with (qoe.view), and was stopped. Each session's
// counters are its own. Session x2 is another account's that names s1 as
// its play: it must stay a view of its own.
func reauthorizedPlay() []playback.QoEReport {
	const lease = 2 * time.Minute
	t1, t2 := qoeT0.Add(49*time.Minute+30*time.Second), qoeT0.Add(51*time.Minute) // 21:59:30, 22:01:00
	beat := func(session, account string, started time.Time, age time.Duration, q playback.QoE, mutate ...func(*playback.QoEReport)) playback.QoEReport {
		r := playback.QoEReport{SessionID: session, AccountID: account, TitleID: "t1", Country: "DE", ASN: 3320, DeviceType: "desktop",
			SessionStartedAt: started, ReceivedAt: started.Add(age), DeviceTime: started.Add(age), LeaseEndsBy: started.Add(age + lease), QoE: q}
		for _, m := range mutate {
			m(&r)
		}
		return r
	}
	mobile := func(r *playback.QoEReport) { r.ASN = 6805 }
	stop := func(r *playback.QoEReport) { r.Stopped, r.LeaseEndsBy = true, r.ReceivedAt }
	return []playback.QoEReport{
		beat("s1", "a1", t1, time.Second, playback.QoE{}),
		beat("s1", "a1", t1, 2*time.Second, playback.QoE{StartupMS: 1_000, BitrateKbps: 2_000, CDN: "a"}),
		beat("s1", "a1", t1, 30*time.Second, playback.QoE{StartupMS: 1_000, PlayedMS: 27_000, RebufferCount: 1, RebufferMS: 1_000, BitrateKbps: 2_000, CDN: "a"}),
		beat("s1", "a1", t1, 88*time.Second, playback.QoE{StartupMS: 1_000, PlayedMS: 85_000, RebufferCount: 1, RebufferMS: 1_000, BitrateKbps: 2_000, CDN: "a"}),
		beat("s2", "a1", t2, time.Second, playback.QoE{Continued: true, View: "s1", BitrateKbps: 4_000, CDN: "b"}, mobile),
		beat("s2", "a1", t2, 33*time.Second, playback.QoE{Continued: true, View: "s1", PlayedMS: 27_000, RebufferCount: 2, RebufferMS: 3_000, BitrateKbps: 4_000, CDN: "b"}, mobile),
		beat("s2", "a1", t2, 34*time.Second, playback.QoE{Continued: true, View: "s1", PlayedMS: 28_000, RebufferCount: 2, RebufferMS: 3_000, BitrateKbps: 4_000, CDN: "b"}, mobile, stop),
		beat("x2", "a2", t2, time.Second, playback.QoE{Continued: true, View: "s1", PlayedMS: 500}),
	}
}

// foldSessions folds reports into their sessions' views (QoEView.Apply)
// in the order given, as a store does.
func foldSessions(order []playback.QoEReport) []playback.QoEView {
	views := map[string]playback.QoEView{}
	var ids []string
	for _, r := range order {
		v, ok := views[r.SessionID]
		if !ok {
			ids = append(ids, r.SessionID)
		}
		v.Apply(r)
		views[r.SessionID] = v
	}
	out := make([]playback.QoEView, 0, len(ids))
	for _, id := range ids {
		out = append(out, views[id])
	}
	return out
}

// TestReauthorizedPlayIsOneView: Mux Data counts a view per playback
// attempt ("an attempt, successful or not, to play a video",
// https://docs.mux.com/guides/data/understand-metric-definitions), and a
// play that goes on across a re-authorization is one attempt, though two
// sessions: one view, started once, with the startup of its first frame,
// the play and stalls of both sessions (rebuffering over the whole watch
// time), bucketed in the hour and under the viewer of its first session.
// Counted per session it was two views, two started, and the second one's
// stalls over its own play only. Another account's session that names the
// play stays a view of its own. The plays are a function of the set of
// the reports: every order, with replays, gives the same.
func TestReauthorizedPlayIsOneView(t *testing.T) {
	t.Parallel()
	beats := reauthorizedPlay()
	h21, h22 := qoeT0.Truncate(time.Hour), qoeT0.Truncate(time.Hour).Add(time.Hour)
	now := qoeT0.Add(3 * time.Hour)
	plays := func(order []playback.QoEReport) []playback.QoEView {
		return playback.QoEPlays(foldSessions(order), h21, h22.Add(time.Hour))
	}
	want := plays(beats)
	views, started := 0, 0
	for _, g := range playback.AggregateQoE(want, playback.QoEByTitle, now) {
		views, started = views+g.Views, started+g.Started
	}
	if views != 2 || started != 2 {
		t.Errorf("%d views, %d started; want 2 and 2: the re-authorized play and the other account's session", views, started)
	}
	byTitle := playback.AggregateQoE(want, playback.QoEByTitle, now)
	if len(byTitle) != 2 {
		t.Fatalf("aggregates by title %+v, want the play in 21:00 and the other account's session in 22:00", byTitle)
	}
	a := byTitle[0]
	watch := 1_000 + 85_000 + 1_000 + 28_000 + 3_000
	if !a.Hour.Equal(h21) || a.Views != 1 || a.Started != 1 || a.ExitsBeforeStart != 0 || a.PlayedMS != 85_000+28_000 ||
		a.RebufferMS != 4_000 || a.StartupMS != (playback.Quantiles{P50: 1_000, P95: 1_000, N: 1}) ||
		a.RebufferPercent != (playback.Quantiles{P50: 100 * 4_000.0 / float64(watch), P95: 100 * 4_000.0 / float64(watch), N: 1}) {
		t.Fatalf("the re-authorized play's aggregate %+v, want one started view in 21:00 with 1000 ms startup, 113000 ms play, 4000 ms stalls (%.3f %%)",
			a, 100*4_000.0/float64(watch))
	}
	if o := byTitle[1]; !o.Hour.Equal(h22) || o.Views != 1 || o.PlayedMS != 500 {
		t.Fatalf("the other account's session %+v, want a view of its own in 22:00", o)
	}
	for _, tc := range []struct {
		d    playback.QoEDimension
		want string
	}{{playback.QoEByASN, "3320"}, {playback.QoEByCountry, "DE"}, {playback.QoEByCDN, "b"}} {
		if g := playback.AggregateQoE(want[:1], tc.d, now); len(g) != 1 || g[0].Value != tc.want {
			t.Errorf("the play by %s: %+v, want %q", tc.d, g, tc.want)
		}
	}
	if p := want[0]; p.SessionID != "s1" || !p.Stopped || p.Reports != 7 || p.PeakBitrateKbps != 4_000 {
		t.Errorf("the play %+v", p)
	}
	if avg, _ := want[0].AvgBitrateKbps(); avg != (2_000*85_000+4_000*28_000)/113_000.0 {
		t.Errorf("the play's average bitrate %v, want each session's play at its bitrate", avg)
	}
	// Its second session started in 22:00 but is no view there.
	if later := playback.QoEPlays(foldSessions(beats), h22, h22.Add(time.Hour)); len(later) != 1 || later[0].SessionID != "x2" {
		t.Errorf("plays that started in 22:00 %+v, want the other account's session only", later)
	}

	rng := rand.New(rand.NewPCG(18, 32))
	for i := range 500 {
		order := append([]playback.QoEReport(nil), beats...)
		if i%2 == 1 {
			for _, j := range rng.Perm(len(beats))[:3] {
				order = append(order, beats[j])
			}
		}
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		if got := plays(order); !reflect.DeepEqual(got, want) {
			t.Fatalf("order %d: plays\n%+v\nwant\n%+v", i, got, want)
		}
	}
}

// TestViewsStoredBeforePlaysAreTheirOwn: views stored before they kept
// their account and the play they name (bolt keeps them as this JSON)
// are each a play of their own, with the figures they were stored with,
// beside a play of two sessions.
func TestViewsStoredBeforePlaysAreTheirOwn(t *testing.T) {
	t.Parallel()
	var stored []playback.QoEView
	for _, raw := range []string{
		`{"session_id":"old1","hour":"2026-12-04T21:00:00Z","started_at":"2026-12-04T21:10:00Z","title_id":"t1","reports":2,"startup_ms":800,"played_ms":10000}`,
		`{"session_id":"old2","hour":"2026-12-04T21:00:00Z","started_at":"2026-12-04T21:20:00Z","title_id":"t1","reports":1,"continued":true,"played_ms":5000}`,
	} {
		var v playback.QoEView
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, v)
	}
	h21 := qoeT0.Truncate(time.Hour)
	plays := playback.QoEPlays(append(stored, foldSessions(reauthorizedPlay())...), h21, h21.Add(2*time.Hour))
	if len(plays) != 4 || !reflect.DeepEqual(plays[0], stored[0]) || !reflect.DeepEqual(plays[1], stored[1]) {
		t.Fatalf("plays %+v, want the two stored views as they were, then the re-authorized play and the other account's session", plays)
	}
	agg := playback.AggregateQoE(plays, playback.QoEByTitle, qoeT0.Add(3*time.Hour))
	if len(agg) != 2 || agg[0].Views != 3 || agg[0].Started != 3 || agg[0].PlayedMS != 10_000+5_000+113_000 || agg[1].Views != 1 {
		t.Fatalf("aggregates %+v, want 3 started views in 21:00 (two stored before, the play), 1 in 22:00", agg)
	}
}

// TestPlayOfSessionsIsOneAttempt: whatever happened in which session of a
// re-authorized play, it is one playback attempt: one exit before video
// start when none of its sessions saw a first frame, one failure when one
// of them failed, and a startup from the session whose first frame it was.
func TestPlayOfSessionsIsOneAttempt(t *testing.T) {
	t.Parallel()
	const lease = 2 * time.Minute
	t2 := qoeT0.Add(time.Minute)
	beat := func(session string, started time.Time, age time.Duration, q playback.QoE, event string) playback.QoEReport {
		if session != "s1" {
			q.View = "s1"
		}
		return playback.QoEReport{SessionID: session, AccountID: "a1", TitleID: "t1", SessionStartedAt: started,
			ReceivedAt: started.Add(age), DeviceTime: started.Add(age), LeaseEndsBy: started.Add(age + lease), QoE: q,
			Stopped: event == "stop", Failed: event == "error"}
	}
	for _, tc := range []struct {
		name    string
		reports []playback.QoEReport
		want    playback.QoEAggregate
	}{
		{
			name: "authorized again before its first frame",
			reports: []playback.QoEReport{beat("s1", qoeT0, time.Second, playback.QoE{}, "start"),
				beat("s2", t2, 3*time.Second, playback.QoE{StartupMS: 3_000}, "start"),
				beat("s2", t2, 13*time.Second, playback.QoE{StartupMS: 3_000, PlayedMS: 10_000}, "")},
			want: playback.QoEAggregate{Views: 1, Started: 1, PlayedMS: 10_000, StartupMS: playback.Quantiles{P50: 3_000, P95: 3_000, N: 1}},
		},
		{
			name: "left before a first frame in either",
			reports: []playback.QoEReport{beat("s1", qoeT0, time.Second, playback.QoE{}, "start"),
				beat("s2", t2, time.Second, playback.QoE{}, ""), beat("s2", t2, 2*time.Second, playback.QoE{}, "stop")},
			want: playback.QoEAggregate{Views: 1, ExitsBeforeStart: 1},
		},
		{
			name: "failed in the session after",
			reports: []playback.QoEReport{beat("s1", qoeT0, 2*time.Second, playback.QoE{StartupMS: 900}, "start"),
				beat("s2", t2, time.Second, playback.QoE{Continued: true}, ""), beat("s2", t2, 2*time.Second, playback.QoE{Continued: true}, "error")},
			want: playback.QoEAggregate{Views: 1, Started: 1, Failures: 1, StartupMS: playback.Quantiles{P50: 900, P95: 900, N: 1}},
		},
		{
			name: "three sessions, the last stopped paused",
			reports: []playback.QoEReport{beat("s1", qoeT0, 11*time.Second, playback.QoE{StartupMS: 900, PlayedMS: 10_000}, ""),
				beat("s2", t2, 10*time.Second, playback.QoE{Continued: true, PlayedMS: 10_000, RebufferCount: 1, RebufferMS: 500}, ""),
				beat("s3", t2.Add(time.Minute), time.Second, playback.QoE{Continued: true}, "stop")},
			want: playback.QoEAggregate{Views: 1, Started: 1, PlayedMS: 20_000, RebufferMS: 500, StartupMS: playback.Quantiles{P50: 900, P95: 900, N: 1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := qoeT0.Truncate(time.Hour)
			agg := playback.AggregateQoE(playback.QoEPlays(foldSessions(tc.reports), h, h.Add(time.Hour)), playback.QoEByTitle, qoeT0.Add(time.Hour))
			if len(agg) != 1 {
				t.Fatalf("aggregates %+v, want one", agg)
			}
			got := agg[0]
			got.Hour, got.Value, got.RebufferPercent, got.AvgBitrateKbps, got.PeakBitrateKbps = time.Time{}, "", playback.Quantiles{}, playback.Quantiles{}, playback.Quantiles{}
			if got != tc.want {
				t.Fatalf("aggregate %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestPlaysComeInOneOrder: QoEPlays is a function of the set of views,
// the order of the plays it answers included. A session that names a play
// other sessions name as theirs (c names a, b and e name c: a player that
// named the session it replaced, not the one the play began in) was a
// play of its own beside the play of b and e, the two answering the same
// session id, account and title, and came in the order the map of plays
// gave them. Since c began no play (it names a), b and e are now views of
// their own too (QoEPlaySlack), and the three come in one order.
func TestPlaysComeInOneOrder(t *testing.T) {
	t.Parallel()
	h := qoeT0.Truncate(time.Hour)
	view := func(id, names string, started time.Time, played int64) playback.QoEView {
		return playback.QoEView{SessionID: id, AccountID: "a1", TitleID: "t1", ViewID: names, StartedAt: started,
			Hour: playback.QoEHour(started), Reports: 1, PlayedMS: played, Continued: true}
	}
	views := []playback.QoEView{view("c", "a", qoeT0, 1_000), view("b", "c", qoeT0, 2_000), view("e", "c", qoeT0.Add(time.Minute), 4_000)}
	want := playback.QoEPlays(views, h, h.Add(time.Hour))
	if !reflect.DeepEqual(want, []playback.QoEView{views[1], views[0], views[2]}) {
		t.Fatalf("plays %+v, want b's, c's and e's, each its own", want)
	}
	rng := rand.New(rand.NewPCG(18, 33))
	for i := range 200 {
		order := append([]playback.QoEView(nil), views...)
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		if got := playback.QoEPlays(order, h, h.Add(time.Hour)); !reflect.DeepEqual(got, want) {
			t.Fatalf("call %d: plays\n%+v\nwant\n%+v", i, got, want)
		}
	}
}

// randomPlays are the sessions' views of random plays over a few days, as
// a store keeps them: plays of one session, plays that go on across
// re-authorizations for longer than a day (a live channel left on), some
// session at exactly QoEPlaySlack after the first, a player that names
// the session it replaced instead of the first (chains), plays whose
// first session is missing (lost, or stored before it kept the play),
// a session that names a play of another account, and one that names a
// session started after it.
func randomPlays(rng *rand.Rand, start time.Time, span time.Duration) []playback.QoEView {
	var out []playback.QoEView
	view := func(id, account, names string, at time.Time) playback.QoEView {
		v := playback.QoEView{SessionID: id, AccountID: account, TitleID: []string{"t1", "t2"}[rng.IntN(2)], ViewID: names,
			StartedAt: at, Hour: playback.QoEHour(at), Reports: 1 + rng.IntN(5), Country: []string{"DE", "FR", ""}[rng.IntN(3)],
			CDN: []string{"a", "b", ""}[rng.IntN(3)], LeaseEndsBy: at.Add(2 * time.Minute)}
		if rng.IntN(4) > 0 {
			v.StartupMS = 100 + rng.Int64N(5_000)
		}
		if rng.IntN(3) > 0 {
			v.PlayedMS = rng.Int64N(3_600_000)
			v.RebufferMS = rng.Int64N(v.PlayedMS/10 + 1)
			v.PeakBitrateKbps = 500 + rng.IntN(8_000)
			v.BitrateKbpsMS = float64(v.PeakBitrateKbps) * float64(v.PlayedMS) / 2
		}
		v.Stopped, v.Failed = rng.IntN(3) == 0, rng.IntN(8) == 0
		return v
	}
	for p := range 3 + rng.IntN(8) {
		account := []string{"a1", "a2"}[rng.IntN(2)]
		first := start.Add(time.Duration(rng.Int64N(int64(span))) / time.Microsecond * time.Microsecond)
		id := func(i int) string { return "p" + strconv.Itoa(p) + "s" + strconv.Itoa(i) }
		self := ""
		if rng.IntN(4) == 0 {
			self = id(0) // a player that names the play in its first session too
		}
		if rng.IntN(5) > 0 {
			out = append(out, view(id(0), account, self, first))
		}
		at, prev := first, id(0)
		for i := 1; i <= rng.IntN(7); i++ {
			switch rng.IntN(6) {
			case 0:
				at = first.Add(playback.QoEPlaySlack) // the first moment past the slack
			case 1:
				at = at.Add(time.Duration(rng.Int64N(int64(time.Minute))))
			default:
				at = at.Add(time.Duration(rng.Int64N(int64(20 * time.Hour))))
			}
			names, acct := id(0), account
			switch rng.IntN(10) {
			case 0:
				names = prev // a chain
			case 1:
				acct = "a3" // another account's session naming the play
			case 2:
				names = id(99) // a first session never stored
			}
			v := view(id(i), acct, names, at)
			v.Continued = rng.IntN(3) > 0
			if rng.IntN(10) == 0 {
				v.StartedAt = first.Add(-time.Duration(1 + rng.Int64N(int64(time.Hour)))) // before the play it names
				v.Hour = playback.QoEHour(v.StartedAt)
			}
			out = append(out, v)
			prev = id(i)
		}
	}
	return out
}

// TestPlaysDoNotDependOnTheRange: an hour's figures are those of the plays
// that started in it, whichever range it is asked in. GET /v1/admin/qoe
// reads the sessions that started up to QoEPlaySlack around its range
// (functions/admin), and the warehouse queries the same (docs/qoe): for
// random sets of sessions, each hour asked alone must answer the plays,
// and the aggregates, that a wider range around it answers in that hour,
// in any order the store lists the sessions in. Sessions were taken into
// a play up to QoEPlaySlack past the range, not past the play's start: a
// play longer than a day had more play time in a wide range than in its
// own hour, and a later session of it was a view of its own in a narrow
// range and not in a wide one.
func TestPlaysDoNotDependOnTheRange(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(18, 34))
	day := qoeT0.Truncate(24 * time.Hour)
	const span = 4 * 24 * time.Hour
	now := day.Add(10 * 24 * time.Hour)
	for round := range 300 {
		sessions := randomPlays(rng, day, span)
		asked := func(from, to time.Time) []playback.QoEView {
			var read []playback.QoEView
			for _, v := range sessions {
				if !v.StartedAt.Before(from.Add(-playback.QoEPlaySlack)) && v.StartedAt.Before(to.Add(playback.QoEPlaySlack)) {
					read = append(read, v)
				}
			}
			rng.Shuffle(len(read), func(a, b int) { read[a], read[b] = read[b], read[a] })
			return playback.QoEPlays(read, from, to)
		}
		for range 8 {
			h := day.Add(time.Duration(rng.IntN(int(span/time.Hour))) * time.Hour)
			if rng.IntN(2) == 0 && len(sessions) > 0 {
				h = sessions[rng.IntN(len(sessions))].Hour // an hour with a session in it
			}
			alone := asked(h, h.Add(time.Hour))
			from, to := h.Add(-time.Duration(rng.IntN(72))*time.Hour), h.Add(time.Duration(1+rng.IntN(72))*time.Hour)
			within := []playback.QoEView{}
			for _, v := range asked(from, to) {
				if v.Hour.Equal(h) {
					within = append(within, v)
				}
			}
			if !reflect.DeepEqual(alone, within) {
				t.Fatalf("round %d: the plays of %s asked alone\n%+v\nasked in [%s, %s)\n%+v", round, h.Format(time.RFC3339),
					alone, from.Format(time.RFC3339), to.Format(time.RFC3339), within)
			}
			for _, d := range []playback.QoEDimension{playback.QoEByCDN, playback.QoEByCountry} {
				if a, w := playback.AggregateQoE(alone, d, now), playback.AggregateQoE(within, d, now); !reflect.DeepEqual(a, w) {
					t.Fatalf("round %d: %s by %s asked alone %+v, in [%s, %s) %+v", round, h.Format(time.RFC3339), d, a,
						from.Format(time.RFC3339), to.Format(time.RFC3339), w)
				}
			}
		}
	}
}

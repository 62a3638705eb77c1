package playback_test

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// orderedBeats are the accepted heartbeats of four views, each report one
// heartbeat's own figures (received when its device time says), among them
// what a queue delivers out of order: SQS and Pub/Sub do not keep it.
func orderedBeats() []playback.QoEReport {
	const lease = 2 * time.Minute
	beat := func(session string, age time.Duration, q playback.QoE, mutate ...func(*playback.QoEReport)) playback.QoEReport {
		r := playback.QoEReport{SessionID: session, TitleID: "t1", Country: "DE", SessionStartedAt: qoeT0,
			ReceivedAt: qoeT0.Add(age), DeviceTime: qoeT0.Add(age), LeaseEndsBy: qoeT0.Add(age + lease), QoE: q}
		for _, m := range mutate {
			m(&r)
		}
		return r
	}
	stop := func(r *playback.QoEReport) { r.Stopped, r.LeaseEndsBy = true, r.ReceivedAt }
	fail := func(r *playback.QoEReport) { r.Failed = true }
	return []playback.QoEReport{
		// "late": admitted, then its first frame told a second before the
		// lease ran out; whenever that beat is consumed, after the lease's
		// end included, the view started (at 1500 kbps until 3000 was told).
		beat("late", time.Second, playback.QoE{}),
		beat("late", lease, playback.QoE{StartupMS: 900, BitrateKbps: 1500, CDN: "a"}),
		beat("late", lease+30*time.Second, playback.QoE{StartupMS: 900, PlayedMS: 29_000, RebufferCount: 1, RebufferMS: 100, BitrateKbps: 3000, CDN: "b"}),
		// "failed": an error before the first frame, then the page's stop.
		beat("failed", time.Second, playback.QoE{}),
		beat("failed", 5*time.Second, playback.QoE{}, fail),
		beat("failed", 6*time.Second, playback.QoE{}, stop),
		// "retried": its start, and the same start retried (same device
		// time) five seconds later, which held the lease five seconds longer.
		beat("retried", time.Second, playback.QoE{}),
		beat("retried", time.Second, playback.QoE{}, func(r *playback.QoEReport) {
			r.ReceivedAt = r.ReceivedAt.Add(5 * time.Second)
			r.LeaseEndsBy = r.LeaseEndsBy.Add(5 * time.Second)
		}),
		// "liar": a startup longer than the session was old when first
		// told is refused, though later reports repeat it when it is not.
		beat("liar", 5*time.Second, playback.QoE{StartupMS: 30_000, PlayedMS: 1_000, BitrateKbps: 800}),
		beat("liar", 60*time.Second, playback.QoE{StartupMS: 30_000, PlayedMS: 30_000, BitrateKbps: 800}),
	}
}

// TestQoEViewIsTheSameInEveryOrder: a view is a function of the heartbeats
// that were accepted, not of the order a queue delivers them in, nor of
// replays: every order of the same beats, each delivered once or twice,
// gives the same views and the same hourly aggregates at every time, a
// first frame told just before the lease ran out and consumed after it
// included (Mux Data computes a view from its events, and so do the
// warehouse queries, docs/qoe).
func TestQoEViewIsTheSameInEveryOrder(t *testing.T) {
	t.Parallel()
	beats := orderedBeats()
	fold := func(order []playback.QoEReport) map[string]playback.QoEView {
		views := map[string]playback.QoEView{}
		for _, r := range order {
			v := views[r.SessionID]
			v.Apply(r)
			views[r.SessionID] = v
		}
		return views
	}
	list := func(m map[string]playback.QoEView) []playback.QoEView {
		var out []playback.QoEView
		for _, id := range []string{"late", "failed", "retried", "liar"} {
			out = append(out, m[id])
		}
		return out
	}
	times := []time.Duration{90 * time.Second, 2*time.Minute + 30*time.Second, 2*time.Minute + 4*time.Second, 2*time.Minute + 2*time.Second, time.Hour}
	aggregates := func(views []playback.QoEView) [][]playback.QoEAggregate {
		var out [][]playback.QoEAggregate
		for _, at := range times {
			for _, d := range playback.QoEDimensions {
				out = append(out, playback.AggregateQoE(views, d, qoeT0.Add(at)))
			}
		}
		return out
	}
	want := fold(beats)
	wantAgg := aggregates(list(want))
	late := want["late"]
	if !late.Started() || late.StartupMS != 900 || late.ExitedBeforeStart(qoeT0.Add(time.Hour)) || late.CDN != "b" {
		t.Fatalf("the late first frame did not start its view: %+v", late)
	}
	if avg, _ := late.AvgBitrateKbps(); avg != 1500 {
		t.Fatalf("late view's average bitrate %v, want 1500 (the 29 s after the 1500 kbps report)", avg)
	}
	if f := want["failed"]; !f.Failed || f.ExitedBeforeStart(qoeT0.Add(time.Hour)) {
		t.Fatalf("failed view %+v", f)
	}
	if r := want["retried"]; !r.LeaseEndsBy.Equal(qoeT0.Add(time.Second+2*time.Minute+5*time.Second)) || r.Reports != 2 {
		t.Fatalf("retried view %+v", r)
	}
	if l := want["liar"]; !l.StartupRefused || l.StartupMS != 0 {
		t.Fatalf("liar view %+v", l)
	}

	rng := rand.New(rand.NewPCG(18, 27))
	for i := range 2000 {
		order := append([]playback.QoEReport(nil), beats...)
		if i%2 == 1 {
			// At-least-once delivery: some beats come twice.
			for _, j := range rng.Perm(len(beats))[:3] {
				order = append(order, beats[j])
			}
		}
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		got := fold(order)
		if !reflect.DeepEqual(got, want) {
			for id := range want {
				if !reflect.DeepEqual(got[id], want[id]) {
					t.Fatalf("order %d: view %s\n%+v\nwant (device-time order)\n%+v", i, id, got[id], want[id])
				}
			}
		}
		if gotAgg := aggregates(list(got)); !reflect.DeepEqual(gotAgg, wantAgg) {
			t.Fatalf("order %d: aggregates %+v\nwant %+v", i, gotAgg, wantAgg)
		}
	}
}

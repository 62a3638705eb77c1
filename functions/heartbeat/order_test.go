package heartbeat_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// acceptedBeats are heartbeat messages as the request path publishes them
// for four sessions started at t0 with a two-minute lease: each carries
// when it was accepted and where it left the lease.
func acceptedBeats(t *testing.T, t0 time.Time) []playback.Message {
	t.Helper()
	const lease = 2 * time.Minute
	type b struct {
		session  string
		device   time.Duration // device time since t0
		received time.Duration // accepted at, since t0
		event    string
		position int64
		qoe      playback.QoE
	}
	beats := []b{
		// "late": admitted, then its first frame accepted a second before
		// the lease ran out; queues may hand that one over long after.
		{"late", time.Second, time.Second, events.HeartbeatStart, -1, playback.QoE{}},
		{"late", lease, lease, events.HeartbeatStart, 0, playback.QoE{StartupMS: 900, BitrateKbps: 1500, CDN: "a"}},
		{"late", lease + 30*time.Second, lease + 30*time.Second, events.HeartbeatProgress, 29_000,
			playback.QoE{StartupMS: 900, PlayedMS: 29_000, RebufferCount: 1, RebufferMS: 100, BitrateKbps: 3000, CDN: "b"}},
		// "failed": an error before the first frame, then the page's stop.
		{"failed", time.Second, time.Second, events.HeartbeatStart, -1, playback.QoE{}},
		{"failed", 5 * time.Second, 5 * time.Second, events.HeartbeatError, -1, playback.QoE{}},
		{"failed", 6 * time.Second, 6 * time.Second, events.HeartbeatStop, -1, playback.QoE{}},
		// "retried": a start whose answer was lost, sent again (same body,
		// same device time) and accepted five seconds later.
		{"retried", time.Second, time.Second, events.HeartbeatStart, -1, playback.QoE{}},
		{"retried", time.Second, 6 * time.Second, events.HeartbeatStart, -1, playback.QoE{}},
		// "liar": a startup longer than the session was old when first told.
		{"liar", 5 * time.Second, 5 * time.Second, events.HeartbeatStart, 0, playback.QoE{StartupMS: 30_000, PlayedMS: 1_000, BitrateKbps: 800}},
		{"liar", time.Minute, time.Minute, events.HeartbeatProgress, 30_000, playback.QoE{StartupMS: 30_000, PlayedMS: 30_000, BitrateKbps: 800}},
	}
	out := make([]playback.Message, len(beats))
	for i, x := range beats {
		m := events.Heartbeat{SessionID: x.session, AccountID: "acct_" + x.session, TitleID: "title_1", DeviceID: "dev",
			Event: x.event, PositionMS: x.position, DurationMS: 5_400_000, DeviceTime: t0.Add(x.device), QoE: x.qoe,
			ReceivedAt: t0.Add(x.received), SessionStartedAt: t0, LeaseExpiresAt: t0.Add(x.received + lease)}
		if x.position < 0 {
			m.PositionMS, m.DurationMS, m.PositionUnknown = 0, 0, true
		}
		if x.event == events.HeartbeatStop {
			m.LeaseExpiresAt = m.ReceivedAt
		}
		data, err := m.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = playback.Message{ID: fmt.Sprint("m", i), OrderingKey: x.session, Data: data}
	}
	return out
}

// TestViewsAreTheSameInEveryDeliveryOrder: the QoE views the consumer
// keeps are a function of the heartbeats accepted, whatever order and
// batches the queue hands them over in (SQS and Pub/Sub keep no order;
// both redeliver): random orders, batch splits and redeliveries of the
// same messages give the same hourly aggregates, at every time, as
// consuming them in the order they were accepted. A first frame accepted
// just before the lease ran out but consumed after it starts its view in
// every order.
func TestViewsAreTheSameInEveryDeliveryOrder(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		t.Run(wp.name, func(t *testing.T) {
			t.Parallel()
			aggregates := func(h *harness, t0 time.Time) [][]playback.QoEAggregate {
				t.Helper()
				views, err := h.bolt.QoEViews(t.Context(), t0.Add(-time.Hour), t0.Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				var out [][]playback.QoEAggregate
				for _, at := range []time.Duration{90 * time.Second, 2*time.Minute + 2*time.Second, 2*time.Minute + 4*time.Second,
					2*time.Minute + 30*time.Second, time.Hour} {
					for _, d := range playback.QoEDimensions {
						out = append(out, playback.AggregateQoE(views, d, t0.Add(at)))
					}
				}
				return out
			}
			run := func(batches [][]playback.Message) (*harness, time.Time) {
				h := newHarness(t, harnessOptions{noConsume: true, unbatched: wp.unbatched, qoeViews: true})
				for _, b := range batches {
					if retry := h.consume(b); len(retry) != 0 {
						t.Fatalf("retry %v", retry)
					}
				}
				return h, h.clock()
			}

			// In the order accepted, the late first frame last, after the
			// lease it was accepted under had run out.
			h := newHarness(t, harnessOptions{noConsume: true, unbatched: wp.unbatched, qoeViews: true})
			t0 := h.clock()
			msgs := acceptedBeats(t, t0)
			if retry := h.consume(append(append([]playback.Message(nil), msgs[:1]...), msgs[3:]...)); len(retry) != 0 {
				t.Fatalf("retry %v", retry)
			}
			// Until it lands the view counts as an exit (its lease is over):
			// the figure is corrected in the view's own hour when it does.
			views, err := h.bolt.QoEViews(t.Context(), t0, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if a := playback.AggregateQoE(views, playback.QoEByTitle, t0.Add(150*time.Second)); len(a) != 1 || a[0].ExitsBeforeStart != 2 {
				t.Fatalf("before the late beats, at t0+2m30s: %+v, want 2 exits (late, retried)", a)
			}
			for _, m := range msgs[1:3] {
				if retry := h.consume([]playback.Message{m}); len(retry) != 0 {
					t.Fatalf("retry %v", retry)
				}
			}
			want := aggregates(h, t0)
			final := want[len(want)-len(playback.QoEDimensions)] // at t0+1h, by title
			if len(final) != 1 || final[0].Views != 4 || final[0].Started != 2 || final[0].ExitsBeforeStart != 1 || final[0].Failures != 1 {
				t.Fatalf("at t0+1h: %+v, want 4 views: 2 started (late, liar), 1 exit (retried), 1 failure", final)
			}

			rng := rand.New(rand.NewPCG(18, uint64(len(wp.name))))
			for i := range 40 {
				order := append([]playback.Message(nil), msgs...)
				for _, j := range rng.Perm(len(msgs))[:i%4] {
					order = append(order, msgs[j]) // redelivered
				}
				rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
				var batches [][]playback.Message
				for len(order) > 0 {
					n := min(len(order), 1+rng.IntN(4))
					batches, order = append(batches, order[:n]), order[n:]
				}
				h, _ := run(batches)
				if got := aggregates(h, t0); !reflect.DeepEqual(got, want) {
					t.Fatalf("delivery %d in %d batches: aggregates\n%+v\nwant\n%+v", i, len(batches), got, want)
				}
			}
		})
	}
}

// TestCMCDReportsOfOneMillisecondAreTheSameInEveryOrder: the reports of one
// CMCD request share the request's arrival, and ts is in milliseconds, so
// two events of one millisecond (a first frame and a bitrate switch) have
// one device time. They are two heartbeats, not one delivered twice: the
// view counts both, and is the same whichever the queue hands over first.
func TestCMCDReportsOfOneMillisecondAreTheSameInEveryOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{noConsume: true})
	id, _ := h.play("acct_a", "title_1", 2)
	ts := h.ts(0)
	body := fmt.Sprintf("e=ps,sta=p,br=800,msd=700,cdn=\"a\",ts=%d\ne=t,sta=p,br=6000,cdn=\"b\",ts=%d\n", ts, ts)
	if rec := h.report(http.MethodPost, h.cmcdURL(id, "acct_a", "title_1"), "application/cmcd", body); rec.Code != http.StatusNoContent {
		t.Fatalf("CMCD request: %d %s", rec.Code, rec.Body)
	}
	h.pub.mu.Lock()
	published := h.pub.published[len(h.pub.published)-2:]
	h.pub.mu.Unlock()
	msgs := []playback.Message{{ID: "m0", OrderingKey: id, Data: published[0]}, {ID: "m1", OrderingKey: id, Data: published[1]}}
	view := func(order ...playback.Message) playback.QoEView {
		c := newHarness(t, harnessOptions{noConsume: true, qoeViews: true})
		for _, m := range order {
			if retry := c.consume([]playback.Message{m}); len(retry) != 0 {
				t.Fatalf("retry %v", retry)
			}
		}
		views, err := c.bolt.QoEViews(t.Context(), h.clock().Add(-time.Hour), h.clock().Add(time.Hour))
		if err != nil || len(views) != 1 {
			t.Fatalf("views %+v, %v", views, err)
		}
		return views[0]
	}
	ab, ba := view(msgs[0], msgs[1]), view(msgs[1], msgs[0])
	if !reflect.DeepEqual(ab, ba) {
		t.Fatalf("in request order\n%+v\nreversed\n%+v", ab, ba)
	}
	if ab.Reports != 2 || ab.StartupMS != 700 || ab.PeakBitrateKbps != 6000 || ab.CDN != "b" {
		t.Fatalf("view %+v, want both reports: 700 ms startup, 6000 kbps peak, cdn b (the later in the request)", ab)
	}
	if again := view(msgs[0], msgs[1], msgs[0], msgs[1]); !reflect.DeepEqual(again, ab) {
		t.Fatalf("redelivered\n%+v\nwant\n%+v", again, ab)
	}
}

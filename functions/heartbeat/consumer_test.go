package heartbeat_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
)

// beat is a heartbeat message as the request path publishes it.
type beat struct {
	id, session string
	at          time.Duration // device time offset from the harness clock
	position    int64
	qoe         playback.QoE
	started     time.Duration // session start offset; received = device time
}

func (h *harness) messages(beats ...beat) []playback.Message {
	h.t.Helper()
	now := h.clock()
	out := make([]playback.Message, len(beats))
	for i, b := range beats {
		m := events.Heartbeat{SessionID: b.session, AccountID: "acct_" + b.session, TitleID: "title_1", DeviceID: "dev",
			Event: events.HeartbeatProgress, PositionMS: b.position, DurationMS: 5_400_000, DeviceTime: now.Add(b.at),
			QoE: b.qoe, ReceivedAt: now.Add(b.at), SessionStartedAt: now.Add(b.started)}
		data, err := m.AppendJSON(nil)
		if err != nil {
			h.t.Fatal(err)
		}
		out[i] = playback.Message{ID: b.id, OrderingKey: b.session, Data: data}
	}
	return out
}

func (h *harness) consume(msgs []playback.Message) []string {
	return h.srv.Consumers()[events.TopicHeartbeats](context.Background(), msgs)
}

func (h *harness) position(session string) int64 {
	h.t.Helper()
	p, err := h.bolt.GetProgress(context.Background(), "acct_"+session, "title_1")
	if err != nil {
		h.t.Fatal(err)
	}
	return p.PositionMS
}

func (h *harness) qoe(session string) playback.SessionQoE {
	h.t.Helper()
	q, err := h.bolt.GetSessionQoE(context.Background(), session)
	if err != nil {
		h.t.Fatal(err)
	}
	return q
}

func TestConsumerCoalescesPerSession(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		t.Run(wp.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{noConsume: true, unbatched: wp.unbatched})
			retry := h.consume(h.messages(
				beat{id: "m1", session: "s1", at: 20 * time.Second, position: 20_000, qoe: playback.QoE{RebufferCount: 2, PlayedMS: 19_000}},
				beat{id: "m2", session: "s1", at: 0, position: 0},
				beat{id: "m3", session: "s2", at: 10 * time.Second, position: 100},
				beat{id: "m4", session: "s1", at: 10 * time.Second, position: 10_000, qoe: playback.QoE{RebufferCount: 1, BitrateKbps: 3000}},
				beat{id: "m5", session: "s1", at: 20 * time.Second, position: 20_000}, // the same heartbeat delivered twice
			))
			if len(retry) != 0 {
				t.Fatalf("retry %v", retry)
			}
			if p := h.position("s1"); p != 20_000 {
				t.Fatalf("s1 position %d", p)
			}
			q := h.qoe("s1")
			if q.Heartbeats != 3 || q.QoE.RebufferCount != 2 || q.QoE.PlayedMS != 19_000 || q.QoE.BitrateKbps != 3000 {
				t.Fatalf("s1 QoE %+v", q)
			}
			if p, q := h.position("s2"), h.qoe("s2"); p != 100 || q.Heartbeats != 1 {
				t.Fatalf("s2 %d %+v", p, q)
			}
			if st := h.srv.Stats(); st.Consumed != 5 || st.Applied != 4 || st.Stale != 1 {
				t.Fatalf("stats %+v", st)
			}
			// Both sessions in one transaction, or one write each.
			wantBatches, wantSingles := 1, 0
			if wp.unbatched {
				wantBatches, wantSingles = 0, 2
			}
			if batches, singles := h.store.calls(); batches != wantBatches || singles != wantSingles {
				t.Fatalf("%d batch and %d single writes, want %d and %d", batches, singles, wantBatches, wantSingles)
			}
		})
	}
}

func TestConsumerNeverMovesBack(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		t.Run(wp.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{noConsume: true, unbatched: wp.unbatched})
			first := h.messages(beat{id: "a", session: "s1", at: 50 * time.Second, position: 50_000, qoe: playback.QoE{RebufferCount: 4}})
			for _, step := range []struct {
				name       string
				msgs       []playback.Message
				wantPos    int64
				wantBeats  int
				wantRebufs int
			}{
				{"first", first, 50_000, 1, 4},
				{"late heartbeat", h.messages(beat{id: "b", session: "s1", at: 30 * time.Second, position: 30_000, qoe: playback.QoE{RebufferCount: 9}}), 50_000, 1, 4},
				{"replayed batch", first, 50_000, 1, 4},
				{"newer seek back is the viewer's choice", h.messages(beat{id: "c", session: "s1", at: 60 * time.Second, position: 10_000}), 10_000, 2, 4},
			} {
				if retry := h.consume(step.msgs); len(retry) != 0 {
					t.Fatalf("%s: retry %v", step.name, retry)
				}
				q := h.qoe("s1")
				if p := h.position("s1"); p != step.wantPos || q.Heartbeats != step.wantBeats || q.QoE.RebufferCount != step.wantRebufs {
					t.Fatalf("%s: position %d, QoE %+v", step.name, p, q)
				}
			}
		})
	}
}

func TestConsumerAcknowledgesMalformedMessages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{noConsume: true})
	good := h.messages(beat{id: "ok", session: "s1", at: time.Second, position: 1000})[0]
	missing := h.messages(beat{id: "no-account", session: "s2", at: time.Second, position: 1000})[0]
	missing.Data = []byte(`{"session_id":"s2","device_time":"2026-01-01T00:00:00Z"}`)
	beyond := h.messages(beat{id: "beyond", session: "s3", at: time.Second, position: 9_000_000})[0]
	retry := h.consume([]playback.Message{{ID: "junk", Data: []byte("not json")}, good, missing, beyond})
	if len(retry) != 0 {
		t.Fatalf("malformed messages asked for redelivery: %v", retry)
	}
	if st := h.srv.Stats(); st.Malformed != 3 || st.Applied != 1 {
		t.Fatalf("stats %+v", st)
	}
	if p := h.position("s1"); p != 1000 {
		t.Fatalf("position %d", p)
	}
}

func TestConsumerReportsPartialFailures(t *testing.T) {
	t.Parallel()
	unavailable := playback.Unavailable(errors.New("throttled"), "store")
	refused := playback.Errorf(playback.CodeInvalid, "bad", "refused for good")
	// Every write finds another consumer's state landed since its read.
	contended := playback.ErrQoEMoved("bad", time.Time{}, time.Time{})
	type testCase struct {
		name         string
		failProgress error
		failQoE      error
		wantRetry    bool
		unbatched    bool
	}
	var cases []testCase
	for _, wp := range writePaths {
		cases = append(cases,
			testCase{wp.name + "/progress write unavailable", unavailable, nil, true, wp.unbatched},
			testCase{wp.name + "/QoE write unavailable", nil, unavailable, true, wp.unbatched},
			testCase{wp.name + "/non-retryable refusal is dropped", refused, nil, false, wp.unbatched},
			testCase{wp.name + "/QoE write contended past the retries", nil, contended, true, wp.unbatched})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{noConsume: true, unbatched: tc.unbatched})
			h.store.failProgress = map[string]error{"bad": tc.failProgress}
			h.store.failQoE = map[string]error{"bad": tc.failQoE}
			msgs := h.messages(
				beat{id: "g1", session: "good", at: time.Second, position: 1000},
				beat{id: "b1", session: "bad", at: time.Second, position: 1000, qoe: playback.QoE{RebufferCount: 1}},
				beat{id: "g2", session: "good", at: 2 * time.Second, position: 2000},
				beat{id: "b2", session: "bad", at: 2 * time.Second, position: 2000, qoe: playback.QoE{RebufferCount: 2}},
				beat{id: "b3", session: "bad", at: 3 * time.Second, position: 3000},
			)
			retry := h.consume(msgs)
			slices.Sort(retry)
			want := []string(nil)
			if tc.wantRetry {
				want = []string{"b1", "b2", "b3"} // every message coalesced into the failed write
			}
			if !slices.Equal(retry, want) {
				t.Fatalf("retry %v, want %v", retry, want)
			}
			if h.position("good") != 2000 || h.qoe("good").Heartbeats != 2 {
				t.Fatal("the healthy session was not written")
			}
			if !tc.wantRetry {
				return
			}
			// Redelivery once the store recovers counts every heartbeat once.
			h.store.mu.Lock()
			h.store.failProgress, h.store.failQoE = nil, nil
			h.store.mu.Unlock()
			redelivered := slices.DeleteFunc(slices.Clone(msgs), func(m playback.Message) bool { return !slices.Contains(retry, m.ID) })
			if retry := h.consume(redelivered); len(retry) != 0 {
				t.Fatalf("redelivery retry %v", retry)
			}
			if q := h.qoe("bad"); h.position("bad") != 3000 || q.Heartbeats != 3 || q.QoE.RebufferCount != 2 {
				t.Fatalf("after redelivery: position %d, QoE %+v", h.position("bad"), q)
			}
		})
	}
}

// TestConsumerPanicFailsOnlyItsSession: the per-session writes (DynamoDB,
// Firestore) run in goroutines of their own, where no recover of the bus's
// (playback.BatchHandler.Call) reaches: a panic in one killed the process,
// and on Lambda the whole batch with it.
func TestConsumerPanicFailsOnlyItsSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{noConsume: true, unbatched: true})
	h.store.panicSession = "bad"
	msgs := h.messages(
		beat{id: "g1", session: "good", at: time.Second, position: 1000},
		beat{id: "b1", session: "bad", at: time.Second, position: 1000},
	)
	handler := playback.BatchHandler(h.srv.Consumers()[events.TopicHeartbeats])
	retry := handler.Call(context.Background(), slog.New(slog.DiscardHandler), msgs)
	if !slices.Equal(retry, []string{"b1"}) || h.position("good") != 1000 {
		t.Fatalf("retry %v, good session's position %d; want [b1] and 1000", retry, h.position("good"))
	}
}

// TestConsumerFullPubSubBatch hands the handler a batch at Pub/Sub's limit
// of 1,000 messages and checks that exactly the failed sessions' messages
// are nacked.
func TestConsumerFullPubSubBatch(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		t.Run(wp.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{noConsume: true, unbatched: wp.unbatched})
			failing := map[string]bool{"s007": true, "s042": true, "s099": true}
			h.store.failQoE = map[string]error{}
			for s := range failing {
				h.store.failQoE[s] = playback.Unavailable(errors.New("throttled"), "store")
			}
			var beats []beat
			for i := range events.PubSubMaxBatchMessages {
				session := fmt.Sprintf("s%03d", i%100)
				beats = append(beats, beat{id: fmt.Sprintf("m%04d", i), session: session, at: time.Duration(i) * time.Millisecond, position: int64(i)})
			}
			msgs := h.messages(beats...)
			size := 0
			for _, m := range msgs {
				size += len(m.Data)
			}
			if size > events.PubSubMaxBatchBytes {
				t.Fatalf("batch of %d bytes", size)
			}
			retry := h.consume(msgs)
			var want []string
			for _, b := range beats {
				if failing[b.session] {
					want = append(want, b.id)
				}
			}
			slices.Sort(retry)
			if !slices.Equal(retry, want) {
				t.Fatalf("retry %d ids, want %d: %v", len(retry), len(want), retry)
			}
			if q := h.qoe("s000"); q.Heartbeats != 10 || h.position("s000") != 900 {
				t.Fatalf("s000: %+v", q)
			}
		})
	}
}

// TestConsumerRedeliveryThroughSQSSizedBatches runs the consumer on the bus
// with SQS's batch size while the store fails each session's first QoE
// write: the bus redelivers exactly those messages, and every heartbeat ends
// up counted once — applied, or refused as late because its session moved on
// while it waited for redelivery.
func TestConsumerRedeliveryThroughSQSSizedBatches(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		t.Run(wp.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{unbatched: wp.unbatched, busCfg: membus.Config{MaxBatch: events.SQSMaxBatchMessages, MaxAttempts: 3}})
			h.store.failQoE, h.store.failOnce = map[string]error{}, true
			const sessions, per = 7, 9
			var beats []beat
			for i := range sessions {
				h.store.failQoE[fmt.Sprint("s", i)] = playback.Unavailable(errors.New("throttled"), "store")
				for j := range per {
					beats = append(beats, beat{id: fmt.Sprint("m", i, "-", j), session: fmt.Sprint("s", i),
						at: time.Duration(j) * time.Second, position: int64(j) * 1000})
				}
			}
			// Interleave sessions the way concurrent players fill a queue: the
			// first batch holds every session, three of them twice.
			slices.SortStableFunc(beats, func(a, b beat) int { return int(a.at - b.at) })
			if err := h.bus.Publish(context.Background(), events.TopicHeartbeats, h.messages(beats...)...); err != nil {
				t.Fatal(err)
			}
			h.idle()
			if dead := h.bus.DeadLetters(events.TopicHeartbeats); len(dead) != 0 {
				t.Fatalf("%d dead letters", len(dead))
			}
			counted := 0
			for i := range sessions {
				s := fmt.Sprint("s", i)
				counted += h.qoe(s).Heartbeats
				if p := h.position(s); p != (per-1)*1000 {
					t.Fatalf("%s: position %d", s, p)
				}
			}
			st := h.srv.Stats()
			if st.Retried != events.SQSMaxBatchMessages || st.Consumed != sessions*per || st.Applied+st.Stale != sessions*per || int64(counted) != st.Applied {
				t.Fatalf("stats %+v, %d heartbeats counted in sessions", st, counted)
			}
		})
	}
}

// TestConsumerReportsViews: the consumer hands each heartbeat to the QoE
// store as a report of its own, with its event, in one write per batch,
// and an absurd report leaves the view as it was.
func TestConsumerReportsViews(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		t.Run(wp.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{noConsume: true, unbatched: wp.unbatched, qoeViews: true})
			msgs := h.messages(
				beat{id: "m1", session: "s1", at: 5 * time.Second, position: 3_000, started: 0,
					qoe: playback.QoE{StartupMS: 1_500, PlayedMS: 3_000, BitrateKbps: 2000, CDN: "cdn-a", EdgeID: "edge-1"}},
				beat{id: "m2", session: "s1", at: 35 * time.Second, position: 33_000, started: 0,
					qoe: playback.QoE{PlayedMS: 32_000, RebufferCount: 1, RebufferMS: 1_000, BitrateKbps: 2000}},
				beat{id: "m3", session: "s2", at: 3 * time.Second, position: 0, started: 0},
			)
			// s2 gives up before its first frame. s3 took over a play whose
			// first frame came in a session it replaced (the play began in
			// s0), and is stopped before it plays: it started, with no
			// startup of its own, and is the play's view.
			stop := h.messages(beat{id: "m4", session: "s2", at: 4 * time.Second, position: 0, started: 0},
				beat{id: "m6", session: "s3", at: 2 * time.Second, position: 9_000, qoe: playback.QoE{Continued: true, View: "s0"}})
			setEvent(t, stop, events.HeartbeatStop)
			if retry := h.consume(append(msgs, stop...)); len(retry) != 0 {
				t.Fatalf("retry %v", retry)
			}
			// s1 then claims a day of stalls a minute in, and fails.
			lie := h.messages(beat{id: "m5", session: "s1", at: 65 * time.Second, position: 34_000, started: 0,
				qoe: playback.QoE{PlayedMS: 34_000, RebufferCount: 1, RebufferMS: 86_400_000, StartupMS: 99}})
			setEvent(t, lie, events.HeartbeatError)
			if retry := h.consume(lie); len(retry) != 0 {
				t.Fatalf("retry %v", retry)
			}
			views, err := h.bolt.QoEViews(t.Context(), h.clock().Add(-time.Hour), h.clock().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			byID := map[string]playback.QoEView{}
			for _, v := range views {
				byID[v.SessionID] = v
			}
			s1, s2, s3 := byID["s1"], byID["s2"], byID["s3"]
			if len(views) != 3 || s1.StartupMS != 1_500 || s1.PlayedMS != 32_000 || s1.RebufferMS != 1_000 ||
				s1.CDN != "cdn-a" || s1.EdgeID != "edge-1" || !s1.Failed || s1.Corrections != 1 || s1.Reports != 3 {
				t.Fatalf("view s1 %+v (of %d)", s1, len(views))
			}
			if !s2.ExitedBeforeStart(h.clock()) {
				t.Fatalf("view s2 %+v", s2)
			}
			if !s3.Started() || s3.StartupMS != 0 || s3.ExitedBeforeStart(h.clock()) {
				t.Fatalf("view s3 %+v: want one that started, with no startup", s3)
			}
			if p := s3.Play(); p != (playback.QoEPlay{AccountID: "acct_s3", TitleID: "title_1", ViewID: "s0"}) {
				t.Fatalf("view s3 belongs to the play %+v, want its account's play that began in s0", p)
			}
			if q := h.qoe("s3"); !q.QoE.Continued || q.QoE.View != "s0" {
				t.Fatalf("session s3's QoE %+v does not say it continued the play that began in s0", q)
			}
			if st := h.srv.Stats(); st.QoEViews != 6 || st.QoELost != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestConsumerKeepsLegacyMessagesOutOfViews: a message from before
// session_started_at existed says nothing of when its view started, so
// the hour it belongs to cannot be known: the warehouse queries leave such
// views out (their hour is NULL), and so must the runner. Keyed by the
// hour each batch arrived in, one view was counted once per hour it
// spanned, with every play time past QoEClockSlack refused.
func TestConsumerKeepsLegacyMessagesOutOfViews(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		t.Run(wp.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{noConsume: true, unbatched: wp.unbatched, qoeViews: true})
			for i, at := range []time.Duration{5 * time.Second, time.Hour + 5*time.Second} {
				msgs := h.messages(beat{id: fmt.Sprint("m", i), session: "s1", at: at, position: at.Milliseconds(),
					qoe: playback.QoE{StartupMS: 900, PlayedMS: at.Milliseconds() - 1_000, BitrateKbps: 2000}})
				legacy(t, msgs)
				if retry := h.consume(msgs); len(retry) != 0 {
					t.Fatalf("retry %v", retry)
				}
			}
			views, err := h.bolt.QoEViews(t.Context(), h.clock().Add(-time.Hour), h.clock().Add(3*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if len(views) != 0 {
				t.Fatalf("views %+v", views)
			}
			if q := h.qoe("s1"); q.Heartbeats != 2 {
				t.Fatalf("session QoE %+v", q)
			}
		})
	}
}

// legacy rewrites encoded heartbeat messages to those of a producer from
// before session_started_at.
func legacy(t *testing.T, msgs []playback.Message) {
	t.Helper()
	field := regexp.MustCompile(`,"session_started_at":"[^"]*"`)
	for i := range msgs {
		if !field.Match(msgs[i].Data) {
			t.Fatalf("no session_started_at in %s", msgs[i].Data)
		}
		msgs[i].Data = field.ReplaceAll(msgs[i].Data, nil)
	}
}

// setEvent rewrites the event of encoded heartbeat messages.
func setEvent(t *testing.T, msgs []playback.Message, event string) {
	t.Helper()
	for i := range msgs {
		h, err := events.DecodeHeartbeat(msgs[i].Data)
		if err != nil {
			t.Fatal(err)
		}
		h.Event = event
		if msgs[i].Data, err = h.AppendJSON(nil); err != nil {
			t.Fatal(err)
		}
	}
}

// recordingSink is a StreamSink that keeps what it is given, or fails.
type recordingSink struct {
	mu   sync.Mutex
	ids  []string
	fail bool
}

func (r *recordingSink) Forward(_ context.Context, msgs []playback.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("stream down")
	}
	for _, m := range msgs {
		r.ids = append(r.ids, m.ID)
	}
	return nil
}

// TestConsumerForwardsTheStream: the warehouse stream gets every
// well-formed message, replays and late ones included (its queries keep
// the newest state), but not malformed ones; a failing stream loses them
// without holding the batch back.
func TestConsumerForwardsTheStream(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream fails %v", fail), func(t *testing.T) {
			t.Parallel()
			sink := &recordingSink{fail: fail}
			h := newHarness(t, harnessOptions{noConsume: true, stream: sink})
			msgs := h.messages(
				beat{id: "m1", session: "s1", at: 20 * time.Second, position: 20_000},
				beat{id: "m2", session: "s1", at: 0, position: 0},
				beat{id: "m3", session: "s2", at: 10 * time.Second, position: 100},
			)
			msgs = append(msgs, playback.Message{ID: "bad", Data: []byte(`{"session_id":`)})
			if retry := h.consume(msgs); len(retry) != 0 {
				t.Fatalf("retry %v", retry)
			}
			st := h.srv.Stats()
			if fail {
				if len(sink.ids) != 0 || st.StreamLost != 3 || st.Forwarded != 0 {
					t.Fatalf("forwarded %v, stats %+v", sink.ids, st)
				}
				return
			}
			slices.Sort(sink.ids)
			if !slices.Equal(sink.ids, []string{"m1", "m2", "m3"}) || st.Forwarded != 3 || st.StreamLost != 0 {
				t.Fatalf("forwarded %v, stats %+v", sink.ids, st)
			}
		})
	}
}

// BenchmarkConsumerQoEViews is the consumer's cost per batch of 100
// heartbeats over 50 sessions on bbolt (no fsync), without the QoE views
// (the floor) and with them, in the same run: the views are folded in the
// batch's own transaction (playback.ProgressWrite.Views), so they add the
// views' reads and writes but no commit. The durable pair (fsync per
// commit, as the runner's -sync) shows what a second transaction per batch
// would cost most: an fsync.
func BenchmarkConsumerQoEViews(b *testing.B) {
	for _, tc := range []struct {
		name    string
		views   bool
		durable bool
	}{{"floor", false, false}, {"with_views", true, false}, {"durable_floor", false, true}, {"durable_with_views", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			var opts []bolt.Option
			if !tc.durable {
				opts = append(opts, bolt.WithoutSync())
			}
			h := newHarness(b, harnessOptions{noConsume: true, qoeViews: tc.views, boltOpts: opts})
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				beats := make([]beat, 100)
				for j := range beats {
					beats[j] = beat{id: fmt.Sprint(i, "-", j), session: fmt.Sprint("s", j%50), at: time.Duration(i*1000+j) * time.Millisecond,
						position: int64(i), qoe: playback.QoE{PlayedMS: int64(i * 900), BitrateKbps: 3000, CDN: "a", EdgeID: "e"}}
				}
				msgs := h.messages(beats...)
				b.StartTimer()
				if retry := h.consume(msgs); len(retry) != 0 {
					b.Fatalf("retry %v", retry)
				}
			}
		})
	}
}

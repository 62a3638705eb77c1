package heartbeat_test

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// interleave runs two consumers of the same sessions the way Lambda runs
// batches of a standard SQS queue side by side (and Cloud Functions each
// Pub/Sub push): first and second both read the QoE state before either
// writes, then first writes, then second. It returns what each asked to
// have redelivered.
func (h *harness) interleave(first, second []playback.Message) (retryFirst, retrySecond []string) {
	h.t.Helper()
	firstRead, secondRead := make(chan struct{}), make(chan struct{})
	releaseFirst, releaseSecond := make(chan struct{}), make(chan struct{})
	var reads atomic.Int32
	h.store.mu.Lock()
	h.store.afterQoERead = func() {
		switch reads.Add(1) {
		case 1:
			close(firstRead)
			<-releaseFirst
		case 2:
			close(secondRead)
			<-releaseSecond
		}
	}
	h.store.mu.Unlock()
	defer func() {
		h.store.mu.Lock()
		h.store.afterQoERead = nil
		h.store.mu.Unlock()
	}()
	wait := func(ch <-chan struct{}, what string) {
		h.t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second): // a guard against a hang, not a timing assertion
			h.t.Fatalf("%s never happened", what)
		}
	}
	firstDone, secondDone := make(chan []string, 1), make(chan []string, 1)
	go func() { firstDone <- h.consume(first) }()
	wait(firstRead, "the first consumer's read")
	go func() { secondDone <- h.consume(second) }()
	wait(secondRead, "the second consumer's read")
	close(releaseFirst)
	select {
	case retryFirst = <-firstDone:
	case <-time.After(10 * time.Second):
		h.t.Fatal("the first consumer never finished")
	}
	close(releaseSecond)
	select {
	case retrySecond = <-secondDone:
	case <-time.After(10 * time.Second):
		h.t.Fatal("the second consumer never finished")
	}
	return retryFirst, retrySecond
}

// cmcdMessage is a CMCD report of session s as the collector publishes it:
// at offset from the harness clock, pt when pt >= 0, e and sta.
func (h *harness) cmcdMessage(id, s string, at time.Duration, pt int64, e, sta string) playback.Message {
	h.t.Helper()
	now := h.clock()
	m := events.Heartbeat{SessionID: s, AccountID: "acct_" + s, TitleID: "title_1", DeviceID: "dev", Event: events.HeartbeatProgress,
		DeviceTime: now.Add(at), ReceivedAt: now.Add(at), SessionStartedAt: now.Add(-time.Hour),
		Source: events.SourceCMCD, PositionMS: max(pt, 0), PositionUnknown: pt < 0, CMCDEvent: e, CMCDState: sta}
	data, err := m.AppendJSON(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return playback.Message{ID: id, OrderingKey: s, Data: data}
}

// TestConcurrentConsumersLoseNoUpdate: two consumers that read a session's
// QoE state before either wrote must not write over each other. The second
// one's write, built on the state both read, would drop the first one's
// heartbeats (counted as applied, missing from the state) and, for CMCD
// reports without pt, derive the resume position from the old playhead.
func TestConcurrentConsumersLoseNoUpdate(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		t.Run("heartbeats/"+wp.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{noConsume: true, unbatched: wp.unbatched})
			if retry := h.consume(h.messages(beat{id: "m0", session: "s1", position: 1000, qoe: playback.QoE{RebufferCount: 1}})); len(retry) != 0 {
				t.Fatalf("retry %v", retry)
			}
			retryA, retryB := h.interleave(
				h.messages(beat{id: "a", session: "s1", at: 10 * time.Second, position: 10_000, qoe: playback.QoE{RebufferCount: 2, BitrateKbps: 3000}}),
				h.messages(beat{id: "b", session: "s1", at: 20 * time.Second, position: 20_000, qoe: playback.QoE{PlayedMS: 19_000}}))
			if len(retryA)+len(retryB) != 0 {
				t.Fatalf("retry %v %v", retryA, retryB)
			}
			q := h.qoe("s1")
			if q.Heartbeats != 3 || q.QoE.RebufferCount != 2 || q.QoE.BitrateKbps != 3000 || q.QoE.PlayedMS != 19_000 {
				t.Fatalf("QoE %+v, want the three heartbeats of both consumers", q)
			}
			if st := h.srv.Stats(); st.Applied != 3 || st.Stale != 0 {
				t.Fatalf("stats %+v", st)
			}
			if p := h.position("s1"); p != 20_000 {
				t.Fatalf("position %d", p)
			}
		})
		t.Run("CMCD without pt/"+wp.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{noConsume: true, unbatched: wp.unbatched})
			if retry := h.consume([]playback.Message{h.cmcdMessage("m0", "s1", 0, 100_000, events.CMCDEventPlayState, events.CMCDStatePlaying)}); len(retry) != 0 {
				t.Fatalf("retry %v", retry)
			}
			// A: the viewer seeks to 500 s at 10 s and plays on. B: an
			// interval report at 20 s without pt, still playing: 10 s of
			// play after the seek.
			retryA, retryB := h.interleave(
				[]playback.Message{h.cmcdMessage("a", "s1", 10*time.Second, 500_000, events.CMCDEventPlayState, events.CMCDStatePlaying)},
				[]playback.Message{h.cmcdMessage("b", "s1", 20*time.Second, -1, events.CMCDEventTimeInterval, events.CMCDStatePlaying)})
			if len(retryA)+len(retryB) != 0 {
				t.Fatalf("retry %v %v", retryA, retryB)
			}
			if p, q := h.position("s1"), h.qoe("s1"); p != 510_000 || q.Heartbeats != 3 || q.Playhead.PositionMS != 510_000 {
				t.Fatalf("resume position %d, QoE %+v; want 510000 after the seek to 500 s and 10 s of play", p, q)
			}
		})
	}
}

// TestCMCDDerivedPositionSurvivesAFailedWrite: a resume position derived
// from the state is written after the state (only then is the state it was
// derived from known to be current). When that write fails, the messages
// are redelivered and the redelivery, which counts nothing (the state holds
// its reports already), writes the position the stored state implies.
func TestCMCDDerivedPositionSurvivesAFailedWrite(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		t.Run(wp.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{noConsume: true, unbatched: wp.unbatched})
			if retry := h.consume([]playback.Message{h.cmcdMessage("m0", "s1", 0, 100_000, events.CMCDEventPlayState, events.CMCDStatePlaying)}); len(retry) != 0 {
				t.Fatalf("retry %v", retry)
			}
			h.store.mu.Lock()
			h.store.failProgress = map[string]error{"s1": playback.Unavailable(errors.New("throttled"), "store")}
			h.store.failOnce = true
			h.store.mu.Unlock()
			msgs := []playback.Message{
				h.cmcdMessage("m1", "s1", 10*time.Second, -1, events.CMCDEventTimeInterval, events.CMCDStatePlaying),
				h.cmcdMessage("m2", "s1", 15*time.Second, -1, events.CMCDEventPlayState, events.CMCDStatePaused),
			}
			if retry := h.consume(msgs); !slices.Equal(retry, []string{"m1", "m2"}) {
				t.Fatalf("retry %v, want both messages", retry)
			}
			if p := h.position("s1"); p != 100_000 {
				t.Fatalf("position %d after the failed write", p)
			}
			if retry := h.consume(msgs); len(retry) != 0 {
				t.Fatalf("redelivery retry %v", retry)
			}
			if p, q := h.position("s1"), h.qoe("s1"); p != 115_000 || q.Heartbeats != 3 {
				t.Fatalf("after redelivery: position %d, QoE %+v; want 115000 (15 s of play)", p, q)
			}
		})
	}
}

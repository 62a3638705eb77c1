package heartbeat_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering"
)

func (h *harness) putEdge(id, pop string, lat, lon float64) {
	h.t.Helper()
	err := h.bolt.PutEdge(context.Background(), playback.Edge{ID: id, CDN: "local", PoP: pop, BaseURL: "https://" + id + ".example",
		Lat: lat, Lon: lon, Capacity: 100, Load: 10, Healthy: true, ReportedAt: h.clock()})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) edge(id string) playback.Edge {
	h.t.Helper()
	e, err := h.bolt.GetEdge(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

func feedbackHarness(t *testing.T, on bool, unbatched ...bool) *harness {
	cfg := defaultConfig()
	cfg.EdgeQoEFeedback = on
	h := newHarness(t, harnessOptions{cfg: cfg, noConsume: true, unbatched: len(unbatched) > 0 && unbatched[0]})
	h.putEdge("fra-1", "fra", 50.11, 8.68)
	return h
}

func TestEdgeFeedbackSwitch(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint("EDGE_QOE_FEEDBACK=", on), func(t *testing.T) {
			t.Parallel()
			h := feedbackHarness(t, on)
			before := h.edge("fra-1")
			h.consume(h.messages(beat{id: "m", session: "s", at: 0, started: -70 * time.Second,
				qoe: playback.QoE{PlayedMS: 60_000, RebufferMS: 6_000, ThroughputKbps: 8000, EdgeID: "fra-1"}}))
			after := h.edge("fra-1")
			if moved := after.RebufferRatio != before.RebufferRatio; moved != on {
				t.Fatalf("edge moved = %v with the switch %v: %+v", moved, on, after)
			}
		})
	}
}

// TestEdgeFeedbackCountsOnlyAppliedDeltas follows one session through
// replays, reports that omit counters and a counter increase, checking the
// edge against the exact weighted averages.
func TestEdgeFeedbackCountsOnlyAppliedDeltas(t *testing.T) {
	t.Parallel()
	h := feedbackHarness(t, true)
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

	first := h.messages(beat{id: "m1", session: "s", at: 0, started: -70 * time.Second,
		qoe: playback.QoE{PlayedMS: 60_000, RebufferMS: 6_000, ThroughputKbps: 8000, EdgeID: "fra-1"}})
	h.consume(first)
	// Expected values worked out by hand (40-digit decimal arithmetic), not
	// with the production formula: with the 1h window, 66 s of viewing
	// weighs 1-e^(-66/3600); the ratio moves from 0 towards 6/66 by that,
	// and the first throughput sample is taken as it is.
	wantRatio, wantKbps := 0.0016514818267314365, 8000.0
	e := h.edge("fra-1")
	if !near(e.RebufferRatio, wantRatio) || !near(e.ThroughputKbps, wantKbps) {
		t.Fatalf("after first: %v %v, want %v %v", e.RebufferRatio, e.ThroughputKbps, wantRatio, wantKbps)
	}

	h.consume(first) // redelivered: the session write is refused, so the edge must not move
	if got := h.edge("fra-1"); got.RebufferRatio != e.RebufferRatio || got.ThroughputKbps != e.ThroughputKbps {
		t.Fatalf("redelivery moved the edge: %+v", got)
	}

	// A pause report without counters adds nothing and resets nothing...
	h.consume(h.messages(beat{id: "m2", session: "s", at: 5 * time.Second, qoe: playback.QoE{EdgeID: "fra-1"}}))
	if got := h.edge("fra-1"); got.RebufferRatio != e.RebufferRatio {
		t.Fatalf("a report without counters moved the edge: %+v", got)
	}
	// ...so the next report's delta is 30 s of play, not the whole session again.
	h.consume(h.messages(beat{id: "m3", session: "s", at: 35 * time.Second,
		qoe: playback.QoE{PlayedMS: 90_000, RebufferMS: 6_000, ThroughputKbps: 4000, EdgeID: "fra-1"}}))
	// 30 s more play, no rebuffering: both move by 1-e^(-30/3600), the
	// ratio towards 0 and the throughput towards 4000 kbps.
	wantRatio, wantKbps = 0.0016377766623391778, 7966.8051705555038
	if e := h.edge("fra-1"); !near(e.RebufferRatio, wantRatio) || !near(e.ThroughputKbps, wantKbps) {
		t.Fatalf("after third: %v %v, want %v %v", e.RebufferRatio, e.ThroughputKbps, wantRatio, wantKbps)
	}
	if st := h.srv.Stats(); st.EdgeUpdates != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestEdgeFeedbackSameOnBothWritePaths sends batches of several sessions
// on one edge, replays included, through both write paths: the edge ends
// with the same figures, moved once per batch.
func TestEdgeFeedbackSameOnBothWritePaths(t *testing.T) {
	t.Parallel()
	var edges []playback.Edge
	for _, wp := range writePaths {
		h := feedbackHarness(t, true, wp.unbatched)
		first := h.messages(
			beat{id: "a1", session: "a", at: 0, started: -70 * time.Second, qoe: playback.QoE{PlayedMS: 60_000, RebufferMS: 6_000, ThroughputKbps: 8000, EdgeID: "fra-1"}},
			beat{id: "b1", session: "b", at: 0, started: -70 * time.Second, qoe: playback.QoE{PlayedMS: 65_000, ThroughputKbps: 12000, EdgeID: "fra-1"}})
		h.consume(first)
		h.consume(append(first, h.messages(
			beat{id: "a2", session: "a", at: 30 * time.Second, qoe: playback.QoE{PlayedMS: 80_000, RebufferMS: 16_000, ThroughputKbps: 2000, EdgeID: "fra-1"}},
			beat{id: "c1", session: "c", at: 30 * time.Second, started: -time.Minute, qoe: playback.QoE{PlayedMS: 50_000, ThroughputKbps: 9000, EdgeID: "fra-1"}})...))
		if st := h.srv.Stats(); st.EdgeUpdates != 2 || st.Applied != 4 || st.Stale != 2 {
			t.Fatalf("%s: stats %+v", wp.name, st)
		}
		edges = append(edges, h.edge("fra-1"))
	}
	if e := edges[0]; e.RebufferRatio == 0 || e.ThroughputKbps == 0 ||
		e.RebufferRatio != edges[1].RebufferRatio || e.ThroughputKbps != edges[1].ThroughputKbps {
		t.Fatalf("edge after the batched path %+v, after the per-session path %+v", edges[0], edges[1])
	}
}

func TestEdgeFeedbackRefusesImplausibleDeltas(t *testing.T) {
	t.Parallel()
	h := feedbackHarness(t, true)
	// A minute into the session, a player claims an hour of stalls.
	h.consume(h.messages(beat{id: "m", session: "s", at: 0, started: -time.Minute,
		qoe: playback.QoE{RebufferMS: 3_600_000, EdgeID: "fra-1"}}))
	// And a report naming an edge that does not exist is ignored, not retried.
	if retry := h.consume(h.messages(beat{id: "n", session: "t", at: 0, started: -time.Minute,
		qoe: playback.QoE{PlayedMS: 50_000, EdgeID: "nowhere-1"}})); len(retry) != 0 {
		t.Fatalf("retry %v", retry)
	}
	if e := h.edge("fra-1"); e.RebufferRatio != 0 || h.srv.Stats().EdgeUpdates != 0 {
		t.Fatalf("edge moved: %+v", e)
	}
	if q := h.qoe("s"); q.QoE.RebufferMS != 3_600_000 {
		t.Fatalf("the session's own QoE is still recorded: %+v", q)
	}
}

// TestEdgeFeedbackRefusesOverflowingDeltas sends counters the request
// path accepts (any non-negative int64) whose check against the server
// clock must not wrap: as a Duration, or summed.
func TestEdgeFeedbackRefusesOverflowingDeltas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		qoe  playback.QoE
	}{
		{name: "stalls too long for a Duration", qoe: playback.QoE{RebufferMS: 9_300_000_000_000, EdgeID: "fra-1"}},
		{name: "play and stalls whose sum wraps", qoe: playback.QoE{PlayedMS: math.MaxInt64, RebufferMS: 1, ThroughputKbps: 1, EdgeID: "fra-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := feedbackHarness(t, true)
			h.consume(h.messages(beat{id: "m", session: "s", at: 0, started: -time.Minute, qoe: tc.qoe}))
			if e := h.edge("fra-1"); e.RebufferRatio != 0 || e.ThroughputKbps != 0 || h.srv.Stats().EdgeUpdates != 0 {
				t.Fatalf("edge moved: %+v, stats %+v", e, h.srv.Stats())
			}
		})
	}
}

// TestEdgeFeedbackIgnoresImplausibleThroughput: a player's measured
// throughput above playback.MaxQoEThroughputKbps (the bound the CMCD route
// refuses) is left out of its edge's figure, so one session cannot lift a
// slow edge over steering's throughput floor; its play and stalls still
// count.
func TestEdgeFeedbackIgnoresImplausibleThroughput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		kbps     int
		wantKbps float64
	}{
		{name: "at the bound it counts", kbps: playback.MaxQoEThroughputKbps, wantKbps: playback.MaxQoEThroughputKbps},
		{name: "above the bound it is left out", kbps: playback.MaxQoEThroughputKbps + 1, wantKbps: 0},
		{name: "the largest int is left out", kbps: math.MaxInt, wantKbps: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := feedbackHarness(t, true)
			h.consume(h.messages(beat{id: "m", session: "s", at: 0, started: -70 * time.Second,
				qoe: playback.QoE{PlayedMS: 60_000, RebufferMS: 6_000, ThroughputKbps: tc.kbps, EdgeID: "fra-1"}}))
			e := h.edge("fra-1")
			if e.ThroughputKbps != tc.wantKbps || e.RebufferRatio == 0 || h.srv.Stats().EdgeUpdates != 1 {
				t.Fatalf("edge %+v (throughput want %v), stats %+v", e, tc.wantKbps, h.srv.Stats())
			}
		})
	}
}

// TestBadEdgeLosesRank drives real heartbeats through the function into the
// edge table and ranks the table with shared/steering: a client in
// Frankfurt is sent to its local PoP until that PoP's edge stalls players,
// then to Amsterdam — with both switches on, and only then.
func TestBadEdgeLosesRank(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		feedback  bool // EDGE_QOE_FEEDBACK of this function
		steerQoE  bool // steering's QoE term
		wantFirst string
	}{
		{"both switches on", true, true, "ams"},
		{"steering ignores QoE", true, false, "fra"},
		{"no feedback", false, true, "fra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := defaultConfig()
			cfg.EdgeQoEFeedback = tc.feedback
			h := newHarness(t, harnessOptions{cfg: cfg})
			h.putEdge("fra-1", "fra", 50.11, 8.68)
			h.putEdge("ams-1", "ams", 52.31, 4.76)
			type player struct{ id, token, edge string }
			var players []player
			for i := range 20 {
				for _, edge := range []string{"fra-1", "ams-1"} {
					id, tok := h.play(fmt.Sprintf("acct_%s_%d", edge, i), "title_1", 1)
					players = append(players, player{id, tok, edge})
				}
			}
			h.advance(70 * time.Second)
			for _, p := range players {
				rebuffer := 0
				if p.edge == "fra-1" {
					rebuffer = 10_000 // one second in seven stalled
				}
				qoe := fmt.Sprintf(`{"played_ms":60000,"rebuffer_ms":%d,"rebuffer_count":%d,"mtp":12000,"cdn":"local","edge":%q}`, rebuffer, rebuffer/2000, p.edge)
				if rec := h.beat(p.id, p.token, h.body(events.HeartbeatProgress, 60_000, 0, qoe)); rec.Code != http.StatusOK {
					t.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			h.idle()
			edges, err := h.bolt.ListEdges(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			ix, err := steering.NewIndex(steering.Config{QoE: tc.steerQoE, Staleness: time.Hour}, edges)
			if err != nil {
				t.Fatal(err)
			}
			frankfurt := steering.Location{Lat: 50.11, Lon: 8.68, Source: steering.SourceDefault}
			r, err := ix.Pick(steering.Query{Location: frankfurt, Title: "title_1", Now: h.clock()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Choices[0].PoP != tc.wantFirst {
				t.Fatalf("first PoP %s, want %s; edges %+v", r.Choices[0].PoP, tc.wantFirst, edges)
			}
			if fra := h.edge("fra-1"); tc.feedback && !(fra.RebufferRatio > 0.01 && h.edge("ams-1").RebufferRatio == 0) {
				t.Fatalf("edge figures fra %+v", fra)
			}
		})
	}
}

package pickedge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/playback"
)

func TestHealthReportRejects(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	h.at(time.Second)
	now := h.clock()
	report := func(edge string) []byte {
		b, _ := json.Marshal(playback.EdgeReport{EdgeID: edge, Load: 50, Capacity: 100, Healthy: false, ReportedAt: now})
		return b
	}
	good := report("fra-1")
	sign := func(edge string, at time.Time, body []byte) string {
		return pickedge.SignEdgeReport(h.keys[edge][0], at, body)
	}
	otherKey := pickedge.NewDevEdgeKeys("fra-1")["fra-1"][0]
	huge := []byte(`{"edge_id":"fra-1","load":1,"capacity":2,"healthy":true,"reported_at":"` + now.Format(time.RFC3339) +
		`","hot_titles":["` + strings.Repeat("x", 70_000) + `"]}`)
	for _, tc := range []struct {
		name, edge, signature string
		body                  []byte
		contentType           string // "" is application/json, "none" sends none
		chunked               bool
		status                int
		reason                string
	}{
		{name: "bad hmac", edge: "fra-1", body: good, signature: pickedge.SignEdgeReport(otherKey, now, good), status: 401, reason: "signature_mismatch"},
		{name: "body changed after signing", edge: "fra-1", body: report("fra-2"), signature: sign("fra-1", now, good), status: 401, reason: "signature_mismatch"},
		{name: "signed by another edge", edge: "fra-1", body: good, signature: sign("fra-2", now, good), status: 401, reason: "signature_mismatch"},
		{name: "wrong edge", edge: "fra-2", body: good, signature: sign("fra-2", now, good), status: 403, reason: "edge_mismatch"},
		{name: "old timestamp", edge: "fra-1", body: good, signature: sign("fra-1", now.Add(-301*time.Second), good), status: 401, reason: "signature_expired"},
		{name: "future timestamp", edge: "fra-1", body: good, signature: sign("fra-1", now.Add(301*time.Second), good), status: 401, reason: "signature_expired"},
		{name: "oversized", edge: "fra-1", body: huge, signature: sign("fra-1", now, huge), status: 413, reason: "body_too_large"},
		{name: "oversized without length", edge: "fra-1", body: huge, signature: sign("fra-1", now, huge), chunked: true, status: 413, reason: "body_too_large"},
		{name: "no edge id", body: good, signature: sign("fra-1", now, good), status: 401, reason: "edge_id_missing"},
		{name: "unknown edge", edge: "xyz-9", body: good, signature: sign("fra-1", now, good), status: 401, reason: "edge_unknown"},
		{name: "no signature", edge: "fra-1", body: good, status: 401, reason: "signature_missing"},
		{name: "malformed signature", edge: "fra-1", body: good, signature: "v1=abc", status: 401, reason: "signature_malformed"},
		{name: "malformed json", edge: "fra-1", body: []byte(`{"edge_id":`), signature: sign("fra-1", now, []byte(`{"edge_id":`)), status: 400, reason: "malformed_json"},
		{name: "unknown field", edge: "fra-1", body: []byte(`{"edge_id":"fra-1","cpu":3}`), signature: sign("fra-1", now, []byte(`{"edge_id":"fra-1","cpu":3}`)), status: 400, reason: "unknown_field"},
		{name: "no content type", edge: "fra-1", body: good, signature: sign("fra-1", now, good), contentType: "none", status: 415, reason: "content_type"},
		{name: "jsonx", edge: "fra-1", body: good, signature: sign("fra-1", now, good), contentType: "application/jsonx", status: 415, reason: "content_type"},
		{name: "case-folded field", edge: "fra-1", body: []byte(`{"EDGE_ID":"fra-1"}`), signature: sign("fra-1", now, []byte(`{"EDGE_ID":"fra-1"}`)), status: 400, reason: "unknown_field"},
		{name: "duplicate field", edge: "fra-1", body: []byte(`{"edge_id":"fra-1","edge_id":"fra-2"}`), signature: sign("fra-1", now, []byte(`{"edge_id":"fra-1","edge_id":"fra-2"}`)), status: 400, reason: "duplicate_field"},
		{name: "invalid UTF-8", edge: "fra-1", body: []byte("{\"edge_id\":\"fra-1\xff\"}"), signature: sign("fra-1", now, []byte("{\"edge_id\":\"fra-1\xff\"}")), status: 400, reason: "invalid_utf8"},
		{name: "reported in the future", edge: "fra-1", body: mustJSON(playback.EdgeReport{EdgeID: "fra-1", Capacity: 1, ReportedAt: now.Add(time.Hour)}),
			signature: sign("fra-1", now, mustJSON(playback.EdgeReport{EdgeID: "fra-1", Capacity: 1, ReportedAt: now.Add(time.Hour)})), status: 400, reason: "report_clock_skew"},
		// Freshness runs on the server's receive time, so a report stamped
		// long ago is as suspect as one from the future: either says the
		// edge's clock is broken.
		{name: "reported two minutes ago", edge: "fra-1", body: mustJSON(playback.EdgeReport{EdgeID: "fra-1", Capacity: 1, Healthy: true, ReportedAt: now.Add(-2 * time.Minute)}),
			signature: sign("fra-1", now, mustJSON(playback.EdgeReport{EdgeID: "fra-1", Capacity: 1, Healthy: true, ReportedAt: now.Add(-2 * time.Minute)})), status: 400, reason: "report_clock_skew"},
		{name: "edge clock two minutes behind", edge: "fra-1", body: mustJSON(playback.EdgeReport{EdgeID: "fra-1", Capacity: 1, Healthy: true, ReportedAt: now.Add(-2 * time.Minute)}),
			signature: sign("fra-1", now.Add(-2*time.Minute), mustJSON(playback.EdgeReport{EdgeID: "fra-1", Capacity: 1, Healthy: true, ReportedAt: now.Add(-2 * time.Minute)})), status: 400, reason: "report_clock_skew"},
		{name: "negative load", edge: "fra-1", body: mustJSON(playback.EdgeReport{EdgeID: "fra-1", Load: -1, Capacity: 1, ReportedAt: now}),
			signature: sign("fra-1", now, mustJSON(playback.EdgeReport{EdgeID: "fra-1", Load: -1, Capacity: 1, ReportedAt: now})), status: 400, reason: "report_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, "/v1/edges/health", bytes.NewReader(tc.body))
			switch tc.contentType {
			case "":
				req.Header.Set("Content-Type", "application/json")
			case "none":
			default:
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.chunked {
				req.ContentLength = -1
			}
			if tc.edge != "" {
				req.Header.Set(pickedge.HeaderEdgeID, tc.edge)
			}
			if tc.signature != "" {
				req.Header.Set(pickedge.HeaderEdgeSignature, tc.signature)
			}
			rec := httptest.NewRecorder()
			h.h.ServeHTTP(rec, req)
			if e := errorOf(t, rec); rec.Code != tc.status || e.Reason != tc.reason {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.reason)
			}
		})
	}
	t.Cleanup(func() {
		if n := h.bus.count(events.TopicEdgeHealth); n != 0 {
			t.Errorf("%d refused reports were published", n)
		}
		e, err := h.store.GetEdge(context.Background(), "fra-1")
		if err != nil || !e.Healthy || !e.ReportedAt.Equal(h.t0) {
			t.Errorf("fra-1 changed: %+v %v", e, err)
		}
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestHealthReportChangesRanking(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	id, token := h.session("sintel")
	before := h.mustPick(id, token, clientFra)
	first := before.Edges[0].ID

	// The edge ranked first reports unhealthy: after the bus delivers the
	// report it is no longer picked, and its PoP partner moves up.
	h.at(2 * time.Second)
	rec := h.report(first, playback.EdgeReport{EdgeID: first, Load: 10, Capacity: 100, Healthy: false, ReportedAt: h.clock()})
	if rec.Code != http.StatusAccepted {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var ack pickedge.HealthAccepted
	decodeStrict(t, rec.Body.Bytes(), &ack)
	if ack != (pickedge.HealthAccepted{EdgeID: first, Status: "accepted"}) {
		t.Fatalf("ack %+v", ack)
	}
	h.idle()
	if n := h.bus.count(events.TopicEdgeHealth); n != 1 {
		t.Fatalf("%d messages published", n)
	}
	after := h.mustPick(id, token, clientFra)
	if slices.Contains(edgeIDs(after), first) || after.Edges[0].ID != before.Edges[1].ID {
		t.Fatalf("before %s, after %s unhealthy: %s", edgeSummary(before), first, edgeSummary(after))
	}
	stored, err := h.store.GetEdge(context.Background(), first)
	if err != nil || stored.Healthy || !stored.ReportedAt.Equal(h.clock()) {
		t.Fatalf("stored %+v %v", stored, err)
	}

	// A report older than the stored state arrives late: ignored.
	late := h.clock().Add(-time.Second)
	if rec := h.report(first, playback.EdgeReport{EdgeID: first, Load: 10, Capacity: 100, Healthy: true, ReportedAt: late}); rec.Code != http.StatusAccepted {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	h.idle()
	if slices.Contains(edgeIDs(h.mustPick(id, token, clientFra)), first) {
		t.Fatal("an out-of-order report revived the edge")
	}

	// A newer healthy report brings it back, and the ranking is the one
	// before: picks depend only on the healthy set.
	h.at(3 * time.Second)
	h.setHealth(true, first)
	if got := h.mustPick(id, token, clientFra); !slices.Equal(edgeIDs(got), edgeIDs(before)) {
		t.Fatalf("after recovery %s, before %s", edgeSummary(got), edgeSummary(before))
	}
}

// TestHotTitleAffinity: an edge reporting titles as hot (it has their
// bytes) wins them with four times its rendezvous weight, so it becomes
// the first pick of most of them instead of about a third.
func TestHotTitleAffinity(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	const titles = 60
	type viewer struct{ id, token, title string }
	viewers := make([]viewer, titles)
	var hot []string
	for i := range viewers {
		title := fmt.Sprint("title-", i)
		id, token := h.session(title)
		viewers[i] = viewer{id, token, title}
		hot = append(hot, title)
	}
	firstOnFra1 := func() int {
		n := 0
		for _, v := range viewers {
			if h.mustPick(v.id, v.token, clientFra).Edges[0].ID == "fra-1" {
				n++
			}
		}
		return n
	}
	before := firstOnFra1()
	h.at(time.Second)
	rec := h.report("fra-1", playback.EdgeReport{EdgeID: "fra-1", Load: 10, Capacity: 100, Healthy: true, HotTitles: hot, ReportedAt: h.clock()})
	if rec.Code != http.StatusAccepted {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	h.idle()
	// Expected shares: 1/3 of the titles before, 4/6 after.
	after := firstOnFra1()
	t.Logf("fra-1 first for %d of %d titles before, %d after", before, titles, after)
	if before > titles/2 || after < titles*3/5 {
		t.Fatalf("fra-1 first for %d of %d titles before it reported them hot, %d after", before, titles, after)
	}
}

func TestConsumer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{noConsumer: true})
	consume := h.srv.Consumers()[events.TopicEdgeHealth]
	if consume == nil {
		t.Fatal("no consumer for the edge health topic")
	}
	at := func(d time.Duration) time.Time { return h.t0.Add(d) }
	msg := func(id string, r playback.EdgeReport) playback.Message {
		return playback.Message{ID: id, Data: mustJSON(events.NewEdgeHealth(r, r.ReportedAt.Add(100*time.Millisecond)))}
	}
	batch := []playback.Message{
		{ID: "garbage", Data: []byte(`{"edge_id":`)},
		msg("unknown-edge", playback.EdgeReport{EdgeID: "xyz-9", Capacity: 1, Healthy: true, ReportedAt: at(time.Second)}),
		msg("invalid", playback.EdgeReport{EdgeID: "fra-1", Load: -5, Capacity: 1, ReportedAt: at(time.Second)}),
		// Out of order within a batch: the newest wins.
		msg("fra-1-new", playback.EdgeReport{EdgeID: "fra-1", Load: 70, Capacity: 100, Healthy: true, ReportedAt: at(3 * time.Second)}),
		// The older report was received last (the edge retried it): the
		// newest report's own receive time is what freshness counts from.
		{ID: "fra-1-old", Data: mustJSON(events.NewEdgeHealth(
			playback.EdgeReport{EdgeID: "fra-1", Load: 20, Capacity: 100, Healthy: false, ReportedAt: at(2 * time.Second)}, at(4*time.Second)))},
		msg("lhr-1", playback.EdgeReport{EdgeID: "lhr-1", Load: 1, Capacity: 50, Healthy: true, HotTitles: []string{"sintel"}, ReportedAt: at(time.Second)}),
	}
	if retry := consume(context.Background(), batch); len(retry) != 0 {
		t.Fatalf("retry %v", retry)
	}
	ctx := context.Background()
	fra, _ := h.store.GetEdge(ctx, "fra-1")
	lhr, _ := h.store.GetEdge(ctx, "lhr-1")
	if fra.Load != 70 || !fra.Healthy || !fra.ReportedAt.Equal(at(3*time.Second)) || !fra.ReceivedAt.Equal(at(3*time.Second+100*time.Millisecond)) {
		t.Errorf("fra-1 %+v", fra)
	}
	if lhr.ReportedCapacity != 50 || !slices.Equal(lhr.HotTitles, []string{"sintel"}) || lhr.BaseURL != "http://edge.test" {
		t.Errorf("lhr-1 %+v", lhr)
	}
	// Redelivery changes nothing.
	if retry := consume(ctx, batch); len(retry) != 0 {
		t.Fatalf("retry on redelivery %v", retry)
	}
	if again, _ := h.store.GetEdge(ctx, "fra-1"); !again.ReportedAt.Equal(fra.ReportedAt) || again.Load != 70 {
		t.Errorf("redelivery changed fra-1: %+v", again)
	}
	// The unknown edge's reports are not dropped: the store counts them for
	// the operator (once per delivery), the newest report's time kept.
	unknown, err := h.store.ListUnknownEdges(ctx)
	if err != nil || len(unknown) != 1 || unknown[0].ID != "xyz-9" || unknown[0].Reports != 2 ||
		!unknown[0].LastReportAt.Equal(at(time.Second)) {
		t.Fatalf("unknown edges %+v %v, want xyz-9 twice", unknown, err)
	}
	// A store failure a retry can cure (here: the invocation's deadline
	// passed) asks for the message again; nothing else does.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	retry := consume(canceled, []playback.Message{
		{ID: "garbage", Data: []byte(`nope`)},
		msg("fra-2", playback.EdgeReport{EdgeID: "fra-2", Load: 1, Capacity: 100, Healthy: true, ReportedAt: at(4 * time.Second)}),
	})
	if !slices.Equal(retry, []string{"fra-2"}) {
		t.Fatalf("retry %v, want [fra-2]", retry)
	}
}

// TestEdgeFreshnessFollowsTheServerClock: an edge counts as fresh for
// Staleness (30 s) of server time after its report was received, however
// far its own clock is off within the accepted skew. An edge whose clock
// lagged more than 30 s was never picked though its reports were
// accepted; one ahead stayed fresh long after it went silent.
func TestEdgeFreshnessFollowsTheServerClock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		skew time.Duration // the edge's clock minus the server's
	}{
		{name: "clock 45 s behind", skew: -45 * time.Second},
		{name: "clock 60 s ahead", skew: 60 * time.Second},
		{name: "clock right", skew: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, options{})
			id, token := h.session("sintel")
			// Every seeded report (at t0) is stale by now; fra-1 reports,
			// stamping and signing with its own clock, still past the
			// seeded state on it.
			const last = 90 * time.Second
			h.at(last)
			edgeClock := h.clock().Add(tc.skew)
			req, err := pickedge.NewReportRequest(context.Background(), "http://api.test/v1/edges/health", h.keys["fra-1"][0],
				playback.EdgeReport{EdgeID: "fra-1", Load: 10, Capacity: 100, Healthy: true, ReportedAt: edgeClock}, edgeClock)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			h.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("report: %d %s", rec.Code, rec.Body)
			}
			h.idle()
			for _, after := range []time.Duration{0, 29 * time.Second} {
				h.at(last + after)
				if got := h.mustPick(id, token, clientFra); !slices.Equal(edgeIDs(got), []string{"fra-1"}) {
					t.Fatalf("%s after its report: %s, want fra-1 alone", after, edgeSummary(got))
				}
			}
			// It fell silent: 31 s of server time after its report it is out.
			h.at(last + 31*time.Second)
			if rec := h.pick(id, token, clientFra); rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("31 s after its last report: %d %s, want 503", rec.Code, rec.Body)
			}
		})
	}
}

// TestHealthReportMessageStaysWithinItsBody: the message a report becomes
// must fit where the body fit (pickedge.New holds EDGE_REPORT_MAX_BODY to
// the bus's message limit less an envelope): hot titles are title ids
// (printable ASCII, playback.RecordIDRule), and the message is encoded
// without HTML escapes, so that 256 titles of '&' do not grow sixfold into
// a message SQS refuses. A hot title that is no title id is refused.
func TestHealthReportMessageStaysWithinItsBody(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{env: map[string]string{"EDGE_REPORT_MAX_BODY": "245760"}})
	h.at(time.Second)
	titles := make([]string, playback.MaxHotTitles)
	for i := range titles {
		titles[i] = fmt.Sprintf("%03d", i) + strings.Repeat("&", 125) // 128: the schema's maxLength
	}
	r := playback.EdgeReport{EdgeID: "fra-1", Load: 1, Capacity: 2, Healthy: true, ReportedAt: h.clock(), HotTitles: titles}
	// As an edge not written in Go sends it: '&' as it is, not \u0026.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	body := bytes.TrimSpace(buf.Bytes())
	req := httptest.NewRequest(http.MethodPost, "/v1/edges/health", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(pickedge.HeaderEdgeID, "fra-1")
	req.Header.Set(pickedge.HeaderEdgeSignature, pickedge.SignEdgeReport(h.keys["fra-1"][0], h.clock(), body))
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("report of %d bytes: %d %s", len(body), rec.Code, rec.Body)
	}
	if h.bus.largest > len(body)+16<<10 {
		t.Fatalf("a report of %d bytes became a message of %d", len(body), h.bus.largest)
	}
	r.HotTitles = []string{"sintel", "tit\u00e9"}
	rec = h.report("fra-1", r)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"report_invalid"`) || !strings.Contains(rec.Body.String(), "/hot_titles/1") {
		t.Fatalf("a hot title that is no title id: %d %s", rec.Code, rec.Body)
	}
}

package steering

// Tests of playback.Edge live here because this task owns only edge.go in
// shared/playback.

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

func TestEdgeApply(t *testing.T) {
	t.Parallel()
	base := playback.Edge{ID: "e1", CDN: "cloudfront", PoP: "fra", BaseURL: "https://e1", Capacity: 100, Load: 10, Healthy: true,
		HotTitles: []string{"old"}, ReportedAt: t0}
	report := func(id string, at time.Time) playback.EdgeReport {
		return playback.EdgeReport{EdgeID: id, Load: 70, Capacity: 120, Healthy: false, HotTitles: []string{"new"}, ReportedAt: at, IPv6Down: true}
	}
	tests := []struct {
		name    string
		report  playback.EdgeReport
		applied bool
	}{
		{name: "newer report applies", report: report("e1", t0.Add(time.Second)), applied: true},
		{name: "older report is ignored", report: report("e1", t0.Add(-time.Second))},
		{name: "same timestamp (redelivery) is ignored", report: report("e1", t0)},
		{name: "report for another edge is ignored", report: report("e2", t0.Add(time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			received := t0.Add(time.Minute)
			got, ok := base.Apply(tt.report, received)
			if ok != tt.applied {
				t.Fatalf("applied = %v, want %v", ok, tt.applied)
			}
			if !tt.applied {
				if got.Load != base.Load || !got.ReportedAt.Equal(base.ReportedAt) || !got.ReceivedAt.IsZero() || !got.Healthy || got.HotTitles[0] != "old" {
					t.Fatalf("ignored report changed the edge: %+v", got)
				}
				return
			}
			if got.Load != 70 || got.ReportedCapacity != 120 || got.Capacity != 100 || got.Healthy || !got.ReportedAt.Equal(tt.report.ReportedAt) || !got.ReceivedAt.Equal(received) ||
				!slices.Equal(got.HotTitles, []string{"new"}) || got.PoP != "fra" || got.BaseURL != "https://e1" || !got.IPv6Down || got.IPv4Down {
				t.Fatalf("Apply = %+v", got)
			}
			tt.report.HotTitles[0] = "mutated"
			if got.HotTitles[0] != "new" {
				t.Fatal("edge aliases the report's hot titles")
			}
		})
	}
}

func TestEdgeApplyOutOfOrder(t *testing.T) {
	t.Parallel()
	e := playback.Edge{ID: "e1"}
	// Reports delivered in a shuffled order end at the newest one.
	for _, s := range []int{3, 1, 5, 2, 4} {
		e, _ = e.Apply(playback.EdgeReport{EdgeID: "e1", Load: float64(s), Capacity: 10, ReportedAt: t0.Add(time.Duration(s) * time.Second)}, t0)
	}
	if e.Load != 5 || !e.ReportedAt.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("after shuffled reports: %+v", e)
	}
}

func TestEdgeReportValidate(t *testing.T) {
	t.Parallel()
	now := t0
	ok := playback.EdgeReport{EdgeID: "e1", Load: 1, Capacity: 2, ReportedAt: now}
	tests := []struct {
		name   string
		mutate func(*playback.EdgeReport)
		reason string
	}{
		{name: "valid", mutate: func(*playback.EdgeReport) {}},
		{name: "slightly ahead is tolerated", mutate: func(r *playback.EdgeReport) { r.ReportedAt = now.Add(30 * time.Second) }},
		{name: "no edge id", mutate: func(r *playback.EdgeReport) { r.EdgeID = "" }, reason: "report_invalid"},
		{name: "no timestamp", mutate: func(r *playback.EdgeReport) { r.ReportedAt = time.Time{} }, reason: "report_invalid"},
		{name: "slightly behind is tolerated", mutate: func(r *playback.EdgeReport) { r.ReportedAt = now.Add(-45 * time.Second) }},
		{name: "at the skew limit ahead", mutate: func(r *playback.EdgeReport) { r.ReportedAt = now.Add(playback.MaxEdgeReportSkew) }},
		{name: "at the skew limit behind", mutate: func(r *playback.EdgeReport) { r.ReportedAt = now.Add(-playback.MaxEdgeReportSkew) }},
		{name: "from the future", mutate: func(r *playback.EdgeReport) { r.ReportedAt = now.Add(time.Hour) }, reason: "report_clock_skew"},
		{name: "past the skew limit ahead", mutate: func(r *playback.EdgeReport) { r.ReportedAt = now.Add(playback.MaxEdgeReportSkew + time.Second) }, reason: "report_clock_skew"},
		{name: "past the skew limit behind", mutate: func(r *playback.EdgeReport) { r.ReportedAt = now.Add(-playback.MaxEdgeReportSkew - time.Second) }, reason: "report_clock_skew"},
		{name: "negative load", mutate: func(r *playback.EdgeReport) { r.Load = -1 }, reason: "report_invalid"},
		{name: "too many hot titles", mutate: func(r *playback.EdgeReport) { r.HotTitles = make([]string, playback.MaxHotTitles+1) }, reason: "report_invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ok
			tt.mutate(&r)
			err := r.Validate(now)
			if tt.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e := playback.AsError(err)
			if err == nil || e.Code != playback.CodeInvalid || e.Reason != tt.reason {
				t.Fatalf("err = %v, want invalid/%s", err, tt.reason)
			}
		})
	}
}

// An operator's capacity is a limit the edge's reports cannot lift (an
// operator lowering it protects the edge), while an edge the operator set
// none for supplies its own; set both, the lower binds, as Traffic Monitor
// holds a cache to its configured interface maxBandwidth and to the
// headroom threshold on the speed the cache reports, either failing it.
func TestEdgeCapacityOperatorAndReported(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		operator, reported float64
		load               float64
		wantCapacity       float64 // what steering's load ratio divides by
		wantUsable         bool
	}{
		{name: "operator lowered it: the report does not lift it", operator: 50, reported: 100, load: 60, wantCapacity: 50},
		{name: "operator lowered it: under it the edge serves", operator: 50, reported: 100, load: 40, wantCapacity: 50, wantUsable: true},
		{name: "operator set none: the edge's own applies", reported: 100, load: 60, wantCapacity: 100, wantUsable: true},
		{name: "operator set more than the edge has: the edge's binds", operator: 250, reported: 100, load: 150, wantCapacity: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := playback.Edge{ID: "e1", CDN: "cloudfront", PoP: "fra", BaseURL: "https://e1", Capacity: tt.operator, Healthy: true, ReportedAt: t0}
			e, ok := e.Apply(playback.EdgeReport{EdgeID: "e1", Load: tt.load, Capacity: tt.reported, Healthy: true, ReportedAt: t0.Add(time.Second)}, t0.Add(time.Second))
			if !ok {
				t.Fatal("report not applied")
			}
			if e.Capacity != tt.operator {
				t.Errorf("after a report the operator's capacity is %v, want %v", e.Capacity, tt.operator)
			}
			ix, err := NewIndex(Config{}, []playback.Edge{e})
			if err != nil {
				t.Fatal(err)
			}
			got := ix.edges[ix.edgeIDs["e1"]]
			if got.capacity != tt.wantCapacity || got.usable != tt.wantUsable {
				t.Fatalf("steering sees capacity %v usable %v, want %v %v", got.capacity, got.usable, tt.wantCapacity, tt.wantUsable)
			}
		})
	}
}

// Records stored before ReportedCapacity existed read as they steered then.
func TestEdgeDecodesRecordsFromBefore(t *testing.T) {
	t.Parallel()
	at := t0.Format(time.RFC3339Nano)
	tests := []struct {
		name               string
		doc                string
		operator, reported float64
		afterReportOf200   float64 // effective capacity once the edge reports 200
	}{
		{name: "reported on before: its capacity was the report's", doc: `{"id":"e1","cdn":"c","base_url":"https://e1","lat":0,"lon":0,"capacity":100,"load":1,"healthy":true,"reported_at":"` + at + `"}`,
			reported: 100, afterReportOf200: 200},
		{name: "never reported on: its capacity was configured", doc: `{"id":"e1","cdn":"c","base_url":"https://e1","lat":0,"lon":0,"capacity":100,"load":0,"healthy":true,"reported_at":"0001-01-01T00:00:00Z"}`,
			operator: 100, afterReportOf200: 100},
		{name: "current form: the operator's stays with no reported capacity", doc: `{"id":"e1","cdn":"c","base_url":"https://e1","lat":0,"lon":0,"capacity":50,"reported_capacity":0,"load":1,"healthy":true,"reported_at":"` + at + `"}`,
			operator: 50, afterReportOf200: 50},
		{name: "current form: both", doc: `{"id":"e1","cdn":"c","base_url":"https://e1","lat":0,"lon":0,"capacity":50,"reported_capacity":80,"load":1,"healthy":true,"reported_at":"` + at + `"}`,
			operator: 50, reported: 80, afterReportOf200: 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			canonical, err := playback.CanonicalDoc(playback.KindEdge, "e1", json.RawMessage(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			for _, doc := range []string{tt.doc, string(canonical)} {
				var e playback.Edge
				if err := json.Unmarshal([]byte(doc), &e); err != nil {
					t.Fatal(err)
				}
				if e.Capacity != tt.operator || e.ReportedCapacity != tt.reported {
					t.Fatalf("%s read as capacity %v reported %v, want %v %v", doc, e.Capacity, e.ReportedCapacity, tt.operator, tt.reported)
				}
				e, _ = e.Apply(playback.EdgeReport{EdgeID: "e1", Capacity: 200, Healthy: true, ReportedAt: t0.Add(time.Second)}, t0)
				if got := e.EffectiveCapacity(); got != tt.afterReportOf200 {
					t.Fatalf("%s: effective capacity %v after a report of 200, want %v", doc, got, tt.afterReportOf200)
				}
			}
		})
	}
	if _, err := playback.CanonicalDoc(playback.KindEdge, "e1", json.RawMessage(`{"id":"e1","cdn":"c","base_url":"https://e1","capacity":1,"capasity":2}`)); err == nil {
		t.Fatal("CanonicalDoc took an edge with an unknown field")
	}
}

package steering

// Tests of playback.Edge live here because this task owns only edge.go in
// shared/playback.

import (
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
			if got.Load != 70 || got.Capacity != 120 || got.Healthy || !got.ReportedAt.Equal(tt.report.ReportedAt) || !got.ReceivedAt.Equal(received) ||
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

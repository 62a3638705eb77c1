package bolt_test

import (
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

func TestQoEViews(t *testing.T) {
	t.Parallel()
	s := open(t)
	t.Cleanup(func() { _ = s.Close() })
	h0 := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	rep := func(id string, started time.Time, age time.Duration, q playback.QoE, stopped bool) playback.QoEReport {
		return playback.QoEReport{SessionID: id, TitleID: "t", SessionStartedAt: started, ReceivedAt: started.Add(age),
			DeviceTime: started.Add(age), QoE: q, Stopped: stopped}
	}
	batches := [][]playback.QoEReport{
		{
			rep("a", h0.Add(10*time.Minute), 30*time.Second, playback.QoE{StartupMS: 900, PlayedMS: 20_000, CDN: "x"}, false),
			rep("b", h0.Add(70*time.Minute), 30*time.Second, playback.QoE{}, true),
			rep("c", h0.Add(130*time.Minute), 30*time.Second, playback.QoE{StartupMS: 500, PlayedMS: 1}, false),
		},
		// a's next report lands in a's start hour even though it is sent
		// in the next; the replay of it changes nothing.
		{rep("a", h0.Add(10*time.Minute), 60*time.Minute, playback.QoE{PlayedMS: 50_000, RebufferCount: 1, RebufferMS: 1_000}, true)},
		{rep("a", h0.Add(10*time.Minute), 60*time.Minute, playback.QoE{PlayedMS: 50_000, RebufferCount: 1, RebufferMS: 1_000}, true)},
	}
	for _, b := range batches {
		if err := s.ApplyQoEReports(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	views, err := s.QoEViews(t.Context(), h0.Add(30*time.Minute), h0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || views[0].SessionID != "a" || views[1].SessionID != "b" {
		t.Fatalf("views in [20:00, 22:00) %+v", views)
	}
	a := views[0]
	if a.Reports != 2 || a.PlayedMS != 50_000 || a.RebufferMS != 1_000 || a.StartupMS != 900 || !a.Stopped || a.CDN != "x" {
		t.Fatalf("view a %+v", a)
	}
	if !views[1].ExitedBeforeStart(h0) {
		t.Fatalf("view b %+v", views[1])
	}
	none, err := s.QoEViews(t.Context(), h0.Add(-5*time.Hour), h0)
	if err != nil || len(none) != 0 {
		t.Fatalf("views before the first hour: %+v, %v", none, err)
	}
}

// TestProgressBatchFoldsViews: a batch write's Views are folded in the same
// transaction, whether or not its QoE state applies: a view is a function
// of its heartbeats, so a late one the state's device-time gate refuses
// still counts in it, and a replay of one changes nothing.
func TestProgressBatchFoldsViews(t *testing.T) {
	t.Parallel()
	s := open(t)
	t.Cleanup(func() { _ = s.Close() })
	started := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	write := func(id string, at time.Duration, played int64, failed bool) playback.ProgressWrite {
		q := playback.SessionQoE{SessionID: id, AccountID: "acct", TitleID: "t", DeviceTime: started.Add(at), UpdatedAt: started.Add(at),
			QoE: playback.QoE{StartupMS: 700, PlayedMS: played}}
		return playback.ProgressWrite{NoProgress: true, QoE: &q, Views: []playback.QoEReport{{SessionID: id, TitleID: "t",
			Country: "DE", SessionStartedAt: started, ReceivedAt: started.Add(at), DeviceTime: started.Add(at), QoE: q.QoE, Failed: failed}}}
	}
	first, err := s.SaveProgressBatch(t.Context(), []playback.ProgressWrite{write("a", time.Minute, 50_000, false), write("b", time.Minute, 1_000, false)})
	if err != nil || !first[0].ViewApplied || !first[1].ViewApplied {
		t.Fatalf("first batch %+v, %v", first, err)
	}
	// A replay of a's heartbeat and a late one, both refused by the
	// state's device-time gate (on the stored state, which neither is
	// newer than): the replay folds to nothing, the late one's error counts.
	replay, late := write("a", time.Minute, 90_000, false), write("a", 30*time.Second, 25_000, true)
	replay.QoEOn, late.QoEOn = started.Add(time.Minute), started.Add(time.Minute)
	for _, w := range []playback.ProgressWrite{replay, late} {
		again, err := s.SaveProgressBatch(t.Context(), []playback.ProgressWrite{w, {NoProgress: true}})
		if err != nil || again[0].QoEApplied || !again[0].ViewApplied || again[1].ViewApplied {
			t.Fatalf("late batch %+v, %v", again, err)
		}
	}
	views, err := s.QoEViews(t.Context(), started, started.Add(time.Hour))
	if err != nil || len(views) != 2 {
		t.Fatalf("views %+v, %v", views, err)
	}
	if a := views[0]; a.SessionID != "a" || a.PlayedMS != 50_000 || a.Reports != 2 || !a.Failed || a.Country != "DE" {
		t.Fatalf("view a %+v", a)
	}
}

// TestQoEViewsAcrossUnixZero: a range across Unix 0 lists the views on
// both sides of it, in the order they started. The hour keys are
// unsigned Unix seconds, so the hours before Unix 0 sort after every hour
// since: read as one cursor run from its start to its end, such a range
// listed none (and GET /v1/admin/qoe, which reads a day before its range,
// answered nothing for a range in the first day after Unix 0).
func TestQoEViewsAcrossUnixZero(t *testing.T) {
	t.Parallel()
	s := open(t)
	t.Cleanup(func() { _ = s.Close() })
	epoch := time.Unix(0, 0).UTC()
	var reports []playback.QoEReport
	for id, started := range map[string]time.Time{"before": epoch.Add(-50 * time.Minute), "at": epoch.Add(10 * time.Minute),
		"after": epoch.Add(70 * time.Minute), "long before": epoch.Add(-3 * time.Hour), "long after": epoch.Add(5 * time.Hour)} {
		reports = append(reports, playback.QoEReport{SessionID: id, TitleID: "t", SessionStartedAt: started,
			ReceivedAt: started.Add(time.Minute), DeviceTime: started.Add(time.Minute)})
	}
	if err := s.ApplyQoEReports(t.Context(), reports); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     []string
	}{
		{name: "across", from: epoch.Add(-2 * time.Hour), to: epoch.Add(2 * time.Hour), want: []string{"before", "at", "after"}},
		{name: "up to it", from: epoch.Add(-2 * time.Hour), to: epoch, want: []string{"before"}},
		{name: "from it", from: epoch, to: epoch.Add(2 * time.Hour), want: []string{"at", "after"}},
		{name: "before it", from: epoch.Add(-4 * time.Hour), to: epoch.Add(-time.Hour), want: []string{"long before"}},
		{name: "all", from: epoch.Add(-24 * time.Hour), to: epoch.Add(24 * time.Hour), want: []string{"long before", "before", "at", "after", "long after"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			views, err := s.QoEViews(t.Context(), tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range views {
				got = append(got, v.SessionID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("views %q, want %q", got, tc.want)
			}
		})
	}
}

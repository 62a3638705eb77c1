package bolt

import (
	"bytes"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

// TestPruneQoEViews: a runner left running kept every view and every beat
// of it for ever, its file growing without bound. Views that ended more
// than the retention ago go with their beats, a few per transaction; a
// view still playing (however long ago it started) and a recent one stay
// as they were and still fold their heartbeats; a heartbeat of a pruned
// view delivered late does not bring back a view of that one heartbeat.
func TestPruneQoEViews(t *testing.T) {
	t.Parallel()
	const retention = 48 * time.Hour
	s, err := Open(filepath.Join(t.TempDir(), "views.db"), WithQoERetention(retention))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.pruneBudget = 5 // a view and its beats per transaction, or about: the sweep resumes
	ctx := t.Context()

	t0 := time.Date(2026, 11, 1, 20, 0, 0, 0, time.UTC)
	const lease = 2 * time.Minute
	rep := func(id string, started time.Time, age time.Duration, played int64) playback.QoEReport {
		at := started.Add(age)
		return playback.QoEReport{SessionID: id, TitleID: "t", SessionStartedAt: started, ReceivedAt: at, DeviceTime: at,
			LeaseEndsBy: at.Add(lease), QoE: playback.QoE{StartupMS: 700, PlayedMS: played, BitrateKbps: 3000, CDN: "a"}}
	}
	// beats reports a view's heartbeats every 30 s for d.
	beats := func(id string, started time.Time, d time.Duration) []playback.QoEReport {
		var out []playback.QoEReport
		for age := 30 * time.Second; age <= d; age += 30 * time.Second {
			out = append(out, rep(id, started, age, age.Milliseconds()-1000))
		}
		return out
	}
	now := t0.Add(10 * 24 * time.Hour)
	var old []string
	var reports []playback.QoEReport
	for _, id := range []string{"old1", "old2", "old3", "old4"} {
		old = append(old, id)
		reports = append(reports, beats(id, t0, 3*time.Minute)...)
	}
	// Started in t0's hour too, playing still: its lease runs past now.
	reports = append(reports, beats("long", t0, 3*time.Minute)...)
	reports = append(reports, rep("long", t0, 10*24*time.Hour-time.Minute, 4_000_000))
	recentStart := now.Add(-time.Hour)
	reports = append(reports, beats("recent", recentStart, 10*time.Minute)...)
	// Ended a second less than the retention before now: kept.
	edgeStart := now.Add(-retention - lease - 5*time.Minute + time.Second)
	reports = append(reports, beats("edge", edgeStart, 5*time.Minute)...)
	if err := s.ApplyQoEReports(ctx, reports); err != nil {
		t.Fatal(err)
	}
	viewsOf := func(from, to time.Time) []playback.QoEView {
		t.Helper()
		views, err := s.QoEViews(ctx, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return views
	}
	keptBefore := viewsOf(edgeStart, now.Add(time.Hour))
	if len(keptBefore) != 2 || len(viewsOf(t0, t0.Add(time.Hour))) != 5 {
		t.Fatalf("views as stored: %d in t0's hour, %d recent", len(viewsOf(t0, t0.Add(time.Hour))), len(keptBefore))
	}

	pruned, err := s.PruneQoEViews(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if pruned != len(old) {
		t.Errorf("pruned %d views, want %d", pruned, len(old))
	}
	sessionsIn := func(bucket []byte, id func(k []byte) string) []string {
		t.Helper()
		var ids []string
		if err := s.db.View(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucket).ForEach(func(k, _ []byte) error {
				if i := id(k); !slices.Contains(ids, i) {
					ids = append(ids, i)
				}
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	viewIDs := func() []string { return sessionsIn(bucketQoEViews, func(k []byte) string { return string(k[9:]) }) }
	beatIDs := func() []string {
		return sessionsIn(bucketQoEBeats, func(k []byte) string { return string(k[:bytes.IndexByte(k, 0)]) })
	}
	want := []string{"edge", "long", "recent"}
	if got := viewIDs(); !slices.Equal(got, want) {
		t.Errorf("views kept %v, want %v", got, want)
	}
	if got := beatIDs(); !slices.Equal(got, want) {
		t.Errorf("beats kept of %v, want %v", got, want)
	}
	if got := viewsOf(edgeStart, now.Add(time.Hour)); !reflect.DeepEqual(got, keptBefore) {
		t.Errorf("kept views after the sweep\n%+v\nwant as before\n%+v", got, keptBefore)
	}
	if again, err := s.PruneQoEViews(ctx, now); err != nil || again != 0 {
		t.Errorf("a second sweep at the same time pruned %d, %v", again, err)
	}

	// A pruned view's heartbeat delivered late; kept views' heartbeats.
	late := rep("old1", t0, 150*time.Second, 148_000)
	late.ReceivedAt, late.DeviceTime = t0.Add(151*time.Second), t0.Add(149*time.Second)
	more := []playback.QoEReport{late, rep("long", t0, 10*24*time.Hour-30*time.Second, 5_000_000), rep("recent", recentStart, 11*time.Minute, 650_000)}
	if err := s.ApplyQoEReports(ctx, more); err != nil {
		t.Fatal(err)
	}
	if got := viewIDs(); !slices.Equal(got, want) {
		t.Errorf("views after a pruned view's late heartbeat %v, want %v", got, want)
	}
	if got := beatIDs(); !slices.Equal(got, want) {
		t.Errorf("beats after a pruned view's late heartbeat of %v, want %v", got, want)
	}
	for _, v := range viewsOf(t0, now.Add(time.Hour)) {
		if (v.SessionID == "long" || v.SessionID == "recent") && v.Reports != countOf(reports, v.SessionID)+1 {
			t.Errorf("view %s has %d reports, want its heartbeats and the new one", v.SessionID, v.Reports)
		}
	}
}

func countOf(reports []playback.QoEReport, id string) int {
	n := 0
	for _, r := range reports {
		if r.SessionID == id {
			n++
		}
	}
	return n
}

// TestQoERetentionDefault: the views are kept as long as the widest range
// GET /v1/admin/qoe answers, so any range it admits that ends now is whole.
func TestQoERetentionDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []Option
		want time.Duration
		fail bool
	}{
		{name: "unset", want: playback.MaxQoERange},
		{name: "zero", opts: []Option{WithQoERetention(0)}, want: playback.MaxQoERange},
		{name: "set", opts: []Option{WithQoERetention(72 * time.Hour)}, want: 72 * time.Hour},
		{name: "negative", opts: []Option{WithQoERetention(-time.Hour)}, fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(filepath.Join(t.TempDir(), "db"), tc.opts...)
			if tc.fail {
				if err == nil {
					_ = s.Close()
					t.Fatal("opened")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.qoeRetention != tc.want {
				t.Fatalf("retention %v, want %v", s.qoeRetention, tc.want)
			}
		})
	}
}

// TestQoEPruneUnderAClockAhead: a sweep run once under a clock days ahead
// marks views ended before its "now" minus the retention as gone; with the
// clock put right, a view that starts now is still stored. The mark only
// ever moves forward, so without a bound every new view was dropped until
// real time caught up with it.
func TestQoEPruneUnderAClockAhead(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 1, 20, 0, 0, 0, time.UTC)
	s, err := Open(filepath.Join(t.TempDir(), "views.db"), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	if _, err := s.PruneQoEViews(ctx, now.Add(40*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	r := playback.QoEReport{SessionID: "fresh", TitleID: "t", SessionStartedAt: now, ReceivedAt: now, DeviceTime: now,
		LeaseEndsBy: now.Add(2 * time.Minute), QoE: playback.QoE{StartupMS: 700, PlayedMS: 1000, BitrateKbps: 3000, CDN: "a"}}
	if err := s.ApplyQoEReports(ctx, []playback.QoEReport{r}); err != nil {
		t.Fatal(err)
	}
	if views, err := s.QoEViews(ctx, now, now.Add(time.Hour)); err != nil || len(views) != 1 {
		t.Errorf("views of a play just started after a sweep under a clock 40 days ahead: %d, %v; want 1", len(views), err)
	}
}

// TestLateBeatAfterThePruneMark: a heartbeat accepted while its view
// played but delivered after a sweep removed the view carries its own
// lease end, which may be after the sweep's mark although the view as
// stored ended before it. It must write nothing, as a late heartbeat of a
// pruned view does; a late heartbeat of a view still kept counts.
func TestLateBeatAfterThePruneMark(t *testing.T) {
	t.Parallel()
	const retention = 48 * time.Hour
	const lease = 2 * time.Minute
	started := time.Date(2026, 11, 1, 20, 0, 0, 0, time.UTC)
	rep := func(id string, age time.Duration) playback.QoEReport {
		at := started.Add(age)
		return playback.QoEReport{SessionID: id, TitleID: "t", SessionStartedAt: started, ReceivedAt: at, DeviceTime: at,
			LeaseEndsBy: at.Add(lease), QoE: playback.QoE{StartupMS: 700, PlayedMS: max(age.Milliseconds()-1000, 0), BitrateKbps: 3000, CDN: "a"}}
	}
	// The view's stored beats end by started+3m+lease; its late beat,
	// accepted at started+10m, leaves the lease 7 minutes later.
	stored := []playback.QoEReport{rep("v", time.Minute), rep("v", 2*time.Minute), rep("v", 3*time.Minute)}
	late := rep("v", 10*time.Minute)
	for _, tc := range []struct {
		name string
		// sweep is when the sweep runs: its mark is sweep - retention.
		sweep       time.Time
		wantReports int // 0: no view, no beats
	}{
		{name: "view pruned, the beat's lease end after the mark", sweep: started.Add(retention + 6*time.Minute)},
		{name: "view pruned, the beat's lease end before the mark", sweep: started.Add(retention + time.Hour)},
		{name: "view kept", sweep: started.Add(retention + 4*time.Minute), wantReports: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(filepath.Join(t.TempDir(), "views.db"), WithQoERetention(retention),
				WithClock(func() time.Time { return tc.sweep }))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			ctx := t.Context()
			if err := s.ApplyQoEReports(ctx, stored); err != nil {
				t.Fatal(err)
			}
			if _, err := s.PruneQoEViews(ctx, tc.sweep); err != nil {
				t.Fatal(err)
			}
			if err := s.ApplyQoEReports(ctx, []playback.QoEReport{late}); err != nil {
				t.Fatal(err)
			}
			views, err := s.QoEViews(ctx, started, started.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			beats := 0
			if err := s.db.View(func(tx *bbolt.Tx) error {
				return tx.Bucket(bucketQoEBeats).ForEach(func(_, _ []byte) error { beats++; return nil })
			}); err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantReports == 0 && (len(views) != 0 || beats != 0):
				t.Errorf("after the late heartbeat of a pruned view: %d views (%+v), %d beats; want none", len(views), views, beats)
			case tc.wantReports > 0 && (len(views) != 1 || views[0].Reports != tc.wantReports || beats != tc.wantReports):
				t.Errorf("after the late heartbeat of a kept view: %d views (%+v), %d beats; want 1 view of %d reports and beats",
					len(views), views, beats, tc.wantReports)
			}
		})
	}
}

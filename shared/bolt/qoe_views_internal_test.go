package bolt

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

// TestQoEViewStoredBeforeBeatsKeepsItsFigures: a view stored before views
// kept their beats (602a49c: the view's JSON record alone, its figures
// folded from the session's cumulative states) has no beat to compute its
// figures from again. A redelivery of its last heartbeat, a late one and a
// newer one in any order must keep what it had: the late one tells no
// figure the old view had not folded or dropped, the newer one adds to it.
func TestQoEViewStoredBeforeBeatsKeepsItsFigures(t *testing.T) {
	t.Parallel()
	started := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return started.Add(d) }
	old := playback.QoEView{SessionID: "s", Hour: started, StartedAt: started, UpdatedAt: at(600 * time.Second),
		DeviceTime: at(600 * time.Second), TitleID: "t", CDN: "b", EdgeID: "e1", Country: "DE", Reports: 60,
		StartupMS: 800, PlayedMS: 590_000, RebufferMS: 2_000, BitrateKbpsMS: 1500*300_000 + 3000*290_000,
		PeakBitrateKbps: 3000, LastBitrateKbps: 3000, LeaseEndsBy: at(720 * time.Second), Corrections: 1}
	rep := func(d time.Duration, q playback.QoE) playback.QoEReport {
		return playback.QoEReport{SessionID: "s", TitleID: "t", Country: "DE", SessionStartedAt: started,
			ReceivedAt: at(d), DeviceTime: at(d), LeaseEndsBy: at(d + 2*time.Minute), QoE: q}
	}
	redelivered := rep(600*time.Second, playback.QoE{StartupMS: 800, PlayedMS: 590_000, RebufferCount: 1, RebufferMS: 2_000, BitrateKbps: 3000, CDN: "b", EdgeID: "e1"})
	late := rep(300*time.Second, playback.QoE{StartupMS: 800, PlayedMS: 290_000, BitrateKbps: 1500, CDN: "a", EdgeID: "e1"})
	newer := rep(610*time.Second, playback.QoE{StartupMS: 800, PlayedMS: 600_000, RebufferCount: 1, RebufferMS: 2_000, BitrateKbps: 6000, CDN: "b", EdgeID: "e1"})

	kept := old
	grown := old
	grown.Reports, grown.PlayedMS, grown.BitrateKbpsMS = 61, 600_000, old.BitrateKbpsMS+3000*10_000
	grown.PeakBitrateKbps, grown.LastBitrateKbps = 6000, 6000
	grown.DeviceTime, grown.UpdatedAt, grown.LeaseEndsBy = at(610*time.Second), at(610*time.Second), at(730*time.Second)
	for _, tc := range []struct {
		name  string
		order []playback.QoEReport
		want  playback.QoEView
	}{
		{"redelivery of its last heartbeat", []playback.QoEReport{redelivered}, kept},
		{"a late heartbeat", []playback.QoEReport{late}, kept},
		{"late then redelivered", []playback.QoEReport{late, redelivered}, kept},
		{"newer", []playback.QoEReport{newer}, grown},
		{"newer then late", []playback.QoEReport{newer, late}, grown},
		{"late then newer", []playback.QoEReport{late, newer}, grown},
		{"redelivered, newer, late", []playback.QoEReport{redelivered, newer, late}, grown},
		{"late, newer, redelivered", []playback.QoEReport{late, newer, redelivered}, grown},
	} {
		for _, batched := range []bool{false, true} {
			name := tc.name + ", one by one"
			if batched {
				name = tc.name + ", in one batch"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				s, err := Open(filepath.Join(t.TempDir(), "views.db"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				// The record as 602a49c's applyQoEReport put it: the view's
				// JSON, and no beats.
				raw, err := json.Marshal(old)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.db.Update(func(tx *bbolt.Tx) error {
					return tx.Bucket(bucketQoEViews).Put(qoeViewKey(started, "s"), raw)
				}); err != nil {
					t.Fatal(err)
				}
				if batched {
					if err := s.ApplyQoEReports(t.Context(), tc.order); err != nil {
						t.Fatal(err)
					}
				} else {
					for _, r := range tc.order {
						if err := s.ApplyQoEReports(t.Context(), []playback.QoEReport{r}); err != nil {
							t.Fatal(err)
						}
					}
				}
				views, err := s.QoEViews(t.Context(), started, started.Add(time.Hour))
				if err != nil || len(views) != 1 {
					t.Fatalf("views %+v, %v", views, err)
				}
				if got := views[0]; !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("view\n%+v\nwant\n%+v", got, tc.want)
				}
			})
		}
	}
}

// TestApplyQoEReportsRunsAgain: a shared transaction that another call
// fails is rolled back and ApplyQoEReports' function runs again without
// it (groupCommit), so the second run must write what the first did. A
// function that used up its reports on the first run committed nothing
// on the second and still answered nil.
func TestApplyQoEReportsRunsAgain(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	started := time.Date(2026, 12, 4, 20, 10, 0, 0, time.UTC)
	reports := []playback.QoEReport{
		{SessionID: "a", TitleID: "t", SessionStartedAt: started, ReceivedAt: started.Add(30 * time.Second),
			DeviceTime: started.Add(30 * time.Second), QoE: playback.QoE{StartupMS: 900, PlayedMS: 20_000}},
		{SessionID: "b", TitleID: "t", SessionStartedAt: started, ReceivedAt: started.Add(40 * time.Second),
			DeviceTime: started.Add(40 * time.Second), QoE: playback.QoE{StartupMS: 700, PlayedMS: 10_000}},
	}

	// Another caller leads: ApplyQoEReports queues its function and waits.
	s.gc.mu.Lock()
	s.gc.leading = true
	s.gc.mu.Unlock()
	answer := make(chan error, 1)
	go func() { answer <- s.ApplyQoEReports(t.Context(), reports) }()
	var queued []*call
	for queued == nil {
		s.gc.mu.Lock()
		if len(s.gc.queue) == 1 {
			queued, s.gc.queue = s.gc.queue, nil
		}
		s.gc.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	failing := &call{fn: func(*bbolt.Tx) error { return errors.New("boom") }, done: make(chan outcome, 1)}
	s.gc.commit(append(queued, failing))
	if err := <-answer; err != nil {
		t.Fatalf("ApplyQoEReports: %v", err)
	}
	s.gc.mu.Lock()
	s.gc.queue, s.gc.leading = nil, false // the failing call, run again first: not this test's
	s.gc.mu.Unlock()

	views, err := s.QoEViews(t.Context(), started, started.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 {
		t.Fatalf("answered nil after its function ran again; views stored %+v, want a and b", views)
	}
}

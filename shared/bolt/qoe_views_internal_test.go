package bolt

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

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

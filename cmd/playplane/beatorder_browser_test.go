package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// beatHold holds, once armed, the next progress heartbeat a page sends
// at the server until the viewer has clicked stop (drive.cjs says so)
// and then until the page's stop heartbeat, if the page sent one
// meanwhile, has been answered. Which of the two the server takes first
// is then the page's doing alone: a page that sends its stop while a
// progress beat is in flight has the stop taken first every time, not
// once in a cold CI run. Every heartbeat answered after arm is recorded
// in the order it was answered, with its event.
type beatHold struct {
	mu        sync.Mutex
	armed     bool
	took      bool          // the held progress beat has arrived
	holding   bool          // and is held now
	held      chan struct{} // closed when the progress beat is held
	clicked   chan struct{} // closed when drive.cjs has clicked stop
	stopped   chan struct{} // closed when a stop beat has been answered
	whileHeld bool          // the click came while the progress beat was held
	answered  []answeredBeat
}

type answeredBeat struct {
	Event  string
	Status int
	Held   bool // the progress beat that was held
}

func (a answeredBeat) String() string {
	s := fmt.Sprintf("%s %d", a.Event, a.Status)
	if a.Held {
		s += " (held)"
	}
	return s
}

const (
	// beatHoldMax bounds each wait of the hook, so a page that never
	// sends a progress beat or a viewer that never clicks only slows the
	// test down.
	beatHoldMax = 20 * time.Second
	// beatStopGrace is how long the held progress beat waits, after the
	// click, for a stop beat to be answered. A page that orders its
	// heartbeats sends no stop while a beat is in flight, so for it this
	// is only a wait; the old page's stop left in the click's own task
	// and reached the loopback server within milliseconds. Only the
	// server-order check leans on it: a stop slower than this (a loaded
	// machine) is answered after the progress, so the page's own count
	// at the click (beatHoldResult.SentWithClick) is what fails such a
	// page whatever the load.
	beatStopGrace = 3 * time.Second
)

func (b *beatHold) arm() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed, b.took, b.holding, b.whileHeld, b.answered = true, false, false, false, nil
	b.held, b.clicked, b.stopped = make(chan struct{}), make(chan struct{}), make(chan struct{})
}

func (b *beatHold) disarm() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed = false
}

func isHeartbeat(req *http.Request) bool {
	return req.Method == http.MethodPost && strings.HasPrefix(req.URL.Path, "/v1/playback/") && strings.HasSuffix(req.URL.Path, "/heartbeat")
}

// wait is called before the runner serves req: it reads a heartbeat's
// event (and puts the body back), and holds the first progress beat
// after arm. It returns what done needs.
func (b *beatHold) wait(req *http.Request) answeredBeat {
	if !isHeartbeat(req) {
		return answeredBeat{}
	}
	b.mu.Lock()
	armed := b.armed
	b.mu.Unlock()
	if !armed {
		return answeredBeat{}
	}
	raw, err := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(raw))
	var in struct {
		Event string `json:"event"`
	}
	if err != nil || json.Unmarshal(raw, &in) != nil || in.Event == "" {
		in.Event = "?"
	}
	b.mu.Lock()
	hold := b.armed && !b.took && in.Event == "progress"
	if hold {
		b.took, b.holding = true, true
		close(b.held)
	}
	clicked, stopped := b.clicked, b.stopped
	b.mu.Unlock()
	if !hold {
		return answeredBeat{Event: in.Event}
	}
	select {
	case <-clicked:
		select {
		case <-stopped:
		case <-time.After(beatStopGrace):
		case <-req.Context().Done():
		}
	case <-time.After(beatHoldMax):
	case <-req.Context().Done():
	}
	b.mu.Lock()
	b.holding = false
	b.mu.Unlock()
	return answeredBeat{Event: in.Event, Held: true}
}

// done records a heartbeat wait saw, once answered with status.
func (b *beatHold) done(a answeredBeat, status int) {
	if a.Event == "" {
		return
	}
	a.Status = status
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.armed {
		return
	}
	b.answered = append(b.answered, a)
	if a.Event == "stop" {
		select {
		case <-b.stopped:
		default:
			close(b.stopped)
		}
	}
}

// click is drive.cjs's "I clicked stop": it says whether the progress
// beat was still held then.
func (b *beatHold) click() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.whileHeld = b.holding
	select {
	case <-b.clicked:
	default:
		close(b.clicked)
	}
	return b.whileHeld
}

// release lets the held progress beat go at once, with no click or stop
// to wait for.
func (b *beatHold) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range []chan struct{}{b.clicked, b.stopped} {
		select {
		case <-c:
		default:
			close(c)
		}
	}
}

func (b *beatHold) log() []answeredBeat {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]answeredBeat(nil), b.answered...)
}

// startBeatControl serves drive.cjs's side of beatHold: POST /arm, GET
// /held (answers {"held": true} once a progress beat is held, false
// after beatHoldMax), POST /clicked ({"held": whether it still was}) and
// POST /release (lets the held beat go now).
func startBeatControl(t *testing.T, b *beatHold) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /arm", func(w http.ResponseWriter, _ *http.Request) {
		b.arm()
		_ = json.NewEncoder(w).Encode(map[string]bool{"armed": true})
	})
	mux.HandleFunc("GET /held", func(w http.ResponseWriter, req *http.Request) {
		b.mu.Lock()
		held := b.held
		b.mu.Unlock()
		ok := false
		if held != nil {
			select {
			case <-held:
				ok = true
			case <-time.After(beatHoldMax):
			case <-req.Context().Done():
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]bool{"held": ok})
	})
	mux.HandleFunc("POST /clicked", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]bool{"held": b.click()})
	})
	mux.HandleFunc("POST /release", func(w http.ResponseWriter, _ *http.Request) {
		b.release()
		_ = json.NewEncoder(w).Encode(map[string]bool{"released": true})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// beatHoldResult is what drive.cjs reports of a stop clicked during a
// held progress beat.
type beatHoldResult struct {
	Held             bool   `json:"held"`
	ClickedWhileHeld bool   `json:"clickedWhileHeld"`
	PhaseAtClick     string `json:"phaseAtClick"`
	// SentWithClick is how many heartbeats the page sent from just
	// before the click to just after it, while the progress beat was held.
	SentWithClick int `json:"sentWithClick"`
}

// checkStopDuringBeat: the viewer clicked stop while a progress beat was
// held at the server; the server took that progress before the stop and
// accepted both, and the page ends stopped, its last beat the accepted
// stop, with no 410 on the way. A page that let its stop overtake the
// progress had the server release the lease on the stop and answer the
// progress 410 session_ended, which the page then took for "session
// over".
func (h *harness) checkStopDuringBeat(t *testing.T, res *beatHoldResult, stopped *pageState) {
	t.Helper()
	if res == nil || !res.Held {
		t.Fatalf("no progress heartbeat was held for the stop to be clicked during: %+v", res)
	}
	if !res.ClickedWhileHeld {
		t.Fatalf("stop was clicked after the held progress heartbeat was let go: %+v", res)
	}
	// The server's order alone cannot tell a page that held its stop back
	// from one whose stop was merely slower than beatStopGrace (a loaded
	// machine): the page's own count at the click can.
	if res.SentWithClick != 0 {
		t.Errorf("the page sent %d heartbeats with the click, want none while its progress beat is unanswered: it sent its stop before the progress was answered", res.SentWithClick)
	}
	answered := h.run.beats.log()
	t.Logf("heartbeats the server answered from arm on, in order: %v (page phase at the click: %s, beats it sent with the click: %d)", answered, res.PhaseAtClick, res.SentWithClick)
	progress, stop := -1, -1
	for i, a := range answered {
		switch {
		case a.Held:
			progress = i
		case a.Event == "stop" && stop < 0:
			stop = i
		}
		if a.Status == http.StatusGone {
			t.Errorf("the server answered %s with 410: the session was over before it", a)
		}
	}
	if progress < 0 || stop < 0 || progress > stop {
		t.Errorf("the server answered %v: want the held progress before the stop", answered)
	} else if answered[progress].Status != http.StatusOK || answered[stop].Status != http.StatusOK {
		t.Errorf("the server answered the held progress %d and the stop %d, want 200 both", answered[progress].Status, answered[stop].Status)
	}
	if stopped == nil {
		t.Fatal("drive.cjs reported no state after the stop")
	}
	b := stopped.Beats
	if stopped.Phase != "stopped" || b.Last == nil || b.Last.Event != "stop" || b.Last.Status != http.StatusOK {
		last := "none"
		if b.Last != nil {
			last = fmt.Sprintf("%s %d", b.Last.Event, b.Last.Status)
		}
		t.Errorf("the page ended %q (%s) with last heartbeat %s, want stopped with the stop's 200\npage log:\n%s",
			stopped.Phase, stopped.Error, last, strings.Join(stopped.Log, "\n"))
	}
	for _, s := range b.Statuses {
		if s == http.StatusGone {
			t.Errorf("the page got a 410 for one of its heartbeats: statuses %v", b.Statuses)
			break
		}
	}
	if t.Failed() {
		t.FailNow() // testPlay's own stop check would only say the same again
	}
}

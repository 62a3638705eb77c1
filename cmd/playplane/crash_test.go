package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/walbus"
)

// runnerProcess is the runner binary started by a test, on a loopback port
// it picked itself.
type runnerProcess struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
	stderr *os.File
}

// buildRunner builds this package's binary, as `make run` runs it, with
// -race when this test binary has it: every package the runner links is
// then already in the build cache from compiling the tests, so the build
// compiles one package and links, where a plain build on a cold cache
// compiles the whole dependency tree a second time. It builds once for all
// the tests of this test binary (the crash and file-limit tests run side by
// side, and two builds at once would each compile the package and link);
// TestMain removes the binary.
func buildRunner(t *testing.T) string {
	t.Helper()
	runnerBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "playplane-runner-")
		if err != nil {
			runnerBuild.err = err
			return
		}
		runnerBuild.dir = dir
		bin := filepath.Join(dir, "playplane")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		// No DWARF or symbol table: a third of the link's CPU, and a panic in
		// the runner is still symbolized from the runtime's own tables.
		args := []string{"build", "-ldflags=-s -w", "-o", bin}
		if raceBuild {
			args = append(args, "-race")
		}
		if out, err := exec.CommandContext(ctx, "go", append(args, ".")...).CombinedOutput(); err != nil {
			runnerBuild.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		runnerBuild.bin = bin
	})
	if runnerBuild.err != nil {
		t.Fatal(runnerBuild.err)
	}
	return runnerBuild.bin
}

// runnerBuild is buildRunner's one build: the binary, the directory it is
// in, or why it failed.
var runnerBuild struct {
	once     sync.Once
	dir, bin string
	err      error
}

// TestMain removes the runner buildRunner built, once every test is done.
func TestMain(m *testing.M) {
	code := m.Run()
	if runnerBuild.dir != "" {
		_ = os.RemoveAll(runnerBuild.dir)
	}
	os.Exit(code)
}

// startRunner starts the binary on dataDir and waits for its welcome,
// which names the address it listens on. env (KEY=value) adds to or
// overrides the test's settings.
func startRunner(t *testing.T, bin, dataDir string, env ...string) *runnerProcess {
	t.Helper()
	stderr, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "ADDR=127.0.0.1:0", "DATA_DIR="+dataDir, "PUBLIC_URL=", "SEED=true", "SYNC=true",
		"LOG_LEVEL=warn", "JWT_ISSUER=playplane-local", "JWT_AUDIENCE=playplane")
	cmd.Env = append(cmd.Env, env...) // the last of a name wins
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &runnerProcess{t: t, cmd: cmd, exited: make(chan struct{}), stderr: stderr}
	t.Cleanup(p.stop)
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	select {
	case line := <-first:
		// "playplane is serving on http://127.0.0.1:PORT (data in DIR)"
		rest, ok := strings.CutPrefix(line, "playplane is serving on ")
		p.url, _, _ = strings.Cut(rest, " ")
		if !ok || !strings.HasPrefix(p.url, "http://127.0.0.1:") {
			t.Fatalf("runner's first line %q; stderr:\n%s", line, p.log())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("runner did not start; stderr:\n%s", p.log())
	}
	return p
}

func (p *runnerProcess) log() string {
	raw, _ := os.ReadFile(p.stderr.Name())
	return string(raw)
}

// kill sends SIGKILL to the runner's own PID and waits until it is gone.
func (p *runnerProcess) kill() {
	p.t.Helper()
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	<-p.exited
}

// stop ends the runner as Ctrl-C would, or kills it if that takes long.
func (p *runnerProcess) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
}

// crashClient calls the runner and keeps count of what it acknowledged.
type crashClient struct {
	http *http.Client
	url  string
}

func (c *crashClient) call(method, path, token, body string, out any) (int, error) {
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err // an answer we did not read whole does not count
	}
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(raw, out); err != nil {
			return 0, fmt.Errorf("%s %s: %w: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, nil
}

// crashSession is one admitted play and what the runner acknowledged of it.
type crashSession struct {
	account, title, id, token string
	stopSent                  bool // a stop heartbeat was sent: the kill may have come before its answer
	stopped                   bool // its stop heartbeat was answered 200
}

// crashWorker plays one account: plays, heartbeats, stops, plays again.
type crashWorker struct {
	account  string
	caller   string // JWT
	sessions []*crashSession
	// lastAcked is the position of the last heartbeat answered 200, by
	// title: positions only grow, so the stored resume position must be at
	// least this.
	lastAcked map[string]int64
	acked     map[string][]int64 // every acknowledged position, by title
}

// notReflected counts the acknowledged heartbeats of w beyond the resume
// positions stored by title.
func (w *crashWorker) notReflected(stored map[string]int64) (n int) {
	for title, ps := range w.acked {
		for _, p := range ps {
			if p > stored[title] {
				n++
			}
		}
	}
	return n
}

var crashTitles = []string{"big-buck-bunny", "sintel"}

// run plays until a request fails (the runner was killed).
func (w *crashWorker) run(c *crashClient, t0 time.Time, beatsPerSession int, total *atomic.Int64) error {
	tick := int64(0)
	for round := 0; ; round++ {
		title := crashTitles[round%len(crashTitles)]
		var play struct {
			SessionID     string `json:"session_id"`
			PlaybackToken string `json:"playback_token"`
		}
		code, err := c.call("POST", "/v1/play", w.caller, `{"title_id":"`+title+`","device_id":"tv"}`, &play)
		if err != nil {
			return err
		}
		if code != http.StatusCreated {
			return fmt.Errorf("play %s: %d", title, code)
		}
		s := &crashSession{account: w.account, title: title, id: play.SessionID, token: play.PlaybackToken}
		w.sessions = append(w.sessions, s)
		for i := 0; i <= beatsPerSession; i++ {
			tick++
			event := "progress"
			if i == beatsPerSession {
				event = "stop"
			}
			pos := tick * 1000
			s.stopSent = event == "stop"
			body := fmt.Sprintf(`{"event":%q,"position_ms":%d,"duration_ms":5400000,"device_time":%q,"qoe":{"br":5800,"played_ms":%d}}`,
				event, pos, t0.Add(time.Duration(tick)*time.Millisecond).Format(time.RFC3339Nano), pos)
			code, err := c.call("POST", "/v1/playback/"+s.id+"/heartbeat", s.token, body, nil)
			if err != nil {
				return err
			}
			if code != http.StatusOK {
				return fmt.Errorf("heartbeat %s of %s: %d", event, s.id, code)
			}
			w.lastAcked[title] = pos
			w.acked[title] = append(w.acked[title], pos)
			total.Add(1)
			s.stopped = event == "stop"
		}
	}
}

// TestKilledRunnerKeepsAcknowledgedHeartbeats starts the runner binary,
// plays and heartbeats on several accounts, kills the process with SIGKILL
// mid-load and starts it again on the same data directory: every
// heartbeat answered 200 must be reflected in its resume position, every
// admitted session not told to stop must still be running, and every
// acknowledged stop must have ended its session.
func TestKilledRunnerKeepsAcknowledgedHeartbeats(t *testing.T) {
	t.Parallel()
	const accounts, beatsPerSession, killAfter = 8, 25, 1500
	bin := buildRunner(t)
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Issuer: "playplane-local", Audience: "playplane"}

	// Accounts of their own, so that each worker's stream limit is its own.
	store, err := bolt.Open(filepath.Join(dir, "playplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	workers := make([]*crashWorker, accounts)
	for i := range workers {
		w := &crashWorker{account: fmt.Sprintf("acct_crash_%d", i), lastAcked: map[string]int64{}, acked: map[string][]int64{}}
		workers[i] = w
		if err := store.PutAccount(context.Background(), playback.Account{ID: w.account, PlanID: "premium",
			Status: playback.StatusActive, Territory: "DE"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	run := startRunner(t, bin, dir)
	for _, w := range workers {
		if w.caller, err = DevToken(cfg, w.account, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	client := &crashClient{url: run.url, http: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: accounts}}}
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, accounts)
	t0 := time.Now().Add(-time.Minute)
	for i, w := range workers {
		wg.Go(func() { errs[i] = w.run(client, t0, beatsPerSession, &total) })
	}
	// The deadline only stops a stuck runner from hanging the test: the kill
	// comes at killAfter acknowledgements, which the -race runner on a
	// loaded machine needs more than 20 s to reach.
	deadline := time.Now().Add(60 * time.Second)
	for total.Load() < killAfter && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	run.kill()
	wg.Wait()
	client.http.CloseIdleConnections()
	acked := total.Load()
	if acked < killAfter {
		t.Fatalf("only %d heartbeats acknowledged before the kill; errors: %v; stderr:\n%s", acked, errs, run.log())
	}

	// What the killed process left: the store alone, and the journal of
	// what was accepted but not yet written.
	behindInStore, lostInStore, pending := 0, 0, 0
	store, err = bolt.Open(filepath.Join(dir, "playplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range workers {
		stored := map[string]int64{}
		for title, pos := range w.lastAcked {
			p, err := store.GetProgress(context.Background(), w.account, title)
			if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
				t.Fatal(err)
			}
			stored[title] = p.PositionMS
			if p.PositionMS < pos {
				behindInStore++
			}
		}
		lostInStore += w.notReflected(stored)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if journal, err := walbus.Open(filepath.Join(dir, "bus.wal")); err == nil {
		_ = journal.Load(func(topic string, msgs, _ []playback.Message) { pending += len(msgs) })
		if err := journal.Close(); err != nil {
			t.Fatal(err)
		}
	}

	run = startRunner(t, bin, dir)
	client.url = run.url
	// The journaled heartbeats are delivered again at start: give the
	// consumer a few seconds to write them, all positions at once.
	keys, behind := 0, 0
	positions := map[*crashWorker]map[string]int64{}
	until := time.Now().Add(5 * time.Second)
	for {
		keys, behind = 0, 0
		for _, w := range workers {
			positions[w] = map[string]int64{}
			for title, pos := range w.lastAcked {
				keys++
				var got struct {
					PositionMS int64 `json:"position_ms"`
				}
				code, err := client.call("GET", "/v1/progress?title_id="+title, w.caller, "", &got)
				if err != nil {
					t.Fatal(err)
				}
				if code == http.StatusOK {
					positions[w][title] = got.PositionMS
				}
				if positions[w][title] < pos {
					behind++
				}
			}
		}
		if behind == 0 || time.Now().After(until) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	lost := 0
	for _, w := range workers {
		lost += w.notReflected(positions[w])
		for title, pos := range w.lastAcked {
			if got := positions[w][title]; got < pos {
				t.Errorf("%s %s: resume position %d after the restart, %d was acknowledged", w.account, title, got, pos)
			}
		}
		var list struct {
			Sessions []struct {
				SessionID string `json:"session_id"`
			} `json:"sessions"`
		}
		if code, err := client.call("GET", "/v1/sessions", w.caller, "", &list); err != nil || code != http.StatusOK {
			t.Fatalf("sessions of %s: %d %v", w.account, code, err)
		}
		active := map[string]bool{}
		for _, s := range list.Sessions {
			active[s.SessionID] = true
		}
		for i, s := range w.sessions {
			last := i == len(w.sessions)-1 // the one in play at the kill
			switch {
			case s.stopped && active[s.id]:
				t.Errorf("%s: session %s was stopped (acknowledged) but runs after the restart", w.account, s.id)
			case !s.stopped && !last:
				t.Errorf("%s: session %s neither stopped nor last", w.account, s.id)
			case !s.stopSent && !active[s.id]:
				t.Errorf("%s: admitted session %s is gone after the restart", w.account, s.id)
			case !s.stopSent:
				// Its player goes on with the token it had.
				body := fmt.Sprintf(`{"event":"progress","position_ms":%d,"duration_ms":5400000,"device_time":%q}`,
					w.lastAcked[s.title]+1000, time.Now().UTC().Format(time.RFC3339Nano))
				if code, err := client.call("POST", "/v1/playback/"+s.id+"/heartbeat", s.token, body, nil); err != nil || code != http.StatusOK {
					t.Errorf("%s: heartbeat on session %s after the restart: %d %v", w.account, s.id, code, err)
				}
			}
		}
	}
	t.Logf("killed after %d acknowledged heartbeats on %d sessions; at the kill the store lacked %d of them (%d of %d resume positions behind) and the journal held %d messages; after the restart %d lacking (%d positions behind)",
		acked, countSessions(workers), lostInStore, behindInStore, keys, pending, lost, behind)
}

func countSessions(ws []*crashWorker) (n int) {
	for _, w := range ws {
		n += len(w.sessions)
	}
	return n
}

//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// TestRunnerSurvivesMoreConnectionsThanFiles runs the built runner as
// `make run` does, under RLIMIT_NOFILE 1024 (prlimit), and opens four times
// that many connections at it, each sending a request. Issue #12 saw ~20k
// idle connections exhaust the file limit (accept4: too many open files)
// and /healthz time out. Here the runner must stay within its file limit,
// answer every connection it accepts or shed it (503 + Retry-After, or
// close), keep /healthz answering, and serve normally once they go.
func TestRunnerSurvivesMoreConnectionsThanFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the runner")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	t.Parallel()
	const nofile, clients = 1024, 4096
	dir := t.TempDir()
	bin := buildRunner(t)
	cmd := exec.Command(prlimit, fmt.Sprintf("--nofile=%d:%d", nofile, nofile), bin)
	cmd.Env = append(os.Environ(), "ADDR=127.0.0.1:0", "DATA_DIR="+filepath.Join(dir, "data"), "LOG_LEVEL=warn", "SYNC=false")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid // prlimit execs the runner: same process
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	base, token := readWelcome(t, stdout)
	addr := strings.TrimPrefix(base, "http://")
	rssBefore := procStatus(t, pid, "VmRSS")

	// Every client sends one keep-alive request (401: no token) and holds
	// its connection.
	type outcome struct {
		status int // 0: closed without an answer
		err    error
	}
	conns := make([]net.Conn, clients)
	outcomes := make([]outcome, clients)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				outcomes[i].err = err
				return
			}
			conns[i] = c
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.WriteString(c, "GET /v1/sessions HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
				return // shed and closed before the request went out
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return // closed without an answer: shed beyond the shedders
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			outcomes[i].status = resp.StatusCode
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				outcomes[i].err = errors.New("503 without Retry-After")
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	counts := map[int]int{}
	for i, o := range outcomes {
		if o.err != nil {
			t.Fatalf("client %d: %v", i, o.err)
		}
		counts[o.status]++
	}
	maxConns := nofile - fdReserve - httpx.ShedConns
	if counts[http.StatusUnauthorized] > maxConns || counts[http.StatusUnauthorized] == 0 || counts[http.StatusServiceUnavailable] == 0 {
		t.Fatalf("outcomes by status %v: want at most %d served (401), and some shed (503)", counts, maxConns)
	}

	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) >= nofile {
		t.Fatalf("the runner holds %d descriptors, its limit is %d", len(fds), nofile)
	}
	// Over the cap: /healthz answers (once a shedder is free: right after
	// the flood all may still be busy, and a liveness probe retries), the
	// API sheds with 503 overloaded.
	healthzStart := time.Now()
	healthzTries := 0
	for {
		healthzTries++
		code, body := get(t, base+"/healthz", "")
		if code == 200 && body == "ok\n" {
			break
		}
		if time.Since(healthzStart) > 5*time.Second {
			t.Fatalf("healthz with %d connections held: %d %q", clients, code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	healthzWait := time.Since(healthzStart)
	// The API call, like the probe, may find every shedder busy and be
	// closed without an answer (what a client retries); once a shedder
	// answers, it must be 503 overloaded.
	var code int
	var body string
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if code, body = get(t, base+"/v1/sessions", token); code != 0 || time.Since(start) > 5*time.Second {
			break
		}
	}
	var e httpx.ErrorBody
	if code != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &e) != nil || e.Error.Reason != playback.ReasonOverloaded {
		t.Fatalf("API call with the connections held: %d %q, want 503 overloaded", code, body)
	}
	rssHeld := procStatus(t, pid, "VmRSS")

	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := get(t, base+"/v1/sessions", token)
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not served after the connections closed: %d %q", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(stderr.String(), "too many open files") {
		t.Fatalf("the runner ran out of descriptors:\n%s", stderr.String())
	}
	t.Logf("%d connections against RLIMIT_NOFILE %d: by status %v (0 = closed unanswered); runner held %d fds; RSS %s → %s; "+
		"healthz 200 after %d tries in %s",
		clients, nofile, counts, len(fds), rssBefore, rssHeld, healthzTries, healthzWait)
}

var welcomeRE = regexp.MustCompile(`serving on (http://\S+)|export TOKEN=(\S+)`)

// readWelcome reads the runner's welcome for its address and dev token.
func readWelcome(t *testing.T, stdout io.Reader) (base, token string) {
	t.Helper()
	type result struct{ base, token string }
	got := make(chan result, 1)
	go func() {
		var r result
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			for _, m := range welcomeRE.FindAllStringSubmatch(sc.Text(), -1) {
				if m[1] != "" {
					r.base = m[1]
				}
				if m[2] != "" {
					r.token = m[2]
				}
			}
			if r.base != "" && r.token != "" {
				got <- r
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case r := <-got:
		return r.base, r.token
	case <-time.After(60 * time.Second):
		t.Fatal("no welcome from the runner within 60s")
		return "", ""
	}
}

// get is one request on a fresh connection.
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Close = true
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "?"
}

// syncBuffer is an output sink safe for concurrent writers (a child
// process's stderr copier, the runner's goroutines).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

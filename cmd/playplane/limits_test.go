package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// limitedRun is the runner as main serves it (App.Server: timeouts,
// connection and in-flight caps) on a loopback listener, with env as the
// environment on top of Config's defaults.
type limitedRun struct {
	app  *App
	addr string
}

func startLimited(t *testing.T, env map[string]string) *limitedRun {
	t.Helper()
	var cfg Config
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &cfg, Lookuper: envconfig.MapLookuper(env)}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir, cfg.PublicURL, cfg.Sync = t.TempDir(), "http://"+ln.Addr().String(), false
	app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	srv, limited, err := app.Server(ln)
	if err != nil {
		ln.Close()
		app.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(limited) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
		app.Close()
	})
	return &limitedRun{app: app, addr: ln.Addr().String()}
}

// rawConn is one client connection speaking HTTP/1.1 by hand, so the test
// decides when bytes go out and sees when the server closes.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (r *limitedRun) dial(t *testing.T) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", r.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *rawConn) send(s string) error {
	_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := io.WriteString(c.c, s)
	return err
}

// response reads one response and its body.
func (c *rawConn) response() (*http.Response, string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

func (c *rawConn) get(path, token string) (*http.Response, string, error) {
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	if err := c.send("GET " + path + " HTTP/1.1\r\nHost: test\r\n" + auth + "\r\n"); err != nil {
		return nil, "", err
	}
	return c.response()
}

// closedWithin reports how long until the server closed the connection,
// reading (and discarding) whatever it still sends, or an error if it is
// still open after limit.
func (c *rawConn) closedWithin(limit time.Duration) (time.Duration, error) {
	start := time.Now()
	_ = c.c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 0, fmt.Errorf("still open after %s", limit)
	}
	return time.Since(start), nil // EOF or reset: closed
}

func wantOverloaded(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	var e httpx.ErrorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil || resp.StatusCode != http.StatusServiceUnavailable ||
		e.Error.Code != playback.CodeUnavailable || e.Error.Reason != playback.ReasonOverloaded ||
		resp.Header.Get("Retry-After") != "1" || resp.Header.Get("Content-Type") != "application/json" || e.Error.RequestID == "" {
		t.Fatalf("want 503 overloaded with Retry-After: 1 and a request id, got %d %v %q", resp.StatusCode, resp.Header, body)
	}
}

func TestIdleKeepAliveConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	const idle = time.Second
	// The read timeout is far beyond anything this test waits for: the
	// server falls back to it as the idle timeout, so a server that lost
	// HTTP_IDLE_TIMEOUT must not pass by closing at the default 10 s.
	run := startLimited(t, map[string]string{"HTTP_IDLE_TIMEOUT": idle.String(), "HTTP_READ_TIMEOUT": "1h"})
	const n = 100
	conns := make([]*rawConn, n)
	for i := range conns {
		conns[i] = run.dial(t)
		if resp, body, err := conns[i].get("/healthz", ""); err != nil || resp.StatusCode != 200 || body != "ok\n" {
			t.Fatalf("conn %d: %v %q", i, err, body)
		}
	}
	// A connection in use is kept: the timeout is idleness, not age. On a
	// loaded machine this process may not run for a second, and then even
	// a connection the test means to keep busy was idle that long: a new
	// one tries again. What the client can prove decides: the server's
	// idle clock starts after it has read a request, so a close less than
	// the timeout after the last answered request was sent is never the
	// idle timeout.
	const attempts = 20
	for attempt := 1; !keptBusy(t, run.dial(t), idle); attempt++ {
		if attempt == attempts {
			t.Fatalf("no busy connection of %d outlived the idle timeout: each saw a gap of at least %s", attempts, idle)
		}
	}
	var longest time.Duration
	// However slow the machine, the idle ones were closed long before
	// this deadline, and a server without the idle timeout keeps them
	// open past it (the read timeout is an hour).
	deadline := time.Now().Add(30 * time.Second)
	for i, c := range conns {
		d, err := c.closedWithin(time.Until(deadline))
		if err != nil {
			t.Fatalf("idle conn %d: %v", i, err)
		}
		longest = max(longest, d)
	}
	t.Logf("%d idle keep-alive connections all closed by the server (idle timeout %s), the last %s after a busy one outlived it", n, idle, longest)
}

// keptBusy sends requests on c, one at a time, until one sent more than
// two idle timeouts after the first was answered has been served: the
// connection is by then older than the timeout. It fails the test on a
// close that cannot be the idle timeout, and reports false on one that
// may be (the last answered request was sent at least idle before).
func keptBusy(t *testing.T, c *rawConn, idle time.Duration) bool {
	t.Helper()
	var firstAnswered, lastSent time.Time
	for i := 0; ; i++ {
		sent := time.Now()
		resp, _, err := c.get("/healthz", "")
		switch {
		case err != nil && i == 0:
			t.Fatalf("busy connection, request %d: %v", i, err)
		case err != nil && time.Since(lastSent) < idle:
			t.Fatalf("busy connection, request %d: %v, %s after the last answered request was sent: not idle for the timeout %s",
				i, err, time.Since(lastSent), idle)
		case err != nil:
			t.Logf("busy connection, request %d: %v, %s after the last answered request was sent: may have been idle for the timeout %s; trying another",
				i, err, time.Since(lastSent), idle)
			return false
		case resp.StatusCode != http.StatusOK:
			t.Fatalf("busy connection, request %d: status %d", i, resp.StatusCode)
		case i == 0:
			firstAnswered = time.Now()
		case sent.Sub(firstAnswered) > 2*idle:
			return true
		}
		lastSent = sent
		time.Sleep(idle / 20)
	}
}

func TestTrickledBodyIsCut(t *testing.T) {
	t.Parallel()
	run := startLimited(t, map[string]string{"HTTP_READ_HEADER_TIMEOUT": "200ms", "HTTP_READ_TIMEOUT": "500ms"})
	tok, err := run.app.DevToken(demo.AccountSolo, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"title_id":"big-buck-bunny","device_id":"trickle-tv"}` + strings.Repeat(" ", 2000)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		c := run.dial(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.send(fmt.Sprintf("POST /v1/play HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n"+
				"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", tok, len(body))); err != nil {
				errs <- err
				return
			}
			// One byte every 50 ms: the whole body would take 100 s.
			stop := make(chan struct{})
			go func() {
				for j := 0; j < len(body); j++ {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
					if c.send(body[j:j+1]) != nil {
						return
					}
				}
			}()
			_, err := c.closedWithin(10 * time.Second)
			close(stop)
			if err != nil {
				errs <- fmt.Errorf("trickle %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Nothing was admitted from a body that never arrived.
	sessions, err := run.app.store.ListActiveSessions(context.Background(), demo.AccountSolo, time.Now())
	if err != nil || len(sessions) != 0 {
		t.Fatalf("sessions of %s: %+v, %v", demo.AccountSolo, sessions, err)
	}
	t.Logf("%d trickled bodies all cut by the server (read timeout 500ms)", n)
}

func TestConnectionCapShedsWith503AndRecovers(t *testing.T) {
	t.Parallel()
	const maxConns = 16
	run := startLimited(t, map[string]string{"HTTP_MAX_CONNS": fmt.Sprint(maxConns)})
	tok, err := run.app.DevToken(demo.AccountFamily, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	held := make([]*rawConn, maxConns)
	for i := range held {
		held[i] = run.dial(t)
		if resp, _, err := held[i].get("/v1/sessions", tok); err != nil || resp.StatusCode != 200 {
			t.Fatalf("conn %d within the cap: %v", i, err)
		}
	}
	for _, tc := range []struct {
		name string
		path string
	}{
		{"api request over the cap", "/v1/sessions"},
		{"unknown path over the cap", "/nope"},
		{"another api request over the cap", "/v1/sessions"},
	} {
		resp, body, err := run.dial(t).get(tc.path, tok)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		wantOverloaded(t, resp, body)
	}
	if resp, body, err := run.dial(t).get("/healthz", ""); err != nil || resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("healthz over the cap: %v %q", err, body)
	}
	// The held connections still work, and once they go, new ones are
	// served again.
	if resp, _, err := held[0].get("/v1/sessions", tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("held connection: %v", err)
	}
	for _, c := range held {
		c.c.Close()
	}
	run.waitServed(t, tok, "the held connections closed")
}

func TestInFlightCapSheds503ButNotHealthz(t *testing.T) {
	t.Parallel()
	run := startLimited(t, map[string]string{"HTTP_MAX_IN_FLIGHT": "2"})
	tok, err := run.app.DevToken(demo.AccountFamily, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Two plays whose handlers are reading their bodies: the server
	// answers 100 Continue when the handler first reads.
	body := `{"title_id":"big-buck-bunny","device_id":"tv-%d"}`
	waiting := make([]*rawConn, 2)
	for i := range waiting {
		b := fmt.Sprintf(body, i)
		c := run.dial(t)
		if err := c.send(fmt.Sprintf("POST /v1/play HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", tok, len(b))); err != nil {
			t.Fatal(err)
		}
		_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if line, err := c.br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("want 100 Continue, got %q %v", line, err)
		}
		if _, err := c.br.ReadString('\n'); err != nil { // the blank line
			t.Fatal(err)
		}
		waiting[i] = c
	}
	resp, rbody, err := run.dial(t).get("/v1/sessions", tok)
	if err != nil {
		t.Fatal(err)
	}
	wantOverloaded(t, resp, rbody)
	if resp.Header.Get("X-Request-Id") == "" {
		t.Fatal("refusal without X-Request-Id: it bypassed the middleware")
	}
	if resp, body, err := run.dial(t).get("/healthz", ""); err != nil || resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("healthz at the in-flight cap: %v %q", err, body)
	}
	for i, c := range waiting {
		if err := c.send(fmt.Sprintf(body, i)); err != nil {
			t.Fatal(err)
		}
		if resp, body, err := c.response(); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("play %d: %v %q", i, err, body)
		}
	}
	// A handler leaves the count just after its answer is out: poll.
	run.waitServed(t, tok, "the plays finished")
}

func TestLimitsConfig(t *testing.T) {
	t.Parallel()
	nofile, known := openFileLimit()
	if !known {
		t.Skip("no RLIMIT_NOFILE here")
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    int // MaxConns
		wantErr bool
	}{
		{"default fits the file limit", nil, min(defaultMaxConns, int(nofile)-fdReserve-httpx.ShedConns), false},
		{"explicit cap", map[string]string{"HTTP_MAX_CONNS": "100"}, 100, false},
		{"cap above the file limit", map[string]string{"HTTP_MAX_CONNS": fmt.Sprint(nofile)}, 0, true},
		{"zero timeout", map[string]string{"HTTP_IDLE_TIMEOUT": "0s"}, 0, true},
		{"zero in-flight", map[string]string{"HTTP_MAX_IN_FLIGHT": "0"}, 0, true},
		{"sub-second retry", map[string]string{"HTTP_RETRY_AFTER": "500ms"}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cfg Config
			if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &cfg, Lookuper: envconfig.MapLookuper(tc.env)}); err != nil {
				t.Fatal(err)
			}
			l, err := cfg.limits()
			if (err != nil) != tc.wantErr || !tc.wantErr && l.MaxConns != tc.want {
				t.Fatalf("limits %+v, %v; want MaxConns %d, error %v", l, err, tc.want, tc.wantErr)
			}
		})
	}
}

// waitServed polls until an authenticated request is served again, for up
// to 10 s after what freed the server.
func (r *limitedRun) waitServed(t *testing.T, tok, after string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _, err := r.dial(t).get("/v1/sessions", tok)
		if err == nil && resp.StatusCode == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not served after %s: %v", after, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShedAnswersCarryTheCORSHeaders: the answer to a connection over
// HTTP_MAX_CONNS, which the shedder writes without the server's handler,
// carries the CORS headers the handler gives the same request, so that a
// page of another origin reads the 503 and its Retry-After instead of the
// network error a browser makes of an answer without
// Access-Control-Allow-Origin; and a preflight is answered 204 as the
// handler does, since a browser fails a preflight answered 503 and never
// sends the request.
func TestShedAnswersCarryTheCORSHeaders(t *testing.T) {
	t.Parallel()
	const page = "http://localhost:5173" // allowed by the runner's default CORS_ALLOWED_ORIGINS
	tests := []struct {
		name, method, path, origin, preflight string
		readable                              bool // the page may read the answer
	}{
		{name: "allowed origin", method: http.MethodGet, path: "/v1/sessions", origin: page, readable: true},
		{name: "allowed origin, no route", method: http.MethodGet, path: "/v1/nope", origin: page, readable: true},
		{name: "other origin", method: http.MethodGet, path: "/v1/sessions", origin: "https://evil.example"},
		{name: "no origin", method: http.MethodGet, path: "/v1/sessions"},
		{name: "server-to-server route", method: http.MethodPost, path: "/v1/webhooks/stripe", origin: page},
		{name: "preflight", method: http.MethodOptions, path: "/v1/play", origin: page, preflight: http.MethodPost, readable: true},
		{name: "preflight from another origin", method: http.MethodOptions, path: "/v1/play", origin: "https://evil.example", preflight: http.MethodPost},
		{name: "preflight, no route", method: http.MethodOptions, path: "/v1/nope", origin: page, preflight: http.MethodPost},
		{name: "preflight, server-to-server route", method: http.MethodOptions, path: "/v1/webhooks/stripe", origin: page, preflight: http.MethodPost},
	}
	corsHeaders := []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
		"Access-Control-Max-Age", "Access-Control-Expose-Headers", "Vary"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const maxConns = 2
			run := startLimited(t, map[string]string{"HTTP_MAX_CONNS": fmt.Sprint(maxConns)})
			tok, err := run.app.DevToken(demo.AccountFamily, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			request := func(c *rawConn) (*http.Response, string) {
				t.Helper()
				head := tc.method + " " + tc.path + " HTTP/1.1\r\nHost: test\r\n"
				if tc.origin != "" {
					head += "Origin: " + tc.origin + "\r\n"
				}
				if tc.preflight != "" {
					head += "Access-Control-Request-Method: " + tc.preflight + "\r\nAccess-Control-Request-Headers: authorization,content-type\r\n"
				} else {
					head += "Authorization: Bearer " + tok + "\r\nContent-Length: 0\r\n"
				}
				if err := c.send(head + "\r\n"); err != nil {
					t.Fatal(err)
				}
				resp, body, err := c.response()
				if err != nil {
					t.Fatal(err)
				}
				return resp, body
			}
			held := make([]*rawConn, maxConns)
			var served *http.Response
			for i := range held {
				held[i] = run.dial(t)
				served, _ = request(held[i])
			}
			shed, body := request(run.dial(t))
			if served.StatusCode == http.StatusNoContent {
				if shed.StatusCode != http.StatusNoContent {
					t.Fatalf("shed preflight: %d %v %q; the server answers it 204", shed.StatusCode, shed.Header, body)
				}
			} else {
				wantOverloaded(t, shed, body)
			}
			for _, name := range corsHeaders {
				if got, want := shed.Header.Values(name), served.Header.Values(name); !slices.Equal(got, want) {
					t.Errorf("shed %d %s: %q; the served %d answer has %q", shed.StatusCode, name, got, served.StatusCode, want)
				}
			}
			acao := shed.Header.Get("Access-Control-Allow-Origin")
			readable := shed.StatusCode == http.StatusNoContent && acao == tc.origin ||
				acao == tc.origin && strings.Contains(shed.Header.Get("Access-Control-Expose-Headers"), "Retry-After")
			if readable != tc.readable {
				t.Errorf("shed %d readable by %q: %v, want %v (%v)", shed.StatusCode, tc.origin, readable, tc.readable, shed.Header)
			}
		})
	}
}

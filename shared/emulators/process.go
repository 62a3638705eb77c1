package emulators

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	defaultStartTimeout = 2 * time.Minute
	// A freshly picked free port can be taken by someone else before the
	// server binds it; the server then exits and gets another port.
	launchAttempts = 3
	stopGrace      = 5 * time.Second
	logTailBytes   = 16 << 10
)

// process is one server started by start.sh, which exec's the server, so
// cmd.Process is the server itself. It leads its own process group.
type process struct {
	name   string
	cmd    *exec.Cmd
	output *tailBuffer

	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error         // written before exited is closed

	stopOnce sync.Once
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop ends the server's process group: SIGTERM, then SIGKILL after a grace
// period. It only ever signals the group this package created.
func (p *process) stop() {
	p.stopOnce.Do(func() {
		if p.hasExited() {
			return
		}
		_ = signalGroup(p.cmd.Process, terminateSignal)
		select {
		case <-p.exited:
		case <-time.After(stopGrace):
			_ = signalGroup(p.cmd.Process, killSignal)
			<-p.exited
		}
	})
}

// launch starts the named server on a free loopback port and waits until it
// answers.
func launch(ctx context.Context, root, name string) (*process, string, error) {
	timeout := envDuration("PLAYPLANE_EMULATOR_START_TIMEOUT", defaultStartTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var lastErr error
	for attempt := 1; attempt <= launchAttempts; attempt++ {
		port, err := freeLoopbackPort()
		if err != nil {
			return nil, "", fmt.Errorf("emulators.Start %s: %w", name, err)
		}
		p, err := spawn(root, name, port)
		if err != nil {
			return nil, "", fmt.Errorf("emulators.Start %s: %w", name, err)
		}
		endpoint := endpointFor(name, port)
		started := time.Now()
		err = waitReady(ctx, p, name, port, endpoint)
		if err == nil {
			return p, endpoint, nil
		}
		p.stop()
		lastErr = fmt.Errorf("emulators.Start %s on 127.0.0.1:%d: not ready after %s: %w%s",
			name, port, time.Since(started).Round(time.Millisecond), err, p.outputSection())
		if !errors.Is(err, errExitedEarly) || ctx.Err() != nil {
			break
		}
	}
	return nil, "", lastErr
}

func endpointFor(name string, port int) string {
	hostPort := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	switch name {
	case FirestoreService, PubSubService:
		return hostPort
	default:
		return "http://" + hostPort
	}
}

func spawn(root, name string, port int) (*process, error) {
	script := filepath.Join(root, "infra", "local", "start.sh")
	cmd := exec.Command("bash", script, name, strconv.Itoa(port))
	cmd.Dir = root
	output := &tailBuffer{max: logTailBytes}
	var sink io.Writer = output
	if os.Getenv("PLAYPLANE_EMULATOR_LOGS") == "1" {
		sink = io.MultiWriter(output, prefixWriter{prefix: name + ": ", w: os.Stderr})
	}
	cmd.Stdout = sink
	cmd.Stderr = sink
	// A grandchild holding the output pipe must not block Wait forever.
	cmd.WaitDelay = stopGrace
	cmd.SysProcAttr = serverProcAttr()
	if err := startInOwnGroup(cmd); err != nil {
		return nil, fmt.Errorf("running %s: %w", script, err)
	}
	p := &process{name: name, cmd: cmd, output: output, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) outputSection() string {
	out := strings.TrimSpace(p.output.String())
	if out == "" {
		return " (the server wrote no output)"
	}
	return "\n--- " + p.name + " server output (tail) ---\n" + out + "\n---"
}

var errExitedEarly = errors.New("server exited")

// waitReady polls until the server accepts TCP connections and, where the
// port opens before the API works, until the API answers.
func waitReady(ctx context.Context, p *process, name string, port int, endpoint string) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	probe := func(ctx context.Context) error {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		conn.Close()
		switch name {
		case DynamoDBService:
			return probeDynamoDB(ctx, endpoint)
		case StripeService:
			if err := probeStripeMock(ctx, endpoint); err != nil {
				return err
			}
			if !strings.Contains(p.output.String(), stripeMockListening(port)) {
				return fmt.Errorf("%s answers as stripe-mock, but ours has not said it listens there", endpoint)
			}
		}
		return nil
	}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		probeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		lastErr = probe(probeCtx)
		cancel()
		if lastErr == nil {
			// The port may belong to someone else if our server died binding it.
			if p.hasExited() {
				return fmt.Errorf("%w: %v", errExitedEarly, p.waitErr)
			}
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%w: %v", errExitedEarly, p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w (last probe: %v)", ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it: enough of a server's
// output to explain why it did not start.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

type prefixWriter struct {
	prefix string
	w      io.Writer
}

func (pw prefixWriter) Write(p []byte) (int, error) {
	lines := strings.SplitAfter(string(p), "\n")
	var sb strings.Builder
	for _, line := range lines {
		if line != "" {
			sb.WriteString(pw.prefix)
			sb.WriteString(line)
		}
	}
	if _, err := io.WriteString(pw.w, sb.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

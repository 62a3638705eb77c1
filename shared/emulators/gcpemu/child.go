package gcpemu

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// envChild, set to "1" in a test binary's environment, makes it serve
// the Pub/Sub fake instead of running its tests (PubSubProcess).
const envChild = "PLAYPLANE_GCPEMU_PUBSUB_CHILD"

// The child's protocol on its stdin and stdout, one line each.
const (
	childClear = "clear"
	childOK    = "ok"
)

// A test binary started by PubSubProcess serves the fake and never runs
// its tests: it is in this package's init so that no test binary needs a
// hook of its own.
func init() {
	if os.Getenv(envChild) == "1" {
		os.Exit(serveChild())
	}
}

// serveChild serves the fake on loopback, prints its address, clears its
// messages on each "clear" read from stdin, and returns when stdin closes
// (the parent ended or went away).
func serveChild() int {
	srv, err := newPubSubServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	fmt.Println(srv.Addr)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == childClear {
			srv.ClearMessages()
			fmt.Println(childOK)
		}
	}
	return 0
}

// PubSubChild is a Pub/Sub fake served by a child process.
type PubSubChild struct {
	// Addr is its host:port (see PubSubClientOptions).
	Addr string
	cmd  *exec.Cmd
	in   *os.File
	out  *bufio.Scanner
}

// PubSubProcess serves a Pub/Sub fake of this test's own in a child
// process (this test binary, re-run), stopped when the test ends. A
// benchmark that reads its own process's CPU time (otlptest.Overhead) needs
// the fake outside it: in the process, the fake's work on each publish
// would count as the function's, as Pub/Sub's own does not.
func PubSubProcess(t testing.TB) *PubSubChild {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envChild+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	c := &PubSubChild{cmd: cmd, in: inW, out: bufio.NewScanner(outR)}
	t.Cleanup(func() { c.stop(t) })
	if !c.out.Scan() {
		t.Fatalf("gcpemu: the Pub/Sub fake's process printed no address: %v", c.out.Err())
	}
	c.Addr = strings.TrimSpace(c.out.Text())
	return c
}

// Clear drops every message the fake holds (pstest keeps each one
// published), and returns once it has.
func (c *PubSubChild) Clear(t testing.TB) {
	t.Helper()
	if _, err := fmt.Fprintln(c.in, childClear); err != nil {
		t.Fatal(err)
	}
	if !c.out.Scan() || c.out.Text() != childOK {
		t.Fatalf("gcpemu: the Pub/Sub fake's process did not clear: %q %v", c.out.Text(), c.out.Err())
	}
}

// stop closes the child's stdin, which ends it, and kills it by its PID if
// it has not ended within 5 s.
func (c *PubSubChild) stop(t testing.TB) {
	c.in.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Logf("gcpemu: the Pub/Sub fake's process: %v", err)
		}
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

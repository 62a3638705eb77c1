package emulators

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/emulators/internal/dialtest"
)

// The lifecycle tests watch the process-wide registry, so they do not run in
// parallel with each other or with the tests that share the same servers
// (parallel tests only start once these sequential ones have finished).

func TestSharedServerStopsWithLastShare(t *testing.T) {
	ctx := t.Context()
	first, err := acquire(ctx, StripeService)
	if err != nil {
		t.Fatal(err)
	}
	second, err := acquire(ctx, StripeService)
	if err != nil {
		first.release(0)
		t.Fatal(err)
	}
	proc := first.server.proc
	if second.endpoint != first.endpoint || second.server.proc != proc {
		t.Fatalf("second share got %s, want the running server %s", second.endpoint, first.endpoint)
	}
	if runtime.GOOS == "linux" {
		// start.sh must exec the server: the PID we hold is stripe-mock itself.
		comm, err := os.ReadFile("/proc/" + strconv.Itoa(proc.cmd.Process.Pid) + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "stripe-mock" {
			t.Errorf("started process is %q (%v), want stripe-mock", comm, err)
		}
	}

	first.release(0)
	if proc.hasExited() || !answers(first.endpoint) {
		t.Fatal("server stopped while a share was still held")
	}
	second.release(0)
	second.release(0) // releasing twice must not steal another caller's share
	if !proc.hasExited() {
		t.Fatal("server still running after its last share was released")
	}
	if answers(first.endpoint) {
		t.Fatalf("%s still answers after stop", first.endpoint)
	}
}

func TestLingeringServerIsReusedThenStopped(t *testing.T) {
	ctx := t.Context()
	first, err := acquire(ctx, StripeService)
	if err != nil {
		t.Fatal(err)
	}
	proc := first.server.proc
	first.release(time.Minute)

	again, err := acquire(ctx, StripeService)
	if err != nil {
		t.Fatal(err)
	}
	if again.server.proc != proc || proc.hasExited() {
		t.Fatal("an acquire within the linger period started a new server")
	}
	again.release(50 * time.Millisecond)
	select {
	case <-proc.exited:
	case <-time.After(stopGrace + 5*time.Second):
		t.Fatal("server still running long after its linger period")
	}
}

func TestStartRejectsUnknownService(t *testing.T) {
	t.Parallel()
	_, _, err := Start(t.Context(), "cassandra")
	if !errors.Is(err, ErrUnknownService) {
		t.Fatalf("Start(cassandra): err = %v, want ErrUnknownService", err)
	}
}

// The Pub/Sub fake is in-process and lives in gcpemu; Start says so
// rather than linking pstest into every test binary that starts a server.
func TestStartSendsPubSubToGCPEmu(t *testing.T) {
	t.Parallel()
	_, _, err := Start(t.Context(), PubSubService)
	if !errors.Is(err, ErrUnknownService) || !strings.Contains(err.Error(), "gcpemu.Start") {
		t.Fatalf("Start(pubsub): err = %v, want ErrUnknownService naming gcpemu.Start", err)
	}
}

// fakeRoot builds a repository root whose scripts are the given bodies.
func fakeRoot(t *testing.T, installBody, startBody string) string {
	t.Helper()
	root := t.TempDir()
	local := filepath.Join(root, "infra", "local")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		filepath.Join(root, "go.mod"):      "module example.com/fake\n",
		filepath.Join(local, "install.sh"): "#!/usr/bin/env bash\n" + installBody + "\n",
		filepath.Join(local, "start.sh"):   "#!/usr/bin/env bash\n" + startBody + "\n",
	}
	for path, body := range files {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestInstallFailureCarriesScriptOutput(t *testing.T) {
	t.Parallel()
	root := fakeRoot(t, `echo "java not found: DynamoDB Local needs Java" >&2; exit 1`, `exit 1`)
	err := runInstall(t.Context(), root, DynamoDBService)
	if err == nil || !strings.Contains(err.Error(), "java not found") {
		t.Fatalf("runInstall: err = %v, want the script's message", err)
	}
}

func TestLaunchReportsServerThatExits(t *testing.T) {
	t.Parallel()
	root := fakeRoot(t, `exit 0`, `echo "listen EADDRINUSE on $2" >&2; exit 3`)
	proc, _, err := launch(t.Context(), root, SQSService)
	if err == nil {
		proc.stop()
		t.Fatal("launch succeeded with a server that exits at once")
	}
	if !errors.Is(err, errExitedEarly) || !strings.Contains(err.Error(), "EADDRINUSE") {
		t.Fatalf("launch: err = %v, want errExitedEarly with the server's output", err)
	}
}

func TestLaunchGivesUpOnServerThatNeverAnswers(t *testing.T) {
	t.Parallel()
	root := fakeRoot(t, `exit 0`, `exec sleep 60`)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	proc, _, err := launch(ctx, root, StripeService)
	if err == nil {
		proc.stop()
		t.Fatal("launch succeeded with a server that never listens")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("launch: err = %v, want DeadlineExceeded", err)
	}
}

func TestWaitPortScript(t *testing.T) {
	t.Parallel()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() }) // the parallel subtests run after this function returns
	open := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	closed, err := freeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{name: "listening port", args: []string{open, "5"}},
		{name: "listening host:port", args: []string{"127.0.0.1:" + open, "5"}},
		{name: "closed port times out", args: []string{strconv.Itoa(closed), "1"}, wantErr: true},
		{name: "dead pid ends the wait", args: []string{strconv.Itoa(closed), "60", "999999999"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), "bash", append([]string{filepath.Join(root, "infra", "local", "wait-port.sh")}, tc.args...)...)
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.wantErr {
				t.Fatalf("wait-port.sh %v: err = %v, want error %v; output %s", tc.args, err, tc.wantErr, out)
			}
		})
	}
}

func TestScriptsRejectUnknownService(t *testing.T) {
	t.Parallel()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{name: "install", args: []string{"install.sh", "cassandra"}},
		{name: "start", args: []string{"start.sh", "cassandra", "1234"}},
		{name: "start bad port", args: []string{"start.sh", "sqs", "http"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{filepath.Join(root, "infra", "local", tc.args[0])}, tc.args[1:]...)
			out, err := exec.CommandContext(t.Context(), "bash", args...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "playplane-local:") {
				t.Fatalf("%v: err = %v, output %q; want a failure with a playplane-local message", tc.args, err, out)
			}
		})
	}
}

func answers(endpoint string) bool {
	return dialtest.Dials(strings.TrimPrefix(endpoint, "http://"))
}

// with-emulators.sh hands its command a server that answers as the
// service, stops it by its PID when the command ends, and exits with the
// command's status. A server that exits before it answers (a bind error:
// its port became some connection's meanwhile) is started again on another
// port; one that never starts leaves its variable unset, with its output's
// tail on stderr, and the command still runs.
func TestWithEmulatorsScript(t *testing.T) {
	t.Parallel()
	root := rootWithStripeMock(t)
	const bindError = "error listening at address: listen tcp: bind: address already in use"
	failing := func(times int) string {
		return `n=$(cat "$0.count" 2>/dev/null || echo 0); echo $((n + 1)) >"$0.count"
if [ ` + strconv.Itoa(times) + ` -lt 0 ] || [ "$n" -lt ` + strconv.Itoa(times) + ` ]; then
	echo "` + bindError + `" >&2
	exit 1
fi
exec bash ` + realStartScript(root) + ` "$@"`
	}
	stranger := strangerStripeMockFirst(t, root)
	tests := []struct {
		name       string
		start      string
		wantServer bool
		wantStderr []string
		// notPort is a port the command must not be handed.
		notPort func(t *testing.T) string
	}{
		{name: "first start answers", start: failing(0), wantServer: true},
		{name: "bind error once", start: failing(1), wantServer: true, wantStderr: []string{"stripe exited before it answered", bindError, "starting it again"}},
		{name: "bind error every time", start: failing(-1), wantStderr: []string{"stripe did not start", "the tests start their own", bindError}},
		{name: "another stripe-mock took the port", start: stranger.script, wantServer: true, wantStderr: []string{"stripe exited before it answered", "bind: address already in use", "starting it again"}, notPort: stranger.port},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, stderr := runWithEmulatorsScript(t, root, tc.start)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			endpoint, answered := strings.CutPrefix(lines[0], "answered ")
			if answered != tc.wantServer || (answered && !strings.HasPrefix(endpoint, "http://127.0.0.1:")) {
				t.Fatalf("the command's stripe-mock: %q, want one: %v; stderr:\n%s", out, tc.wantServer, stderr)
			}
			if tc.notPort != nil && strings.HasSuffix(endpoint, ":"+tc.notPort(t)) {
				t.Fatalf("the command was handed %s, the other stripe-mock's; stderr:\n%s", endpoint, stderr)
			}
			if len(lines) != 2 || lines[1] != "dynamodb=unset" {
				t.Errorf("a service not asked for was started or handed on: %q", out)
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if answered && dialtest.AcceptedEvery(strings.TrimPrefix(endpoint, "http://"), 3) {
				t.Errorf("%s still answers after the command ended", endpoint)
			}
		})
	}
}

// runWithEmulatorsScript runs with-emulators.sh for stripe alone, from a
// copy of infra/local whose start.sh is startBody (fakeRoot). Its command
// probes the server the way the test helpers' users would, prints the
// endpoint and exits 3, which must be the script's status.
func runWithEmulatorsScript(t *testing.T, root, startBody string) (stdout, stderr string) {
	t.Helper()
	dir := filepath.Join(fakeRoot(t, "exit 0", startBody), "infra", "local")
	for _, name := range []string{"with-emulators.sh", "wait-port.sh"} {
		body, err := os.ReadFile(filepath.Join(root, "infra", "local", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	probe := `probe="$(curl -s -D - -o /dev/null "$PLAYPLANE_EMULATOR_STRIPE/")"; ` +
		`case "$probe" in *[Ss]tripe-[Mm]ock-[Vv]ersion*) echo "answered $PLAYPLANE_EMULATOR_STRIPE";; *) echo "no answer: $probe";; esac; ` +
		`echo "dynamodb=${PLAYPLANE_EMULATOR_DYNAMODB:-unset}"; exit 3`
	cmd := exec.CommandContext(t.Context(), "bash", filepath.Join(dir, "with-emulators.sh"), "bash", "-c", probe)
	cmd.Env = append(os.Environ(), "PLAYPLANE_SHARED_EMULATORS=stripe", "PLAYPLANE_EMULATOR_DYNAMODB=", "PLAYPLANE_EMULATOR_STRIPE=")
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("with-emulators.sh: err = %v, want the command's exit status 3; output %s; stderr:\n%s", err, out, errOut.String())
	}
	return string(out), errOut.String()
}

// rootWithStripeMock is the repository's root, with stripe-mock installed.
func rootWithStripeMock(t *testing.T) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := install(t.Context(), root, StripeService); err != nil {
		t.Fatal(err)
	}
	return root
}

// realStartScript is infra/local/start.sh's path, quoted for a fake
// start.sh that hands over to it.
func realStartScript(root string) string {
	return strconv.Quote(filepath.Join(root, "infra", "local", "start.sh"))
}

type strangerStart struct {
	script string
	// port is the one the stranger was given, once it was.
	port func(t *testing.T) string
}

// strangerStripeMockFirst is a start.sh whose first run lets another
// stripe-mock (a real one, as another test's would be) take the port it
// was given, waits while that one answers, then exits as ours would on
// the bind error; later runs are the real start.sh. The stranger is
// stopped by its PID when the test ends.
func strangerStripeMockFirst(t *testing.T, root string) strangerStart {
	t.Helper()
	dir := t.TempDir()
	pidFile, portFile := filepath.Join(dir, "stranger.pid"), filepath.Join(dir, "stranger.port")
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				if stranger, err := os.FindProcess(pid); err == nil {
					_ = stranger.Kill()
				}
			}
		}
	})
	start := realStartScript(root)
	script := `if [ ! -e ` + strconv.Quote(pidFile) + ` ]; then
	bash ` + start + ` "$1" "$2" >/dev/null 2>&1 &
	echo $! >` + strconv.Quote(pidFile) + `
	echo "$2" >` + strconv.Quote(portFile) + `
	for _ in $(seq 600); do
		if curl -s -o /dev/null -D - "http://127.0.0.1:$2/" | grep -qi '^stripe-mock-version:'; then
			sleep 1
			echo "error listening at address: listen tcp 127.0.0.1:$2: bind: address already in use" >&2
			exit 1
		fi
		sleep 0.05
	done
	echo "the other stripe-mock never answered" >&2
	exit 1
fi
exec bash ` + start + ` "$@"`
	return strangerStart{script: script, port: func(t *testing.T) string {
		t.Helper()
		b, err := os.ReadFile(portFile)
		if err != nil {
			t.Fatalf("the stranger was never started: %v", err)
		}
		return strings.TrimSpace(string(b))
	}}
}

// launch does not take another stripe-mock on its port for its own: one
// that a test started on a port the kernel gave it too answers with the
// same header.
func TestLaunchKnowsAStrangerStripeMock(t *testing.T) {
	t.Parallel()
	root := rootWithStripeMock(t)
	stranger := strangerStripeMockFirst(t, root)
	proc, endpoint, err := launch(t.Context(), fakeRoot(t, "exit 0", stranger.script), StripeService)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.stop)
	strangerEndpoint := "http://127.0.0.1:" + stranger.port(t)
	if endpoint == strangerEndpoint {
		t.Fatalf("launch handed out %s, the other stripe-mock's", endpoint)
	}
	for _, e := range []string{endpoint, strangerEndpoint} {
		if err := probeStripeMock(t.Context(), e); err != nil {
			t.Fatalf("both stripe-mocks should answer: %v", err)
		}
	}
}

// Two stripe-mocks run at once on one machine (make unit's shared one and
// a test binary's own): each binds only the ports it is given or the
// kernel picks, none a fixed default such as its HTTPS port 12112.
func TestTwoStripeMocksAtOnce(t *testing.T) {
	t.Parallel()
	root := rootWithStripeMock(t)
	for i := range 2 {
		proc, endpoint, err := launch(t.Context(), root, StripeService)
		if err != nil {
			t.Fatalf("stripe-mock %d: %v", i+1, err)
		}
		t.Cleanup(proc.stop)
		if err := probeStripeMock(t.Context(), endpoint); err != nil {
			t.Fatalf("stripe-mock %d: %v", i+1, err)
		}
	}
}

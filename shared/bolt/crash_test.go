package bolt_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// crashChildEnv names the store file when the test binary runs as the
// writer child of TestAcknowledgedWritesSurviveKill.
const crashChildEnv = "PLAYPLANE_BOLT_CRASH_CHILD"

// TestAcknowledgedWritesSurviveKill runs concurrent writers in a child
// process that prints each write after the store acknowledged it, kills
// the child with SIGKILL mid-load, reopens the file and looks for every
// printed write. Leases run into the stream limit a third of the time, so
// refused calls share group transactions with acknowledged ones; after the
// kill no account holds more active leases than the limit.
func TestAcknowledgedWritesSurviveKill(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "playplane.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcknowledgedWritesSurviveKill$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if err != nil { // a line without its newline was not printed whole
				return
			}
			lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	var acked []string
	deadline := time.After(5 * time.Second)
	killed := false
	for !killed {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("child exited before the kill after %d acks: %v", len(acked), cmd.Wait())
			}
			acked = append(acked, l)
			killed = len(acked) >= 400 && kill(t, cmd)
		case <-deadline:
			killed = kill(t, cmd)
		}
	}
	for l := range lines { // printed before the kill, still in the pipe
		acked = append(acked, l)
	}
	_ = cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("the child acknowledged no write before the kill")
	}

	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	counts := map[string]int{}
	for _, l := range acked {
		f := strings.Fields(l)
		counts[f[0]]++
		var err error
		switch f[0] {
		case "plan":
			_, err = s.GetPlan(ctx, f[1])
		case "lease":
			_, err = s.GetSession(ctx, f[1])
		case "device":
			var a playback.Account
			if a, err = s.GetAccount(ctx, f[1]); err == nil && !a.HasDevice(f[2]) {
				err = fmt.Errorf("device missing")
			}
		default:
			t.Fatalf("child printed %q", l)
		}
		if err != nil {
			t.Errorf("acknowledged %q lost after kill -9: %v", l, err)
		}
	}
	// The stream limit held in every group transaction that reached the
	// disk: no account has more active leases than the child's limit.
	for w := range crashWriters {
		acct := fmt.Sprintf("acct-%d", w)
		active, err := s.ListActiveSessions(ctx, acct, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(active) > crashLimit {
			t.Errorf("%s has %d active leases after kill -9, limit %d", acct, len(active), crashLimit)
		}
	}
	t.Logf("%d acknowledged writes survived kill -9 (%v)", len(acked), counts)
}

// The child's writers and its stream limit per account.
const crashWriters, crashLimit = 16, 2

func kill(t *testing.T, cmd *exec.Cmd) bool {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL to the child's PID
		t.Fatal(err)
	}
	return true
}

// crashChild writes until it is killed: 16 writers, each cycling through
// a plan put, an account update and a lease on one of three devices
// against a limit of two. It prints a write only after the store returned.
func crashChild(path string) {
	s, err := bolt.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		// One write per line: a pipe write this small is atomic.
		if _, err := io.WriteString(os.Stdout, fmt.Sprintf(format+"\n", args...)); err != nil {
			os.Exit(3)
		}
	}
	var wg sync.WaitGroup
	for w := range crashWriters {
		acct := fmt.Sprintf("acct-%d", w)
		if err := s.PutAccount(ctx, playback.Account{ID: acct, PlanID: "standard", Status: playback.StatusActive}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		wg.Go(func() {
			for n := 0; ; n++ {
				var err error
				switch id := fmt.Sprintf("w%d-%d", w, n); n % 3 {
				case 0:
					if err = s.PutPlan(ctx, playback.Plan{ID: id, MaxStreams: 1}); err == nil {
						ack("plan %s", id)
					}
				case 1:
					_, err = s.UpdateAccount(ctx, acct, func(a *playback.Account) error {
						a.Devices = append(a.Devices, playback.Device{ID: id})
						return nil
					})
					if err == nil {
						ack("device %s %s", acct, id)
					}
				case 2:
					_, err = s.AcquireLease(ctx, playback.LeaseRequest{SessionID: id, AccountID: acct,
						DeviceID: fmt.Sprintf("dev-%d", n%9/3), TitleID: "t", Limit: crashLimit, TTL: time.Hour, Now: time.Now()})
					switch {
					case err == nil:
						ack("lease %s", id)
					case playback.IsCode(err, playback.CodeConflict):
						err = nil
					}
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(4)
				}
			}
		})
	}
	wg.Wait()
}

package walbus_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/walbus"
)

const killChild = "PLAYPLANE_WALBUS_KILL_CHILD"

// TestKilledPublisherLosesNoAcknowledgedMessage starts a child process
// that publishes in a loop from several goroutines on the journaled bus
// and consumes as it goes, printing each message id once Publish returned
// for it and writing each id its handler got to a file before the handler
// returns. The test kills it with SIGKILL by its PID mid-stream, opens the
// journal on the bus again and consumes what it redelivers: every id the
// child printed must have been consumed in one run or the other.
func TestKilledPublisherLosesNoAcknowledgedMessage(t *testing.T) {
	if dir := os.Getenv(killChild); dir != "" {
		killChildMain(t, dir)
		return
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledPublisherLosesNoAcknowledgedMessage$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChild+"="+dir)
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	killed := false
	defer func() {
		if !killed {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			_ = cmd.Wait()
		}
	}()
	const killAfter = 400
	var acknowledged []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "published ")
		if !ok {
			continue
		}
		acknowledged = append(acknowledged, id)
		if len(acknowledged) == killAfter && !killed {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !killed || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		log, _ := os.ReadFile(stderr.Name())
		t.Fatalf("child ended with %v after %d acknowledged publishes, want killed after %d:\n%s", err, len(acknowledged), killAfter, log)
	}

	consumed := map[string]bool{}
	raw, err := os.ReadFile(filepath.Join(dir, "consumed"))
	if err != nil {
		t.Fatal(err)
	}
	before := 0
	for id := range strings.FieldsSeq(string(raw)) {
		consumed[id] = true
		before++
	}
	j, err := walbus.Open(filepath.Join(dir, "bus.wal"))
	if err != nil {
		t.Fatalf("Open after the kill: %v", err)
	}
	defer j.Close()
	b := newBus(t, j, membus.Config{})
	defer b.Close()
	var mu sync.Mutex
	redelivered := 0
	if err := b.Subscribe(context.Background(), "t", func(_ context.Context, batch []playback.Message) []string {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			consumed[m.ID] = true
			redelivered++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range acknowledged {
		if !consumed[id] {
			t.Errorf("%s: Publish returned for it, and it was consumed neither before the kill nor after", id)
		}
	}
	t.Logf("killed after %d acknowledged publishes (%d printed in all); %d consumed before the kill, %d redelivered after",
		killAfter, len(acknowledged), before, redelivered)
}

// killChildMain publishes on dir's journal until it is killed.
func killChildMain(t *testing.T, dir string) {
	j := open(t, filepath.Join(dir, "bus.wal"))
	b := newBus(t, j, membus.Config{})
	out, err := os.OpenFile(filepath.Join(dir, "consumed"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// The handler's record of what it consumed is written before it
	// acknowledges, as the runner's consumers write the store first.
	if err := b.Subscribe(context.Background(), "t", func(_ context.Context, batch []playback.Message) []string {
		var ids []byte
		for _, m := range batch {
			ids = fmt.Appendf(ids, "%s\n", m.ID)
		}
		if _, err := out.Write(ids); err != nil {
			panic(err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var stdout sync.Mutex
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("p%d-%06d", p, i)
				if err := b.Publish(context.Background(), "t", playback.Message{ID: id, Data: []byte(id)}); err != nil {
					panic(err)
				}
				stdout.Lock()
				fmt.Fprintf(os.Stdout, "published %s\n", id)
				stdout.Unlock()
			}
		})
	}
	wg.Wait()
}

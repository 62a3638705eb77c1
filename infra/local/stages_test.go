package local_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestStagesRenicesTheBackgroundOnceTheForegroundIsDone runs stages.sh on
// a stage fg+bg with a stand-in for make: bg starts at nice 19 (set here) beside fg
// and, once fg is done, every thread of it and every process it starts
// then are at nice 0 (they yield to fg, not to the rest of the machine
// once fg is over). bg is this test binary (TestStagesHelper): a Go
// process, with the threads a go command forks its compiles from, and
// Linux keeps a nice per thread. It reports its threads' and its
// children's nice values after fg has ended, and fails so that stages.sh
// prints its output.
func TestStagesRenicesTheBackgroundOnceTheForegroundIsDone(t *testing.T) {
	t.Parallel()
	// Raising a priority needs root or RLIMIT_NICE (13 on Linux: nice may
	// go down to 20 - its value); without it stages.sh leaves the
	// background at 19, which this test cannot tell apart.
	var nice syscall.Rlimit
	if err := syscall.Getrlimit(13, &nice); os.Geteuid() != 0 && (err != nil || nice.Cur < 20) {
		t.Skipf("this user may not raise a priority (RLIMIT_NICE %d, %v)", nice.Cur, err)
	}
	dir := t.TempDir()
	done := filepath.Join(dir, "fg-done")
	fakeMake := filepath.Join(dir, "make")
	// The last argument is the target. fg marks its end with a file.
	script := `#!/bin/sh
for t; do :; done
case "$t" in
fg) sleep 1; : >"$STAGES_TEST_DONE" ;;
bg) exec "$STAGES_TEST_BIN" -test.run='^TestStagesHelper$' ;;
esac
`
	if err := os.WriteFile(fakeMake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "stages.sh", "fg+bg")
	cmd.Env = append(os.Environ(), "MAKE="+fakeMake, "STAGES_TEST_DONE="+done, "STAGES_TEST_BIN="+os.Args[0], "STAGES_TEST_HELPER=1", "PLAYPLANE_BACKGROUND_NICE=19")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("stages.sh passed, but bg fails:\n%s", out)
	}
	if !strings.Contains(string(out), "bg FAILED") {
		t.Errorf("the summary does not name the failed background target:\n%s", out)
	}
	if !strings.Contains(string(out), "helper: threads ") {
		t.Fatalf("no report from the helper:\n%s", out)
	}
	for _, want := range []string{"helper: threads at nice 0, none at 19: true", "helper: children at nice 0, none at 19: true"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in stages.sh's output:\n%s", want, out)
		}
	}
}

// TestStagesHelper is the background target of the test above (it runs
// only with STAGES_TEST_HELPER set): it waits for fg's end, gives stages.sh
// a second to renice, then reports the nice of each of its threads and of
// children started from several threads, and fails.
func TestStagesHelper(t *testing.T) {
	if os.Getenv("STAGES_TEST_HELPER") != "1" || os.Getenv("MAKE") == "" {
		t.Skip("the background target of TestStagesRenicesTheBackgroundOnceTheForegroundIsDone")
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(os.Getenv("STAGES_TEST_DONE")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fg never ended")
		}
	}
	time.Sleep(time.Second)
	threads := map[int]int{}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "stat"))
		if err != nil {
			continue // the thread is gone
		}
		// Field 19 is the nice value; fields count from after the
		// command name, which ends with the last ')'.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		n, err := strconv.Atoi(fields[16])
		if err != nil {
			t.Fatal(err)
		}
		threads[n]++
	}
	children := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			out, err := exec.Command("sh", "-c", "ps -o ni= -p $$").Output()
			n, convErr := strconv.Atoi(strings.TrimSpace(string(out)))
			mu.Lock()
			defer mu.Unlock()
			if err != nil || convErr != nil {
				children[-100]++
				return
			}
			children[n]++
		})
	}
	wg.Wait()
	report := func(what string, nice map[int]int) {
		fmt.Printf("helper: %s at nice 0, none at 19: %v (nice: count)\n", what, nice[19] == 0 && nice[0] > 0)
		fmt.Printf("helper: %s %v\n", what, nice)
	}
	report("threads", threads)
	report("children", children)
	t.Fatal("the background target fails, so that stages.sh prints its output")
}

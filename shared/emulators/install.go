package emulators

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// repoRoot finds the directory holding go.mod and infra/local, so the
// scripts are found from any package directory a test runs in.
var repoRoot = sync.OnceValues(func() (string, error) {
	if root := os.Getenv("PLAYPLANE_ROOT"); root != "" {
		if !isRepoRoot(root) {
			return "", fmt.Errorf("emulators: PLAYPLANE_ROOT=%s has no go.mod and infra/local/start.sh", root)
		}
		return filepath.Abs(root)
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	// A binary run outside the tree still finds the tree it was built from.
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, start := range starts {
		for dir := start; ; dir = filepath.Dir(dir) {
			if isRepoRoot(dir) {
				return dir, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", fmt.Errorf("emulators: no directory with go.mod and infra/local/start.sh above %s; set PLAYPLANE_ROOT to the playplane checkout", strings.Join(starts, " or "))
})

func isRepoRoot(dir string) bool {
	for _, rel := range []string{"go.mod", filepath.Join("infra", "local", "start.sh"), filepath.Join("infra", "local", "install.sh")} {
		if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
			return false
		}
	}
	return true
}

// installs remembers, per service, the outcome of running install.sh in this
// process. Failures are remembered too, so a broken machine costs one attempt,
// not one per test; only an interrupted attempt is retried.
var installs = struct {
	mu   sync.Mutex
	done map[string]*installResult
}{done: map[string]*installResult{}}

type installResult struct {
	mu       sync.Mutex
	finished bool
	err      error
}

func install(ctx context.Context, root, name string) error {
	installs.mu.Lock()
	r := installs.done[name]
	if r == nil {
		r = &installResult{}
		installs.done[name] = r
	}
	installs.mu.Unlock()

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return r.err
	}
	err := runInstall(ctx, root, name)
	if err != nil && ctx.Err() != nil {
		return err
	}
	r.finished, r.err = true, err
	return err
}

func runInstall(ctx context.Context, root, name string) error {
	script := filepath.Join(root, "infra", "local", "install.sh")
	cmd := exec.CommandContext(ctx, "bash", script, name)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	var exitErr *exec.ExitError
	if ctx.Err() != nil {
		err = ctx.Err()
	} else if !errors.As(err, &exitErr) {
		return fmt.Errorf("emulators: installing %s: running %s: %w", name, script, err)
	}
	return fmt.Errorf("emulators: installing %s with %s failed: %w\n--- install output ---\n%s---",
		name, script, err, out)
}

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeLambdaBuild stands in for the cross-compiler `make package` calls
// (LAMBDA_BUILD ... -o OUT PKG): it checks that PKG is a main package of
// the repository and writes a placeholder binary to OUT. The compile itself
// is covered by shared/awsfn/lambdatest with the same flags (a type check
// for linux/arm64 in make test, the shipped build and link in make
// aws-test); what this test checks is which artifacts `make package` lays
// out where.
const fakeLambdaBuild = `#!/bin/sh
out=; pkg=
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift ;;
    -*) ;;
    *) pkg="$1" ;;
  esac
  shift
done
grep -qs '^package main$' "$pkg"/*.go || { echo "fake build: $pkg is not a main package" >&2; exit 1; }
printf 'built from %s\n' "$pkg" > "$out"
`

// `make package` must write every file the Pulumi program deploys, in
// every stack: a path the program references that the target never
// writes fails `pulumi up` on the deployer's machine (the gcp stack once
// referenced dist/gcp/<fn>.zip, which only `make gcp-source` wrote).
func TestMakePackageWritesEveryArtifactTheProgramReferences(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	if _, err := exec.LookPath("zip"); err != nil {
		t.Fatal("make package needs zip (apt-get install zip)")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	fake := filepath.Join(t.TempDir(), "lambda-build")
	if err := os.WriteFile(fake, []byte(fakeLambdaBuild), 0o755); err != nil {
		t.Fatal(err)
	}
	// make package's go run compiles and links two race-built runners. In
	// make test this runs beside the unit stage (infra/test.sh),
	// where that can take far longer than it takes alone, so the bound is go
	// test's -timeout (30m there), less up to a minute to report make's
	// output rather than go test's panic; 10 minutes without one.
	deadline := time.Now().Add(10 * time.Minute)
	if d, ok := t.Deadline(); ok {
		deadline = d.Add(-min(time.Minute, time.Until(d)/10))
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	args := []string{"-C", root, "package", "DIST=" + dist, "LAMBDA_BUILD=" + fake}
	if raceGo := raceGoCommand(t); raceGo != "" {
		args = append(args, "GO="+raceGo)
	}
	cmd := exec.CommandContext(ctx, "make", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}

	for _, f := range stackFiles(t) {
		t.Run(f.Stack, func(t *testing.T) {
			t.Parallel()
			_, mock := deployStackFile(t, f, map[string]string{"playplane:distDir": dist})
			referenced := 0
			for _, r := range mock.Resources() {
				for _, path := range r.Files() {
					referenced++
					if rel, err := filepath.Rel(dist, path); err != nil || strings.HasPrefix(rel, "..") {
						t.Errorf("%s %s deploys %s, outside playplane:distDir", r.Type, r.Name, path)
						continue
					}
					if info, err := os.Stat(path); err != nil || info.Size() == 0 {
						t.Errorf("%s %s deploys %s, which make package did not write (%v)", r.Type, r.Name, path, err)
					}
				}
			}
			if referenced == 0 {
				t.Error("the program deploys no file: the check would pass on anything")
			}
		})
	}
}

// raceGoCommand writes a stand-in for $(GO) in `make package`, which runs
// two runners with `go run` (./cmd/playplane openapi, ./cmd/playplane-gcp
// source), that adds -race to the go command it wraps when this machine
// can build with cgo (else it returns ""). `make test`'s unit stage compiles
// every package of both with -race, so they link from the build cache
// instead of compiling the main module's dependency tree once more without
// it. (make test runs this beside the unit stage, not after it: on a cold
// cache the two go commands may compile the same package at once, each in
// full, since go's build cache does not share work in progress.) What they write does not depend on it. The check and the
// stand-in ignore a CGO_ENABLED=0 these tests may run with (infra/test.sh
// NORACE=1). (GOFLAGS would also reach the go commands the runners start
// themselves, which build without cgo.)
func raceGoCommand(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "env", "CGO_ENABLED")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go env CGO_ENABLED: %v", err)
	}
	if strings.TrimSpace(string(out)) != "1" {
		return ""
	}
	path := filepath.Join(t.TempDir(), "go-race")
	script := "#!/bin/sh\ncmd=$1\nshift\nCGO_ENABLED=1 exec go \"$cmd\" -race \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

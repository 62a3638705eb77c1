package lambdatest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// BuildFlags are the flags every bootstrap is built with, here and in
// Makefile.aws: no RPC mode of aws-lambda-go, reproducible paths, and
// symbols and DWARF stripped.
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// Build compiles the main package pkg (an import path or ./dir relative to
// dir) into out with BuildFlags, statically (CGO_ENABLED=0), for goarch on
// linux. The build cache makes repeated builds cheap.
func Build(ctx context.Context, dir, pkg, out, goarch string) error {
	args := append(append([]string{"build"}, BuildFlags...), "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// BuildHere compiles the main package pkg to run on this machine, the way
// the calling test binary was built: with -race, cgo and full paths when it
// was (as `make test` builds the tests), else exactly as Build does. The
// tags and linker flags are BuildFlags' in both cases. Every package a
// bootstrap links is then already in the build cache from compiling the
// tests, so on a cold cache a bootstrap costs a link instead of a second
// compile of the standard library and the AWS SDK without -race (-trimpath
// and CGO_ENABLED are part of every package's cache key). Tests that check
// what a bootstrap does use it; what ships (and its cold start) is Build's.
func BuildHere(ctx context.Context, dir, pkg, out string) error {
	if !raceBuild {
		return Build(ctx, dir, pkg, out, runtime.GOARCH)
	}
	args := []string{"build", "-race"}
	for _, f := range BuildFlags {
		if f != "-trimpath" {
			args = append(args, f)
		}
	}
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

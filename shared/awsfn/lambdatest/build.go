package lambdatest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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

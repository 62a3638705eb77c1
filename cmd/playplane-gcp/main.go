// Command playplane-gcp is the Cloud Functions side of playplane on one
// machine. By default it serves every function through the Functions
// Framework, as Cloud Functions (2nd gen) would, against the Firestore
// emulator and the Pub/Sub fake, with seeded demo data (`make run GCP=1`).
//
//	playplane-gcp                 serve on ADDR (default 127.0.0.1:8080)
//	playplane-gcp token ACCOUNT   print a dev JWT for a seeded account
//	playplane-gcp token --admin NAME  print an admin JWT for the operator NAME
//	playplane-gcp source DIST     write each function's deploy unit: DIST/gcp/<function>.zip
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/gcp/source"
	"github.com/playplane/playplane/shared/gcpfn"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:]); err != nil {
		slog.Error("playplane-gcp stopped", "err", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	// No project: nothing here reads the lines as Cloud Logging would, and
	// their trace_id already names the trace.
	log := gcpfn.NewLogger(os.Stderr, slog.LevelInfo, "")
	slog.SetDefault(log)
	var cfg Config
	if err := envconfig.Process(ctx, &cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	switch {
	case len(args) >= 2 && args[0] == "token":
		return tokenCmd(ctx, cfg, args[1:], os.Stdout)
	case len(args) == 2 && args[0] == "source":
		return writeSource(ctx, args[1])
	case len(args) != 0:
		return errors.New(usage)
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + cfg.Addr
	}
	r, err := NewRunner(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.PrintWelcome(os.Stdout); err != nil {
		return err
	}
	return r.Serve(ctx)
}

// writeSource writes each catalogue function's deploy unit, the object
// the stack uploads for it, as dist/gcp/<name>.zip. A unit registers its
// own function only; FUNCTION_TARGET picks one of its entry points.
func writeSource(ctx context.Context, dist string) error {
	for _, fn := range catalog.Functions {
		files, err := source.Files(ctx, ".", fn.Name)
		if err != nil {
			return err
		}
		var zipped bytes.Buffer
		if err := source.WriteZip(&zipped, files); err != nil {
			return err
		}
		p := filepath.Join(dist, strings.TrimPrefix(catalog.GCPSourceZip(fn.Name), "dist/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, zipped.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Println(p)
	}
	return nil
}

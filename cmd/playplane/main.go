// Command playplane runs every function locally on one HTTP server, over
// the embedded bbolt store and the in-process bus, with seeded demo data.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		var ce cliError
		if errors.As(err, &ce) {
			fmt.Fprintf(os.Stderr, "playplane: %v\n", ce.error)
			os.Exit(1)
		}
		slog.Error("playplane stopped", "err", err)
		os.Exit(1)
	}
}

// cliError is a subcommand's failure. An operator reads it in a terminal,
// where an import's problems must stay one a line, not escaped into one
// JSON log record.
type cliError struct{ error }

func realMain(ctx context.Context) error {
	var cfg Config
	if err := envconfig.Process(ctx, &cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(log)
	// `playplane token [--admin] NAME`, `playplane import FILE`,
	// `playplane export`, `playplane migrate` and `playplane openapi`
	// (admin.go), `playplane deadletters` and `playplane redrive`
	// (deadletters.go) run and exit.
	if handled, err := subcommand(ctx, cfg, os.Args[1:], os.Stdout); handled {
		if err != nil {
			return cliError{err}
		}
		return nil
	}
	if _, err := cfg.limits(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + ln.Addr().String()
	}
	// Metrics for a Prometheus scrape of /metrics; spans to the collector
	// OTEL_EXPORTER_OTLP_ENDPOINT names, if any (README: Observability).
	tel, err := telemetry.Setup(ctx, telemetry.Options{Service: "playplane", Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New})
	if err != nil {
		ln.Close()
		return err
	}
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(shutdown); err != nil {
			log.Warn("telemetry shutdown", "err", err)
		}
	}()
	app, err := NewApp(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer app.Close()
	app.UseTelemetry(tel)
	if err := app.PrintWelcome(os.Stdout); err != nil {
		return err
	}
	srv, limited, err := app.Server(ln)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(limited) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

package paymentwebhook

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps the consumer's per-event logging out of test output;
// PAYMENTWEBHOOK_TEST_LOG=debug brings it back.
func TestMain(m *testing.M) {
	level := slog.LevelError + 1
	if os.Getenv("PAYMENTWEBHOOK_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	os.Exit(m.Run())
}

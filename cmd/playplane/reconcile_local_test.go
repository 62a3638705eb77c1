package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/emulators"
)

// TestRunnerSchedulesReconciliation: with an API to read (stripe-mock
// here), the local runner reconciles on a schedule as the cloud does. Not
// parallel: the functions read their settings from the environment.
func TestRunnerSchedulesReconciliation(t *testing.T) {
	t.Setenv("STRIPE_API_KEY", "sk_test_local")
	t.Setenv("STRIPE_API_URL", emulators.StripeMock(t))
	var logs syncBuffer
	srv := httptest.NewUnstartedServer(nil)
	cfg := Config{DataDir: t.TempDir(), PublicURL: "http://" + srv.Listener.Addr().String(), Issuer: "playplane-local",
		Audience: "playplane", ReconcileEvery: 50 * time.Millisecond}
	app, err := NewApp(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = app.Handler()
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		app.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), `msg="job ran" job="paymentwebhook reconcile"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no reconciliation ran; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := logs.String(); strings.Contains(out, `msg="job failed" job="paymentwebhook reconcile"`) {
		t.Fatalf("reconciliation failed:\n%s", out)
	}
}

package gcpfn_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/googlecloud/tokentest"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

const sigtermChild = "PLAYPLANE_SIGTERM_CHILD_METRICS"

// TestSIGTERMSendsWhatTheIntervalHeldBack: an instance exports at most
// every googlecloud.MinInterval, so what its invocations record after an
// export waits for a later one; when Cloud Run stops the instance
// (SIGTERM, 10 s before SIGKILL) nothing comes later, and the totals must
// leave then. A child process configured as the stack configures a
// function records one admission, flushes (the first export), records two
// more, flushes (held back) and gets SIGTERM: the receiver must have the
// total of 3, and the child must still end by SIGTERM.
func TestSIGTERMSendsWhatTheIntervalHeldBack(t *testing.T) {
	if endpoint := os.Getenv(sigtermChild); endpoint != "" {
		sigtermChildMain(t, endpoint)
		return
	}
	const project = "playplane-fn"
	tokens := tokentest.Start(t)
	recv := otlptest.Start(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGTERMSendsWhatTheIntervalHeldBack$", "-test.count=1")
	cmd.Env = append(os.Environ(), sigtermChild+"="+recv.Endpoint()+"/v1/metrics",
		"GOOGLE_APPLICATION_CREDENTIALS="+tokens.CredentialsFile(t, project))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child: %v, want it ended by SIGTERM\n%s", err, out)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("child ended with %v, want by SIGTERM\n%s", exit, out)
	}
	ms := recv.Metrics(telemetry.MetricPlayAdmitted)
	if n := len(recv.MetricExports()); n != 2 || len(ms) == 0 {
		t.Fatalf("%d exports, want 2 (the first flush's and the one at SIGTERM)\n%s", n, out)
	}
	if v := ms[len(ms)-1].GetSum().GetDataPoints()[0].GetAsInt(); v != 3 {
		t.Fatalf("%s = %d in the last export, want 3\n%s", telemetry.MetricPlayAdmitted, v, out)
	}
}

func sigtermChildMain(t *testing.T, endpoint string) {
	res := gcpfn.NewResources(gcpfn.Options{Lookuper: envconfig.MapLookuper(map[string]string{
		telemetry.EnvMetricsExporter: telemetry.ExporterGoogleCloud, telemetry.EnvGoogleCloudProject: "playplane-fn",
		telemetry.EnvResourceAttributes: "cloud.region=europe-west1", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": endpoint})})
	p, err := telemetry.Setup(context.Background(), res.Telemetry("recorder"))
	if err != nil {
		t.Fatal(err)
	}
	gcpfn.ShutdownOnSIGTERM(p)
	ctx := context.Background()
	telemetry.PlayAdmitted(ctx)
	if err := telemetry.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	telemetry.PlayAdmitted(ctx)
	telemetry.PlayAdmitted(ctx)
	if err := telemetry.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * gcpfn.ShutdownBudget) // SIGTERM ends the process before this does
	t.Fatal("still running after SIGTERM")
}

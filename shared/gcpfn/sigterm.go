package gcpfn

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/playplane/playplane/shared/telemetry"
)

// ShutdownBudget is how long ShutdownOnSIGTERM gives telemetry's last
// export: Cloud Run, which runs Cloud Functions, sends SIGTERM 10 s before
// SIGKILL when it shuts an instance down.
const ShutdownBudget = 5 * time.Second

// ShutdownOnSIGTERM shuts p down when the instance is told to stop, so
// that what its exporter held back since the last invocation's flush
// (googlecloud exports at most every MinInterval) leaves before the
// instance goes, then lets SIGTERM end the process as it would have.
// Without it, what an instance records in the MinInterval after its last
// export is lost unless another invocation comes after that interval.
func ShutdownOnSIGTERM(p *telemetry.Provider) {
	if p == nil || !p.Metrics() && !p.Tracing() {
		return
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	go func() {
		<-c
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownBudget)
		_ = p.Shutdown(ctx)
		cancel()
		signal.Reset(syscall.SIGTERM)
		if self, err := os.FindProcess(os.Getpid()); err == nil {
			_ = self.Signal(syscall.SIGTERM)
		}
	}()
}

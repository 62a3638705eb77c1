package sim

import (
	"context"
	"flag"
	"math"
	"testing"
	"time"

	"github.com/playplane/playplane/cmd/scalemodel/model"
)

var viewers = flag.Float64("sim.viewers", defaultViewers, "mean concurrent viewers of the replayed day (go test ./cmd/scalemodel/sim -sim.viewers=200 for a bigger run)")

// TestDayMatchesTheModel replays a day (diurnal curve peaking at 3x the
// mean at 21:00, a premiere at 20:00 that 20% of the viewers start within 5
// minutes) and holds every per-session count to the model's within 5%.
func TestDayMatchesTheModel(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig(*viewers, t.TempDir())
	start := time.Now()
	res, err := Run(context.Background(), cfg)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Failures {
		t.Errorf("unexpected answer: %s", f)
	}
	if res.Sessions == 0 || res.PremiereStarts == 0 {
		t.Fatalf("the day replayed %d sessions, %d premiere starts", res.Sessions, res.PremiereStarts)
	}
	w, gaps := Compare(cfg, res)
	for _, g := range gaps {
		t.Logf("%-55s model %9.3f  replay %9.3f  gap %5.2f%%", g.Name, g.Model, g.Replay, 100*g.RelativeError)
		if g.RelativeError > 0.05 {
			t.Errorf("%s: model %.3f per session, replay %.3f (%.1f%% apart)", g.Name, g.Model, g.Replay, 100*g.RelativeError)
		}
	}
	// Extrapolate: the replayed workload, priced at a million viewers.
	d := model.DefaultDeployment(1e6)
	d.Workload = w
	aws, gcp, _ := d.Cost()
	t.Logf("the replayed workload at 1M concurrent viewers: AWS $%.3f, GCP $%.3f per 1,000 viewer-hours (%s; %s)",
		model.Total(aws)/1000, model.Total(gcp)/1000, aws[0].Name, gcp[0].Name)
	perRequest := float64(res.LogBytes) / float64(res.Requests)
	if math.Abs(perRequest-model.MeasuredLogBytesPerRequest)/model.MeasuredLogBytesPerRequest > 0.25 {
		t.Errorf("log bytes per request: %.0f, the model prices %d", perRequest, model.MeasuredLogBytesPerRequest)
	}
	// Not an assertion: what a call costs in-process (bbolt, the bus and
	// the counters included), against the model's CPUPerCall.
	t.Logf("wall time per call (HTTP requests and consumed messages, all goroutines): %v; the model assumes %v of handler CPU",
		elapsed/time.Duration(max(res.Requests+res.Consumed, 1)), model.DefaultDeployment(1).CPUPerCall)
	t.Logf("log bytes per request %.0f; sessions %d, viewer-hours %.1f, peak %d, premiere starts %d, log lines %d (%d bytes), consumer batches %d",
		perRequest, res.Sessions, res.ViewerHours, res.PeakViewers, res.PremiereStarts, res.LogLines, res.LogBytes, res.Batches)
}

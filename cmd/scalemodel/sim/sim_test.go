package sim

import (
	"context"
	"flag"
	"math"
	"os"
	"testing"
	"time"

	"github.com/playplane/playplane/cmd/scalemodel/model"
	"github.com/playplane/playplane/shared/emulators"
)

var (
	viewers = flag.Float64("sim.viewers", defaultViewers, "mean concurrent viewers of the replayed day (go test ./cmd/scalemodel/sim -sim.viewers=200 for a bigger run)")
	store   = flag.String("sim.store", StoreBolt, "store of TestDayMatchesTheModel's day: bolt, dynamodb (DynamoDB Local) or firestore (the Firestore emulator)")
)

// useStore points cfg at store, starting its emulator as the adapters'
// tests do: a test fails when one cannot start, and skips only when
// PLAYPLANE_SKIP_EMULATORS=1 outside CI (under CI=true it must run).
func useStore(t *testing.T, cfg *Config, store string) {
	t.Helper()
	cfg.Store = store
	if store == StoreBolt {
		return
	}
	if os.Getenv("CI") == "true" && os.Getenv(emulators.SkipEnv) == "1" {
		t.Fatalf("%s=1 under CI=true: the replay on the %s emulator must run", emulators.SkipEnv, store)
	}
	switch store {
	case StoreDynamoDB:
		cfg.Endpoint = emulators.DynamoDB(t)
	case StoreFirestore:
		cfg.Endpoint = emulators.Firestore(t)
	}
}

// checkDay fails the test on any unexpected answer or any per-session
// count more than 5% from the model's, logs the comparison and returns the
// workload the model was evaluated at.
func checkDay(t *testing.T, cfg Config, res Result) model.Workload {
	t.Helper()
	for _, f := range res.Failures {
		t.Errorf("unexpected answer: %s", f)
	}
	if res.Sessions == 0 {
		t.Fatal("the day replayed no session")
	}
	w, gaps := Compare(cfg, res)
	for _, g := range gaps {
		t.Logf("%-55s model %9.3f  replay %9.3f  gap %5.2f%%", g.Name, g.Model, g.Replay, 100*g.RelativeError)
		if g.RelativeError > 0.05 {
			t.Errorf("%s: model %.3f per session, replay %.3f (%.1f%% apart)", g.Name, g.Model, g.Replay, 100*g.RelativeError)
		}
	}
	// Plan reads sit behind the two functions' plan caches: each reads
	// the households' one plan at most once per PLAN_CACHE_TTL.
	if ttl := cfg.Workload.PlanCacheTTL; ttl > 0 {
		bound := 2 * (int(res.Span/ttl) + 1)
		if res.PlanLoads == 0 || res.PlanLoads > bound {
			t.Errorf("plan reads: %d over %s; the plan caches allow 1 to %d (2 functions, 1 plan, one per %s)", res.PlanLoads, res.Span, bound, ttl)
		}
		t.Logf("plan reads %d (%d requests) over %s: %.2f per session, at most %d by the caches", res.PlanLoads, res.PlanWire, res.Span,
			float64(res.PlanLoads)/float64(res.Sessions), bound)
	}
	if cfg.Store != StoreBolt && cfg.Store != "" && res.WirePerSession() == 0 {
		t.Errorf("no request to the %s emulator was counted", cfg.Store)
	}
	return w
}

// TestDayMatchesTheModel replays a day (diurnal curve peaking at 3x the
// mean at 21:00, a premiere at 20:00 that 20% of the viewers start within 5
// minutes) and holds every per-session count to the model's within 5%.
func TestDayMatchesTheModel(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig(*viewers, t.TempDir())
	useStore(t, &cfg, *store)
	start := time.Now()
	res, err := Run(context.Background(), cfg)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if res.PremiereStarts == 0 {
		t.Errorf("the day replayed no premiere start")
	}
	w := checkDay(t, cfg, res)
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

// TestTinyDayOnTheEmulators replays a tiny day (the curve at a
// mean of 0.15 viewers: a handful of 45-minute sessions) through the same
// functions on shared/dynamo over DynamoDB Local and on shared/firestore
// over the Firestore emulator, and holds the per-session counts — store
// methods, and the requests on the wire the model prices each method's
// duration with — to the model's within 5%.
func TestTinyDayOnTheEmulators(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, store string }{
		{name: "DynamoDB Local", store: StoreDynamoDB},
		{name: "Firestore emulator", store: StoreFirestore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig(0.15, t.TempDir())
			useStore(t, &cfg, tc.store)
			start := time.Now()
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkDay(t, cfg, res)
			t.Logf("heartbeats %+v", res.Heartbeats)
			t.Logf("%d sessions, %.1f viewer-hours, %.1f requests to the emulator per session %v; edge table reloads %d (%d requests, priced apart); %v",
				res.Sessions, res.ViewerHours, res.WirePerSession(), res.Wire, res.EdgeLoads, res.EdgeWire, time.Since(start).Round(time.Second))
		})
	}
}

package otlptest

import (
	"context"
	"maps"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/httpload"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// Overhead benchmarks op with telemetry off and on in the same run:
// alternating chunks, so load from other processes falls on both alike.
// On is spans exported over OTLP/HTTP to a receiver of its own and
// metrics kept for a Prometheus scrape. It reports each mode's ns/op and
// allocs/op, B/op and collections per 1,000 ops, and "on/off", the
// ratio of their ns/op, and the same ratio of
// the process's CPU time, "cpu-on/off": on a machine shared with other
// work, wall time also counts the waits for a core, which grow with every
// extra goroutine that must run (the span processor, the exporter), while
// CPU time counts only the work done. The CPU time includes the in-process
// receiver's reading of the exports, charged to "on". Per mode it also
// reports the collector's CPU per op (the runtime's own estimate,
// /cpu/classes/gc/total, which counts wall time on its workers and so
// grows with the machine's load) and the live and scannable heap each
// mode's chunks leave: a mode that kept more alive would make every
// collection dearer without making collections more frequent.
//
// Fairness: both modes run on one Provider, set up and warmed once, which
// the chunks pause (off: the hooks see no Provider, exactly as without
// one) and resume (on), 64 chunks alternating which mode goes first, so
// that a change in the machine's load (other processes on a shared
// machine) falls on both alike; each chunk starts on a collected heap, so
// neither mode pays for the other's garbage; an "on" chunk ends with the
// flush of the spans it made, so the export of every span it recorded is
// charged to it and nothing else is; and every chunk ends, within its
// timing, with a collection, so each mode pays for collecting exactly the
// garbage it made (a collection left running at a chunk's end was charged
// to "on", which waited for its flush meanwhile, and not to "off").
//
// With EnvOverheadControl set to "off" the "on" chunks keep telemetry off
// too (an A/A control of the same loop, flushes included): the ratios then
// measure the harness's own scatter, around 1.
func Overhead(b *testing.B, op func()) {
	b.Helper()
	OverheadWith(b, nil, op)
}

// EnvOverheadControl, set to "off" in the benchmark's environment, runs
// the "on" chunks of Overhead with telemetry off as well: the same loop,
// flushes included, with nothing to measure but the harness.
const EnvOverheadControl = "PLAYPLANE_OVERHEAD_CONTROL"

// EnvOverheadWindows, set to a directory in the benchmark's environment,
// makes Overhead write there, per benchmark, a file named after it
// (chunkwindow.FileName) holding each timed chunk's mode and its start
// and end on CLOCK_MONOTONIC, in chunkwindow's format: the clock
// `perf record -k CLOCK_MONOTONIC` stamps its samples with.
// cmd/overheadsplit then charges every sample to the chunk it fell in,
// from whichever thread: the exporter's goroutines, the collector's
// workers and the kernel included, which a profile labelled by mode
// (pprof.Do) does not split. Each run of the benchmark rewrites
// the file, so the last (timed) run's chunks remain.
const EnvOverheadWindows = "PLAYPLANE_OVERHEAD_WINDOWS"

// OverheadWith is Overhead with env added to "on"'s environment (a
// sampler). Under a sampler that records only some traces the exports are
// not required to be nonzero: a short run may sample none.
func OverheadWith(b *testing.B, env map[string]string, op func()) {
	b.Helper()
	OverheadReset(b, env, op, nil)
}

// OverheadReset is OverheadWith calling reset, when not nil, before each
// chunk, untimed and with telemetry off: to bring what op fills back to
// the same state (a queue op publishes to and nothing drains, whose growth
// would otherwise land in whichever chunk it reallocates in).
func OverheadReset(b *testing.B, env map[string]string, op, reset func()) {
	b.Helper()
	OverheadSink(b, env, telemetry.Options{Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New}, op, reset, nil)
}

// OverheadSink is OverheadReset with "on" set up from opts instead of
// the Prometheus sink: a platform's own metric sink (awsfn's EMF lines,
// gcpfn's push to Cloud Monitoring), to measure a function as its
// platform runs it. opts.Lookup is replaced by the receiver's environment
// with env added; opts.Service "" is "bench". setMode, when not nil, is
// called before each chunk, untimed, after reset, and before each half of
// the warm-up, with whether telemetry is on in it: to switch what Pause
// does not, such as the OpenTelemetry globals a client library starts its
// own spans with. Its first call follows telemetry.Setup.
func OverheadSink(b *testing.B, env map[string]string, opts telemetry.Options, op, reset func(), setMode func(on bool)) {
	b.Helper()
	recv := Start(b)
	recv.Discard()
	lookup := recv.Env()
	maps.Copy(lookup, env)
	const pairs = 32
	control := os.Getenv(EnvOverheadControl) == "off"
	windows := openWindows(b)
	labels := [2]pprof.LabelSet{pprof.Labels("mode", "off"), pprof.Labels("mode", "on")}
	per := max(b.N/(2*pairs), 1)
	var dur, cpu [2]time.Duration
	var mallocs, bytes, gcs [2]uint64
	var ms0, ms1 runtime.MemStats
	// The collector's CPU and the heap it marks, per mode (read as each
	// chunk ends: the last collection of that chunk).
	gcm := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/heap:bytes"}}
	var gcCPU [2]float64
	var live, scan [2]uint64
	if opts.Service == "" {
		opts.Service = "bench"
	}
	opts.Lookup = envconfig.MapLookuper(lookup)
	p, err := telemetry.Setup(context.Background(), opts)
	if err != nil || !p.Tracing() || !p.Metrics() {
		b.Fatalf("telemetry on: %v", err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()
	// Warm caches, pools, the store, the exporter's connection and the
	// metric attribute sets in both modes before either counts. setMode
	// is told of these too: a client made here takes what it switches.
	if setMode != nil {
		setMode(true)
	}
	for range per {
		op()
	}
	p.Pause()
	if setMode != nil {
		setMode(false)
	}
	for range per {
		op()
	}
	if err := p.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for c := range pairs {
		for i := range 2 {
			mode := (c + i) % 2
			b.StopTimer()
			p.Pause()
			if reset != nil {
				reset()
			}
			if mode == 1 && !control {
				p.Resume()
			}
			if setMode != nil {
				setMode(mode == 1 && !control)
			}
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			metrics.Read(gcm)
			gc0 := gcm[0].Value.Float64()
			b.StartTimer()
			w0 := windows.now()
			cpu0 := httpload.ProcessCPU(b)
			start := time.Now()
			// Labelled, so that a CPU profile of the benchmark splits by
			// mode (go tool pprof -tagfocus mode=on); goroutines started
			// within inherit it.
			pprof.Do(context.Background(), labels[mode], func(context.Context) {
				for range per {
					op()
				}
			})
			if mode == 1 {
				if err := p.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			// Each chunk pays for collecting its own garbage, in both
			// modes alike. Without this, a collection under way when the
			// ops ended ran on the idle core while "on" waited for its
			// flush, charged to "on", and after the timing for "off".
			runtime.GC()
			dur[mode] += time.Since(start)
			w1 := windows.now()
			cpu[mode] += httpload.ProcessCPU(b) - cpu0
			b.StopTimer()
			windows.add(mode, w0, w1)
			runtime.ReadMemStats(&ms1)
			metrics.Read(gcm)
			gcCPU[mode] += gcm[0].Value.Float64() - gc0
			live[mode] += gcm[1].Value.Uint64()
			scan[mode] += gcm[2].Value.Uint64()
			mallocs[mode] += ms1.Mallocs - ms0.Mallocs
			bytes[mode] += ms1.TotalAlloc - ms0.TotalAlloc
			gcs[mode] += uint64(ms1.NumGC - ms0.NumGC)
			b.StartTimer()
		}
	}
	b.StopTimer()
	windows.close()
	n := float64(pairs * per)
	b.ReportMetric(float64(dur[0].Nanoseconds())/n, "off-ns/op")
	b.ReportMetric(float64(dur[1].Nanoseconds())/n, "on-ns/op")
	b.ReportMetric(float64(dur[1])/float64(dur[0]), "on/off")
	b.ReportMetric(float64(cpu[0].Nanoseconds())/n, "cpu-off-ns/op")
	b.ReportMetric(float64(cpu[1].Nanoseconds())/n, "cpu-on-ns/op")
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "cpu-on/off")
	b.ReportMetric(float64(mallocs[0])/n, "off-allocs/op")
	b.ReportMetric(float64(mallocs[1])/n, "on-allocs/op")
	// Bytes and collections: the collector's share of the CPU grows with
	// the bytes allocated, by either mode's own work or what it starts.
	b.ReportMetric(float64(bytes[0])/n, "off-B/op")
	b.ReportMetric(float64(bytes[1])/n, "on-B/op")
	b.ReportMetric(float64(gcs[0])*1000/n, "off-gcs/1k-op")
	b.ReportMetric(float64(gcs[1])*1000/n, "on-gcs/1k-op")
	b.ReportMetric(gcCPU[0]*1e9/n, "off-gc-cpu-ns/op")
	b.ReportMetric(gcCPU[1]*1e9/n, "on-gc-cpu-ns/op")
	b.ReportMetric(float64(live[0])/float64(pairs)/1024, "off-live-KiB")
	b.ReportMetric(float64(live[1])/float64(pairs)/1024, "on-live-KiB")
	b.ReportMetric(float64(scan[0])/float64(pairs)/1024, "off-scan-KiB")
	b.ReportMetric(float64(scan[1])/float64(pairs)/1024, "on-scan-KiB")
	if s := env[telemetry.EnvTracesSampler]; (s == "" || s == "always_on") && !control && recv.Count() == 0 {
		b.Fatal("telemetry on exported no span")
	}
	// A ratio of 0 measures the hooks of dropped traces alone: a span
	// recorded would make it measure something else.
	if strings.TrimSpace(env[telemetry.EnvTracesSamplerArg]) == "0" && recv.Count() != 0 {
		b.Fatalf("a sampler at a ratio of 0 recorded %d spans", recv.Count())
	}
}

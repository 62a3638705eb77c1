package otlptest

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// Overhead benchmarks op with telemetry off and on in the same run:
// alternating chunks, so load from other processes falls on both alike.
// On is spans exported over OTLP/HTTP to a receiver of its own and
// metrics kept for a Prometheus scrape. It reports each mode's ns/op and
// allocs/op and "on/off", the ratio of their ns/op.
func Overhead(b *testing.B, op func()) {
	b.Helper()
	recv := Start(b)
	recv.Discard()
	const chunks = 8
	per := max(b.N/(2*chunks), 1)
	var dur [2]time.Duration
	var mallocs [2]uint64
	var ms0, ms1 runtime.MemStats
	for range per {
		op() // warm caches, pools and the store before either mode counts
	}
	b.ResetTimer()
	for range chunks {
		for mode := range 2 {
			var p *telemetry.Provider
			if mode == 1 {
				b.StopTimer()
				var err error
				p, err = telemetry.Setup(context.Background(), telemetry.Options{Service: "bench", Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New,
					Lookup: envconfig.MapLookuper(recv.Env())})
				if err != nil || !p.Tracing() || !p.Metrics() {
					b.Fatalf("telemetry on: %v", err)
				}
				b.StartTimer()
			}
			runtime.ReadMemStats(&ms0)
			start := time.Now()
			for range per {
				op()
			}
			dur[mode] += time.Since(start)
			runtime.ReadMemStats(&ms1)
			mallocs[mode] += ms1.Mallocs - ms0.Mallocs
			if p != nil {
				b.StopTimer()
				_ = p.Shutdown(context.Background())
				b.StartTimer()
			}
		}
	}
	b.StopTimer()
	n := float64(chunks * per)
	b.ReportMetric(float64(dur[0].Nanoseconds())/n, "off-ns/op")
	b.ReportMetric(float64(dur[1].Nanoseconds())/n, "on-ns/op")
	b.ReportMetric(float64(dur[1])/float64(dur[0]), "on/off")
	b.ReportMetric(float64(mallocs[0])/n, "off-allocs/op")
	b.ReportMetric(float64(mallocs[1])/n, "on-allocs/op")
	if recv.Count() == 0 {
		b.Fatal("telemetry on exported no span")
	}
}

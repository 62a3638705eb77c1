package authorizeplay_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/latencytest"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// BenchmarkAuthorizePlay measures POST /v1/play end to end on the bbolt
// store: JWT check, four reads, replacing the device's previous session
// and the lease transaction (one commit). A durable bbolt commit costs two
// fdatasyncs (~0.9 ms each on this machine's disk), so "durable" measures
// the disk and "nosync" the handler itself; p50-µs is reported beside ns/op.
func BenchmarkAuthorizePlay(b *testing.B) {
	b.Run("durable", func(b *testing.B) { benchmarkPlay(b) })
	b.Run("nosync", func(b *testing.B) { benchmarkPlay(b, bolt.WithoutSync()) })
}

func benchmarkPlay(b *testing.B, opts ...bolt.Option) {
	h := newHarness(b, opts...)
	token := h.token(demo.AccountFamily)
	body := `{"title_id":"sintel","device_id":"bench-tv"}`
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		rec := h.do(http.MethodPost, "/v1/play", token, body)
		lat = append(lat, time.Since(start))
		if rec.Code != http.StatusCreated {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkAuthorizePlayConcurrent measures POST /v1/play under 32
// concurrent callers, each its own account playing on its own (already
// registered) device, so a call is one lease commit. Durable and nosync
// stores run in the same benchmark, alternating in chunks so load from
// other processes falls on both alike; "durable/nosync" is the ratio of
// their p50 latencies per call, the figure to compare across runs.
func BenchmarkAuthorizePlayConcurrent(b *testing.B) {
	const callers, chunks = 32, 4
	modes := []latencytest.Mode{
		{Name: "durable", Run: concurrentPlayer(b, callers)},
		{Name: "nosync", Run: concurrentPlayer(b, callers, bolt.WithoutSync())},
	}
	b.ResetTimer()
	lat := latencytest.Alternate(b.N, chunks, callers, modes...)
	b.StopTimer()
	p50 := make([]time.Duration, len(modes))
	for i, m := range modes {
		p50[i] = latencytest.Percentile(lat[i], 50)
		b.ReportMetric(float64(p50[i].Microseconds()), m.Name+"-p50-µs")
		b.ReportMetric(float64(latencytest.Percentile(lat[i], 99).Microseconds()), m.Name+"-p99-µs")
	}
	b.ReportMetric(float64(p50[0])/float64(p50[1]), "durable/nosync")
}

// concurrentPlayer seeds one account per caller (a copy of the family
// account) and returns a function that makes n plays spread over the
// callers at once, returning each call's latency.
func concurrentPlayer(b *testing.B, callers int, opts ...bolt.Option) func(n int) []time.Duration {
	h := newHarness(b, opts...)
	family, err := h.store.GetAccount(b.Context(), demo.AccountFamily)
	if err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, callers)
	for i := range callers {
		a := family
		a.ID = fmt.Sprintf("acct_bench_%d", i)
		a.CustomerID = ""
		if err := h.store.PutAccount(b.Context(), a); err != nil {
			b.Fatal(err)
		}
		tokens[i] = h.token(a.ID)
	}
	body := `{"title_id":"sintel","device_id":"bench-tv"}`
	for _, tok := range tokens { // registers each caller's device
		if rec := h.do(http.MethodPost, "/v1/play", tok, body); rec.Code != http.StatusCreated {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	return func(n int) []time.Duration {
		lat, err := latencytest.Concurrent(n, callers, func(i int) error {
			if rec := h.do(http.MethodPost, "/v1/play", tokens[i], body); rec.Code != http.StatusCreated {
				return fmt.Errorf("%d %s", rec.Code, rec.Body)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		return lat
	}
}

// BenchmarkAuthorizePlayTelemetry is POST /v1/play (nosync store, so the
// handler and not the disk is measured) with telemetry off and on in the
// same run (otlptest.Overhead): "on/off" is the cost of a server span and
// the request and admission metrics, under each of otlptest.BenchSamplers.
func BenchmarkAuthorizePlayTelemetry(b *testing.B) {
	for _, s := range otlptest.BenchSamplers() {
		b.Run(s.Name, func(b *testing.B) {
			h := newHarness(b, bolt.WithoutSync())
			token := h.token(demo.AccountFamily)
			body := `{"title_id":"sintel","device_id":"bench-tv"}`
			otlptest.OverheadWith(b, s.Env, func() {
				if rec := h.do(http.MethodPost, "/v1/play", token, body); rec.Code != http.StatusCreated {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			})
		})
	}
}

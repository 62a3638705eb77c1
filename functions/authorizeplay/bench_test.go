package authorizeplay_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/demo"
)

// BenchmarkAuthorizePlay measures POST /v1/play end to end on the bbolt
// store: JWT check, four reads, replacing the device's previous session
// and the lease transaction (two commits). A durable bbolt commit costs two
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

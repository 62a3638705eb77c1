package signurl_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// BenchmarkSignURLs measures POST /v1/playback/{id}/urls end to end on the
// bbolt store (token MAC, two reads, signing, JSON and Set-Cookie), next to
// its floor: the CDN signer alone on the same request. Cloud CDN signs with
// HMAC-SHA1 (two MACs: query and cookie); CloudFront signs one ECDSA P-256
// custom policy plus a canned policy for the manifest, so its floor is two
// ECDSA signatures and dominates its handler. p50-µs is reported beside
// ns/op.
func BenchmarkSignURLs(b *testing.B) {
	for _, cdn := range []struct{ name, key string }{
		{"cloudcdn", cdnCDN},
		{"cloudfront-ecdsa", cdnCFECDSA},
		{"cloudfront-rsa-sha1", cdnCFRSA},
	} {
		b.Run(cdn.name+"/handler", func(b *testing.B) {
			h := newHarness(b)
			sess, token := h.session(accountA, titleID, time.Hour)
			body := `{"cdn":"` + cdn.key + `"}`
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				rec := h.sign(sess.ID, token, body)
				lat = append(lat, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
		b.Run(cdn.name+"/signer-floor", func(b *testing.B) {
			h := newHarness(b)
			req := playback.SignRequest{BaseURL: h.edge.URL, Prefix: "/titles/" + titleID + "/",
				Manifest: "/titles/" + titleID + "/master.m3u8", Expires: time.Now().Add(10 * time.Minute)}
			signer := h.signers[cdn.key]
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := signer.Sign(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

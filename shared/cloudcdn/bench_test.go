package cloudcdn

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// BenchmarkSign compares the signer with its floor, HMAC-SHA1 over the same
// bytes with a reused state. Run: go test -bench Sign ./shared/cloudcdn
func BenchmarkSign(b *testing.B) {
	key := GenerateDevKey("k1")
	ks, _ := NewKeySet("k1", key)
	s, err := New(Config{}, ks)
	if err != nil {
		b.Fatal(err)
	}
	const manifest = "https://cdn.example.com/titles/t-8f3kq2m9x7/master.m3u8"
	exp := time.Now().Add(time.Hour)
	message := []byte(manifest + "?Expires=" + strconv.FormatInt(exp.Unix(), 10) + "&KeyName=k1")

	b.Run("floor-hmac-sha1", func(b *testing.B) {
		m := hmac.New(sha1.New, key.Secret)
		var sum [sha1.Size]byte
		b.ReportAllocs()
		for b.Loop() {
			m.Reset()
			m.Write(message)
			m.Sum(sum[:0])
		}
	})
	b.Run("url", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.SignURL(manifest, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The machine is shared: alternating floor and signer in batches and
	// comparing their medians keeps load swings out of the ratio.
	b.Run("ratio-interleaved-url", func(b *testing.B) {
		const batch = 64
		m := hmac.New(sha1.New, key.Secret)
		var sum [sha1.Size]byte
		var floor, signer []time.Duration
		for b.Loop() {
			t0 := time.Now()
			for range batch {
				m.Reset()
				m.Write(message)
				m.Sum(sum[:0])
			}
			t1 := time.Now()
			for range batch {
				_, _ = s.SignURL(manifest, exp)
			}
			floor, signer = append(floor, t1.Sub(t0)), append(signer, time.Since(t1))
		}
		f, g := median(floor), median(signer)
		b.ReportMetric(float64(g)/float64(f), "signer/floor")
		b.ReportMetric(float64(f.Nanoseconds())/batch, "floor-median-ns")
		b.ReportMetric(float64(g.Nanoseconds())/batch, "signer-median-ns")
	})
	b.Run("prefix-query", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.SignPrefixQuery("https://cdn.example.com/titles/t-8f3kq2m9x7/", exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A whole grant: prefix query, manifest URL and cookie (two HMACs).
	b.Run("access", func(b *testing.B) {
		req := playback.SignRequest{BaseURL: "https://cdn.example.com", Prefix: "/titles/t-8f3kq2m9x7/",
			Manifest: "/titles/t-8f3kq2m9x7/master.m3u8", Expires: exp}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Sign(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	key := GenerateDevKey("k1")
	ks, _ := NewKeySet("k1", key)
	s, _ := New(Config{}, ks)
	v, _ := NewVerifier(ks.Keys(), nil)
	acc, err := s.Sign(context.Background(), playback.SignRequest{BaseURL: "https://cdn.example.com", Prefix: "/titles/t-1/",
		Manifest: "/titles/t-1/master.m3u8", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	u := "https://cdn.example.com/titles/t-1/seg0.ts?" + acc.QueryParams
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(u, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

package cloudfront

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// BenchmarkCannedURL compares the canned-URL signer with its floor, the
// bare private-key operation over the same policy on the same key, and with
// the AWS SDK's signer. Run: go test -bench CannedURL ./shared/cloudfront
func BenchmarkCannedURL(b *testing.B) {
	const raw = base + "/titles/t-8f3kq2m9x7/master.m3u8"
	exp := time.Now().Add(time.Hour)
	policy := []byte(fmt.Sprintf(`{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}`, raw, exp.Unix()))
	rsaKey := testKeys()["KRSA1"].Signer.(*rsa.PrivateKey)
	ecKey := testKeys()["KEC1"].Signer.(*ecdsa.PrivateKey)

	b.Run("floor-rsa-pkcs1v15-sha1", func(b *testing.B) {
		for b.Loop() {
			d := sha1.Sum(policy)
			if _, err := rsa.SignPKCS1v15(nil, rsaKey, crypto.SHA1, d[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("signer-rsa-sha1", func(b *testing.B) {
		s := newSigner(b, SHA1, "KRSA1", "KRSA1")
		for b.Loop() {
			if _, err := s.SignCannedURL(raw, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sdk-rsa-sha1", func(b *testing.B) {
		s := sign.NewURLSigner("KRSA1", rsaKey)
		for b.Loop() {
			if _, err := s.Sign(raw, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The machine is shared: alternating floor and signer in one loop and
	// comparing their medians keeps load swings out of the ratio.
	b.Run("ratio-interleaved-rsa-sha1", func(b *testing.B) {
		s := newSigner(b, SHA1, "KRSA1", "KRSA1")
		var floor, signer []time.Duration
		runFloor := func() {
			t0 := time.Now()
			d := sha1.Sum(policy)
			_, _ = rsa.SignPKCS1v15(nil, rsaKey, crypto.SHA1, d[:])
			floor = append(floor, time.Since(t0))
		}
		runSigner := func() {
			t0 := time.Now()
			_, _ = s.SignCannedURL(raw, exp)
			signer = append(signer, time.Since(t0))
		}
		for b.Loop() {
			if len(floor)%2 == 0 {
				runFloor()
				runSigner()
			} else {
				runSigner()
				runFloor()
			}
		}
		b.ReportMetric(float64(median(signer))/float64(median(floor)), "signer/floor")
		b.ReportMetric(float64(median(floor).Nanoseconds()), "floor-median-ns")
		b.ReportMetric(float64(median(signer).Nanoseconds()), "signer-median-ns")
	})
	b.Run("floor-ecdsa-p256-sha256", func(b *testing.B) {
		for b.Loop() {
			d := sha256.Sum256(policy)
			if _, err := ecdsa.SignASN1(rand.Reader, ecKey, d[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("signer-ecdsa-sha256", func(b *testing.B) {
		s := newSigner(b, SHA256, "KEC1", "KEC1")
		for b.Loop() {
			if _, err := s.SignCannedURL(raw, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAccess is a whole grant: canned manifest URL plus the custom
// policy for cookies and query, i.e. two private-key operations.
func BenchmarkAccess(b *testing.B) {
	for _, id := range []string{"KRSA1", "KEC1"} {
		b.Run(id, func(b *testing.B) {
			s := newSigner(b, SHA256, id, id)
			req := playback.SignRequest{BaseURL: base, Prefix: "/titles/t-8f3kq2m9x7/", Manifest: "/titles/t-8f3kq2m9x7/master.m3u8", Expires: time.Now().Add(time.Hour)}
			ctx := context.Background()
			for b.Loop() {
				if _, err := s.Sign(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, id := range []string{"KRSA1", "KEC1"} {
		b.Run(id, func(b *testing.B) {
			s := newSigner(b, SHA256, id, id)
			acc, err := s.Sign(context.Background(), playback.SignRequest{BaseURL: base, Prefix: "/titles/t-1/", Manifest: "/titles/t-1/master.m3u8", Expires: time.Now().Add(time.Hour)})
			if err != nil {
				b.Fatal(err)
			}
			v, _ := NewVerifier(publicKeys(id), nil)
			cookies := httpx.Cookies(acc.Cookies)
			for b.Loop() {
				if _, err := v.Verify(base+"/titles/t-1/seg0.ts", cookies, netip.Addr{}); err != nil {
					b.Fatal(err)
				}
			}
		})
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

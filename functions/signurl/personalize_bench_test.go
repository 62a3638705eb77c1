package signurl_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/playback"
)

// PersonalizeFloor is the bound BenchmarkPersonalizeMedia holds the
// personalizer to: at most this many times a plain copy of the bytes it
// writes, plus the one signature per pathway (measured apart, since it is
// the signer's cost: see shared/cloudfront and shared/cloudcdn benchmarks).
const PersonalizeFloor = 3.0

// benchPlaylist is a stored 1,000-segment media playlist and the grants of
// two pathways for its folder: a CloudFront custom policy (the longest
// query) and a Cloud CDN URL prefix.
func benchPlaylist(tb testing.TB) (stored []byte, grants []signurl.Grant, sign func() error) {
	tb.Helper()
	stored = storedObjects("bench-film", 1000)["/titles/bench-film/sd/media.m3u8"]
	keys := testKeys()
	if keys.err != nil {
		tb.Fatal(keys.err)
	}
	cfKeys, _ := cloudfront.NewKeySet(keys.cfECDSA.ID, keys.cfECDSA)
	cf, err := cloudfront.New(cloudfront.Config{}, cfKeys)
	if err != nil {
		tb.Fatal(err)
	}
	cdnKeys, _ := cloudcdn.NewKeySet(keys.cdn.Name, keys.cdn)
	cdn, err := cloudcdn.New(cloudcdn.Config{}, cdnKeys)
	if err != nil {
		tb.Fatal(err)
	}
	pathways := []struct {
		base   string
		signer playback.URLSigner
	}{{"https://d111111abcdef8.cloudfront.net", cf}, {"https://media.example.com", cdn}}
	exp := time.Now().Add(10 * time.Minute)
	ctx := context.Background()
	sign = func() error {
		grants = grants[:0]
		for _, p := range pathways {
			acc, err := p.signer.Sign(ctx, playback.SignRequest{BaseURL: p.base, Prefix: "/titles/bench-film/sd/",
				Manifest: "/titles/bench-film/sd/media.m3u8", Expires: exp})
			if err != nil {
				return err
			}
			grants = append(grants, signurl.Grant{Base: p.base, Prefix: "/titles/bench-film/sd/", Query: acc.QueryParams})
		}
		return nil
	}
	if err := sign(); err != nil {
		tb.Fatal(err)
	}
	return stored, slices.Clone(grants), sign
}

// BenchmarkPersonalizeMedia personalizes a 1,000-segment media playlist for
// two pathways (the media route does one per request; a player loading
// both pathways costs both), next to its floor: copying the bytes it
// writes. ratio-interleaved alternates the two in batches and compares
// medians, since the machine is shared; its personalize/copy must stay at
// or under PersonalizeFloor. sign-2-pathways is the per-pathway signature
// the handler adds. Run: go test -bench PersonalizeMedia ./functions/signurl
func BenchmarkPersonalizeMedia(b *testing.B) {
	stored, grants, sign := benchPlaylist(b)
	var outs [][]byte
	for _, g := range grants {
		out, err := signurl.PersonalizeMedia(nil, stored, g)
		if err != nil {
			b.Fatal(err)
		}
		outs = append(outs, out)
	}
	personalize := func() {
		for _, g := range grants {
			if _, err := signurl.PersonalizeMedia(nil, stored, g); err != nil {
				b.Fatal(err)
			}
		}
	}
	copyFloor := func() {
		for _, o := range outs {
			_ = bytes.Clone(o)
		}
	}
	written := int64(len(outs[0]) + len(outs[1]))
	b.Run("copy-floor", func(b *testing.B) {
		b.SetBytes(written)
		b.ReportAllocs()
		for b.Loop() {
			copyFloor()
		}
	})
	b.Run("personalize-2-pathways", func(b *testing.B) {
		b.SetBytes(written)
		b.ReportAllocs()
		for b.Loop() {
			personalize()
		}
	})
	b.Run("sign-2-pathways", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := sign(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ratio-interleaved", func(b *testing.B) { benchRatio(b, personalize, copyFloor, len(stored), written) })
}

// benchRatio alternates batches of the floor and the work and reports the
// ratio of their medians (personalize/copy), so that load on the shared
// machine hits both alike.
func benchRatio(b *testing.B, personalize, copyFloor func(), stored int, written int64) {
	const batch = 8
	var floor, work []time.Duration
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			copyFloor()
		}
		t1 := time.Now()
		for range batch {
			personalize()
		}
		floor, work = append(floor, t1.Sub(t0)), append(work, time.Since(t1))
	}
	f, w := median(floor), median(work)
	b.ReportMetric(float64(w)/float64(f), "personalize/copy")
	b.ReportMetric(PersonalizeFloor, "floor-x")
	b.ReportMetric(float64(f.Nanoseconds())/batch, "copy-median-ns")
	b.ReportMetric(float64(w.Nanoseconds())/batch, "personalize-median-ns")
	b.ReportMetric(float64(stored), "stored-bytes")
	b.ReportMetric(float64(written), "written-bytes")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestPersonalizeBenchmarkReportsItsRatio runs the ratio benchmark
// briefly and checks that it reports its ratio against the floor. Timing is
// not asserted: the shared machine decides it; `go test -bench` is where
// the number is read.
func TestPersonalizeBenchmarkReportsItsRatio(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a benchmark")
	}
	stored, grants, _ := benchPlaylist(t)
	var outs [][]byte
	for _, g := range grants {
		out, err := signurl.PersonalizeMedia(nil, stored, g)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
	}
	res := testing.Benchmark(func(b *testing.B) {
		benchRatio(b, func() {
			for _, g := range grants {
				_, _ = signurl.PersonalizeMedia(nil, stored, g)
			}
		}, func() {
			for _, o := range outs {
				_ = bytes.Clone(o)
			}
		}, len(stored), int64(len(outs[0])+len(outs[1])))
	})
	ratio, ok := res.Extra["personalize/copy"]
	if !ok || ratio <= 0 || res.Extra["floor-x"] != PersonalizeFloor || res.Extra["written-bytes"] <= res.Extra["stored-bytes"] {
		t.Fatalf("benchmark metrics %v: want personalize/copy reported against floor-x %v", res.Extra, PersonalizeFloor)
	}
	t.Logf("personalize/copy = %.2f (floor %.1f), %s", ratio, PersonalizeFloor, res)
}

// TestPersonalizeMediaReadsAnAbsoluteURLOnce: a media playlist whose
// segments are absolute URLs on the pathway (a packager given the CDN's
// base URL) costs at most one allocation a URL more than the same playlist
// written relative: the URL read once as text for the checks of its host
// (appendURI), its path on the pathway taken from the URI itself.
// Not parallel: testing.AllocsPerRun refuses to run in parallel tests.
func TestPersonalizeMediaReadsAnAbsoluteURLOnce(t *testing.T) {
	stored, grants, _ := benchPlaylist(t)
	g := grants[0]
	absolute := bytes.ReplaceAll(stored, []byte("\nseg"), []byte("\n"+g.Base+g.Prefix+"seg"))
	urls := bytes.Count(absolute, []byte("\n"+g.Base))
	relativeOut, err := signurl.PersonalizeMedia(nil, stored, g)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := signurl.PersonalizeMedia(nil, absolute, g); err != nil || !bytes.Equal(out, relativeOut) || urls == 0 {
		t.Fatalf("absolute playlist (%d URLs) = %v, or written otherwise than the relative one", urls, err)
	}
	relative := testing.AllocsPerRun(20, func() { _, _ = signurl.PersonalizeMedia(nil, stored, g) })
	onPathway := testing.AllocsPerRun(20, func() { _, _ = signurl.PersonalizeMedia(nil, absolute, g) })
	if extra := onPathway - relative; extra > float64(urls) {
		t.Fatalf("%d URLs on the pathway cost %v allocations more than relative ones, want at most one each", urls, extra)
	}
}

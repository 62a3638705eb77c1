package telemetry

import (
	"slices"
	"testing"
)

// TestHistogramValuesKeepEveryBucket: a histogram of more than
// emfMaxValues observations is scaled down to at most that many values,
// and every bucket that holds an observation keeps at least one value, so
// that CloudWatch's Maximum (and Minimum) of the line is the observed one:
// 9990 requests of under a millisecond and 10 of 25 s once left the
// 25 s ones out, the line's Maximum 0.001.
func TestHistogramValuesKeepEveryBucket(t *testing.T) {
	t.Parallel()
	at := func(bound float64, n uint64) []uint64 {
		c := make([]uint64, len(secondsBuckets)+1)
		c[slices.Index(secondsBuckets, bound)] = n
		return c
	}
	plus := func(a, b []uint64) []uint64 {
		for i := range a {
			a[i] += b[i]
		}
		return a
	}
	for _, tc := range []struct {
		name     string
		counts   []uint64
		min, max float64
	}{
		{name: "slow tail after a full first bucket", counts: plus(at(0.001, 9990), at(30, 10)), min: 0.0005, max: 25},
		{name: "slow tail past the last bound", counts: func() []uint64 {
			c := at(0.001, 995)
			c[len(secondsBuckets)] = 5
			return c
		}(), min: 0.0002, max: 5000},
		{name: "many small buckets", counts: plus(plus(plus(at(0.001, 500), at(0.01, 3)), plus(at(0.1, 496), at(1, 2))), at(60, 1)), min: 0.0009, max: 42},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vs := histogramValues(secondsBuckets, tc.counts, tc.min, tc.max)
			if len(vs) > emfMaxValues {
				t.Fatalf("%d values, EMF allows %d", len(vs), emfMaxValues)
			}
			if got := slices.Max(vs); got != tc.max {
				t.Errorf("largest value %v, want the observed max %v (values %v)", got, tc.max, vs)
			}
			for i, c := range tc.counts {
				if c == 0 {
					continue
				}
				v := tc.max
				if i < len(secondsBuckets) {
					v = min(max(secondsBuckets[i], tc.min), tc.max)
				}
				if !slices.Contains(vs, v) {
					t.Errorf("bucket %d (%d observations) has no value %v in %v", i, c, v, vs)
				}
			}
		})
	}
}

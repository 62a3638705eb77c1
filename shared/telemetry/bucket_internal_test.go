package telemetry

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"testing"
)

// TestBucketIsTheSDKs: the bucket a measurement is counted in is the one
// the SDK's histogram finds with sort.SearchFloat64s, for every value at,
// just either side of and between the bounds, zero of both signs,
// negative values, ±Inf and NaN, on the request histogram's bounds and on
// bounds that are empty, repeat or start at -Inf (as DriftRequestHistogram
// makes them).
func TestBucketIsTheSDKs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		bounds []float64
	}{
		{name: "request histogram", bounds: newRequestHistogram().bounds},
		{name: "empty"},
		{name: "one", bounds: []float64{0}},
		{name: "repeated", bounds: []float64{-1, 0, 0, 2, 2, 2, 5}},
		{name: "drifted", bounds: append([]float64{math.Inf(-1)}, secondsBuckets[:len(secondsBuckets)-1]...)},
		{name: "infinite ends", bounds: []float64{math.Inf(-1), 1, math.Inf(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !slices.IsSorted(tc.bounds) {
				t.Fatalf("bounds %v are not sorted, as the SDK sorts them", tc.bounds)
			}
			values := []float64{math.NaN(), math.Inf(-1), math.Inf(1), 0, math.Copysign(0, -1), -1, -1e300, 1e300,
				math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, math.MaxFloat64}
			for _, b := range tc.bounds {
				values = append(values, b, math.Nextafter(b, math.Inf(-1)), math.Nextafter(b, math.Inf(1)), b/2, b*2)
			}
			for _, v := range values {
				if got, want := bucket(tc.bounds, v), sort.SearchFloat64s(tc.bounds, v); got != want {
					t.Errorf("bucket(%v, %s) = %d, the SDK's %d", tc.bounds, fmt.Sprint(v), got, want)
				}
			}
		})
	}
}

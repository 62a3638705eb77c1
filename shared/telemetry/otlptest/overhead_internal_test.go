package otlptest

import (
	"testing"
	"time"
)

func TestPairMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		pairs [][2]time.Duration
		want  float64
	}{
		{name: "none", want: 0},
		{name: "one", pairs: [][2]time.Duration{{100, 110}}, want: 1.1},
		{name: "odd count: the middle ratio, not the ratio of sums", pairs: [][2]time.Duration{{100, 300}, {100, 105}, {1000, 900}}, want: 1.05},
		{name: "even count: the mean of the middle two", pairs: [][2]time.Duration{{100, 90}, {100, 100}, {100, 110}, {100, 400}}, want: 1.05},
		{name: "a pair without off is left out", pairs: [][2]time.Duration{{0, 50}, {100, 120}, {200, 200}, {100, 90}}, want: 1},
		{name: "unsorted input", pairs: [][2]time.Duration{{100, 130}, {100, 70}, {100, 100}}, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := pairMedian(tc.pairs); got < tc.want-1e-12 || got > tc.want+1e-12 {
				t.Errorf("pairMedian = %v, want %v", got, tc.want)
			}
		})
	}
}

package latencytest

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestConcurrentSpreadsTheCalls(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		n, callers int
		want       []int64
	}{
		{name: "even", n: 8, callers: 4, want: []int64{2, 2, 2, 2}},
		{name: "remainder to the first", n: 10, callers: 4, want: []int64{3, 3, 2, 2}},
		{name: "fewer calls than callers", n: 2, callers: 4, want: []int64{1, 1, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			counts := make([]atomic.Int64, tc.callers)
			lat, err := Concurrent(tc.n, tc.callers, func(i int) error { counts[i].Add(1); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if len(lat) != tc.n {
				t.Fatalf("%d latencies, want %d", len(lat), tc.n)
			}
			for i := range counts {
				if got := counts[i].Load(); got != tc.want[i] {
					t.Errorf("caller %d made %d calls, want %d", i, got, tc.want[i])
				}
			}
		})
	}
}

func TestConcurrentStopsAFailingCaller(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	var calls atomic.Int64
	_, err := Concurrent(8, 2, func(i int) error {
		calls.Add(1)
		if i == 0 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if got := calls.Load(); got != 5 {
		t.Fatalf("%d calls, want 5 (one failing, then the other caller's 4)", got)
	}
}

func TestAlternateTakesTurns(t *testing.T) {
	t.Parallel()
	var order []string
	run := func(name string, d time.Duration) Mode {
		return Mode{Name: name, Run: func(n int) []time.Duration {
			order = append(order, name)
			lat := make([]time.Duration, n)
			for i := range lat {
				lat[i] = d * time.Duration(n-i)
			}
			return lat
		}}
	}
	lat := Alternate(8, 2, 3, run("a", time.Millisecond), run("b", time.Second))
	if got := len(order); got != 4 || order[0] != "a" || order[1] != "b" || order[2] != "a" || order[3] != "b" {
		t.Fatalf("order %v, want a b a b", order)
	}
	if len(lat[0]) != 8 || len(lat[1]) != 8 {
		t.Fatalf("latencies %d and %d, want 8 each (4 a chunk)", len(lat[0]), len(lat[1]))
	}
	if lat[0][0] != time.Millisecond || lat[0][7] != 4*time.Millisecond {
		t.Fatalf("mode a not sorted: %v", lat[0])
	}
	if got := len(Alternate(2, 2, 3, run("c", time.Millisecond))[0]); got != 6 {
		t.Fatalf("%d latencies, want 6 (at least 3 a chunk)", got)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	sorted := make([]time.Duration, 100)
	for i := range sorted {
		sorted[i] = time.Duration(i)
	}
	for _, tc := range []struct {
		name string
		pct  int
		want time.Duration
	}{
		{name: "median", pct: 50, want: 50},
		{name: "p99", pct: 99, want: 99},
		{name: "least", pct: 0, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Percentile(sorted, tc.pct); got != tc.want {
				t.Fatalf("Percentile(%d) = %v, want %v", tc.pct, got, tc.want)
			}
		})
	}
}

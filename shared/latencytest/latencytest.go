// Package latencytest is the harness of the benchmarks that report latency
// percentiles of concurrent callers against a floor measured in the same
// run (shared/bolt BenchmarkAcquireLeaseConcurrent, functions/authorizeplay
// BenchmarkAuthorizePlayConcurrent).
package latencytest

import (
	"slices"
	"sync"
	"time"
)

// Concurrent makes n calls spread over callers goroutines running at once
// (caller i makes n/callers calls, the first n%callers one more) and
// returns every call's latency. A failing call stops its caller; the first
// error is returned.
func Concurrent(n, callers int, call func(caller int) error) ([]time.Duration, error) {
	lat := make([][]time.Duration, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		calls := n / callers
		if i < n%callers {
			calls++
		}
		wg.Go(func() {
			for range calls {
				start := time.Now()
				err := call(i)
				lat[i] = append(lat[i], time.Since(start))
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return slices.Concat(lat...), nil
}

// Mode is one thing a benchmark times, with its name for the metrics.
type Mode struct {
	Name string
	// Run makes n calls and returns their latencies.
	Run func(n int) []time.Duration
}

// Alternate runs the modes in turn, chunks times, n/chunks calls each time
// (at least least), so load from other processes falls on all of them
// alike. It returns each mode's latencies, sorted, in the order given.
func Alternate(n, chunks, least int, modes ...Mode) [][]time.Duration {
	lat := make([][]time.Duration, len(modes))
	for range chunks {
		for i, m := range modes {
			lat[i] = append(lat[i], m.Run(max(n/chunks, least))...)
		}
	}
	for _, l := range lat {
		slices.Sort(l)
	}
	return lat
}

// Percentile is the pct-th percentile of sorted latencies (pct 50: the
// median).
func Percentile(sorted []time.Duration, pct int) time.Duration {
	return sorted[len(sorted)*pct/100]
}

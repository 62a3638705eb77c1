//go:build race

package gcpfn_test

// raceEnabled: the tests run under the race detector, whose
// instrumentation allocates.
const raceEnabled = true

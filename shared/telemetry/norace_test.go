//go:build !race

package telemetry_test

// raceEnabled: the tests run under the race detector, whose
// instrumentation allocates.
const raceEnabled = false

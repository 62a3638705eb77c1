//go:build unix

package auth

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time the process has used. Benchmarks report it per
// op next to wall time because the shared build machine's load inflates
// wall time but not CPU time.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

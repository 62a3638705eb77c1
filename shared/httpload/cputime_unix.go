//go:build unix

package httpload

import (
	"syscall"
	"testing"
	"time"
)

// ProcessCPU is the CPU time the process has used. Benchmarks report it per
// op next to wall time because a shared machine's load inflates wall time
// but not CPU time.
func ProcessCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

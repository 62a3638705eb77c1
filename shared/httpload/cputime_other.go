//go:build !unix

package httpload

import (
	"testing"
	"time"
)

// ProcessCPU is unknown here; benchmarks then report zero CPU time.
func ProcessCPU(testing.TB) time.Duration { return 0 }

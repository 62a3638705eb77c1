//go:build !linux

package otlptest

import (
	"errors"
	"time"
)

// monotonic: the chunk windows are for perf, which is Linux's.
func monotonic() (time.Duration, error) {
	return 0, errors.New("chunk windows are written on Linux only")
}

// Package chunkwindow is the file the overhead benchmarks write their
// timed chunks to (otlptest.EnvOverheadWindows) and cmd/overheadsplit
// reads: one chunk a line, "mode start end", mode 0 (off) or 1 (on), start
// and end on CLOCK_MONOTONIC written as perf script --ns prints its
// timestamps (seconds with nine decimals), so that the two compare exactly.
package chunkwindow

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Window is one timed chunk: its mode (0 off, 1 on) and its span on
// CLOCK_MONOTONIC.
type Window struct {
	Mode       int
	Start, End time.Duration
}

// FileName is the file in dir that holds the chunks of the benchmark
// named benchmark (slashes and spaces as '_', ".windows" added).
func FileName(dir, benchmark string) string {
	return filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(benchmark)+".windows")
}

// Write writes win as a line of the file.
func Write(w io.Writer, win Window) error {
	_, err := fmt.Fprintf(w, "%d %s %s\n", win.Mode, timestamp(win.Start), timestamp(win.End))
	return err
}

// timestamp formats d as perf script prints its timestamps (--ns).
func timestamp(d time.Duration) string {
	return fmt.Sprintf("%d.%09d", d/time.Second, d%time.Second)
}

// Read reads the file's lines in the order the chunks ran; a chunk that
// ends before it starts or starts before the one before it ended is
// refused, as is a file without a chunk.
func Read(r io.Reader) ([]Window, error) {
	var ws []Window
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || (f[0] != "0" && f[0] != "1") {
			return nil, fmt.Errorf("line %d: %q is not \"mode start end\"", n, sc.Text())
		}
		start, err1 := ParseTimestamp(f[1])
		end, err2 := ParseTimestamp(f[2])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if end < start || (len(ws) > 0 && start < ws[len(ws)-1].End) {
			return nil, fmt.Errorf("line %d: chunk %s–%s is not after the one before", n, f[1], f[2])
		}
		ws = append(ws, Window{Mode: int(f[0][0] - '0'), Start: start, End: end})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ws) == 0 {
		return nil, errors.New("no chunk")
	}
	return ws, nil
}

// ParseTimestamp reads "seconds.nanoseconds" exactly (a float64 would
// lose the last digits of a machine's uptime in nanoseconds).
func ParseTimestamp(s string) (time.Duration, error) {
	sec, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 9 {
		return 0, fmt.Errorf("timestamp %q: want seconds with 9 decimals", s)
	}
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return 0, fmt.Errorf("timestamp %q", s)
	}
	return time.Duration(a)*time.Second + time.Duration(b), nil
}

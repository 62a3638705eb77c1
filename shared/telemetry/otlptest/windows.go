package otlptest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chunkWindows writes the timed chunks' windows (EnvOverheadWindows); its
// methods do nothing on a nil receiver, when the variable is not set.
type chunkWindows struct {
	b testing.TB
	f *os.File
	w *bufio.Writer
}

// windowsFile is the file EnvOverheadWindows names for the benchmark name.
func windowsFile(dir, name string) string {
	return filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(name)+".windows")
}

func openWindows(b testing.TB) *chunkWindows {
	dir := os.Getenv(EnvOverheadWindows)
	if dir == "" {
		return nil
	}
	if _, err := monotonic(); err != nil {
		b.Fatalf("%s: %v", EnvOverheadWindows, err)
	}
	f, err := os.Create(windowsFile(dir, b.Name()))
	if err != nil {
		b.Fatalf("%s: %v", EnvOverheadWindows, err)
	}
	return &chunkWindows{b: b, f: f, w: bufio.NewWriter(f)}
}

// now is CLOCK_MONOTONIC's reading, 0 when no file is written.
func (c *chunkWindows) now() time.Duration {
	if c == nil {
		return 0
	}
	t, _ := monotonic()
	return t
}

// add records a chunk of mode from start to end (readings of now), after
// its timing: the write is no part of the chunk's CPU.
func (c *chunkWindows) add(mode int, start, end time.Duration) {
	if c == nil {
		return
	}
	fmt.Fprintf(c.w, "%d %s %s\n", mode, seconds(start), seconds(end))
}

func (c *chunkWindows) close() {
	if c == nil {
		return
	}
	if err := c.w.Flush(); err != nil {
		c.b.Fatalf("%s: %v", EnvOverheadWindows, err)
	}
	if err := c.f.Close(); err != nil {
		c.b.Fatalf("%s: %v", EnvOverheadWindows, err)
	}
}

// seconds formats d as perf script prints its timestamps (--ns).
func seconds(d time.Duration) string {
	return fmt.Sprintf("%d.%09d", d/time.Second, d%time.Second)
}

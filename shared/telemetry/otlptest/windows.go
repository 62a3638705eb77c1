package otlptest

import (
	"bufio"
	"os"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/telemetry/otlptest/chunkwindow"
)

// chunkWindows writes the timed chunks' windows (EnvOverheadWindows); its
// methods do nothing on a nil receiver, when the variable is not set.
type chunkWindows struct {
	b testing.TB
	f *os.File
	w *bufio.Writer
}

func openWindows(b testing.TB) *chunkWindows {
	dir := os.Getenv(EnvOverheadWindows)
	if dir == "" {
		return nil
	}
	if _, err := monotonic(); err != nil {
		b.Fatalf("%s: %v", EnvOverheadWindows, err)
	}
	f, err := os.Create(chunkwindow.FileName(dir, b.Name()))
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
	// An error sticks in the buffered writer and is reported by close.
	_ = chunkwindow.Write(c.w, chunkwindow.Window{Mode: mode, Start: start, End: end})
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

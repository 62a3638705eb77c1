package chunkwindow_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/telemetry/otlptest/chunkwindow"
)

// TestWrittenWindowsReadBackExactly: what the benchmark writes is what
// cmd/overheadsplit reads, to the nanosecond, at an uptime a float64
// would round, in perf script's --ns layout.
func TestWrittenWindowsReadBackExactly(t *testing.T) {
	t.Parallel()
	uptime := 16*time.Hour + 7*time.Nanosecond
	want := []chunkwindow.Window{
		{Mode: 0, Start: uptime, End: uptime + 900*time.Millisecond},
		{Mode: 1, Start: uptime + time.Second, End: uptime + 2*time.Second - time.Nanosecond},
	}
	var buf bytes.Buffer
	for _, w := range want {
		if err := chunkwindow.Write(&buf, w); err != nil {
			t.Fatal(err)
		}
	}
	if first, _, _ := bytes.Cut(buf.Bytes(), []byte("\n")); string(first) != "0 57600.000000007 57600.900000007" {
		t.Errorf("first line %q, want perf script's seconds with nine decimals", first)
	}
	got, err := chunkwindow.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("read %v, want %v", got, want)
	}
}

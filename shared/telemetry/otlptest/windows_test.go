package otlptest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
	"github.com/playplane/playplane/shared/telemetry/otlptest/chunkwindow"
)

// TestOverheadWritesItsChunkWindows: with EnvOverheadWindows set, the last
// run of a benchmark leaves one line per timed chunk, "mode start end" on
// CLOCK_MONOTONIC, each pair of chunks one off and one on, in the order
// they ran and not overlapping, read as cmd/overheadsplit reads them
// (chunkwindow.Read).
func TestOverheadWritesItsChunkWindows(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(otlptest.EnvOverheadWindows, dir)
	res := testing.Benchmark(func(b *testing.B) {
		otlptest.Overhead(b, func() {
			_, end := telemetry.StartPublish(context.Background(), telemetry.SystemLocal, "windows", 1)
			end(nil)
		})
	})
	if res.N == 0 {
		t.Fatal("the benchmark failed")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.windows"))
	if err != nil || len(files) != 1 {
		t.Fatalf("windows files: %v %v", files, err)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Read refuses a line that is not "mode start end" and a chunk that
	// starts before the one before it ended.
	ws, err := chunkwindow.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 64 {
		t.Fatalf("%d chunks written, want 64: %v", len(ws), ws)
	}
	var modes [2]int
	for i, w := range ws {
		if w.End <= w.Start {
			t.Fatalf("chunk %d: %v ends as it starts", i+1, w)
		}
		modes[w.Mode]++
		if i%2 == 1 && ws[i-1].Mode == w.Mode {
			t.Fatalf("chunks %d and %d of a pair are both mode %d", i, i+1, w.Mode)
		}
	}
	if modes != [2]int{32, 32} {
		t.Fatalf("chunks by mode %v, want 32 each", modes)
	}
}

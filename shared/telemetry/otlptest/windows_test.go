package otlptest_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// TestOverheadWritesItsChunkWindows: with EnvOverheadWindows set, the last
// run of a benchmark leaves one line per timed chunk, "mode start end" on
// CLOCK_MONOTONIC, each pair of chunks one off and one on, in the order
// they ran and not overlapping, as cmd/overheadsplit reads them.
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
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 64 {
		t.Fatalf("%d chunks written, want 64:\n%s", len(lines), data)
	}
	var last float64
	var modes [2]int
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || (f[0] != "0" && f[0] != "1") {
			t.Fatalf("line %d: %q", i+1, l)
		}
		start, err1 := strconv.ParseFloat(f[1], 64)
		end, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil || start < last || end <= start {
			t.Fatalf("line %d: %q after a chunk ending at %.9f", i+1, l, last)
		}
		last = end
		mode, _ := strconv.Atoi(f[0])
		modes[mode]++
		if i%2 == 1 && strings.Fields(lines[i-1])[0] == f[0] {
			t.Fatalf("chunks %d and %d of a pair are both mode %s", i, i+1, f[0])
		}
	}
	if modes != [2]int{32, 32} {
		t.Fatalf("chunks by mode %v, want 32 each", modes)
	}
}

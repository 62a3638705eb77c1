package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/telemetry/otlptest/chunkwindow"
)

// A perf script excerpt in the layout `perf script -F tid,time,ip,sym
// --ns` prints: a header line per sample, then its frames, leaf first.
const perfScript = ` 4242 100.000000500: 
	ffffffff81000130 entry_SYSCALL_64
	4a1b2c runtime.gcBgMarkWorker
	4a1b00 runtime.goexit.abi0

 4242 100.000001500: 
	5a0001 handle
	5a0002 main.loop
	4a1b00 runtime.goexit.abi0

 4242 100.000001700: 
	5a0001 handle
	5a0002 main.loop

 4243 100.000001900: 
	6b0001 telemetry.start
	5a0001 handle
	5a0002 main.loop

 4242 100.000003200: 
	5a0001 handle
	5a0002 main.loop

 4242 100.000003300: 
	6b0002 telemetry.encode
	6b0002 telemetry.encode
	6b0003 telemetry.export
	4a1b00 runtime.goexit.abi0

 4244 100.000003400: 
	6b0001 telemetry.start
	5a0001 handle
	5a0002 main.loop

 4242 100.000004500: 
	7c0001 [unknown]
`

// Chunk 1 is off, chunk 2 on; the first and last samples fall outside.
const windowsText = `0 100.000001000 100.000002000
1 100.000003000 100.000004000
`

func TestSplitChargesEachSampleToItsChunk(t *testing.T) {
	t.Parallel()
	ws, err := chunkwindow.Read(strings.NewReader(windowsText))
	if err != nil {
		t.Fatal(err)
	}
	s, err := split(ws, strings.NewReader(perfScript))
	if err != nil {
		t.Fatal(err)
	}
	if s.total != [2]int{3, 3} || s.outside != 2 {
		t.Fatalf("totals %v, outside %d; want [3 3], 2", s.total, s.outside)
	}
	for _, c := range []struct {
		name    string
		got     [2]int
		off, on int
	}{
		{"handle inclusive", [2]int{s.inclusive[0]["handle"], s.inclusive[1]["handle"]}, 3, 2},
		{"telemetry.start inclusive", [2]int{s.inclusive[0]["telemetry.start"], s.inclusive[1]["telemetry.start"]}, 1, 1},
		// Recursion: one sample, counted once.
		{"telemetry.encode inclusive", [2]int{s.inclusive[0]["telemetry.encode"], s.inclusive[1]["telemetry.encode"]}, 0, 1},
		{"telemetry.export inclusive", [2]int{s.inclusive[0]["telemetry.export"], s.inclusive[1]["telemetry.export"]}, 0, 1},
		{"handle leaf", [2]int{s.leaf[0]["handle"], s.leaf[1]["handle"]}, 2, 1},
		{"gc worker (outside)", [2]int{s.inclusive[0]["runtime.gcBgMarkWorker"], s.inclusive[1]["runtime.gcBgMarkWorker"]}, 0, 0},
	} {
		if c.got != [2]int{c.off, c.on} {
			t.Errorf("%s: off, on = %v, want [%d %d]", c.name, c.got, c.off, c.on)
		}
	}
}

func TestRunReportsOnsExcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "w.windows")
	if err := os.WriteFile(path, []byte(windowsText), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"-windows", path, "-match", `^telemetry\.|^handle$`}, strings.NewReader(perfScript), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"samples in chunks: off 3, on 3, on/off 1.0000 (2 samples outside the chunks)",
		"      1   33.33%       0       1  telemetry.encode\n",
		"      1   33.33%       0       1  telemetry.export\n",
		"      0    0.00%       1       1  telemetry.start\n",
		"     -1  -33.33%       3       2  handle\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "main.loop") {
		t.Errorf("-match let main.loop through:\n%s", got)
	}
	// Larger excess first: encode and export (+1) before start (0)
	// before handle (−1) in the inclusive table.
	inclusive, _, _ := strings.Cut(got, "\nleaf")
	if i, j, k := strings.Index(inclusive, "telemetry.export"), strings.Index(inclusive, "telemetry.start"), strings.Index(inclusive, "handle"); !(i < j && j < k) {
		t.Errorf("inclusive table out of order:\n%s", inclusive)
	}
}

func TestBadInputIsRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, windows, perf, want string
	}{
		{"overlapping chunks", "0 1.000000000 3.000000000\n1 2.000000000 4.000000000\n", perfScript, "not after"},
		{"a timestamp without nanoseconds", "0 1.5 2.000000000\n", perfScript, "9 decimals"},
		{"no mode", "1.000000000 2.000000000\n", perfScript, "mode start end"},
		{"no chunk", "", perfScript, "no chunk"},
		{"no sample in a chunk (perf's default clock)", windowsText, " 4242 5.000000000: \n\t5a0001 handle\n", "CLOCK_MONOTONIC"},
		{"a header without a time", windowsText, " 4242 cpu-clock: \n\t5a0001 handle\n", "no timestamp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ws, err := chunkwindow.Read(strings.NewReader(c.windows))
			if err == nil {
				_, err = split(ws, strings.NewReader(c.perf))
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one saying %q", err, c.want)
			}
		})
	}
}

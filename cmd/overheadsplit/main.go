// Command overheadsplit charges perf's CPU samples of an overhead
// benchmark (otlptest.Overhead) to the chunk each fell in, off or on, and
// prints, per function, the samples "on" had more than "off": inclusive
// (the function and what it called) and as the leaf. Both modes run the
// same number of operations, so the difference is telemetry's cost where
// it was paid, on any thread: the exporter's goroutines, the collector's
// workers and the kernel included, which a profile labelled by mode does
// not split.
//
//	PLAYPLANE_OVERHEAD_WINDOWS=/tmp/w perf record -k CLOCK_MONOTONIC -F 2000 -g -o /tmp/hb.data \
//	  ./heartbeat.test -test.run X -test.cpu 1 -test.bench HandlerTelemetry/parentbased -test.benchtime 200000x
//	perf script -i /tmp/hb.data -F tid,time,ip,sym --ns |
//	  go run ./cmd/overheadsplit -windows /tmp/w/BenchmarkHandlerTelemetry_parentbased_traceidratio=0.01.windows
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/playplane/playplane/shared/telemetry/otlptest/chunkwindow"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "overheadsplit:", err)
		os.Exit(1)
	}
}

func run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("overheadsplit", flag.ContinueOnError)
	windowsPath := fs.String("windows", "", "the chunk windows the benchmark wrote (otlptest.EnvOverheadWindows)")
	top := fs.Int("top", 40, "functions listed in each table")
	match := fs.String("match", "", "list only the functions this regular expression matches")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *windowsPath == "" {
		return fmt.Errorf("-windows is required")
	}
	wf, err := os.Open(*windowsPath)
	if err != nil {
		return err
	}
	defer wf.Close()
	windows, err := chunkwindow.Read(wf)
	if err != nil {
		return fmt.Errorf("%s: %w", *windowsPath, err)
	}
	s, err := split(windows, in)
	if err != nil {
		return fmt.Errorf("perf script: %w", err)
	}
	re, err := regexp.Compile(*match)
	if err != nil {
		return fmt.Errorf("-match: %w", err)
	}
	return s.report(out, *top, re)
}

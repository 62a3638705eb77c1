package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/playplane/playplane/shared/telemetry/otlptest/chunkwindow"
)

// samples is perf's samples that fell in a chunk, counted per mode.
type samples struct {
	total     [2]int
	outside   int
	inclusive [2]map[string]int
	leaf      [2]map[string]int
}

// split reads `perf script -F tid,time,ip,sym --ns` (any fields, as long
// as the header line holds the time as "seconds.nanoseconds:" and each
// frame is a tab-indented "address symbol" line) and counts each sample
// in the chunk it fell in; samples between chunks (set-up, collections
// outside the timing) are counted apart.
func split(ws []chunkwindow.Window, r io.Reader) (*samples, error) {
	s := &samples{}
	for m := range 2 {
		s.inclusive[m], s.leaf[m] = map[string]int{}, map[string]int{}
	}
	var frames []string
	var at time.Duration
	inSample := false
	flush := func() {
		if !inSample {
			return
		}
		inSample = false
		i, ok := slices.BinarySearchFunc(ws, at, func(w chunkwindow.Window, t time.Duration) int { return cmp.Compare(w.Start, t) })
		if !ok {
			i--
		}
		if i < 0 || at > ws[i].End {
			s.outside++
			return
		}
		m := ws[i].Mode
		s.total[m]++
		if len(frames) > 0 {
			s.leaf[m][frames[0]]++
		}
		// A function on the stack twice (recursion) is counted once.
		seen := make(map[string]bool, len(frames))
		for _, f := range frames {
			if !seen[f] {
				seen[f] = true
				s.inclusive[m][f]++
			}
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == '\t':
			if inSample {
				// "address symbol", the symbol possibly with spaces
				// ("[unknown]", "(anonymous namespace)::f").
				_, sym, _ := strings.Cut(strings.TrimSpace(line), " ")
				frames = append(frames, strings.TrimSpace(sym))
			}
		default:
			flush()
			t, err := sampleTime(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			at, frames, inSample = t, frames[:0], true
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if s.total[0] == 0 || s.total[1] == 0 {
		return nil, fmt.Errorf("samples in chunks: %d off, %d on (%d outside): were perf's timestamps CLOCK_MONOTONIC (perf record -k CLOCK_MONOTONIC), and the windows this run's?",
			s.total[0], s.total[1], s.outside)
	}
	return s, nil
}

// sampleTime is the "seconds.nanoseconds:" field of a sample's header line.
func sampleTime(line string) (time.Duration, error) {
	for _, f := range strings.Fields(line) {
		if t, ok := strings.CutSuffix(f, ":"); ok && strings.Contains(t, ".") {
			return chunkwindow.ParseTimestamp(t)
		}
	}
	return 0, fmt.Errorf("no timestamp in %q (perf script --ns prints seconds.nanoseconds:)", line)
}

// report prints the totals and the top functions match matches by on's
// excess.
func (s *samples) report(w io.Writer, top int, match *regexp.Regexp) error {
	off, on := s.total[0], s.total[1]
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "samples in chunks: off %d, on %d, on/off %.4f (%d samples outside the chunks)\n", off, on, float64(on)/float64(off), s.outside)
	table := func(title string, counts [2]map[string]int) {
		fmt.Fprintf(bw, "\n%s: on−off, as a share of off's samples; off; on\n", title)
		for _, f := range excess(counts, top, match) {
			d := counts[1][f] - counts[0][f]
			fmt.Fprintf(bw, "%7d %7.2f%% %7d %7d  %s\n", d, 100*float64(d)/float64(off), counts[0][f], counts[1][f], f)
		}
	}
	table("inclusive", s.inclusive)
	table("leaf", s.leaf)
	return bw.Flush()
}

// excess is the top functions match matches by on's samples less off's,
// larger first, ties by name.
func excess(counts [2]map[string]int, top int, match *regexp.Regexp) []string {
	names := make([]string, 0, len(counts[0])+len(counts[1]))
	for m := range 2 {
		for f := range counts[m] {
			if (m == 0 || counts[0][f] == 0) && match.MatchString(f) {
				names = append(names, f)
			}
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		da, db := counts[1][a]-counts[0][a], counts[1][b]-counts[0][b]
		return cmp.Or(cmp.Compare(db, da), strings.Compare(a, b))
	})
	return names[:min(top, len(names))]
}

package main

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// window is one timed chunk: its mode (0 off, 1 on) and its span on
// CLOCK_MONOTONIC, in nanoseconds.
type window struct {
	mode       int
	start, end int64
}

// readWindows reads "mode start end" lines, start and end in seconds with
// nanoseconds (perf script's --ns timestamps), in the order the chunks ran.
func readWindows(r io.Reader) ([]window, error) {
	var ws []window
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || (f[0] != "0" && f[0] != "1") {
			return nil, fmt.Errorf("line %d: %q is not \"mode start end\"", n, sc.Text())
		}
		start, err1 := parseNanos(f[1])
		end, err2 := parseNanos(f[2])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if end < start || (len(ws) > 0 && start < ws[len(ws)-1].end) {
			return nil, fmt.Errorf("line %d: chunk %s–%s is not after the one before", n, f[1], f[2])
		}
		ws = append(ws, window{mode: int(f[0][0] - '0'), start: start, end: end})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ws) == 0 {
		return nil, errors.New("no chunk")
	}
	return ws, nil
}

// parseNanos reads "seconds.nanoseconds" exactly (a float64 would lose
// the last digits of a machine's uptime in nanoseconds).
func parseNanos(s string) (int64, error) {
	sec, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 9 {
		return 0, fmt.Errorf("timestamp %q: want seconds with 9 decimals", s)
	}
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return 0, fmt.Errorf("timestamp %q", s)
	}
	return a*1e9 + b, nil
}

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
func split(ws []window, r io.Reader) (*samples, error) {
	s := &samples{}
	for m := range 2 {
		s.inclusive[m], s.leaf[m] = map[string]int{}, map[string]int{}
	}
	var frames []string
	var at int64
	inSample := false
	flush := func() {
		if !inSample {
			return
		}
		inSample = false
		i, ok := slices.BinarySearchFunc(ws, at, func(w window, t int64) int { return cmp.Compare(w.start, t) })
		if !ok {
			i--
		}
		if i < 0 || at > ws[i].end {
			s.outside++
			return
		}
		m := ws[i].mode
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
func sampleTime(line string) (int64, error) {
	for _, f := range strings.Fields(line) {
		if t, ok := strings.CutSuffix(f, ":"); ok && strings.Contains(t, ".") {
			return parseNanos(t)
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

package bolt

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/storetest"
)

// startCPU returns a function giving the process CPU time (user and
// system) used since: on a machine shared with other work, wall time
// swings with the neighbours' load and CPU time much less. It includes the
// untimed setup of each iteration (opening a file), which is small.
func startCPU() func() time.Duration {
	used := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := used()
	return func() time.Duration { return used() - start }
}

// BenchmarkImportCatalogue imports a catalogue of BenchTitles titles
// (PLAYPLANE_BENCH_TITLES) into an empty store: parsing and checking the
// file, diffing against the store, audited change sets of 1,000. floor is the
// same plans and titles put raw in one transaction, the least any import
// can cost; floor-decode also decodes the file into those records (plain
// encoding/json, no checks), the least an import from a file can cost.
// All commit durably (fdatasync), as the runner does.
func BenchmarkImportCatalogue(b *testing.B) {
	data := storetest.CatalogueFile(storetest.BenchTitles())
	f, err := catalogfile.Parse("bench.json", data)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	importFile := func(s *Store) error {
		f, err := catalogfile.Parse("bench.json", data)
		if err != nil {
			return err
		}
		plan, err := catalogfile.Diff(ctx, s, f)
		if err != nil {
			return err
		}
		_, err = catalogfile.Apply(ctx, s, plan, "bench", time.Now)
		return err
	}
	b.Run("import", func(b *testing.B) {
		benchOnFreshStores(b, len(f.Titles), importFile)
	})
	b.Run("floor", func(b *testing.B) {
		benchOnFreshStores(b, len(f.Titles), func(s *Store) error { return rawPut(s, f) })
	})
	b.Run("floor-decode", func(b *testing.B) {
		benchOnFreshStores(b, len(f.Titles), func(s *Store) error {
			var f catalogfile.File
			if err := json.Unmarshal(data, &f); err != nil {
				return err
			}
			return rawPut(s, f)
		})
	})
	// paired runs one import and one floor in turn each iteration and
	// reports the medians of their ratios (CPU and wall): a loaded machine
	// moves them less than it moves two runs seconds apart.
	b.Run("paired", func(b *testing.B) {
		var cpuRatios, wallRatios []float64
		timed := func(run func(*Store) error) (cpu, wall time.Duration) {
			s, err := Open(filepath.Join(b.TempDir(), "db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			used, start := startCPU(), time.Now()
			if err := run(s); err != nil {
				b.Fatal(err)
			}
			return used(), time.Since(start)
		}
		for b.Loop() {
			ic, iw := timed(importFile)
			fc, fw := timed(func(s *Store) error { return rawPut(s, f) })
			cpuRatios, wallRatios = append(cpuRatios, float64(ic)/float64(fc)), append(wallRatios, float64(iw)/float64(fw))
		}
		slices.Sort(cpuRatios)
		slices.Sort(wallRatios)
		b.ReportMetric(cpuRatios[len(cpuRatios)/2], "import/floor-cpu")
		b.ReportMetric(wallRatios[len(wallRatios)/2], "import/floor-wall")
	})
}

// benchOnFreshStores times run on a new, empty store per iteration
// (opening and closing it untimed) and reports ns per title and the
// process CPU time per op.
func benchOnFreshStores(b *testing.B, titles int, run func(*Store) error) {
	cpu := startCPU()
	for b.Loop() {
		b.StopTimer()
		s, err := Open(filepath.Join(b.TempDir(), "db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := run(s); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(titles), "ns/title")
	b.ReportMetric(float64(cpu().Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// rawPut is the floor: the file's plans and titles put as JSON in one bbolt
// transaction, with no checks, versions or audit.
func rawPut(s *Store, f catalogfile.File) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		for _, p := range f.Plans {
			raw, _ := json.Marshal(p)
			if err := tx.Bucket(bucketPlans).Put([]byte(p.ID), raw); err != nil {
				return err
			}
		}
		for _, t := range f.Titles {
			raw, _ := json.Marshal(t)
			if err := tx.Bucket(bucketTitles).Put([]byte(t.ID), raw); err != nil {
				return err
			}
		}
		return nil
	})
}

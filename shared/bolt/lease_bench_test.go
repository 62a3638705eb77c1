package bolt_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/latencytest"
	"github.com/playplane/playplane/shared/playback"
)

// BenchmarkAcquireLeaseConcurrent is the store's share of a durable play:
// 32 callers, each on its own account and device, acquiring leases at
// once (each replaces the caller's previous session), on a durable and a
// WithoutSync store, alternating in chunks so other load falls on both.
// Two floors are measured in the same run beside them: "fsync", one
// fdatasync of a 4 KiB overwrite in the same directory (the least any
// durable acknowledgement can wait), and "commit", one durable bbolt
// transaction of 32 session-sized puts made alone (what a group of 32
// callers shares: two fdatasyncs, pages then meta), and "commit1", the
// same with one put (the same two fdatasyncs, few pages): commit over
// commit1 is what writing a group's scattered pages costs beyond the
// fdatasyncs themselves. A caller that arrives
// during a commit waits for it and then for its own, so "durable/commit"
// between 1 and 2 says the group commit adds nothing beyond the disk;
// "durable/nosync" is the figure.
func BenchmarkAcquireLeaseConcurrent(b *testing.B) {
	const callers, chunks = 32, 4
	modes := []latencytest.Mode{
		{Name: "durable", Run: leaseCallers(b, callers)},
		{Name: "nosync", Run: leaseCallers(b, callers, bolt.WithoutSync())},
		{Name: "fsync", Run: fsyncFloor(b)},
		{Name: "commit", Run: commitFloor(b, callers)},
		{Name: "commit1", Run: commitFloor(b, 1)},
	}
	b.ResetTimer()
	lat := latencytest.Alternate(b.N, chunks, callers, modes...)
	b.StopTimer()
	p50 := map[string]time.Duration{}
	for i, m := range modes {
		p50[m.Name] = latencytest.Percentile(lat[i], 50)
		b.ReportMetric(float64(p50[m.Name].Microseconds()), m.Name+"-p50-µs")
	}
	b.ReportMetric(float64(p50["durable"])/float64(p50["nosync"]), "durable/nosync")
	b.ReportMetric(float64(p50["durable"])/float64(p50["fsync"]), "durable/fsync")
	b.ReportMetric(float64(p50["durable"])/float64(p50["commit"]), "durable/commit")
	b.ReportMetric(float64(p50["commit"])/float64(p50["commit1"]), "commit/commit1")
}

// leaseCallers opens a store and returns a function making n lease
// acquisitions spread over the callers at once, returning their latencies.
func leaseCallers(b *testing.B, callers int, opts ...bolt.Option) func(n int) []time.Duration {
	s, err := bolt.Open(filepath.Join(b.TempDir(), "playplane.db"), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	for i := range callers {
		if err := s.PutAccount(b.Context(), playback.Account{ID: fmt.Sprintf("acct_%d", i), PlanID: "standard",
			Status: playback.StatusActive}); err != nil {
			b.Fatal(err)
		}
	}
	return func(n int) []time.Duration {
		lat, err := latencytest.Concurrent(n, callers, func(i int) error {
			_, err := s.AcquireLease(b.Context(), playback.LeaseRequest{SessionID: playback.NewID("ses"),
				AccountID: fmt.Sprintf("acct_%d", i), DeviceID: "tv", TitleID: "t", Limit: 1, TTL: time.Minute, Now: time.Now()})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		return lat
	}
}

// fsyncFloor returns a function timing n fdatasyncs, one after another,
// each after a 4 KiB overwrite of a preallocated file.
func fsyncFloor(b *testing.B) func(n int) []time.Duration {
	f, err := os.Create(filepath.Join(b.TempDir(), "floor"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	page := make([]byte, 4096)
	if _, err := f.Write(make([]byte, 16*len(page))); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return func(n int) []time.Duration {
		// A caller of a group waits for about one commit of the group, so
		// a floor sample per group of callers, not per call.
		lat := make([]time.Duration, 0, n/32+1)
		for i := range n/32 + 1 {
			if _, err := f.WriteAt(page, int64(i%16*len(page))); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if err := syscall.Fdatasync(int(f.Fd())); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		return lat
	}
}

// commitFloor returns a function timing n/32+1 durable bbolt transactions,
// one after another, each putting puts records of a session's size under
// new keys, on a file opened as Open opens the store's.
func commitFloor(b *testing.B, puts int) func(n int) []time.Duration {
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "floor.db"), 0o600,
		&bbolt.Options{NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	bucket := []byte("sessions")
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 300)
	return func(n int) []time.Duration {
		lat := make([]time.Duration, 0, n/32+1)
		for range n/32 + 1 {
			start := time.Now()
			err := db.Update(func(tx *bbolt.Tx) error {
				for range puts {
					if err := tx.Bucket(bucket).Put([]byte(playback.NewID("ses")), value); err != nil {
						return err
					}
				}
				return nil
			})
			lat = append(lat, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
		}
		return lat
	}
}

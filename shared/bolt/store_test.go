package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/storetest"
	"github.com/playplane/playplane/shared/storetest/importtest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) playback.Store { return open(t) })
}

// TestProgressBatchContract: bolt commits every write on its own, so the
// local runner hands its batch write to the heartbeat consumer
// (heartbeat.Deps.Batch).
func TestProgressBatchContract(t *testing.T) {
	s := open(t)
	t.Cleanup(func() { _ = s.Close() })
	storetest.RunProgressBatch(t, s)
}

func open(t *testing.T) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "playplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPersistsAcrossRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "playplane.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutPlan(t.Context(), playback.Plan{ID: "basic", MaxStreams: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.GetPlan(t.Context(), "basic")
	if err != nil || p.MaxStreams != 1 {
		t.Fatalf("after reopen GetPlan = %+v, %v", p, err)
	}
}

func TestLeaseCounterContract(t *testing.T) {
	t.Parallel()
	s := open(t)
	t.Cleanup(func() { _ = s.Close() })
	storetest.RunLeaseCounter(t, s)
}

// TestImportClaimRace: playplane import holds a customer as the admin API
// does (importtest.ClaimRace).
func TestImportClaimRace(t *testing.T) {
	s := open(t)
	t.Cleanup(func() { _ = s.Close() })
	importtest.ClaimRace(t, s)
}

// TestImportSwaps: an import moving customers around a cycle of its accounts writes the cycle in one change set, or refuses one larger than a set (importtest.Swaps).
func TestImportSwaps(t *testing.T) {
	s := open(t)
	t.Cleanup(func() { _ = s.Close() })
	importtest.Swaps(t, s)
}

// TestImportSwapRace: an operator linking a customer an import swaps, before, as or after the swap is written (importtest.SwapRace).
func TestImportSwapRace(t *testing.T) {
	s := open(t)
	t.Cleanup(func() { _ = s.Close() })
	importtest.SwapRace(t, s)
}

// TestImportSwapFails: the claims of a swap whose write fails are given back or keep holding the customers (importtest.SwapFails).
func TestImportSwapFails(t *testing.T) {
	s := open(t)
	t.Cleanup(func() { _ = s.Close() })
	importtest.SwapFails(t, s)
}

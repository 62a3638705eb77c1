package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// LeaseCountingStore is a store that counts its leases.
type LeaseCountingStore interface {
	playback.Store
	playback.LeaseCounter
}

// RunLeaseCounter is the contract of playback.LeaseCounter. The count
// spans every account, so s must be a store of its own that nothing else
// writes to while it runs (it is not closed here).
//
// It follows what a count must not get wrong: a device switching titles
// replaces its lease (one, not two), a user's end and a stop release one,
// leases that lapse unrenewed stop counting with no write at all (where a
// counter of admissions minus ends would drift), and a renewal keeps a
// lease counted past its first expiry.
func RunLeaseCounter(t *testing.T, s LeaseCountingStore) {
	ctx := context.Background()
	t0 := now()
	count := func(at time.Time, want int, what string) {
		t.Helper()
		if got := must(s.CountActiveLeases(ctx, at))(t); got != want {
			t.Fatalf("%s: CountActiveLeases = %d, want %d", what, got, want)
		}
	}
	count(t0, 0, "an empty store")

	family, solo := playback.NewID("acct"), playback.NewID("acct")
	tv := lease(family, 3, t0, 10*time.Minute)
	phone := lease(family, 3, t0, 10*time.Minute)
	tablet := lease(family, 3, t0, 2*time.Minute) // lapses unrenewed
	short := lease(solo, 1, t0, 2*time.Minute)    // renewed before it lapses
	for _, req := range []playback.LeaseRequest{tv, phone, tablet, short} {
		must(s.AcquireLease(ctx, req))(t)
	}
	count(t0, 4, "four plays on two accounts")

	// The TV switches titles: its new session replaces the old one.
	switched := onDevice(lease(family, 3, t0.Add(time.Second), 10*time.Minute), tv.DeviceID)
	switched.TitleID = "title-2"
	must(s.AcquireLease(ctx, switched))(t)
	count(t0.Add(time.Second), 4, "a device switching titles")

	// A refused play holds nothing.
	_, err := s.AcquireLease(ctx, lease(family, 3, t0.Add(2*time.Second), 10*time.Minute))
	wantCode(t, err, playback.CodeConflict)
	count(t0.Add(2*time.Second), 4, "a play refused at the limit")

	must(s.RenewLease(ctx, short.SessionID, 10*time.Minute, 0, t0.Add(time.Minute)))(t)
	must(s.EndSession(ctx, phone.SessionID, playback.EndByUser, t0.Add(time.Minute)))(t)
	count(t0.Add(time.Minute), 3, "one ended by its user")

	// Three minutes on, the tablet's lease lapsed without a write; the
	// renewed one still holds.
	count(t0.Add(3*time.Minute), 2, "one lapsed unrenewed")
	must(s.EndSession(ctx, switched.SessionID, playback.EndStopped, t0.Add(3*time.Minute)))(t)
	count(t0.Add(3*time.Minute), 1, "the TV stopped")
	count(t0.Add(12*time.Minute), 0, "every lease lapsed")
}

package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// testEndRacesRenewal: a DELETE /v1/sessions/{id} racing the session's
// heartbeats (renewals by id and by the token's held lease, past their
// slack so that each writes) ends the session for good: no renewal
// committed after the end brings it back, every renewal answers the
// session or gone, and the slot is free for another device at once.
func testEndRacesRenewal(t *testing.T, s playback.Store) {
	ctx := context.Background()
	const ttl, slack = 2 * time.Minute, 0
	for round := range 8 {
		acct := playback.NewID("acct")
		t0 := now()
		held := must(s.AcquireLease(ctx, onDevice(lease(acct, 1, t0, ttl), "tv")))(t)
		endAt := t0.Add(time.Second)
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			ended  playback.Session
			endErr error
			other  []error
		)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			ended, endErr = s.EndSession(ctx, held.ID, playback.EndByUser, endAt)
		})
		for i := range 4 {
			wg.Go(func() {
				<-start
				at := t0.Add(time.Duration(i+1) * 300 * time.Millisecond)
				var err error
				if i%2 == 0 {
					_, err = s.RenewLease(ctx, held.ID, ttl, slack, at)
				} else {
					_, err = s.RenewHeldLease(ctx, held, ttl, slack, at)
				}
				if code := playback.ErrorCode(err); err != nil && code != playback.CodeGone && code != playback.CodeUnavailable {
					mu.Lock()
					other = append(other, err)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if endErr != nil {
			t.Fatalf("round %d: end: %v", round, endErr)
		}
		if len(other) > 0 {
			t.Fatalf("round %d: renewals racing the end failed: %v", round, other)
		}
		if ended.EndReason != playback.EndByUser || !ended.EndedAt.Equal(endAt) {
			t.Fatalf("round %d: end answered %+v", round, ended)
		}
		at := t0.Add(2 * time.Second)
		if got := must(s.GetSession(ctx, held.ID))(t); got.EndReason != playback.EndByUser || !got.EndedAt.Equal(endAt) {
			t.Fatalf("round %d: the session after the race = %+v, want ended by the user", round, got)
		}
		if active := must(s.ListActiveSessions(ctx, acct, at))(t); len(active) != 0 {
			t.Fatalf("round %d: active after the end = %+v", round, active)
		}
		_, err := s.RenewLease(ctx, held.ID, ttl, slack, at)
		wantCode(t, err, playback.CodeGone)
		_, err = s.RenewHeldLease(ctx, held, ttl, slack, at)
		wantCode(t, err, playback.CodeGone)
		must(s.AcquireLease(ctx, onDevice(lease(acct, 1, at, ttl), "phone")))(t)
	}
}

// testRaceAtALeaseExpiry: plays from many devices racing at the very
// instant one of the account's leases runs out take exactly the slot it
// held, however many race, the lapsed lease's own device among them.
func testRaceAtALeaseExpiry(t *testing.T, s playback.Store) {
	ctx := context.Background()
	for round := range 4 {
		acct := playback.NewID("acct")
		t0 := now()
		const limit = 2
		held := must(s.AcquireLease(ctx, onDevice(lease(acct, limit, t0, 10*time.Minute), "tv")))(t)
		lapsing := must(s.AcquireLease(ctx, onDevice(lease(acct, limit, t0, time.Minute), "phone")))(t)
		at := lapsing.ExpiresAt
		reqs := []playback.LeaseRequest{onDevice(lease(acct, limit, at, time.Minute), "phone")}
		for i := range 9 {
			reqs = append(reqs, onDevice(lease(acct, limit, at, time.Minute), fmt.Sprintf("d%d", i)))
		}
		admitted := raceAcquire(t, s, reqs)
		if len(admitted) != 1 {
			t.Fatalf("round %d: %d admitted at the expiry, want the one slot that lapsed: %+v", round, len(admitted), admitted)
		}
		active := checkOnePerDevice(t, s, acct, limit, admitted, at)
		if len(active) != limit || active[0].ID != held.ID || active[1].ID != admitted[0].ID {
			t.Fatalf("round %d: active %+v, want %s and %s", round, active, held.ID, admitted[0].ID)
		}
		if got := must(s.GetSession(ctx, lapsing.ID))(t); !got.EndedAt.IsZero() || !got.ExpiresAt.Equal(at) {
			t.Fatalf("round %d: the lapsed session = %+v, want it as admitted", round, got)
		}
	}
}

package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// testLeaseExpiringAtNow: a lease is held until its expiry, exclusive
// (Session.Active): one instant before, it counts, lists, renews and is
// a retry's answer; at the expiry itself it does none of these, on every
// path of every store alike.
func testLeaseExpiringAtNow(t *testing.T, s playback.Store) {
	ctx := context.Background()
	const ttl, slack = time.Minute, 10 * time.Second
	t0 := now()
	a := newAccount(t, s)
	req := onDevice(lease(a.ID, 1, t0, ttl), "tv")
	held := must(s.AcquireLease(ctx, req))(t)
	end := held.ExpiresAt
	before := end.Add(-time.Nanosecond)

	// One instant before the expiry the lease holds.
	if active := must(s.ListActiveSessions(ctx, a.ID, before))(t); len(active) != 1 || active[0].ID != held.ID {
		t.Fatalf("ListActiveSessions just before the expiry = %+v, want the lease", active)
	}
	if r := must(s.ReadAdmission(ctx, a.ID, before))(t); len(r.Active) != 1 {
		t.Fatalf("ReadAdmission just before the expiry lists %+v, want the lease", r.Active)
	}
	_, err := s.AcquireLease(ctx, onDevice(lease(a.ID, 1, before, ttl), "phone"))
	wantCode(t, err, playback.CodeConflict)
	retry := req
	retry.Now = before
	if got := must(s.AcquireLease(ctx, retry))(t); got.ID != held.ID || !got.ExpiresAt.Equal(end) {
		t.Fatalf("a retry just before the expiry = %+v, want the lease %+v", got, held)
	}

	// At the expiry it is over everywhere.
	if active := must(s.ListActiveSessions(ctx, a.ID, end))(t); len(active) != 0 {
		t.Fatalf("ListActiveSessions at the expiry = %+v, want none", active)
	}
	if r := must(s.ReadAdmission(ctx, a.ID, end))(t); len(r.Active) != 0 {
		t.Fatalf("ReadAdmission at the expiry lists %+v, want none", r.Active)
	}
	retry.Now = end
	_, err = s.AcquireLease(ctx, retry)
	wantCode(t, err, playback.CodeGone)
	_, err = s.ExtendLease(ctx, held.ID, end.Add(ttl), end)
	wantCode(t, err, playback.CodeGone)
	_, err = s.RenewLease(ctx, held.ID, ttl, slack, end)
	wantCode(t, err, playback.CodeGone)
	_, err = s.RenewHeldLease(ctx, held, ttl, slack, end)
	wantCode(t, err, playback.CodeGone)
	r := must(s.ReadAdmission(ctx, a.ID, end))(t)
	phone := must(s.AcquireLease(ctx, onRead(onDevice(lease(a.ID, 1, end, ttl), "phone"), r)))(t)
	if active := must(s.ListActiveSessions(ctx, a.ID, end))(t); len(active) != 1 || active[0].ID != phone.ID {
		t.Fatalf("ListActiveSessions after an admission at the expiry = %+v, want only %s", active, phone.ID)
	}
	// The lapsed lease stays lapsed: nothing ended it.
	if got := must(s.GetSession(ctx, held.ID))(t); !got.EndedAt.IsZero() || !got.ExpiresAt.Equal(end) {
		t.Fatalf("the lapsed session = %+v, want it as admitted", got)
	}
}

// testLapsedLeaseAfterALoweredLimit: a household whose plan was lowered
// while it played (4 streams, now 2) keeps one stream; the other three
// players stopped heartbeating and their leases ran out. A play at that
// expiry is admitted beside the one live stream, and the three lapsed
// leases' last renewals, read a moment before the expiry (an earlier
// clock, or a heartbeat whose write lands after the play), find them lost
// to that admission: the household never holds more streams than the
// lowered limit, by any path of any store.
func testLapsedLeaseAfterALoweredLimit(t *testing.T, s playback.Store) {
	ctx := context.Background()
	const ttl, slack = time.Minute, 0
	for round := range 4 {
		acct := playback.NewID("acct")
		t0 := now()
		var held []playback.Session
		for i := range 4 {
			held = append(held, must(s.AcquireLease(ctx, onDevice(lease(acct, 4, t0, ttl), fmt.Sprintf("d%d", i))))(t))
		}
		must(s.ExtendLease(ctx, held[0].ID, t0.Add(10*time.Minute), t0.Add(time.Second)))(t)
		at := held[1].ExpiresAt
		if active := must(s.ListActiveSessions(ctx, acct, at))(t); len(active) != 1 || active[0].ID != held[0].ID {
			t.Fatalf("round %d: active at the expiry = %+v, want only %s", round, active, held[0].ID)
		}
		admitted := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, at, ttl), "new")))(t)
		before := at.Add(-time.Millisecond)
		renewals := []func(playback.Session) (playback.Session, error){
			func(h playback.Session) (playback.Session, error) {
				return s.ExtendLease(ctx, h.ID, before.Add(ttl), before)
			},
			func(h playback.Session) (playback.Session, error) { return s.RenewLease(ctx, h.ID, ttl, slack, before) },
			func(h playback.Session) (playback.Session, error) {
				return s.RenewHeldLease(ctx, h, ttl, slack, before)
			},
		}
		for i, h := range held[1:] {
			if _, err := renewals[i](h); !playback.IsCode(err, playback.CodeGone) {
				t.Errorf("round %d: renewal %d of %s's lapsed lease (slot %q) answered %v, want gone", round, i, h.DeviceID, h.Lease, err)
			}
		}
		active := must(s.ListActiveSessions(ctx, acct, at))(t)
		var devices []string
		for _, a := range active {
			devices = append(devices, a.DeviceID)
		}
		if len(active) != 2 || active[0].ID != held[0].ID || active[1].ID != admitted.ID {
			t.Fatalf("round %d: %d streams active under a limit of 2: %v, want [d0 new]", round, len(active), devices)
		}
	}
}

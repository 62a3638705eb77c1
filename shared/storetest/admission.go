package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// onRead is req admitted on the read r.
func onRead(req playback.LeaseRequest, r playback.AdmissionRead) playback.LeaseRequest {
	req.On = &r
	return req
}

// testAdmissionRead: ReadAdmission returns the account and its active
// leases; an admission on that read commits while the account is as read,
// and is refused account_changed, changing nothing, once any write changed
// it. A read whose leases went stale still never admits past the limit.
func testAdmissionRead(t *testing.T, s playback.Store) {
	ctx := context.Background()
	a := newAccount(t, s)
	t0 := now()
	if _, err := s.ReadAdmission(ctx, playback.NewID("acct"), t0); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("ReadAdmission of an unknown account: %v, want not found", err)
	}
	tv := must(s.AcquireLease(ctx, onDevice(lease(a.ID, 3, t0, time.Minute), "tv")))(t)

	r := must(s.ReadAdmission(ctx, a.ID, t0.Add(time.Second)))(t)
	if r.Account.ID != a.ID || r.Account.Territory != a.Territory || r.Account.ParentalCap != a.ParentalCap {
		t.Fatalf("ReadAdmission account = %+v, want %+v", r.Account, a)
	}
	if len(r.Active) != 1 || r.Active[0].ID != tv.ID {
		t.Fatalf("ReadAdmission active = %+v, want [%s]", r.Active, tv.ID)
	}
	before := must(s.GetRecord(ctx, playback.KindAccount, a.ID))(t)
	phone := must(s.AcquireLease(ctx, onRead(onDevice(lease(a.ID, 3, t0.Add(time.Second), time.Minute), "phone"), r)))(t)
	if active := must(s.ListActiveSessions(ctx, a.ID, t0.Add(time.Second)))(t); len(active) != 2 {
		t.Fatalf("%d active after an admission on a read, want 2", len(active))
	}
	// An admission that registers no device leaves the account as it was,
	// so an operator's If-Match read before it still holds.
	if after := must(s.GetRecord(ctx, playback.KindAccount, a.ID))(t); after.Version != before.Version {
		t.Fatalf("an admission moved the account's version %q -> %q", before.Version, after.Version)
	}

	// The same device again on a fresh read replaces its session.
	r = must(s.ReadAdmission(ctx, a.ID, t0.Add(2*time.Second)))(t)
	phone2 := must(s.AcquireLease(ctx, onRead(onDevice(lease(a.ID, 3, t0.Add(2*time.Second), time.Minute), "phone"), r)))(t)
	if got := must(s.GetSession(ctx, phone.ID))(t); got.EndReason != playback.EndReplaced {
		t.Fatalf("the device's earlier session was not replaced: %+v", got)
	}

	// Any write of the account since the read refuses the admission.
	r = must(s.ReadAdmission(ctx, a.ID, t0.Add(3*time.Second)))(t)
	must(s.UpdateAccount(ctx, a.ID, func(acct *playback.Account) error {
		acct.Devices = append(acct.Devices, playback.Device{ID: "tablet", RegisteredAt: t0})
		return nil
	}))(t)
	req := onRead(onDevice(lease(a.ID, 3, t0.Add(3*time.Second), time.Minute), "tablet"), r)
	_, err := s.AcquireLease(ctx, req)
	if e := playback.AsError(err); e.Code != playback.CodeConflict || e.Reason != "account_changed" {
		t.Fatalf("admission on a read the account moved past: %v, want conflict account_changed", err)
	}
	if _, err := s.GetSession(ctx, req.SessionID); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("a refused admission created its session: %v", err)
	}
	// Nor did it replace the device's session or take a slot.
	active := must(s.ListActiveSessions(ctx, a.ID, t0.Add(3*time.Second)))(t)
	if len(active) != 2 || active[0].ID != tv.ID || active[1].ID != phone2.ID {
		t.Fatalf("active after a refused admission = %+v, want tv and phone", active)
	}
	// On a fresh read it commits.
	r = must(s.ReadAdmission(ctx, a.ID, t0.Add(4*time.Second)))(t)
	tablet := must(s.AcquireLease(ctx, onRead(onDevice(lease(a.ID, 3, t0.Add(4*time.Second), time.Minute), "tablet"), r)))(t)

	// Leases taken since the read still count: the stale read lists two
	// of three, the store sees three.
	must(s.EndSession(ctx, tablet.ID, playback.EndByUser, t0.Add(5*time.Second)))(t)
	r = must(s.ReadAdmission(ctx, a.ID, t0.Add(5*time.Second)))(t)
	if len(r.Active) != 2 {
		t.Fatalf("ReadAdmission active = %d, want 2", len(r.Active))
	}
	must(s.AcquireLease(ctx, onDevice(lease(a.ID, 3, t0.Add(5*time.Second), time.Minute), "laptop")))(t)
	_, err = s.AcquireLease(ctx, onRead(onDevice(lease(a.ID, 3, t0.Add(6*time.Second), time.Minute), "console"), r))
	if e := playback.AsError(err); e.Code != playback.CodeConflict || e.Reason != "stream_limit" {
		t.Fatalf("admission on a read that missed a lease: %v, want stream_limit", err)
	}
	if active := must(s.ListActiveSessions(ctx, a.ID, t0.Add(6*time.Second)))(t); len(active) != 3 {
		t.Fatalf("%d active, limit 3", len(active))
	}
}

// testAdmissionReadRace: plays that each read and then admit on their
// read, racing each other and writes of the account, never exceed the
// limit; a refusal for a moved account is retried on a fresh read, as
// authorize play does.
func testAdmissionReadRace(t *testing.T, s playback.Store) {
	ctx := context.Background()
	a := newAccount(t, s)
	t0 := now()
	const racers, limit = 12, 2
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted []playback.Session
		other    []error
	)
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			for range 20 {
				r, err := s.ReadAdmission(ctx, a.ID, t0)
				if err != nil {
					mu.Lock()
					other = append(other, err)
					mu.Unlock()
					return
				}
				sess, err := s.AcquireLease(ctx, onRead(onDevice(lease(a.ID, limit, t0, time.Minute), []string{"tv", "phone", "tablet", "laptop"}[i%4]), r))
				if playback.AsError(err).Reason == "account_changed" {
					continue
				}
				mu.Lock()
				defer mu.Unlock()
				switch code := playback.ErrorCode(err); {
				case err == nil:
					admitted = append(admitted, sess)
				case code == playback.CodeConflict, code == playback.CodeUnavailable:
				default:
					other = append(other, err)
				}
				return
			}
		})
	}
	// A writer moves the account meanwhile.
	wg.Go(func() {
		<-start
		for i := range 5 {
			_, _ = s.UpdateAccount(ctx, a.ID, func(acct *playback.Account) error { acct.ParentalCap = 10 + i; return nil })
		}
	})
	close(start)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("%d admissions failed with unexpected errors, first: %v", len(other), other[0])
	}
	if len(admitted) == 0 {
		t.Fatal("no admission on a read was admitted")
	}
	checkOnePerDevice(t, s, a.ID, limit, admitted, t0)
}

// testRenewLeaseSeesOtherWrites: renewals after the store's own renewal
// (which an adapter may take as a version to write on without reading)
// still see every other write of the session: an end, a replacement by
// a new play on the device, and keep renewing a live lease.
func testRenewLeaseSeesOtherWrites(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := now()
	const ttl, slack = 2 * time.Minute, 20 * time.Second
	step := slack + time.Second
	a := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, t0, ttl), "tv")))(t)
	for i := 1; i <= 3; i++ {
		at := t0.Add(time.Duration(i) * step)
		got := must(s.RenewLease(ctx, a.ID, ttl, slack, at))(t)
		if !got.ExpiresAt.Equal(at.Add(ttl)) || !got.LastSeenAt.Equal(at) {
			t.Fatalf("renewal %d = %+v, want expiry %v", i, got, at.Add(ttl))
		}
		if stored := must(s.GetSession(ctx, a.ID))(t); !stored.ExpiresAt.Equal(at.Add(ttl)) || !stored.LastSeenAt.Equal(at) {
			t.Fatalf("renewal %d stored %+v", i, stored)
		}
	}
	// A new play on the device replaces the session: its renewals are over.
	at := t0.Add(4 * step)
	b := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, at, ttl), "tv")))(t)
	_, err := s.RenewLease(ctx, a.ID, ttl, slack, at.Add(step))
	wantCode(t, err, playback.CodeGone)
	if active := must(s.ListActiveSessions(ctx, acct, at.Add(step)))(t); len(active) != 1 || active[0].ID != b.ID {
		t.Fatalf("active after the replaced session's renewal = %+v, want only %s", active, b.ID)
	}
	// An end after the store's own renewal refuses the next one.
	must(s.RenewLease(ctx, b.ID, ttl, slack, at.Add(step)))(t)
	must(s.EndSession(ctx, b.ID, playback.EndByUser, at.Add(step+time.Second)))(t)
	_, err = s.RenewLease(ctx, b.ID, ttl, slack, at.Add(2*step))
	wantCode(t, err, playback.CodeGone)
	if got := must(s.GetSession(ctx, b.ID))(t); got.EndReason != playback.EndByUser || !got.ExpiresAt.Equal(at.Add(step).Add(ttl)) {
		t.Fatalf("the refused renewal changed the ended session: %+v", got)
	}
}

// testAdmissionSavesAccount: an admission on a read may write the account
// in the same step (a device registered with its first play): written
// only if admitted, refused account_changed like the admission, and only
// the same account on the same plan.
func testAdmissionSavesAccount(t *testing.T, s playback.Store) {
	ctx := context.Background()
	a := newAccount(t, s)
	t0 := now()
	withDevice := func(acct playback.Account, id string) *playback.Account {
		acct.Devices = append(acct.Devices, playback.Device{ID: id, RegisteredAt: t0})
		acct.UpdatedAt = t0
		return &acct
	}
	r := must(s.ReadAdmission(ctx, a.ID, t0))(t)
	req := onRead(onDevice(lease(a.ID, 1, t0, time.Minute), "tv"), r)
	req.SaveAccount = withDevice(r.Account, "tv")
	tv := must(s.AcquireLease(ctx, req))(t)
	if got := must(s.GetAccount(ctx, a.ID))(t); !got.HasDevice("tv") || len(got.Devices) != 1 {
		t.Fatalf("account after an admission that registered tv: %+v", got.Devices)
	}
	// Refused at the limit: the account is not written.
	r = must(s.ReadAdmission(ctx, a.ID, t0.Add(time.Second)))(t)
	req = onRead(onDevice(lease(a.ID, 1, t0.Add(time.Second), time.Minute), "phone"), r)
	req.SaveAccount = withDevice(r.Account, "phone")
	_, err := s.AcquireLease(ctx, req)
	if e := playback.AsError(err); e.Reason != "stream_limit" {
		t.Fatalf("admission over the limit: %v, want stream_limit", err)
	}
	if got := must(s.GetAccount(ctx, a.ID))(t); got.HasDevice("phone") {
		t.Fatalf("a refused admission registered its device: %+v", got.Devices)
	}
	// The account moved since the read: neither the admission nor the write.
	r = must(s.ReadAdmission(ctx, a.ID, t0.Add(2*time.Second)))(t)
	must(s.UpdateAccount(ctx, a.ID, func(acct *playback.Account) error { acct.ParentalCap = 12; return nil }))(t)
	req = onRead(onDevice(lease(a.ID, 1, t0.Add(2*time.Second), time.Minute), "tv"), r)
	req.SaveAccount = withDevice(r.Account, "tablet")
	_, err = s.AcquireLease(ctx, req)
	if e := playback.AsError(err); e.Reason != "account_changed" {
		t.Fatalf("admission on a moved account: %v, want account_changed", err)
	}
	if got := must(s.GetAccount(ctx, a.ID))(t); got.HasDevice("tablet") || got.ParentalCap != 12 {
		t.Fatalf("a refused admission wrote the account: %+v", got)
	}
	if active := must(s.ListActiveSessions(ctx, a.ID, t0.Add(2*time.Second)))(t); len(active) != 1 || active[0].ID != tv.ID {
		t.Fatalf("active after refusals = %+v, want only %s", active, tv.ID)
	}
	// Only with On, and only this account on its plan.
	bad := lease(a.ID, 1, t0, time.Minute)
	bad.SaveAccount = &a
	_, err = s.AcquireLease(ctx, bad)
	wantCode(t, err, playback.CodeInvalid)
	r = must(s.ReadAdmission(ctx, a.ID, t0.Add(3*time.Second)))(t)
	other := r.Account
	other.PlanID = "premium"
	bad = onRead(lease(a.ID, 1, t0.Add(3*time.Second), time.Minute), r)
	bad.SaveAccount = &other
	_, err = s.AcquireLease(ctx, bad)
	wantCode(t, err, playback.CodeInvalid)
}

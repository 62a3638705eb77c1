package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// lapseTTL is the lease of the sessions that lapse in these rows.
const lapseTTL = time.Minute

// lapsedRenewals are the heartbeat's ways to extend a lease, each renewing
// held as a caller whose clock reads at would (slack 0: it writes).
var lapsedRenewals = []struct {
	name  string
	renew func(ctx context.Context, s playback.Store, held playback.Session, at time.Time) (playback.Session, error)
}{
	{"ExtendLease", func(ctx context.Context, s playback.Store, held playback.Session, at time.Time) (playback.Session, error) {
		return s.ExtendLease(ctx, held.ID, at.Add(lapseTTL), at)
	}},
	{"RenewLease", func(ctx context.Context, s playback.Store, held playback.Session, at time.Time) (playback.Session, error) {
		return s.RenewLease(ctx, held.ID, lapseTTL, 0, at)
	}},
	{"RenewHeldLease", func(ctx context.Context, s playback.Store, held playback.Session, at time.Time) (playback.Session, error) {
		return s.RenewHeldLease(ctx, held, lapseTTL, 0, at)
	}},
}

func ids(sessions []playback.Session) []string {
	out := make([]string, 0, len(sessions))
	for _, s := range sessions {
		out = append(out, s.ID)
	}
	return out
}

// testRenewableSessions: ListRenewableSessions lists the account's
// sessions a renewal could still extend, oldest first — the active ones
// and those whose lease lapsed while nothing took their place — and not
// the ended ones, nor a lapsed lease once an admission counted it out,
// so that it stays as short as the account's stream slots.
func testRenewableSessions(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := now()
	const limit = 3
	lapsed := must(s.AcquireLease(ctx, onDevice(lease(acct, limit, t0, lapseTTL), "tv")))(t)
	playing := must(s.AcquireLease(ctx, onDevice(lease(acct, limit, t0.Add(time.Millisecond), 10*lapseTTL), "phone")))(t)
	stopped := must(s.AcquireLease(ctx, onDevice(lease(acct, limit, t0.Add(2*time.Millisecond), 10*lapseTTL), "tablet")))(t)
	must(s.EndSession(ctx, stopped.ID, playback.EndStopped, t0.Add(time.Second)))(t)

	if got := ids(must(s.ListRenewableSessions(ctx, acct))(t)); !slices.Equal(got, []string{lapsed.ID, playing.ID}) {
		t.Fatalf("ListRenewableSessions after the tv's lease lapsed and the tablet stopped = %v, want [tv %s, phone %s]", got, lapsed.ID, playing.ID)
	}
	at := lapsed.ExpiresAt
	admitted := must(s.AcquireLease(ctx, onDevice(lease(acct, limit, at, lapseTTL), "laptop")))(t)
	if got := ids(must(s.ListRenewableSessions(ctx, acct))(t)); !slices.Equal(got, []string{playing.ID, admitted.ID}) {
		t.Fatalf("ListRenewableSessions after an admission counted the lapsed lease out = %v, want [phone %s, laptop %s]", got, playing.ID, admitted.ID)
	}
	if got := must(s.ListRenewableSessions(ctx, playback.NewID("acct")))(t); len(got) != 0 {
		t.Fatalf("ListRenewableSessions of an account without sessions = %+v", got)
	}
}

// testEntitlementEndRacesALapsedRenewal: an account's sessions ended
// (playback.EndLostEntitlement: a cancelled or unpaid account, a
// suspension) at an instant when one lease had just lapsed stay ended,
// that one included: a heartbeat that read its lease just before the
// expiry and renews after the end (an earlier clock, a request in flight)
// finds it gone, on every renewal path, instead of playing on until its
// playback token expires.
func testEntitlementEndRacesALapsedRenewal(t *testing.T, s playback.Store) {
	for _, r := range lapsedRenewals {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			acct := playback.NewID("acct")
			t0 := now()
			lapsing := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, t0, lapseTTL), "tv")))(t)
			playing := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, t0, 10*lapseTTL), "phone")))(t)
			at := lapsing.ExpiresAt // the ender's clock: the tv's lease has lapsed
			if err := playback.EndLostEntitlement(ctx, s, acct, at); err != nil {
				t.Fatal(err)
			}
			read := at.Add(-time.Millisecond) // the renewal's: an instant before the expiry
			for _, held := range []playback.Session{lapsing, playing} {
				if got, err := r.renew(ctx, s, held, read); !playback.IsCode(err, playback.CodeGone) {
					t.Errorf("%s of the %s's lease, read before it lapsed, after the account's sessions were ended: %v, lease until %s; want gone",
						r.name, held.DeviceID, err, got.ExpiresAt.Format(time.RFC3339Nano))
				}
			}
			if active := must(s.ListActiveSessions(ctx, acct, read))(t); len(active) != 0 {
				t.Errorf("the account whose sessions were ended plays on: %d sessions active, %v", len(active), ids(active))
			}
		})
	}
}

// testDeviceRemovalRacesALapsedRenewal: a removed device's sessions ended
// (playback.EndSessions of its DeviceID, as DELETE /v1/devices/{id} does)
// at an instant when its lease had just lapsed stay ended: a heartbeat
// that read the lease just before the expiry and renews after the end
// finds it gone, on every renewal path, while the account's other devices
// play on. The removal reports no session ended: the lapsed one held no
// lease at its instant.
func testDeviceRemovalRacesALapsedRenewal(t *testing.T, s playback.Store) {
	for _, r := range lapsedRenewals {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			acct := playback.NewID("acct")
			t0 := now()
			lapsing := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, t0, lapseTTL), "tv")))(t)
			playing := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, t0, 10*lapseTTL), "phone")))(t)
			at := lapsing.ExpiresAt // the ender's clock: the tv's lease has lapsed
			ended := must(playback.EndSessions(ctx, s, acct, playback.EndDeviceRemoved, at,
				func(x playback.Session) bool { return x.DeviceID == "tv" }))(t)
			if len(ended) != 0 {
				t.Errorf("the removal reports %+v ended, want none: the tv's lease had lapsed", ended)
			}
			read := at.Add(-time.Millisecond) // the renewal's: an instant before the expiry
			if got, err := r.renew(ctx, s, lapsing, read); !playback.IsCode(err, playback.CodeGone) {
				t.Errorf("%s of the removed tv's lease, read before it lapsed, after the removal ended its sessions: %v, lease until %s; want gone",
					r.name, err, got.ExpiresAt.Format(time.RFC3339Nano))
			}
			if got := must(s.GetSession(ctx, lapsing.ID))(t); got.EndReason != playback.EndDeviceRemoved {
				t.Errorf("the removed tv's session ended %q at %s, want %q", got.EndReason, got.EndedAt, playback.EndDeviceRemoved)
			}
			if _, err := r.renew(ctx, s, playing, read); err != nil {
				t.Errorf("%s of the phone, which was not removed: %v", r.name, err)
			}
		})
	}
}

// testEndLapsedAfterItsPlaceWasTaken: EndSession of a session whose lease
// lapsed and whose place an admission has since taken (no renewal can
// extend it: ListRenewableSessions leaves it out) writes its end all the
// same, as DELETE /v1/sessions/{id} asks of every session nobody ended,
// so that a re-authorization naming it is refused as one of an ended
// session (lease_expired, the end read as the lapse), and leaves the
// place's new holder as it was: still renewable, renewed.
func testEndLapsedAfterItsPlaceWasTaken(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := playback.NewID("acct")
	at := now()
	lapsed := must(s.AcquireLease(ctx, onDevice(lease(acct, 1, at.Add(-10*lapseTTL), lapseTTL), "tv")))(t)
	holder := must(s.AcquireLease(ctx, onDevice(lease(acct, 1, at, lapseTTL), "phone")))(t)
	ended := must(s.EndSession(ctx, lapsed.ID, playback.EndByUser, at.Add(time.Millisecond)))(t)
	if endedAt, why := ended.Over(); ended.EndReason != playback.EndByUser || why != playback.EndLapsed || !endedAt.Equal(lapsed.ExpiresAt) {
		t.Fatalf("EndSession of the lapsed tv session after the phone took its place = %+v (read as %q at %s), want ended by the user, read as %q at %s",
			ended, why, endedAt, playback.EndLapsed, lapsed.ExpiresAt)
	}
	if got := must(s.GetSession(ctx, lapsed.ID))(t); got.EndReason != playback.EndByUser {
		t.Fatalf("the lapsed tv session as stored after its end = %+v, want ended by the user", got)
	}
	req := reauthorize(lapsed, 2, at.Add(2*time.Millisecond)) // room for it, were it not over
	_, err := s.AcquireLease(ctx, req)
	wantRefusedReauth(t, s, req, err, playback.CodeGone, playback.ReasonLeaseExpired, playback.EndLapsed, []string{holder.ID})
	if got := ids(must(s.ListRenewableSessions(ctx, acct))(t)); !slices.Equal(got, []string{holder.ID}) {
		t.Fatalf("ListRenewableSessions after the lapsed session's end = %v, want the phone's %s", got, holder.ID)
	}
	renewed := must(s.RenewLease(ctx, holder.ID, lapseTTL, 0, at.Add(3*time.Millisecond)))(t)
	if !renewed.ExpiresAt.After(holder.ExpiresAt) {
		t.Fatalf("the phone's renewal after the lapsed session's end = %+v, want its lease moved past %s", renewed, holder.ExpiresAt)
	}
}

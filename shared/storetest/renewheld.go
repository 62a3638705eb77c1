package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// testRenewHeldLease: RenewHeldLease answers as RenewLease does, whatever
// it skips reading — a lease renewed past the slack is what every read
// shows (the session, the account's leases), a fresh one is not written,
// and one that ended, lapsed, was replaced by its device or lost its slot
// to another session after lapsing is gone, never renewed; a wrong held
// (another account, a stale or foreign lease locator) costs only speed.
func testRenewHeldLease(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	const ttl, slack = 2 * time.Minute, 20 * time.Second
	same := func(t *testing.T, what string, got, want playback.Session) {
		t.Helper()
		if got.ID != want.ID || got.AccountID != want.AccountID || got.DeviceID != want.DeviceID || got.TitleID != want.TitleID ||
			!got.StartedAt.Equal(want.StartedAt) || !got.LastSeenAt.Equal(want.LastSeenAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
			!got.EndedAt.Equal(want.EndedAt) {
			t.Fatalf("%s = %+v\nwant %+v", what, got, want)
		}
	}

	t.Run("renews and every read agrees", func(t *testing.T) {
		acct := playback.NewID("acct")
		held := must(s.AcquireLease(ctx, lease(acct, 2, t0, ttl)))(t)
		fresh := must(s.RenewHeldLease(ctx, held, ttl, slack, t0.Add(10*time.Second)))(t)
		same(t, "a renewal inside the slack", fresh, held)
		same(t, "GetSession after a renewal inside the slack", must(s.GetSession(ctx, held.ID))(t), held)

		want := held
		for i, at := range []time.Time{t0.Add(slack + time.Second), t0.Add(2 * (slack + time.Second))} {
			want.LastSeenAt, want.ExpiresAt = at, at.Add(ttl)
			same(t, "a renewal past the slack", must(s.RenewHeldLease(ctx, held, ttl, slack, at))(t), want)
			same(t, "GetSession after it", must(s.GetSession(ctx, held.ID))(t), want)
			active := must(s.ListActiveSessions(ctx, acct, at.Add(ttl-time.Second)))(t)
			if len(active) != 1 {
				t.Fatalf("renewal %d: ListActiveSessions just before the new expiry = %+v, want the session", i, active)
			}
			same(t, "the account's lease after it", active[0], want)
		}
		// The renewed lease still counts against the limit past its
		// first expiry; and RenewLease sees what RenewHeldLease wrote.
		at := t0.Add(ttl + slack)
		must(s.AcquireLease(ctx, lease(acct, 2, at, ttl)))(t)
		_, err := s.AcquireLease(ctx, lease(acct, 2, at, ttl))
		wantCode(t, err, playback.CodeConflict)
		want.LastSeenAt, want.ExpiresAt = at, at.Add(ttl)
		same(t, "RenewLease after RenewHeldLease", must(s.RenewLease(ctx, held.ID, ttl, slack, at))(t), want)
	})

	t.Run("ended, lapsed, replaced or taken is gone", func(t *testing.T) {
		acct := playback.NewID("acct")
		ended := must(s.AcquireLease(ctx, lease(acct, 3, t0, ttl)))(t)
		must(s.EndSession(ctx, ended.ID, playback.EndByUser, t0.Add(time.Second)))(t)
		_, err := s.RenewHeldLease(ctx, ended, ttl, slack, t0.Add(slack+2*time.Second))
		wantCode(t, err, playback.CodeGone)

		lapsed := must(s.AcquireLease(ctx, lease(acct, 3, t0, ttl)))(t)
		_, err = s.RenewHeldLease(ctx, lapsed, ttl, slack, t0.Add(ttl+time.Second))
		wantCode(t, err, playback.CodeGone)

		replaced := must(s.AcquireLease(ctx, lease(acct, 3, t0, ttl)))(t)
		must(s.AcquireLease(ctx, onDevice(lease(acct, 3, t0.Add(time.Second), ttl), replaced.DeviceID)))(t)
		_, err = s.RenewHeldLease(ctx, replaced, ttl, slack, t0.Add(slack+2*time.Second))
		wantCode(t, err, playback.CodeGone)

		// One stream: the first lapses and the second takes its slot.
		solo := playback.NewID("acct")
		first := must(s.AcquireLease(ctx, lease(solo, 1, t0, ttl)))(t)
		second := must(s.AcquireLease(ctx, lease(solo, 1, t0.Add(ttl+time.Second), ttl)))(t)
		_, err = s.RenewHeldLease(ctx, first, ttl, slack, t0.Add(ttl+2*time.Second))
		wantCode(t, err, playback.CodeGone)
		same(t, "the slot's new holder", must(s.GetSession(ctx, second.ID))(t), second)
		if active := must(s.ListActiveSessions(ctx, solo, t0.Add(ttl+2*time.Second)))(t); len(active) != 1 || active[0].ID != second.ID {
			t.Fatalf("ListActiveSessions = %+v, want the second alone", active)
		}
	})

	t.Run("a wrong held costs only speed", func(t *testing.T) {
		acct := playback.NewID("acct")
		sess := must(s.AcquireLease(ctx, lease(acct, 3, t0, ttl)))(t)
		other := must(s.AcquireLease(ctx, lease(acct, 3, t0, ttl)))(t)
		want := sess
		for i, wrong := range []func(*playback.Session){
			func(h *playback.Session) { h.AccountID = playback.NewID("acct") },
			func(h *playback.Session) { h.Lease = other.Lease },
			func(h *playback.Session) { h.Lease = "not a lease" },
			func(h *playback.Session) { h.Lease = "" },
			func(h *playback.Session) { h.StartedAt, h.TitleID = t0.Add(-time.Hour), "another-title" },
		} {
			held := sess
			wrong(&held)
			at := t0.Add(time.Duration(i+1) * (slack + time.Second))
			want.LastSeenAt, want.ExpiresAt = at, at.Add(ttl)
			got := must(s.RenewHeldLease(ctx, held, ttl, slack, at))(t)
			if i < 4 {
				same(t, "a renewal on a wrong held", got, want)
			}
			same(t, "GetSession after it", must(s.GetSession(ctx, sess.ID))(t), want)
		}
		same(t, "the other session", must(s.GetSession(ctx, other.ID))(t), other)
		_, err := s.RenewHeldLease(ctx, playback.Session{ID: "no-such-session", AccountID: acct, Lease: "0"}, ttl, slack, t0)
		wantCode(t, err, playback.CodeNotFound)
	})
}

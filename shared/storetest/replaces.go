package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// reauthorize is the device's re-authorization of prev at at: a new
// admission naming prev as the session it replaces.
func reauthorize(prev playback.Session, limit int, at time.Time) playback.LeaseRequest {
	req := onDevice(lease(prev.AccountID, limit, at, time.Minute), prev.DeviceID)
	req.Replaces = prev.ID
	return req
}

// wantRefusedReauth checks that req was refused with code, reason and
// (for session_ended) the end reason, and that it wrote nothing: no
// session of its own, the account's leases as they were.
func wantRefusedReauth(t *testing.T, s playback.Store, req playback.LeaseRequest, err error, code playback.Code, reason, endReason string, active []string) {
	t.Helper()
	ctx := context.Background()
	var pe *playback.Error
	if !errors.As(err, &pe) || pe.Code != code || pe.Reason != reason {
		t.Fatalf("re-authorization of %s: %v, want %s %s", req.Replaces, err, code, reason)
	}
	if endReason != "" {
		if d, ok := pe.Details.(*playback.EndDetails); !ok || d.EndReason != endReason {
			t.Fatalf("re-authorization of %s: details %#v, want end_reason %q", req.Replaces, pe.Details, endReason)
		}
	}
	if _, err := s.GetSession(ctx, req.SessionID); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("a refused re-authorization of %s created its session: %v", req.Replaces, err)
	}
	var got []string
	for _, a := range must(s.ListActiveSessions(ctx, req.AccountID, req.Now))(t) {
		got = append(got, a.ID)
	}
	if len(got) != len(active) || len(got) > 0 && got[0] != active[0] {
		t.Fatalf("active after a refused re-authorization of %s = %v, want %v", req.Replaces, got, active)
	}
}

// testReauthorizeEnded: an admission that names the session it replaces
// (LeaseRequest.Replaces) is admitted while that session is live or has
// merely lapsed, replacing it and naming itself its successor
// (ReplacedBy); once the account ended it (from another
// screen, by removing the device, by another play on the device) it is
// refused 410 session_ended naming why, writing nothing, so an end is not
// undone by a re-authorization the player had under way. An unknown or
// another account's session is session_not_found; another device's is
// invalid.
func testReauthorizeEnded(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := newAccount(t, s).ID
	t0 := now()
	tv := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, t0, time.Minute), "tv")))(t)

	// Live: replaced as the device's session always is.
	tv2 := must(s.AcquireLease(ctx, reauthorize(tv, 2, t0.Add(time.Second))))(t)
	if got := must(s.GetSession(ctx, tv.ID))(t); got.EndReason != playback.EndReplaced || got.ReplacedBy != tv2.ID {
		t.Fatalf("the live session re-authorized = %+v, want replaced by %s", got, tv2.ID)
	}
	// Its retry (the answer lost) goes on where that play went on:
	// testReauthorizeRetried.

	for i, why := range []string{playback.EndByUser, playback.EndDeviceRemoved, playback.EndStopped} {
		at := t0.Add(time.Duration(10*i+10) * time.Second)
		cur := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, at, time.Minute), "phone")))(t)
		must(s.EndSession(ctx, cur.ID, why, at.Add(time.Second)))(t)
		req := reauthorize(cur, 2, at.Add(2*time.Second))
		_, err := s.AcquireLease(ctx, req)
		wantRefusedReauth(t, s, req, err, playback.CodeGone, playback.ReasonSessionEnded, why, []string{tv2.ID})
	}

	// Ended after the admission's read (the handler's path, On): refused
	// all the same.
	at := t0.Add(40 * time.Second) // tv2's lease holds until a minute after t0
	cur := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, at, time.Minute), "phone")))(t)
	read := must(s.ReadAdmission(ctx, acct, at.Add(time.Second)))(t)
	must(s.EndSession(ctx, cur.ID, playback.EndByUser, at.Add(time.Second)))(t)
	req := onRead(reauthorize(cur, 2, at.Add(time.Second)), read)
	_, err := s.AcquireLease(ctx, req)
	if playback.AsError(err).Reason == "account_changed" {
		// A store may see the end as a change of the account's leases:
		// the caller reads again.
		req.On = nil
		_, err = s.AcquireLease(ctx, req)
	}
	wantRefusedReauth(t, s, req, err, playback.CodeGone, playback.ReasonSessionEnded, playback.EndByUser, []string{tv2.ID})

	// Lapsed unrenewed (a tab asleep past its token): admitted, and
	// named its successor as a live one is, so that an end of the
	// session named (a list read before the lapse) reaches the play; its
	// end still reads as the lapse.
	lapsed := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, t0.Add(-10*time.Minute), time.Minute), "laptop")))(t)
	again := must(s.AcquireLease(ctx, reauthorize(lapsed, 2, at.Add(2*time.Second))))(t)
	if got := must(s.GetSession(ctx, again.ID))(t); !got.Active(at.Add(2 * time.Second)) {
		t.Fatalf("the re-authorization of a lapsed session = %+v, want active", got)
	}
	got := must(s.GetSession(ctx, lapsed.ID))(t)
	if endedAt, why := got.Over(); got.EndReason != playback.EndReplaced || got.ReplacedBy != again.ID ||
		why != playback.EndLapsed || !endedAt.Equal(lapsed.ExpiresAt) {
		t.Fatalf("the lapsed session re-authorized = %+v (its end read as %q at %s), want replaced by %s, read as %q at its expiry %s",
			got, why, endedAt, again.ID, playback.EndLapsed, lapsed.ExpiresAt)
	}
	must(s.EndSession(ctx, again.ID, playback.EndStopped, at.Add(3*time.Second)))(t)
	// Lapsed, then ended (from another screen, by a list read before the
	// lapse): over for good, the end naming the lapse as every 410 does.
	lapsed = must(s.AcquireLease(ctx, onDevice(lease(acct, 2, t0.Add(-10*time.Minute), time.Minute), "laptop")))(t)
	must(s.EndSession(ctx, lapsed.ID, playback.EndByUser, at.Add(3*time.Second)))(t)
	req = reauthorize(lapsed, 2, at.Add(3*time.Second))
	_, err = s.AcquireLease(ctx, req)
	wantRefusedReauth(t, s, req, err, playback.CodeGone, playback.ReasonLeaseExpired, playback.EndLapsed, []string{tv2.ID})

	// Unknown, another account's, another device's.
	at = at.Add(4 * time.Second)
	unknown := playback.Session{ID: playback.NewID("ses"), AccountID: acct, DeviceID: "tv"}
	req = reauthorize(unknown, 2, at)
	_, err = s.AcquireLease(ctx, req)
	wantRefusedReauth(t, s, req, err, playback.CodeGone, playback.ReasonSessionNotFound, "", []string{tv2.ID})
	theirs := must(s.AcquireLease(ctx, onDevice(lease(playback.NewID("acct"), 2, at, time.Minute), "tv")))(t)
	req = reauthorize(theirs, 2, at)
	req.AccountID = acct
	_, err = s.AcquireLease(ctx, req)
	wantRefusedReauth(t, s, req, err, playback.CodeGone, playback.ReasonSessionNotFound, "", []string{tv2.ID})
	req = reauthorize(tv2, 2, at)
	req.DeviceID = "phone"
	_, err = s.AcquireLease(ctx, req)
	wantRefusedReauth(t, s, req, err, playback.CodeInvalid, playback.ReasonReplacesSessionID, "", []string{tv2.ID})

	// A play on the device that names no session replaces its session
	// all the same, but goes on with no play of it.
	must(s.AcquireLease(ctx, onDevice(lease(acct, 2, at.Add(time.Second), time.Minute), "tv")))(t)
	if got := must(s.GetSession(ctx, tv2.ID))(t); got.EndReason != playback.EndReplaced || got.ReplacedBy != "" {
		t.Fatalf("the session a fresh play replaced = %+v, want replaced by no re-authorization", got)
	}
}

// testReauthorizeRacesEnd: a re-authorization racing the end of the
// session its play is in either comes first, and the end finds the
// session replaced, or is refused: never both an end by the account and a
// new session playing on. The play is in the session named, or, for a
// retry whose first try's answer was lost, in the one that try admitted
// (testReauthorizeRetried).
func testReauthorizeRacesEnd(t *testing.T, s playback.Store) {
	ctx := context.Background()
	for round := range 8 {
		acct := playback.NewID("acct")
		t0 := now()
		named, cur := retryChain(t, s, acct, 1, round%2, t0)
		at := t0.Add(time.Second)
		var (
			wg              sync.WaitGroup
			ended           playback.Session
			endErr, authErr error
		)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			ended, endErr = s.EndSession(ctx, cur.ID, playback.EndByUser, at)
		})
		wg.Go(func() {
			<-start
			for {
				_, authErr = s.AcquireLease(ctx, reauthorize(named, 1, at))
				if !playback.IsCode(authErr, playback.CodeUnavailable) {
					return
				}
			}
		})
		close(start)
		wg.Wait()
		if endErr != nil {
			t.Fatalf("round %d: end: %v", round, endErr)
		}
		active := must(s.ListActiveSessions(ctx, acct, at))(t)
		switch {
		case ended.EndReason == playback.EndByUser && (!playback.IsCode(authErr, playback.CodeGone) || len(active) != 0):
			t.Fatalf("round %d: the session was ended by the user and re-authorized (%v): active %+v", round, authErr, active)
		case ended.EndReason == playback.EndReplaced && (authErr != nil || len(active) != 1):
			t.Fatalf("round %d: the end found the session replaced, but the re-authorization answered %v: active %+v", round, authErr, active)
		case ended.EndReason != playback.EndByUser && ended.EndReason != playback.EndReplaced:
			t.Fatalf("round %d: end answered %+v", round, ended)
		}
	}
}

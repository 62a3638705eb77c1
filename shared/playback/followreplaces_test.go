package playback_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestFollowReplacesStopsAtTheBound: a re-authorization follows its play
// through at most MaxReauthorizations re-authorizations from the session
// it names, as the DELETE of a session does; a play further on is refused
// as over (410 session_ended, end_reason replaced), since no player
// retries from that far behind.
func TestFollowReplacesStopsAtTheBound(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		hops   int
		admits bool
	}{
		{name: "named session live", hops: 0, admits: true},
		{name: "at the bound", hops: playback.MaxReauthorizations, admits: true},
		{name: "past the bound", hops: playback.MaxReauthorizations + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := map[string]playback.Session{}
			id := func(i int) string { return fmt.Sprintf("ses_%d", i) }
			for i := 0; i <= tc.hops; i++ {
				s := playback.Session{ID: id(i), AccountID: "acct_a", DeviceID: "tv", ExpiresAt: now.Add(time.Minute)}
				if i < tc.hops {
					s.EndedAt, s.EndReason, s.ReplacedBy = now.Add(-time.Second), playback.EndReplaced, id(i+1)
				}
				store[s.ID] = s
			}
			req := playback.LeaseRequest{SessionID: "ses_new", AccountID: "acct_a", DeviceID: "tv", Replaces: id(0), Now: now}
			play, err := req.FollowReplaces(func(id string) (playback.Session, bool, error) {
				s, ok := store[id]
				return s, ok, nil
			})
			if tc.admits {
				if err != nil || play.ID != id(tc.hops) {
					t.Fatalf("FollowReplaces after %d re-authorizations = %+v, %v; want %s", tc.hops, play, err, id(tc.hops))
				}
				return
			}
			e := playback.AsError(err)
			if d, ok := e.Details.(*playback.EndDetails); e.Code != playback.CodeGone || e.Reason != playback.ReasonSessionEnded ||
				!ok || d.EndReason != playback.EndReplaced {
				t.Fatalf("FollowReplaces after %d re-authorizations = %+v, %v; want gone session_ended, end_reason replaced", tc.hops, play, err)
			}
		})
	}
}

// TestFollowReplacesDeviceRemoved: a re-authorization from a device the
// account no longer has (LeaseRequest.DeviceRemoved) is refused as the
// removal ended its play: a play nobody ended hears the removal (the
// lapse, when its lease had lapsed by then, as every 410 names it), one
// ended otherwise its own end, an unknown session session_not_found.
func TestFollowReplacesDeviceRemoved(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name              string
		sess              playback.Session
		reason, endReason string
	}{
		{name: "live", sess: playback.Session{ExpiresAt: now.Add(time.Minute)},
			reason: playback.ReasonSessionEnded, endReason: playback.EndDeviceRemoved},
		{name: "lapsed", sess: playback.Session{ExpiresAt: now.Add(-time.Minute)},
			reason: playback.ReasonLeaseExpired, endReason: playback.EndLapsed},
		{name: "ended from another screen", sess: playback.Session{ExpiresAt: now.Add(time.Minute),
			EndedAt: now.Add(-time.Second), EndReason: playback.EndByUser},
			reason: playback.ReasonSessionEnded, endReason: playback.EndByUser},
		{name: "unknown", reason: playback.ReasonSessionNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := playback.LeaseRequest{SessionID: "ses_new", AccountID: "acct_a", DeviceID: "tv", Replaces: "ses_0",
				Now: now, DeviceRemoved: true}
			play, err := req.FollowReplaces(func(id string) (playback.Session, bool, error) {
				if tc.sess.ExpiresAt.IsZero() || id != "ses_0" {
					return playback.Session{}, false, nil
				}
				s := tc.sess
				s.ID, s.AccountID, s.DeviceID = id, "acct_a", "tv"
				return s, true, nil
			})
			e := playback.AsError(err)
			d, _ := e.Details.(*playback.EndDetails)
			if e.Code != playback.CodeGone || e.Reason != tc.reason || (tc.endReason != "") != (d != nil) ||
				d != nil && d.EndReason != tc.endReason {
				t.Fatalf("FollowReplaces from a removed device = %+v, %v (details %+v); want gone %s, end_reason %q",
					play, err, e.Details, tc.reason, tc.endReason)
			}
		})
	}
}

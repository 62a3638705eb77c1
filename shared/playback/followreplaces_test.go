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

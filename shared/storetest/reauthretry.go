package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// retryChain plays tv on the device "tv" of acct, limited to limit
// streams, and re-authorizes it hops times, each naming the one before:
// the first try of a re-authorization that committed and whose answer
// was lost, then its retries that met the same fate. It returns the
// session the player still names (tv) and the one its play is in.
func retryChain(t *testing.T, s playback.Store, acct string, limit, hops int, t0 time.Time) (named, last playback.Session) {
	t.Helper()
	ctx := context.Background()
	named = must(s.AcquireLease(ctx, onDevice(lease(acct, limit, t0, time.Minute), "tv")))(t)
	last = named
	for i := range hops {
		last = must(s.AcquireLease(ctx, reauthorize(last, limit, t0.Add(time.Duration(i+1)*time.Millisecond))))(t)
	}
	return named, last
}

// testReauthorizeRetried: a re-authorization retried because the answer
// to its first try was lost (a gateway's 5xx after the commit) names a
// session that try replaced. Nobody ended the play: it went on in the
// session the lost answer named, so the retry re-authorizes that one,
// following the re-authorizations from the session named
// (Session.ReplacedBy), and names itself its successor; the device plays
// one stream and the limit counts it once, as for any re-authorization.
// When the play was ended where it went on (from another screen, by
// another title on the device), the retry is refused as a
// re-authorization of that session is, naming its end, writing nothing.
func testReauthorizeRetried(t *testing.T, s playback.Store) {
	for _, tc := range []struct {
		name  string
		limit int
		hops  int // re-authorizations committed before the retry
		// after acts on the account once the chain is played, at at, and
		// returns the sessions of other devices that it leaves live.
		after func(t *testing.T, s playback.Store, acct string, last playback.Session, at time.Time) []string
		// lapsed plays the chain ten minutes before the retry.
		lapsed            bool
		reason, endReason string // a refusal's; "" when admitted
		limited           bool   // refused stream_limit
	}{
		{name: "first try's answer lost", limit: 1, hops: 1},
		{name: "every try's answer lost", limit: 1, hops: 3},
		{name: "at the limit, another device playing", limit: 2, hops: 1,
			after: func(t *testing.T, s playback.Store, acct string, _ playback.Session, at time.Time) []string {
				return []string{must(s.AcquireLease(context.Background(), onDevice(lease(acct, 2, at, time.Minute), "phone")))(t).ID}
			}},
		{name: "first try's lease lapsed unrenewed", limit: 1, hops: 1, lapsed: true},
		{name: "first try's lease lapsed, another device took the stream", limit: 1, hops: 1, lapsed: true, limited: true,
			after: func(t *testing.T, s playback.Store, acct string, _ playback.Session, at time.Time) []string {
				return []string{must(s.AcquireLease(context.Background(), onDevice(lease(acct, 1, at, time.Minute), "phone")))(t).ID}
			}},
		{name: "ended from another screen after the first try", limit: 1, hops: 1,
			reason: playback.ReasonSessionEnded, endReason: playback.EndByUser,
			after: func(t *testing.T, s playback.Store, _ string, last playback.Session, at time.Time) []string {
				must(s.EndSession(context.Background(), last.ID, playback.EndByUser, at))(t)
				return nil
			}},
		{name: "ended after the first try's lease lapsed", limit: 1, hops: 2, lapsed: true,
			reason: playback.ReasonLeaseExpired, endReason: playback.EndLapsed,
			after: func(t *testing.T, s playback.Store, _ string, last playback.Session, at time.Time) []string {
				must(s.EndSession(context.Background(), last.ID, playback.EndByUser, at))(t)
				return nil
			}},
		{name: "another title on the device after the first try", limit: 1, hops: 1,
			reason: playback.ReasonSessionEnded, endReason: playback.EndReplaced,
			after: func(t *testing.T, s playback.Store, acct string, _ playback.Session, at time.Time) []string {
				return []string{must(s.AcquireLease(context.Background(), onDevice(lease(acct, 1, at, time.Minute), "tv")))(t).ID}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			acct := newAccount(t, s).ID
			at := now()
			t0 := at.Add(-time.Second)
			if tc.lapsed {
				t0 = at.Add(-10 * time.Minute)
			}
			named, last := retryChain(t, s, acct, tc.limit, tc.hops, t0)
			var others []string
			if tc.after != nil {
				others = tc.after(t, s, acct, last, at)
			}
			req := reauthorize(named, tc.limit, at.Add(time.Millisecond))
			got, err := s.AcquireLease(ctx, req)
			switch {
			case tc.limited:
				wantRefusedReauth(t, s, req, err, playback.CodeConflict, "stream_limit", "", others)
				return
			case tc.reason != "":
				wantRefusedReauth(t, s, req, err, playback.CodeGone, tc.reason, tc.endReason, others)
				return
			case err != nil:
				t.Fatalf("the retried re-authorization of %s, whose play went on in %s after %d lost answers: %v; want admitted",
					named.ID, last.ID, tc.hops, err)
			}
			active := ids(must(s.ListActiveSessions(ctx, acct, req.Now))(t))
			if want := append(others, got.ID); !sameIDs(active, want) {
				t.Fatalf("active after the retry = %v, want %v (the retry and the other devices' plays)", active, want)
			}
			if prev := must(s.GetSession(ctx, last.ID))(t); prev.EndReason != playback.EndReplaced || prev.ReplacedBy != got.ID {
				t.Fatalf("the session the play was in = %+v, want replaced by the retry %s", prev, got.ID)
			}
			if first := must(s.GetSession(ctx, named.ID))(t); first.ReplacedBy == got.ID && tc.hops > 0 {
				t.Fatalf("the session named = %+v, want it still replaced by its first re-authorization", first)
			}
		})
	}
}

func sameIDs(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// playOf walks the re-authorizations from the session named
// (Session.ReplacedBy) to the session its play is in.
func playOf(t *testing.T, s playback.Store, named playback.Session) playback.Session {
	t.Helper()
	cur := must(s.GetSession(context.Background(), named.ID))(t)
	for cur.ReplacedBy != "" {
		cur = must(s.GetSession(context.Background(), cur.ReplacedBy))(t)
	}
	return cur
}

// testReauthorizeRetryRace: retries of one re-authorization racing each
// other and plays of the household's other devices leave the device one
// live session, the account within its limit, and the play findable from
// the session named: every retry is admitted, refused for the limit or
// asked to come back (contention), none refused as if the play had been
// ended. In odd rounds the lost try's lease has lapsed, so the retries
// and the other devices' plays race for the streams it left.
func testReauthorizeRetryRace(t *testing.T, s playback.Store) {
	const limit = 2
	for round := range 8 {
		acct := playback.NewID("acct")
		at := now()
		lapsed := round%2 == 1
		played := at.Add(-time.Second)
		if lapsed {
			played = at.Add(-10 * time.Minute)
		}
		named, _ := retryChain(t, s, acct, limit, 1, played)
		var reqs []playback.LeaseRequest
		for i := range 6 {
			if i%2 == 0 {
				reqs = append(reqs, reauthorize(named, limit, at))
			} else {
				reqs = append(reqs, onDevice(lease(acct, limit, at, time.Minute), []string{"phone", "tablet"}[i/2%2]))
			}
		}
		admitted := raceAcquire(t, s, reqs)
		active := checkOnePerDevice(t, s, acct, limit, admitted, at)
		i := slices.IndexFunc(active, func(x playback.Session) bool { return x.DeviceID == "tv" })
		switch {
		case i < 0 && !lapsed:
			t.Fatalf("round %d: the tv plays nothing after its retries: %+v", round, active)
		case i < 0: // the other devices took the streams first
		default:
			if play := playOf(t, s, named); play.ID != active[i].ID {
				t.Fatalf("round %d: the re-authorizations from %s lead to %+v, but the tv plays %s", round, named.ID, play, active[i].ID)
			}
		}
	}
}

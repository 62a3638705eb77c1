package dynamo

import (
	"context"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestReauthorizationRetryOnSlotsReadBeforeItsFirstTry: a Query is no
// snapshot (DynamoDB isolates it read-committed, item by item), and the
// account's slots sort before its device locks, so one read of them can
// show the slots as they were before a racing admission committed and the
// device lock as that admission left it. The retry of a re-authorization
// whose first try (of a session whose lease had lapsed) commits right
// then follows the session named to the first try's session, live, which
// the slots read do not show: the retry must not admit beside it, leaving
// the device two live sessions, the first try's outside the walk's reach
// from the retry's (so a DELETE of the session the viewer listed ends the
// first try's, and the device plays on in the retry's). Each round's
// slots read holds two free slots, which each admission picks among at
// random: about half the rounds catch the retry claiming the one the first
// try did not.
func TestReauthorizationRetryOnSlotsReadBeforeItsFirstTry(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	const limit = 3
	for round := range 12 {
		acct := playback.Account{ID: playback.NewID("acct"), PlanID: "standard", Status: playback.StatusActive, Territory: "DE"}
		if err := s.PutAccount(ctx, acct); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		play := func(device string, at time.Time, ttl time.Duration, replaces string, on *playback.AdmissionRead) (playback.Session, error) {
			return s.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct.ID, DeviceID: device,
				TitleID: "title-1", Limit: limit, TTL: ttl, Now: at, Replaces: replaces, On: on})
		}
		if _, err := play("phone", t0, 10*time.Minute, "", nil); err != nil {
			t.Fatal(err)
		}
		named, err := play("tv", t0, time.Minute, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		at := named.ExpiresAt.Add(time.Millisecond) // the tab slept past its lease
		before, err := s.ReadAdmission(ctx, acct.ID, at)
		if err != nil {
			t.Fatal(err)
		}
		first, err := play("tv", at, time.Minute, named.ID, nil) // its answer is lost
		if err != nil {
			t.Fatal(err)
		}
		read, err := s.ReadAdmission(ctx, acct.ID, at)
		if err != nil {
			t.Fatal(err)
		}
		// The retry's read: the slots before the first try, the lock after.
		read.Guard.(*admissionGuard).slots = before.Guard.(*admissionGuard).slots
		retry, err := play("tv", at.Add(time.Millisecond), time.Minute, named.ID, &read)
		if err != nil {
			t.Fatalf("round %d: the retry: %v", round, err)
		}
		active, err := s.ListActiveSessions(ctx, acct.ID, retry.StartedAt)
		if err != nil {
			t.Fatal(err)
		}
		var tv []string
		for _, a := range active {
			if a.DeviceID == "tv" {
				tv = append(tv, a.ID)
			}
		}
		if len(tv) != 1 || tv[0] != retry.ID {
			t.Fatalf("round %d: the tv plays %v after the retry %s of the re-authorization whose first try admitted %s; want the retry's alone",
				round, tv, retry.ID, first.ID)
		}
		if got, err := s.GetSession(ctx, first.ID); err != nil || got.ReplacedBy != retry.ID {
			t.Fatalf("round %d: the first try's session = %+v, %v; want replaced by the retry %s", round, got, err, retry.ID)
		}
	}
}

package dynamo

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/shared/playback"
)

// TestPlayOnSlotsReadBeforeTheDevicesLastAdmission: a Query is no
// snapshot (DynamoDB isolates it read-committed, item by item), and the
// account's slots sort before its device locks, so one read of them can
// show the slots as they were before a racing play from the same device
// committed and the device lock as that play left it. A play on such a
// read names no session to replace and does not see the other among the
// device's sessions: it must not admit beside it, leaving the device two
// live streams. The read is made so that the play claims another slot
// than the one the racing play took, whatever the random pick: the
// phone's session holds that one in the read (and ends before the racing
// play), the laptop's holds the only other (and ends after it).
func TestPlayOnSlotsReadBeforeTheDevicesLastAdmission(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// legacyLock leaves the racing play's device lock as the
		// admissions before locks carried their slot wrote it.
		legacyLock bool
	}{
		{name: "lock with its slot"},
		{name: "lock written without its slot", legacyLock: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			acct := playback.Account{ID: playback.NewID("acct"), PlanID: "standard", Status: playback.StatusActive, Territory: "DE"}
			if err := s.PutAccount(ctx, acct); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now().UTC().Truncate(time.Millisecond)
			play := func(device string, at time.Time, on *playback.AdmissionRead) (playback.Session, error) {
				return s.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct.ID, DeviceID: device,
					TitleID: "title-1", Limit: 2, TTL: 10 * time.Minute, Now: at, On: on})
			}
			end := func(sess playback.Session, at time.Time) {
				if _, err := s.EndSession(ctx, sess.ID, playback.EndStopped, at); err != nil {
					t.Fatal(err)
				}
			}
			phone, err := play("phone", t0, nil)
			if err != nil {
				t.Fatal(err)
			}
			before, err := s.ReadAdmission(ctx, acct.ID, t0)
			if err != nil {
				t.Fatal(err)
			}
			laptop, err := play("laptop", t0, nil)
			if err != nil {
				t.Fatal(err)
			}
			end(phone, t0)
			first, err := play("tv", t0, nil) // the phone's slot: the only free one
			if err != nil {
				t.Fatal(err)
			}
			if first.Lease != phone.Lease {
				t.Fatalf("the tv's first play holds slot %s; the setup wants the phone's, %s", first.Lease, phone.Lease)
			}
			end(laptop, t0)
			if tc.legacyLock {
				if _, err := s.db().UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.table),
					Key: deviceLockKey(acct.ID, "tv"), UpdateExpression: aws.String("REMOVE #slot"),
					ExpressionAttributeNames: names("#slot")}); err != nil {
					t.Fatal(err)
				}
			}
			read, err := s.ReadAdmission(ctx, acct.ID, t0)
			if err != nil {
				t.Fatal(err)
			}
			// The second play's read: the slots before the first, the lock after.
			read.Guard.(*admissionGuard).slots = before.Guard.(*admissionGuard).slots
			second, err := play("tv", t0.Add(time.Millisecond), &read)
			if err != nil {
				t.Fatalf("the second play: %v", err)
			}
			active, err := s.ListActiveSessions(ctx, acct.ID, second.StartedAt)
			if err != nil {
				t.Fatal(err)
			}
			var tv []string
			for _, a := range active {
				if a.DeviceID == "tv" {
					tv = append(tv, a.ID+" (slot "+a.Lease+")")
				}
			}
			if want := second.ID + " (slot " + second.Lease + ")"; len(tv) != 1 || tv[0] != want {
				t.Fatalf("the tv plays %v after its second play %s on a read that showed the slots before its first play %s "+
					"(slot %s) and the device lock after it; want %s alone", tv, second.ID, first.ID, first.Lease, want)
			}
			if got, err := s.GetSession(ctx, first.ID); err != nil || got.EndReason != playback.EndReplaced {
				t.Fatalf("the first play's session = %+v, %v; want replaced", got, err)
			}
		})
	}
}

// TestPlayOnSlotsReadBeforeALapsedLockHoldersAdmission: the device's last
// session, admitted by a writer whose clock is more than a lease's TTL
// behind the next play's, is lapsed by the next play's clock, and that
// play's read (the slots from before the session's admission, the lock
// after it: a Query is no snapshot) does not show its slot. Left holding
// it, the slot is renewable by a writer whose clock is behind (both
// renewals require the slot to name the session and the lease to run
// past their own now), which brings the session back beside the new one:
// two streams on the device. The play must take the slot from it, so that
// the renewal finds it gone.
func TestPlayOnSlotsReadBeforeALapsedLockHoldersAdmission(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	const ttl, slack = 10 * time.Minute, 30 * time.Second
	for _, tc := range []struct {
		name  string
		renew func(held playback.Session, now time.Time) (playback.Session, error)
	}{
		{name: "RenewHeldLease", renew: func(held playback.Session, now time.Time) (playback.Session, error) {
			return s.RenewHeldLease(ctx, held, ttl, slack, now)
		}},
		{name: "RenewLease", renew: func(held playback.Session, now time.Time) (playback.Session, error) {
			return s.RenewLease(ctx, held.ID, ttl, slack, now)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			acct := playback.Account{ID: playback.NewID("acct"), PlanID: "standard", Status: playback.StatusActive, Territory: "DE"}
			if err := s.PutAccount(ctx, acct); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now().UTC().Truncate(time.Millisecond)
			play := func(at time.Time, on *playback.AdmissionRead) (playback.Session, error) {
				return s.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct.ID, DeviceID: "tv",
					TitleID: "title-1", Limit: 2, TTL: ttl, Now: at, On: on})
			}
			ahead := t0.Add(ttl + time.Millisecond) // the second play's clock: the first's lease lapsed
			before, err := s.ReadAdmission(ctx, acct.ID, ahead)
			if err != nil {
				t.Fatal(err)
			}
			first, err := play(t0, nil)
			if err != nil {
				t.Fatal(err)
			}
			read, err := s.ReadAdmission(ctx, acct.ID, ahead)
			if err != nil {
				t.Fatal(err)
			}
			// The second play's read: the slots before the first, the lock after.
			read.Guard.(*admissionGuard).slots = before.Guard.(*admissionGuard).slots
			second, err := play(ahead, &read)
			if err != nil {
				t.Fatalf("the second play: %v", err)
			}
			// A heartbeat of the first on a writer whose clock is behind the
			// second play's (by the TTL less 5 minutes): the first's lease
			// runs there, and would run past the second play's now.
			renewed, renewErr := tc.renew(first, t0.Add(5*time.Minute))
			active, err := s.ListActiveSessions(ctx, acct.ID, ahead)
			if err != nil {
				t.Fatal(err)
			}
			var tv []string
			for _, a := range active {
				if a.DeviceID == "tv" {
					tv = append(tv, a.ID)
				}
			}
			if len(tv) != 1 || tv[0] != second.ID {
				t.Fatalf("the tv plays %v after its second play %s (on a read without the first %s, lapsed by its clock) and a "+
					"renewal of the first by an earlier clock (answered %+v, %v); want %s alone", tv, second.ID, first.ID, renewed, renewErr, second.ID)
			}
			if !playback.IsCode(renewErr, playback.CodeGone) {
				t.Fatalf("the renewal of the first after the second play answered %+v, %v; want gone", renewed, renewErr)
			}
		})
	}
}

// TestPlayOnALapsedLockHoldersSlotThatMustStayFree: the play of
// TestPlayOnSlotsReadBeforeALapsedLockHoldersAdmission, with a session
// admitted under a higher limit holding a slot at or above the play's
// (a plan lowered meanwhile). Then the play's transaction also requires
// every free slot below the limit it does not claim to stay free, "absent
// or lapsed by now", and the device's lapsed session's slot, which its
// read does not show, is one of them whenever the random pick claims the
// other: that check must not stand in for the one that the slot not hold
// the session at all, or the slot is left to it and a renewal by an
// earlier clock brings it back beside the new one (two streams on the
// device, three on a plan of 2). The rounds run until one claims another
// slot than the lapsed session's, checking each.
func TestPlayOnALapsedLockHoldersSlotThatMustStayFree(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	const ttl, slack = 10 * time.Minute, 30 * time.Second
	for _, tc := range []struct {
		name  string
		renew func(held playback.Session, now time.Time) (playback.Session, error)
	}{
		{name: "RenewHeldLease", renew: func(held playback.Session, now time.Time) (playback.Session, error) {
			return s.RenewHeldLease(ctx, held, ttl, slack, now)
		}},
		{name: "RenewLease", renew: func(held playback.Session, now time.Time) (playback.Session, error) {
			return s.RenewLease(ctx, held.ID, ttl, slack, now)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for round := 0; ; round++ {
				if round == 64 {
					t.Fatal("no round's play claimed another slot than the lapsed session's")
				}
				acct := playback.Account{ID: playback.NewID("acct"), PlanID: "standard", Status: playback.StatusActive, Territory: "DE"}
				if err := s.PutAccount(ctx, acct); err != nil {
					t.Fatal(err)
				}
				t0 := time.Now().UTC().Truncate(time.Millisecond)
				play := func(device string, limit int, at time.Time, ttl time.Duration, on *playback.AdmissionRead) (playback.Session, error) {
					return s.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct.ID, DeviceID: device,
						TitleID: "title-1", Limit: limit, TTL: ttl, Now: at, On: on})
				}
				// Three plays on a limit of 3; the one in slot 2 plays on
				// past the tv's plays, the others stop.
				var laptop playback.Session
				var stop []playback.Session
				for _, device := range []string{"phone", "tablet", "laptop"} {
					sess, err := play(device, 3, t0, time.Hour, nil)
					if err != nil {
						t.Fatal(err)
					}
					if sess.Lease == "2" {
						laptop = sess
					} else {
						stop = append(stop, sess)
					}
				}
				for _, sess := range stop {
					if _, err := s.EndSession(ctx, sess.ID, playback.EndStopped, t0); err != nil {
						t.Fatal(err)
					}
				}
				ahead := t0.Add(ttl + time.Millisecond) // the second play's clock: the first's lease lapsed
				before, err := s.ReadAdmission(ctx, acct.ID, ahead)
				if err != nil {
					t.Fatal(err)
				}
				first, err := play("tv", 2, t0, ttl, nil)
				if err != nil {
					t.Fatal(err)
				}
				read, err := s.ReadAdmission(ctx, acct.ID, ahead)
				if err != nil {
					t.Fatal(err)
				}
				// The second play's read: the slots before the first, the lock after.
				read.Guard.(*admissionGuard).slots = before.Guard.(*admissionGuard).slots
				second, err := play("tv", 2, ahead, ttl, &read)
				if err != nil {
					t.Fatalf("round %d: the second play: %v", round, err)
				}
				renewed, renewErr := tc.renew(first, t0.Add(5*time.Minute))
				active, err := s.ListActiveSessions(ctx, acct.ID, ahead)
				if err != nil {
					t.Fatal(err)
				}
				if want := []string{laptop.ID + " (slot 2)", second.ID + " (slot " + second.Lease + ")"}; !slices.Equal(leaseIDs(active), want) &&
					!slices.Equal(leaseIDs(active), []string{want[1], want[0]}) {
					t.Fatalf("round %d: the account plays %v on a plan of 2 after the tv's second play %s (on a read without the "+
						"first %s in slot %s, lapsed by its clock) and a renewal of the first by an earlier clock (answered %+v, %v); "+
						"want %v", round, leaseIDs(active), second.ID, first.ID, first.Lease, renewed, renewErr, want)
				}
				if !playback.IsCode(renewErr, playback.CodeGone) {
					t.Fatalf("round %d: the renewal of the first after the second play answered %+v, %v; want gone", round, renewed, renewErr)
				}
				if second.Lease != first.Lease {
					return
				}
			}
		})
	}
}

func leaseIDs(sessions []playback.Session) []string {
	out := make([]string, len(sessions))
	for i, s := range sessions {
		out[i] = s.ID + " (slot " + s.Lease + ")"
	}
	return out
}

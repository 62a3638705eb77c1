package firestore

import (
	"context"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestAdmissionOnSlotsQueriedBeforeAnotherAdmission: ReadAdmission queries
// the slots and reads the account side by side, outside any transaction,
// so the query can run before another admission commits and the account
// read after it. The admission on that read holds the account's guard (the
// account is as read) and must still count what the other admission took.
// Here the other admission took a new slot on the plan's old limit of 3,
// while the phone's lease still ran by its clock; the admission on the
// read, on the plan lowered to 2 and by a clock past the phone's lease,
// would take the phone's slot and play a third stream beside the tv's and
// the tablet's.
//
// The row without slots found: an admission on an empty query creates
// slot 0, which the first admission committed since that query created too,
// so its commit fails and its next round reads that admission.
func TestAdmissionOnSlotsQueriedBeforeAnotherAdmission(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	const ttl = 10 * time.Minute
	for _, tc := range []struct {
		name string
		// before are the plays admitted before the query, each for its
		// lease's length (the plan's limit then 3).
		before []time.Duration
		// limit is the plan's limit at the admission on the read.
		limit int
	}{
		{name: "slots found", before: []time.Duration{time.Hour, time.Minute}, limit: 2},
		{name: "no slots found", limit: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			acct := playback.Account{ID: playback.NewID("acct"), PlanID: "standard", Status: playback.StatusActive, Territory: "DE"}
			if err := s.PutAccount(ctx, acct); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now().UTC().Truncate(time.Millisecond)
			play := func(device string, limit int, at time.Time, ttl time.Duration, on *playback.AdmissionRead) (playback.Session, error) {
				return s.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct.ID, DeviceID: device,
					TitleID: "title-1", Limit: limit, TTL: ttl, Now: at, On: on})
			}
			for i, lease := range tc.before {
				if _, err := play("device-"+string(rune('a'+i)), 3, t0, lease, nil); err != nil {
					t.Fatal(err)
				}
			}
			queried, err := s.querySlots(ctx, acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			read, err := s.ReadAdmission(ctx, acct.ID, t0)
			if err != nil {
				t.Fatal(err)
			}
			tablet, err := play("tablet", max(3, tc.limit), t0.Add(time.Second), ttl, &read)
			if err != nil {
				t.Fatal(err)
			}
			// The laptop's read: the slots queried before the tablet's
			// admission, the account read after it.
			late := t0.Add(2 * time.Minute)
			st, err := s.read(ctx, s.col(colAccounts).Doc(acct.ID))
			if err != nil {
				t.Fatal(err)
			}
			read, err = s.admissionRead(ctx, st, queried, late)
			if err != nil {
				t.Fatal(err)
			}
			laptop, err := play("laptop", tc.limit, late, ttl, &read)
			if err == nil {
				active, lerr := s.ListActiveSessions(ctx, acct.ID, late)
				t.Fatalf("the laptop's play on slots queried before the tablet's admission (%s) was admitted as %s (slot %s) on a "+
					"plan of %d; the account plays %d: %v (%v)", tablet.ID, laptop.ID, laptop.Lease, tc.limit, len(active), ids(active), lerr)
			}
			if r := playback.AsError(err).Reason; r != "stream_limit" {
				t.Fatalf("the laptop's play: %v; want stream_limit", err)
			}
		})
	}
}

func ids(sessions []playback.Session) []string {
	out := make([]string, len(sessions))
	for i, s := range sessions {
		out[i] = s.ID + " (slot " + s.Lease + ")"
	}
	return out
}

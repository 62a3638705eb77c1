package bolt

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestPruneExpiredKeepsALapseEndedLaterFromItsLapse: an ender ends a
// session whose lease lapsed (playback.EndSessions, so that no late
// renewal brings it back) as long as no admission counted it out, hours
// after the lapse if need be; its end still reads as the lapse
// (Session.Over), so its retention runs from the lapse too, as that of a
// lapsed session nobody ended: the ender must not keep it (and its QoE)
// up to twice the retention.
func TestPruneExpiredKeepsALapseEndedLaterFromItsLapse(t *testing.T) {
	t.Parallel()
	const retention = 48 * time.Hour
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	s, err := Open(filepath.Join(t.TempDir(), "retain.db"), WithRetention(retention), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	const ttl = 2 * time.Minute
	start := now.Add(-retention - time.Hour)
	req := playback.LeaseRequest{SessionID: "sess_lapsed", AccountID: "acct_lapsed", DeviceID: "tv", TitleID: "t", Limit: 2, TTL: ttl, Now: start}
	sess, err := s.AcquireLease(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	removed := sess.ExpiresAt.Add(40 * time.Hour) // the device removal, long after the lapse
	if _, err := playback.EndSessions(ctx, s, req.AccountID, playback.EndDeviceRemoved, removed, nil); err != nil {
		t.Fatal(err)
	}
	ended, err := s.GetSession(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if at, why := ended.Over(); why != playback.EndLapsed || !at.Equal(sess.ExpiresAt) {
		t.Fatalf("the removal's end reads as %q at %s, want %q at %s", why, at, playback.EndLapsed, sess.ExpiresAt)
	}
	if _, err := s.PruneExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetSession(ctx, sess.ID); !playback.IsCode(err, playback.CodeNotFound) {
		t.Errorf("session lapsed at %s (its end reads as the lapse), swept at %s with retention %s: kept, stored end %q at %s (%v); want pruned",
			sess.ExpiresAt.Format(time.RFC3339), now.Format(time.RFC3339), retention,
			got.EndReason, got.EndedAt.Format(time.RFC3339), err)
	}
}

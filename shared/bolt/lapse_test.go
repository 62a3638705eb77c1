package bolt_test

import (
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestLateExtensionAfterAnAdmissionTookTheLapsedLease: a heartbeat stamped
// just before its lease lapsed commits after an admission that found the
// lease lapsed and admitted another stream in its place. The extension
// must not bring the lapsed lease back beside the one admitted instead
// (the stream limit), nor leave an active session the account's listing
// and the next admission cannot see. DynamoDB answers such a heartbeat
// gone: its lease was lost to another after it expired.
func TestLateExtensionAfterAnAdmissionTookTheLapsedLease(t *testing.T) {
	t.Parallel()
	s := open(t)
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	const limit, ttl = 1, time.Minute
	req := func(id, device string, now time.Time) playback.LeaseRequest {
		return playback.LeaseRequest{SessionID: id, AccountID: "acct", DeviceID: device, TitleID: "t", Limit: limit, TTL: ttl, Now: now}
	}
	if _, err := s.AcquireLease(ctx, req("ses_old", "tv", t0)); err != nil {
		t.Fatal(err)
	}
	lapsed := t0.Add(ttl)
	if _, err := s.AcquireLease(ctx, req("ses_new", "phone", lapsed.Add(time.Millisecond))); err != nil {
		t.Fatalf("admission after the old lease lapsed: %v", err)
	}
	_, extendErr := s.ExtendLease(ctx, "ses_old", lapsed.Add(ttl), lapsed.Add(-time.Millisecond))

	at := lapsed.Add(2 * time.Millisecond)
	var active []string
	for _, id := range []string{"ses_old", "ses_new"} {
		sess, err := s.GetSession(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if sess.Active(at) {
			active = append(active, id)
		}
	}
	listed, err := s.ListActiveSessions(ctx, "acct", at)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) > limit || len(listed) != len(active) {
		t.Fatalf("after the late extension (err %v): active %v, listed %d, limit %d", extendErr, active, len(listed), limit)
	}
	if !playback.IsCode(extendErr, playback.CodeGone) {
		t.Fatalf("late extension of the lease an admission took: %v, want gone", extendErr)
	}
}

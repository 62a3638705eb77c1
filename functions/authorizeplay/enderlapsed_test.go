package authorizeplay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestEndersEndALeaseThatJustLapsed: a device removal and an entitlement
// loss decided at an instant when the device's lease had just lapsed (no
// heartbeat came in time) end that session too: the heartbeat that read
// the lease a moment before its expiry, and renews by its playback token
// after the ender looked, is refused (410) instead of playing on until the
// token expires. The removal reports no session ended: the lapsed one held
// no lease when it looked.
func TestEndersEndALeaseThatJustLapsed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, h *harness, session string)
	}{
		{"device removed", func(t *testing.T, h *harness, session string) {
			rm := decodeAs[authorizeplay.DeviceRemoval](t, h.do(http.MethodDelete, "/v1/devices/tv", h.token(demo.AccountFamily), ""), http.StatusOK)
			if !rm.Removed || len(rm.EndedSessions) != 0 {
				t.Errorf("DELETE /v1/devices/tv answered %+v, want removed with no session ended", rm)
			}
		}},
		{"session ended by the viewer", func(t *testing.T, h *harness, session string) {
			sessions := decodeAs[struct {
				Sessions []authorizeplay.SessionView `json:"sessions"`
			}](t, h.do(http.MethodGet, "/v1/sessions", h.token(demo.AccountFamily), ""), http.StatusOK)
			if len(sessions.Sessions) != 0 {
				t.Fatalf("sessions listed after the lease lapsed: %+v", sessions.Sessions)
			}
			id := session
			v := decodeAs[authorizeplay.SessionView](t, h.do(http.MethodDelete, "/v1/sessions/"+id, h.token(demo.AccountFamily), ""), http.StatusOK)
			if v.EndReason != playback.EndLapsed {
				t.Errorf("DELETE /v1/sessions/%s answered end_reason %q, want %q", id, v.EndReason, playback.EndLapsed)
			}
		}},
		{"entitlement lost", func(t *testing.T, h *harness, session string) {
			ctx := context.Background()
			if _, err := h.store.UpdateAccount(ctx, demo.AccountFamily, func(a *playback.Account) error {
				a.Status = playback.StatusCanceled
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(events.EntitlementChanged{AccountID: demo.AccountFamily, Status: "canceled"})
			if err != nil {
				t.Fatal(err)
			}
			consume := h.srv.Consumers()[events.TopicEntitlementChanged]
			if retry := consume(ctx, []playback.Message{{ID: playback.NewID("msg"), Data: data}}); len(retry) != 0 {
				t.Fatalf("retry = %v", retry)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			play, claims := h.admitted(t, h.play(demo.AccountFamily, "sintel", "tv"))
			h.now = play.LeaseExpiresAt // the ender's clock: the lease has lapsed
			tc.end(t, h, play.SessionID)
			read := play.LeaseExpiresAt.Add(-time.Millisecond) // the heartbeat's
			got, err := h.store.RenewHeldLease(context.Background(), claims.Held(), 2*time.Minute, 0, read)
			if !playback.IsCode(err, playback.CodeGone) {
				t.Errorf("the tv's heartbeat, read before its lease lapsed, after the %s: %v, lease until %s; want gone",
					tc.name, err, got.ExpiresAt.Format(time.RFC3339))
			}
		})
	}
}

// TestEndPlayEndsALapsedSuccessor: DELETE /v1/sessions/{id} of a session
// its play's re-authorization replaced, at an instant when the successor's
// lease had just lapsed (no heartbeat came in time), ends that successor
// too, as it ends the named session in that state: the device's heartbeat
// that read the successor's lease a moment before its expiry, and renews
// after the DELETE, is refused (410) instead of playing on after the
// viewer pressed "End this stream". The successor's end reads as the lapse.
func TestEndPlayEndsALapsedSuccessor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		renew func(h *harness, sess playback.Session, held auth.PlaybackClaims, now time.Time) (playback.Session, error)
	}{
		{"RenewLease", func(h *harness, sess playback.Session, _ auth.PlaybackClaims, now time.Time) (playback.Session, error) {
			return h.store.RenewLease(context.Background(), sess.ID, 2*time.Minute, 0, now)
		}},
		{"RenewHeldLease", func(h *harness, _ playback.Session, held auth.PlaybackClaims, now time.Time) (playback.Session, error) {
			return h.store.RenewHeldLease(context.Background(), held.Held(), 2*time.Minute, 0, now)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tok := h.token(demo.AccountFamily)
			first, _ := h.admitted(t, h.play(demo.AccountFamily, "sintel", "tv"))
			next, claims := h.admitted(t, h.do(http.MethodPost, "/v1/play", tok,
				`{"title_id":"sintel","device_id":"tv","replaces_session_id":"`+first.SessionID+`"}`))
			h.now = next.LeaseExpiresAt // the DELETE's clock: the successor's lease has lapsed
			v := decodeAs[authorizeplay.SessionView](t, h.do(http.MethodDelete, "/v1/sessions/"+first.SessionID, tok, ""), http.StatusOK)
			if v.EndReason != playback.EndReplaced {
				t.Fatalf("DELETE of the replaced session answered end_reason %q, want %q", v.EndReason, playback.EndReplaced)
			}
			read := next.LeaseExpiresAt.Add(-time.Millisecond) // the heartbeat's
			got, err := tc.renew(h, playback.Session{ID: next.SessionID}, claims, read)
			if !playback.IsCode(err, playback.CodeGone) {
				t.Fatalf("the tv's %s of the re-authorized session, read before its lease lapsed, after the viewer ended the play: %v, lease until %s; want gone",
					tc.name, err, got.ExpiresAt.Format(time.RFC3339Nano))
			}
			stored, err := h.store.GetSession(context.Background(), next.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			if at, reason := stored.Over(); reason != playback.EndLapsed || !at.Equal(next.LeaseExpiresAt) {
				t.Errorf("the lapsed successor's end reads as %q at %s, want %q at its lease's expiry %s",
					reason, at, playback.EndLapsed, next.LeaseExpiresAt)
			}
		})
	}
}

// reauthBeforeEnd re-authorizes the session named once, by a clock just
// before its lease lapsed (the device's), the first time a session is
// ended: the re-authorization commits between the DELETE's read of the
// session and its end.
type reauthBeforeEnd struct {
	authorizeplay.Store
	once sync.Once
	req  playback.LeaseRequest
	got  playback.Session
	err  error
}

func (s *reauthBeforeEnd) EndSession(ctx context.Context, id, reason string, now time.Time) (playback.Session, error) {
	s.once.Do(func() { s.got, s.err = s.Store.AcquireLease(ctx, s.req) })
	return s.Store.EndSession(ctx, id, reason, now)
}

// TestEndOfALapsedSessionRacingItsReauthorization: DELETE
// /v1/sessions/{id} of a session whose lease had lapsed by its clock,
// racing the device's re-authorization of it by a clock that still held
// the lease (committed after the DELETE read the session, before it
// ended it): the end finds the session replaced and ends the play where
// it went on, as it does for a session it read replaced, so the device
// stops rather than playing on in the new session.
func TestEndOfALapsedSessionRacingItsReauthorization(t *testing.T) {
	t.Parallel()
	spy := &reauthBeforeEnd{}
	h := newHarnessOn(t, nil, func(s authorizeplay.Store) authorizeplay.Store { spy.Store = s; return spy })
	first, _ := h.admitted(t, h.play(demo.AccountFamily, "sintel", "tv"))
	spy.req = playback.LeaseRequest{SessionID: playback.NewID(playback.SessionIDPrefix), AccountID: demo.AccountFamily,
		DeviceID: "tv", TitleID: "sintel", Limit: 4, TTL: 2 * time.Minute, Now: first.LeaseExpiresAt.Add(-time.Millisecond),
		Replaces: first.SessionID}
	h.now = first.LeaseExpiresAt // the DELETE's clock: the lease has lapsed
	h.mustDo(http.MethodDelete, "/v1/sessions/"+first.SessionID, http.StatusOK)
	if spy.err != nil {
		t.Fatalf("the device's re-authorization: %v", spy.err)
	}
	got, err := h.store.GetSession(context.Background(), spy.got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.EndReason != playback.EndByUser {
		t.Fatalf("the session the play went on in after the viewer's DELETE = %+v, want it ended by the user", got)
	}
}

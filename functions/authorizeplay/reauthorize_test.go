package authorizeplay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestReauthorize: a player's re-authorization names the session it
// replaces (replaces_session_id). It plays on while that session is live
// or merely lapsed; once the account ended it (DELETE /v1/sessions/{id}
// from another screen, the device removed, another play on the device)
// it is refused 410 session_ended naming why, writing nothing: no session,
// no device registered again, so ending a stream stays ended. A fresh play
// (no field) is unaffected.
func TestReauthorize(t *testing.T) {
	t.Parallel()
	const device = "tv"
	for _, tc := range []struct {
		name string
		// before acts on the session the player plays, before it
		// authorizes again, and returns the id it names.
		before    func(h *harness, sess authorizeplay.PlayResponse) string
		fresh     bool // the play names no session
		status    int
		reason    string
		endReason string
	}{
		{name: "live", status: http.StatusCreated},
		{name: "lapsed unrenewed", status: http.StatusCreated, before: func(h *harness, sess authorizeplay.PlayResponse) string {
			h.now = sess.LeaseExpiresAt.Add(time.Minute)
			return sess.SessionID
		}},
		{name: "ended from another screen", status: http.StatusGone, reason: playback.ReasonSessionEnded, endReason: playback.EndByUser,
			before: func(h *harness, sess authorizeplay.PlayResponse) string {
				h.mustDo(http.MethodDelete, "/v1/sessions/"+sess.SessionID, http.StatusOK)
				return sess.SessionID
			}},
		{name: "device removed", status: http.StatusGone, reason: playback.ReasonSessionEnded, endReason: playback.EndDeviceRemoved,
			before: func(h *harness, sess authorizeplay.PlayResponse) string {
				h.mustDo(http.MethodDelete, "/v1/devices/"+device, http.StatusOK)
				return sess.SessionID
			}},
		{name: "replaced by another play on the device", status: http.StatusGone, reason: playback.ReasonSessionEnded, endReason: playback.EndReplaced,
			before: func(h *harness, sess authorizeplay.PlayResponse) string {
				h.admitted(h.t.(*testing.T), h.play(demo.AccountFamily, "sintel", device))
				return sess.SessionID
			}},
		{name: "unknown session", status: http.StatusGone, reason: playback.ReasonSessionNotFound,
			before: func(*harness, authorizeplay.PlayResponse) string { return playback.NewID(playback.SessionIDPrefix) }},
		{name: "another account's session", status: http.StatusGone, reason: playback.ReasonSessionNotFound,
			before: func(h *harness, _ authorizeplay.PlayResponse) string {
				other, _ := h.admitted(h.t.(*testing.T), h.play(demo.AccountSolo, "sintel", device))
				return other.SessionID
			}},
		{name: "malformed id", status: http.StatusBadRequest, reason: playback.ReasonReplacesSessionID,
			before: func(*harness, authorizeplay.PlayResponse) string { return "../ses" }},
		{name: "fresh play after an end", fresh: true, status: http.StatusCreated,
			before: func(h *harness, sess authorizeplay.PlayResponse) string {
				h.mustDo(http.MethodDelete, "/v1/sessions/"+sess.SessionID, http.StatusOK)
				return ""
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			sess, _ := h.admitted(t, h.play(demo.AccountFamily, "sintel", device))
			named := sess.SessionID
			if tc.before != nil {
				named = tc.before(h, sess)
			}
			ctx := context.Background()
			before, _ := h.store.GetAccount(ctx, demo.AccountFamily)
			activeBefore, _ := h.store.ListActiveSessions(ctx, demo.AccountFamily, h.now)
			body := map[string]string{"title_id": "sintel", "device_id": device}
			if !tc.fresh {
				body["replaces_session_id"] = named
			}
			raw, _ := json.Marshal(body)
			rec := h.do(http.MethodPost, "/v1/play", h.token(demo.AccountFamily), string(raw))
			if tc.status == http.StatusCreated {
				again, _ := h.admitted(t, rec)
				if s := h.activeOn(t, demo.AccountFamily, device); len(s) != 1 || s[0].ID != again.SessionID {
					t.Fatalf("active on %s after the re-authorization: %+v, want only %s", device, s, again.SessionID)
				}
				return
			}
			e := errorOf(t, rec)
			if rec.Code != tc.status || e.Reason != tc.reason {
				t.Fatalf("re-authorization: %d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.reason)
			}
			var details struct {
				EndReason string `json:"end_reason"`
			}
			if raw, _ := json.Marshal(e.Details); tc.endReason != "" && (json.Unmarshal(raw, &details) != nil || details.EndReason != tc.endReason) {
				t.Fatalf("re-authorization refused with details %s, want end_reason %s", raw, tc.endReason)
			}
			after, _ := h.store.GetAccount(ctx, demo.AccountFamily)
			activeAfter, _ := h.store.ListActiveSessions(ctx, demo.AccountFamily, h.now)
			if !slices.Equal(deviceIDs(after), deviceIDs(before)) || !slices.EqualFunc(activeAfter, activeBefore,
				func(a, b playback.Session) bool { return a.ID == b.ID }) {
				t.Fatalf("a refused re-authorization wrote: devices %v -> %v, active %+v -> %+v",
					deviceIDs(before), deviceIDs(after), activeBefore, activeAfter)
			}
		})
	}
}

func deviceIDs(a playback.Account) []string {
	var ids []string
	for _, d := range a.Devices {
		ids = append(ids, d.ID)
	}
	return ids
}

// mustDo sends an account-token request for the family account and
// requires status.
func (h *harness) mustDo(method, path string, status int) {
	h.t.Helper()
	if rec := h.do(method, path, h.token(demo.AccountFamily), ""); rec.Code != status {
		h.t.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, status)
	}
}

// TestEndSessionEndsTheReauthorizedPlay: DELETE /v1/sessions/{id} of a
// session its play's re-authorization replaced (a list read just before
// it, or an end the re-authorization's admission beat) ends the play
// where it went on, however many re-authorizations on, so the device
// stops; a session that a play naming none replaced (another title on the
// device) leaves that play alone.
func TestEndSessionEndsTheReauthorizedPlay(t *testing.T) {
	t.Parallel()
	const device = "tv"
	for _, tc := range []struct {
		name string
		// reauths: whether each play after the first names the one before.
		reauths   []bool
		stillLive bool
		// lapse lets the first session's lease run out before the
		// re-authorization (a tab asleep past its token).
		lapse bool
	}{
		{name: "one re-authorization", reauths: []bool{true}},
		{name: "re-authorized after its lease lapsed", reauths: []bool{true}, lapse: true},
		{name: "three re-authorizations", reauths: []bool{true, true, true}},
		{name: "a fresh play on the device", reauths: []bool{false}, stillLive: true},
		{name: "re-authorized after a fresh play", reauths: []bool{false, true}, stillLive: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tok := h.token(demo.AccountFamily)
			first, _ := h.admitted(t, h.play(demo.AccountFamily, "sintel", device))
			if tc.lapse {
				h.now = first.LeaseExpiresAt.Add(time.Minute)
			}
			last := first
			for _, reauth := range tc.reauths {
				body := map[string]string{"title_id": "sintel", "device_id": device}
				if reauth {
					body["replaces_session_id"] = last.SessionID
				}
				raw, _ := json.Marshal(body)
				last, _ = h.admitted(t, h.do(http.MethodPost, "/v1/play", tok, string(raw)))
			}
			rec := h.do(http.MethodDelete, "/v1/sessions/"+first.SessionID, tok, "")
			v := decodeAs[authorizeplay.SessionView](t, rec, http.StatusOK)
			want := playback.EndReplaced
			if tc.lapse {
				want = playback.EndLapsed // as its 410s name it
			}
			if v.SessionID != first.SessionID || v.EndReason != want {
				t.Fatalf("DELETE of the first session answered %+v, want it ended %s", v, want)
			}
			got, err := h.store.GetSession(context.Background(), last.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			if tc.stillLive {
				if !got.Active(h.now) {
					t.Fatalf("the play that took the device over without naming the session ended = %+v, want it playing", got)
				}
				return
			}
			if got.EndReason != playback.EndByUser {
				t.Fatalf("the session the play went on in = %+v, want it ended by the user", got)
			}
			if s := h.activeOn(t, demo.AccountFamily, device); len(s) != 0 {
				t.Fatalf("active on %s after the play was ended: %+v", device, s)
			}
		})
	}
}

// TestReauthorizeRetried: a re-authorization whose first try was admitted
// but whose answer was lost (the gateway's 5xx) is retried naming the
// same session, which that try replaced. Nobody ended the play, so the
// retry is admitted where the play went on, and the device plays one
// stream; the other screen's DELETE of the session it listed still ends
// the play wherever it went. Once the play was ended (from another
// screen, by another title on the device), the retry is refused 410
// naming that end, writing nothing.
func TestReauthorizeRetried(t *testing.T) {
	t.Parallel()
	const device = "tv"
	for _, tc := range []struct {
		name string
		// after acts once the first try committed, its answer lost.
		after     func(h *harness, first authorizeplay.PlayResponse)
		status    int
		reason    string
		endReason string
	}{
		{name: "first try's answer lost", status: http.StatusCreated},
		{name: "ended from another screen meanwhile", status: http.StatusGone,
			reason: playback.ReasonSessionEnded, endReason: playback.EndByUser,
			after: func(h *harness, first authorizeplay.PlayResponse) {
				h.mustDo(http.MethodDelete, "/v1/sessions/"+first.SessionID, http.StatusOK) // a list read before the first try
			}},
		{name: "another title on the device meanwhile", status: http.StatusGone,
			reason: playback.ReasonSessionEnded, endReason: playback.EndReplaced,
			after: func(h *harness, _ authorizeplay.PlayResponse) {
				h.admitted(h.t.(*testing.T), h.play(demo.AccountFamily, "sintel", device))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tok := h.token(demo.AccountFamily)
			first, _ := h.admitted(t, h.play(demo.AccountFamily, "sintel", device))
			reauth := `{"title_id":"sintel","device_id":"` + device + `","replaces_session_id":"` + first.SessionID + `"}`
			if rec := h.do(http.MethodPost, "/v1/play", tok, reauth); rec.Code != http.StatusCreated {
				t.Fatalf("re-authorization: %d %s", rec.Code, rec.Body) // committed; the player never hears it
			}
			if tc.after != nil {
				tc.after(h, first)
			}
			ctx := context.Background()
			activeBefore, _ := h.store.ListActiveSessions(ctx, demo.AccountFamily, h.now)
			rec := h.do(http.MethodPost, "/v1/play", tok, reauth)
			if tc.status != http.StatusCreated {
				e := errorOf(t, rec)
				var details struct {
					EndReason string `json:"end_reason"`
				}
				raw, _ := json.Marshal(e.Details)
				if rec.Code != tc.status || e.Reason != tc.reason || json.Unmarshal(raw, &details) != nil || details.EndReason != tc.endReason {
					t.Fatalf("retried re-authorization: %d %s, want %d %s end_reason %s", rec.Code, rec.Body, tc.status, tc.reason, tc.endReason)
				}
				activeAfter, _ := h.store.ListActiveSessions(ctx, demo.AccountFamily, h.now)
				if !slices.EqualFunc(activeAfter, activeBefore, func(a, b playback.Session) bool { return a.ID == b.ID }) {
					t.Fatalf("a refused retry wrote: active %+v -> %+v", activeBefore, activeAfter)
				}
				return
			}
			if rec.Code != tc.status {
				t.Fatalf("retried re-authorization, the play's session replaced by its lost first try: %d %s, want %d",
					rec.Code, rec.Body, tc.status)
			}
			again, _ := h.admitted(t, rec)
			if s := h.activeOn(t, demo.AccountFamily, device); len(s) != 1 || s[0].ID != again.SessionID {
				t.Fatalf("active on %s after the retry: %+v, want only %s", device, s, again.SessionID)
			}
			// The other screen listed the first session: its end reaches the retry's.
			h.mustDo(http.MethodDelete, "/v1/sessions/"+first.SessionID, http.StatusOK)
			if s := h.activeOn(t, demo.AccountFamily, device); len(s) != 0 {
				t.Fatalf("active on %s after the play was ended from another screen: %+v", device, s)
			}
		})
	}
}

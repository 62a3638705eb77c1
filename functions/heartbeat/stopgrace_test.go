package heartbeat_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// The late-stop tests (TestStopWithATokenJustExpired,
// TestStopWithATokenTheLicenceEnded, TestCMCDStopWithAnEndedCredential)
// share this: a harness whose heartbeats take a stop within grace of
// its credential's end, and what a stop taken, or refused, leaves.

// stopGraceHarness keeps views (its tests check the stop's counters) and
// takes a stop within grace of the credential's end, and within 30 s of
// the session's (a replaced one, or one whose lease the end ran out).
func stopGraceHarness(t *testing.T, grace time.Duration) *harness {
	t.Helper()
	cfg := defaultConfig()
	cfg.TokenStopGrace = grace
	cfg.StopGrace = 30 * time.Second
	return newHarness(t, harnessOptions{cfg: cfg, qoeViews: true})
}

// forged is a credential whose signature no longer holds: its last two
// characters changed.
func forged(cred string) string {
	return cred[:len(cred)-2] + map[bool]string{true: "AA", false: "AB"}[cred[len(cred)-2:] == "AB"]
}

// wantEndRefused fails unless rec is the refusal of a request at its
// credential's end: status (401 or 403) with reason, where a credential
// without the licence flag (licence false: PLAYBACK_TOKEN_LEASE off)
// answers the licence's end as the expiry it is, 401 token_expired.
func wantEndRefused(t *testing.T, rec *httptest.ResponseRecorder, status int, reason string, licence bool) {
	t.Helper()
	code := playback.CodeUnauthenticated
	if status == http.StatusForbidden {
		code = playback.CodeForbidden
	}
	if !licence && reason == playback.ReasonLicenceEnded {
		status, code, reason = http.StatusUnauthorized, playback.CodeUnauthenticated, auth.ReasonTokenExpired
	}
	wantError(t, rec, status, code, reason)
}

// stopState is what a late stop writes to: the session, the resume
// position on its title and its QoE view.
type stopState struct {
	session  playback.Session
	progress playback.Progress
	view     playback.QoEView
}

// stopState reads it once the consumer is idle.
func (h *harness) stopState(id, account, title string) stopState {
	h.t.Helper()
	h.idle()
	p, err := h.bolt.GetProgress(context.Background(), account, title)
	if err != nil {
		h.t.Fatal(err)
	}
	return stopState{session: h.session(id), progress: p, view: h.view(id)}
}

// wantUnchanged fails unless a refused (or replayed) request left st as
// it was.
func (st stopState) wantUnchanged(t *testing.T, was stopState, what string) {
	t.Helper()
	if st.session != was.session || st.progress != was.progress || !reflect.DeepEqual(st.view, was.view) {
		t.Fatalf("%s wrote: session %+v, was %+v; progress %+v, was %+v; view %+v, was %+v",
			what, st.session, was.session, st.progress, was.progress, st.view, was.view)
	}
}

// wantStopped fails unless a stop taken at now, with the position
// positionMS, left the session over without renewing its lease, the
// position its session's and the view stopped.
func (st stopState) wantStopped(t *testing.T, was stopState, now time.Time, positionMS int64) {
	t.Helper()
	if st.session.Active(now) || st.session.ExpiresAt.After(was.session.ExpiresAt) {
		t.Fatalf("the stop left the session %+v, was %+v: want it over with its lease not renewed", st.session, was.session)
	}
	if st.progress.PositionMS != positionMS || st.progress.SessionID != st.session.ID {
		t.Fatalf("progress %+v: want the stop's position %d", st.progress, positionMS)
	}
	if !st.view.Stopped {
		t.Fatalf("view %+v: want it stopped", st.view)
	}
}

// view is the QoE view of session id.
func (h *harness) view(id string) playback.QoEView {
	h.t.Helper()
	now := h.clock()
	views, err := h.bolt.QoEViews(context.Background(), now.Add(-24*time.Hour), now.Add(time.Hour))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, v := range views {
		if v.SessionID == id {
			return v
		}
	}
	h.t.Fatalf("no view of session %s among %d", id, len(views))
	return playback.QoEView{}
}

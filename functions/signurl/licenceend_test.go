package signurl_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// TestGrantsEndWithTheLicence: a session whose playback token the licence
// window ends (authorize play cut it there) gets grants that end with the
// window, however long its lease runs, and from the window's end its
// renewals are refused 403 licence_window_ended, on every CDN.
func TestGrantsEndWithTheLicence(t *testing.T) {
	t.Parallel()
	for _, cdn := range allCDNs {
		t.Run(cdn, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			sess, _ := h.session(accountA, titleID, 2*time.Minute)
			now := h.clock.now()
			end := now.Add(40 * time.Second).Truncate(time.Second)
			token := h.token(auth.PlaybackClaims{SessionID: sess.ID, AccountID: accountA, TitleID: titleID, DeviceID: sess.DeviceID,
				IssuedAt: now, ExpiresAt: end, LicenceEnds: true})
			if resp := h.grant(sess.ID, token, cdn); resp.ExpiresAt.After(end) {
				t.Fatalf("grant expires at %v, after the licence's end %v", resp.ExpiresAt, end)
			}
			h.clock.set(end)
			rec := h.sign(sess.ID, token, `{"cdn":"`+cdn+`"}`)
			if e := errorOf(t, rec.Code, rec.Body.Bytes()); rec.Code != http.StatusForbidden || e.Reason != playback.ReasonLicenceEnded {
				t.Fatalf("renewal at the licence's end: %d %s, want 403 %s", rec.Code, rec.Body, playback.ReasonLicenceEnded)
			}
		})
	}
}

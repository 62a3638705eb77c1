package signurl_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/demo"
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

// TestManifestCredentialEndsWithTheLicence: the manifest credential of a
// session the licence window ends, issued with grants that end with the
// window, answers every manifest route from the window's end 403
// licence_window_ended, as the playback token does, so that a player
// (native ones load these URLs themselves) can tell the viewer why; not
// 401, which would send it to renew for nothing. One that expires before
// the licence's end (its lease's grace comes first), or comes from a token
// without the licence block (PLAYBACK_TOKEN_LEASE off), answers its expiry
// 401 token_expired, as before.
func TestManifestCredentialEndsWithTheLicence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		licenceEnds bool          // the playback token carries the licence block
		end         time.Duration // the token's end, from now
		status      int           // what the manifests answer from the credential's expiry
		reason      string
	}{
		{name: "ends with the licence", licenceEnds: true, end: 40 * time.Second, status: http.StatusForbidden, reason: playback.ReasonLicenceEnded},
		{name: "expires before the licence's end", licenceEnds: true, end: time.Hour, status: http.StatusUnauthorized, reason: auth.ReasonTokenExpired},
		{name: "token without the licence block", end: 40 * time.Second, status: http.StatusUnauthorized, reason: auth.ReasonTokenExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newManifestHarness(t, 3, "")
			sess, _ := m.session(demo.AccountSolo, ladderTitle, 2*time.Minute)
			now := m.clock.now()
			end := now.Add(tc.end).Truncate(time.Second)
			token := m.token(auth.PlaybackClaims{SessionID: sess.ID, AccountID: demo.AccountSolo, TitleID: ladderTitle, DeviceID: sess.DeviceID,
				IssuedAt: now, ExpiresAt: end, LicenceEnds: tc.licenceEnds})
			g := m.grant(sess.ID, token, cdnCFECDSA)
			if g.ExpiresAt.After(end) {
				t.Fatalf("grants expire at %v, after the token's end %v", g.ExpiresAt, end)
			}
			master := m.get(g.Manifests.HLS, nil)
			if master.status != http.StatusOK {
				t.Fatalf("multivariant playlist: %d %s", master.status, master.body)
			}
			_, variants := parseMaster(t, master.body)
			if len(variants) == 0 {
				t.Fatalf("no variants in %s", master.body)
			}
			m.clock.set(g.ExpiresAt)
			for name, u := range map[string]string{"hls": g.Manifests.HLS, "dash": g.Manifests.DASH, "media playlist": variants[0].uri} {
				if f := m.get(u, nil); f.status != tc.status || f.reason != tc.reason {
					t.Errorf("%s at the credential's expiry (%v; the token ends %v): %d %s, want %d %s", name, g.ExpiresAt, end, f.status, f.reason, tc.status, tc.reason)
				}
			}
		})
	}
}

package authorizeplay_test

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/playurl"
)

// TestPlayEndsWithItsLicenceWindow: a play admitted while its licence
// window runs gets nothing that reaches past the window's end — not the
// playback token (which every renewal, heartbeat or grant, presents), nor
// the lease, the CMCD credential or the manifest credential — and a use
// of the token after the end is refused 403 licence_window_ended, not
// 401 token_expired, which would send the player to authorize again for
// nothing. A window that outlasts the token, alone or continued by the
// next window of the territory (abutting or overlapping), or that never
// ends in practice (year 9999), leaves the token's own lifetime; one that
// would leave the token less than a second (a play in the window's last
// second) leaves none to issue.
func TestPlayEndsWithItsLicenceWindow(t *testing.T) {
	t.Parallel()
	const tokenTTL = time.Hour
	for _, tc := range []struct {
		name    string
		windows func(now time.Time) []playback.LicenceWindow
		// until is when the play's licence ends, zero when the token's
		// lifetime comes first.
		until func(now time.Time) time.Time
		// refused is the 403 reason of a play that gets no token.
		refused string
		// late is how far into its second the play comes (the harness's
		// clock is on a whole second).
		late time.Duration
	}{
		{name: "ends mid-play", windows: func(now time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: now.Add(10 * time.Minute)}}
		}, until: func(now time.Time) time.Time { return now.Add(10 * time.Minute) }},
		{name: "ends within a lease", windows: func(now time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: now.Add(45 * time.Second)}}
		}, until: func(now time.Time) time.Time { return now.Add(45 * time.Second) }},
		{name: "ends mid-second: the token ends on the second before", windows: func(now time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: now.Add(90*time.Second + 500*time.Millisecond)}}
		}, until: func(now time.Time) time.Time { return now.Add(90 * time.Second) }},
		{name: "continued by the next window, which ends mid-play", windows: func(now time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{
				{Territory: "DE", Start: now.Add(10 * time.Minute), End: now.Add(20 * time.Minute)},
				{Territory: "US", Start: now.Add(-time.Hour), End: now.Add(3 * time.Hour)},
				{Territory: "DE", Start: now.Add(-time.Hour), End: now.Add(10 * time.Minute)},
			}
		}, until: func(now time.Time) time.Time { return now.Add(20 * time.Minute) }},
		{name: "outlasts the token", windows: func(now time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: now.Add(tokenTTL + time.Second)}}
		}},
		{name: "continued past the token by an overlapping window", windows: func(now time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{
				{Territory: "DE", Start: now.Add(-time.Hour), End: now.Add(10 * time.Minute)},
				{Territory: "DE", Start: now.Add(5 * time.Minute), End: now.Add(3 * time.Hour)},
			}
		}},
		{name: "outlasts the token, the play late in its second: the token ends on the second before", late: 700 * time.Millisecond,
			windows: func(now time.Time) []playback.LicenceWindow {
				return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: now.Add(tokenTTL + time.Minute)}}
			}},
		{name: "no end in practice", windows: func(now time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)}}
		}},
		{name: "ends within the current second", windows: func(now time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: now.Add(500 * time.Millisecond)}}
		}, refused: "licence_window_ended"},
		{name: "in the last second of a window ending on a whole second", late: 300 * time.Millisecond, windows: func(now time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: now.Truncate(time.Second).Add(time.Second)}}
		}, refused: "licence_window_ended"},
		{name: "a second before the last second", late: 300 * time.Millisecond, windows: func(now time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: now.Truncate(time.Second).Add(2 * time.Second)}}
		}, until: func(now time.Time) time.Time { return now.Truncate(time.Second).Add(2 * time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessWith(t, func(c *authorizeplay.Config) { c.TokenTTL, c.TokenLease = tokenTTL, true })
			h.now = h.now.Add(tc.late)
			ctx := context.Background()
			rating := 0
			title := playback.Title{ID: "closing", Name: "Closing", Rating: &rating, AssetPath: "/titles/closing/", Manifest: "master.m3u8",
				Windows: tc.windows(h.now), Renditions: slices.Clone(demo.Ladder)}
			if err := h.store.PutTitle(ctx, title); err != nil {
				t.Fatal(err)
			}
			rec := h.play(demo.AccountFamily, title.ID, "d_closing")
			if tc.refused != "" {
				if e := errorOf(t, rec); rec.Code != http.StatusForbidden || e.Reason != tc.refused {
					t.Fatalf("play: %d %s, want 403 %s", rec.Code, rec.Body, tc.refused)
				}
				if active, _ := h.store.ListActiveSessions(ctx, demo.AccountFamily, h.now); len(active) != 0 {
					t.Fatalf("refused play left %d sessions", len(active))
				}
				return
			}
			resp, claims := h.admitted(t, rec)
			if resp.ManifestURL == "" {
				t.Fatalf("no manifests in the answer: %+v", resp)
			}
			end := h.now.Add(tokenTTL).Truncate(time.Second) // tokens count whole seconds
			if tc.until != nil {
				end = tc.until(h.now)
			}
			if !resp.TokenExpiresAt.Equal(end) || !claims.ExpiresAt.Equal(end) {
				t.Fatalf("token expires at %v (answer %v), want %v", claims.ExpiresAt, resp.TokenExpiresAt, end)
			}
			if resp.LeaseExpiresAt.After(end) {
				t.Errorf("lease expires at %v, after %v", resp.LeaseExpiresAt, end)
			}
			if resp.ManifestExpiresAt.After(end) {
				t.Errorf("manifest credential expires at %v, after %v", resp.ManifestExpiresAt, end)
			}
			cmcd, err := h.tokens.VerifyCMCD(path.Base(resp.CMCDReportURL), h.now)
			if err != nil {
				t.Fatal(err)
			}
			if cmcd.ExpiresAt.After(end) {
				t.Errorf("CMCD credential expires at %v, after %v", cmcd.ExpiresAt, end)
			}
			if tc.until != nil && !resp.LicenceEndsAt.Equal(end) || tc.until == nil && !resp.LicenceEndsAt.IsZero() {
				t.Errorf("licence_ends_at %v, want %v when the licence ends the token", resp.LicenceEndsAt, tc.until != nil)
			}
			if _, err := h.tokens.Verify(resp.PlaybackToken, end.Add(-time.Second)); err != nil {
				t.Fatalf("token refused a second before its end: %v", err)
			}
			wantCode, wantReason := playback.CodeUnauthenticated, auth.ReasonTokenExpired
			if tc.until != nil {
				wantCode, wantReason = playback.CodeForbidden, "licence_window_ended"
			}
			// The manifest credential says the licence ends it where it
			// does, for the manifests and steering fetched after the end.
			mcred := manifestCredential(t, resp.ManifestURL)
			mWantCode, mWantReason := playback.CodeUnauthenticated, auth.ReasonTokenExpired
			if tc.until != nil && resp.ManifestExpiresAt.Equal(end) {
				mWantCode, mWantReason = playback.CodeForbidden, playback.ReasonLicenceEnded
			}
			_, err = h.tokens.VerifyManifest(mcred, resp.ManifestExpiresAt)
			if e := playback.AsError(err); e.Code != mWantCode || e.Reason != mWantReason {
				t.Errorf("manifest credential used at its end %v (the token's %v): %v, want %s %s", resp.ManifestExpiresAt, end, err, mWantCode, mWantReason)
			}
			for _, late := range []time.Duration{0, time.Hour} {
				_, err := h.tokens.Verify(resp.PlaybackToken, end.Add(late))
				if e := playback.AsError(err); e.Code != wantCode || e.Reason != wantReason {
					t.Errorf("token used %v after its end: %v, want %s %s", late, err, wantCode, wantReason)
				}
				_, err = h.tokens.VerifyCMCD(path.Base(resp.CMCDReportURL), end.Add(late))
				if e := playback.AsError(err); e.Code != wantCode || e.Reason != wantReason {
					t.Errorf("CMCD credential used %v after its end: %v, want %s %s", late, err, wantCode, wantReason)
				}
			}
		})
	}
}

// TestLicenceBlockOnlyWithTheLeaseBlock: the licence block follows the
// lease block, which releases before it refuse as malformed, so with
// PLAYBACK_TOKEN_LEASE off (the setting of an upgrade from, or a rollback
// to, such a release: "tokens as before") neither the playback token nor
// the CMCD or manifest credential carries it, even when the licence ends them: their
// bytes are those of the same claims without it. The answer still says
// licence_ends_at, and the token still ends there.
func TestLicenceBlockOnlyWithTheLeaseBlock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		lease bool
	}{
		{name: "lease block on", lease: true},
		{name: "lease block off", lease: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessOn(t, func(c *authorizeplay.Config) { c.TokenLease = tc.lease },
				func(s authorizeplay.Store) authorizeplay.Store { return leasedStore{s} })
			ctx := context.Background()
			rating := 0
			// Within the lease: the manifest credential ends with the
			// licence too.
			end := h.now.Add(45 * time.Second)
			title := playback.Title{ID: "closing", Name: "Closing", Rating: &rating, AssetPath: "/titles/closing/", Manifest: "master.m3u8",
				Windows:    []playback.LicenceWindow{{Territory: "DE", Start: h.now.Add(-time.Hour), End: end}},
				Renditions: slices.Clone(demo.Ladder)}
			if err := h.store.PutTitle(ctx, title); err != nil {
				t.Fatal(err)
			}
			resp, claims := h.admitted(t, h.play(demo.AccountFamily, title.ID, "d_closing"))
			if !resp.LicenceEndsAt.Equal(end) || !claims.ExpiresAt.Equal(end) {
				t.Fatalf("licence_ends_at %v, token ends %v, want both %v", resp.LicenceEndsAt, claims.ExpiresAt, end)
			}
			cmcdCred := path.Base(resp.CMCDReportURL)
			cmcd, err := h.tokens.VerifyCMCD(cmcdCred, h.now)
			if err != nil {
				t.Fatal(err)
			}
			mcred := manifestCredential(t, resp.ManifestURL)
			mc, err := h.tokens.VerifyManifest(mcred, h.now)
			if err != nil {
				t.Fatal(err)
			}
			if !mc.ExpiresAt.Equal(end) {
				t.Fatalf("manifest credential ends %v, want %v", mc.ExpiresAt, end)
			}
			if claims.LicenceEnds != tc.lease || cmcd.LicenceEnds != tc.lease || mc.LicenceEnds != tc.lease {
				t.Fatalf("licence block in the token %v, in the CMCD credential %v, in the manifest credential %v; want %v",
					claims.LicenceEnds, cmcd.LicenceEnds, mc.LicenceEnds, tc.lease)
			}
			if tc.lease {
				return
			}
			claims.LicenceEnds, cmcd.LicenceEnds, mc.LicenceEnds = false, false, false
			if want, err := h.tokens.IssueManifest(mc); err != nil || want != mcred {
				t.Errorf("manifest credential %q, want %q as before the lease block (%v)", mcred, want, err)
			}
			if want, err := h.tokens.Issue(claims); err != nil || want != resp.PlaybackToken {
				t.Errorf("playback token %q, want %q as before the lease block (%v)", resp.PlaybackToken, want, err)
			}
			if want, err := h.tokens.IssueCMCD(cmcd); err != nil || want != cmcdCred {
				t.Errorf("CMCD credential %q, want %q as before the lease block (%v)", cmcdCred, want, err)
			}
		})
	}
}

// manifestCredential is the manifest credential of a manifest URL.
func manifestCredential(t testing.TB, manifestURL string) string {
	t.Helper()
	u, err := url.Parse(manifestURL)
	if err != nil {
		t.Fatal(err)
	}
	cred := u.Query().Get(playurl.CredentialParam)
	if cred == "" {
		t.Fatalf("no credential in %s", manifestURL)
	}
	return cred
}

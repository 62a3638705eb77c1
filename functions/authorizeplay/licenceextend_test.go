package authorizeplay_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestPlayAgainAfterTheLicenceWindowChanged: a session's token ends with
// the licence window its play was admitted under, and the token cannot
// learn that an operator changed the window since (admin API, catalogue
// import): what a player does at the end, authorize again, is decided on
// the catalogue as it is then. A window extended, or continued by a new
// one, admits the play, which ends with the longer licence; one left as
// it was, cut short or removed refuses it, so that playback ends. Under
// EU/EEA portability the home's window and the viewer's country's both
// count, as at the first play; elsewhere only the viewer's country's.
func TestPlayAgainAfterTheLicenceWindowChanged(t *testing.T) {
	t.Parallel()
	const tokenTTL = 4 * time.Hour
	for _, tc := range []struct {
		name    string
		viewer  string // the front door's country for the viewer; "" is the home, DE
		windows func(now, end time.Time) []playback.LicenceWindow
		// changed is the catalogue's windows once the operator acted.
		changed func(now, end time.Time) []playback.LicenceWindow
		until   func(end time.Time) time.Time // the licence's end of the play again, nil when refused
		refused string
	}{
		{name: "extended", windows: home, changed: func(now, end time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: end.Add(time.Hour)}}
		}, until: func(end time.Time) time.Time { return end.Add(time.Hour) }},
		{name: "continued by a new window", windows: home, changed: func(now, end time.Time) []playback.LicenceWindow {
			return append(home(now, end), playback.LicenceWindow{Territory: "DE", Start: end, End: end.Add(2 * time.Hour)})
		}, until: func(end time.Time) time.Time { return end.Add(2 * time.Hour) }},
		{name: "extended past the token's lifetime", windows: home, changed: func(now, end time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: end.Add(tokenTTL + time.Hour)}}
		}},
		{name: "left as it was", windows: home, changed: home, refused: playback.ReasonNotLicensedHere},
		{name: "cut short", windows: home, changed: func(now, end time.Time) []playback.LicenceWindow {
			return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: end.Add(-5 * time.Minute)}}
		}, refused: playback.ReasonNotLicensedHere},
		{name: "removed", windows: home, changed: func(time.Time, time.Time) []playback.LicenceWindow { return nil },
			refused: playback.ReasonNotLicensedHere},
		{name: "EU portability: the home's window extended, the viewer in France", viewer: "FR", windows: home,
			changed: func(now, end time.Time) []playback.LicenceWindow {
				return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: end.Add(time.Hour)}}
			}, until: func(end time.Time) time.Time { return end.Add(time.Hour) }},
		{name: "EU portability: France's window opened, the home's ended", viewer: "FR", windows: home,
			changed: func(now, end time.Time) []playback.LicenceWindow {
				return append(home(now, end), playback.LicenceWindow{Territory: "FR", Start: end.Add(-time.Minute), End: end.Add(time.Hour)})
			}, until: func(end time.Time) time.Time { return end.Add(time.Hour) }},
		{name: "EU portability: the home's ended, France's not extended", viewer: "FR",
			windows: func(now, end time.Time) []playback.LicenceWindow {
				return append(home(now, end), playback.LicenceWindow{Territory: "FR", Start: now.Add(-time.Hour), End: end})
			}, changed: func(now, end time.Time) []playback.LicenceWindow {
				return append(home(now, end), playback.LicenceWindow{Territory: "FR", Start: now.Add(-time.Hour), End: end})
			}, refused: playback.ReasonNotLicensedHomeOrHere},
		{name: "outside the EU: the home's window extended, the viewer in the US", viewer: "US",
			windows: func(now, end time.Time) []playback.LicenceWindow {
				return append(home(now, end), playback.LicenceWindow{Territory: "US", Start: now.Add(-time.Hour), End: end})
			}, changed: func(now, end time.Time) []playback.LicenceWindow {
				return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: end.Add(time.Hour)},
					{Territory: "US", Start: now.Add(-time.Hour), End: end}}
			}, refused: playback.ReasonNotLicensedHere},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessWith(t, func(c *authorizeplay.Config) {
				c.TokenTTL, c.TokenLease = tokenTTL, true
				c.Viewer.TrustedProxies = []string{"10.0.0.0/8"}
				c.Viewer.CountryHeader = "CloudFront-Viewer-Country"
			})
			ctx := context.Background()
			start, end := h.now, h.now.Add(10*time.Minute)
			rating := 0
			title := playback.Title{ID: "closing", Name: "Closing", Rating: &rating, AssetPath: "/titles/closing/", Manifest: "master.m3u8",
				Windows: tc.windows(start, end), Renditions: slices.Clone(demo.Ladder)}
			if err := h.store.PutTitle(ctx, title); err != nil {
				t.Fatal(err)
			}
			viewer := tc.viewer
			if viewer == "" {
				viewer = "DE"
			}
			from := func(r *http.Request) {
				r.RemoteAddr = frontDoor
				r.Header.Set("CloudFront-Viewer-Country", viewer)
			}
			body := `{"title_id":"closing","device_id":"d_closing"}`
			first, _ := h.admitted(t, h.do(http.MethodPost, "/v1/play", h.token(demo.AccountFamily), body, from))
			if !first.LicenceEndsAt.Equal(end) {
				t.Fatalf("first play's licence ends %v, want %v", first.LicenceEndsAt, end)
			}
			title.Windows = tc.changed(start, end)
			if err := h.store.PutTitle(ctx, title); err != nil {
				t.Fatal(err)
			}
			h.now = end // the first token's end, where a player authorizes again
			if _, err := h.tokens.Verify(first.PlaybackToken, h.now); playback.AsError(err).Reason != playback.ReasonLicenceEnded {
				t.Fatalf("the first token at its end: %v, want %s", err, playback.ReasonLicenceEnded)
			}
			rec := h.do(http.MethodPost, "/v1/play", h.token(demo.AccountFamily), body, from)
			if tc.refused != "" {
				if e := errorOf(t, rec); rec.Code != http.StatusForbidden || e.Reason != tc.refused {
					t.Fatalf("play again: %d %s, want 403 %s", rec.Code, rec.Body, tc.refused)
				}
				return
			}
			again, claims := h.admitted(t, rec)
			want := time.Time{}
			if tc.until != nil {
				want = tc.until(end)
			}
			if !again.LicenceEndsAt.Equal(want) {
				t.Fatalf("play again: licence ends %v, want %v (token ends %v)", again.LicenceEndsAt, want, claims.ExpiresAt)
			}
			if active, _ := h.store.ListActiveSessions(ctx, demo.AccountFamily, h.now); len(active) != 1 || active[0].ID != again.SessionID {
				t.Fatalf("active sessions %v, want the new play's %s alone", active, again.SessionID)
			}
		})
	}
}

// home is a window of the account's home territory (demo.AccountFamily:
// DE) holding now and ending at end.
func home(now, end time.Time) []playback.LicenceWindow {
	return []playback.LicenceWindow{{Territory: "DE", Start: now.Add(-time.Hour), End: end}}
}

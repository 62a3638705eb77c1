package heartbeat_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// TestLeaseEndsWithItsToken: a renewal never moves the lease past the end
// of the credential that renews it — the playback token's or the CMCD
// credential's, which authorize play ends with the licence window when
// the window ends first — whether the lease is written read-first, from
// the lease cache's slack, or unconditionally (no slack); once the
// credential is over, a token the licence ended is refused 403
// licence_window_ended, and any other 401 token_expired.
func TestLeaseEndsWithItsToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cache   bool
		slack   time.Duration
		cmcd    bool
		licence bool
	}{
		{name: "read first", slack: 20 * time.Second},
		{name: "lease cache", cache: true, slack: 20 * time.Second},
		{name: "no slack", slack: 0},
		{name: "CMCD report", slack: 20 * time.Second, cmcd: true},
		{name: "licence ends the token", cache: true, slack: 20 * time.Second, licence: true},
		{name: "licence ends the CMCD credential", slack: 20 * time.Second, cmcd: true, licence: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := defaultConfig()
			cfg.LeaseCache, cfg.LeaseRenewSlack = tc.cache, tc.slack
			cfg.Interval = 15 * time.Second
			h := newHarness(t, harnessOptions{cfg: cfg, noConsume: true})
			id, _ := h.play("acct_t", "title_1", 2)
			start := h.clock()
			end := start.Add(150 * time.Second).Truncate(time.Second)
			claims := auth.PlaybackClaims{SessionID: id, AccountID: "acct_t", TitleID: "title_1", DeviceID: "dev_acct_t",
				IssuedAt: start, ExpiresAt: end, LicenceEnds: tc.licence}
			send := func() *httptest.ResponseRecorder {
				t.Helper()
				if tc.cmcd {
					cred, err := h.tokens.IssueCMCD(claims)
					if err != nil {
						t.Fatal(err)
					}
					target := "/v1/playback/" + id + "/cmcd/" + cred
					return h.report(http.MethodPost, target, "application/cmcd", fmt.Sprintf("e=t,sta=p,ts=%d\n", h.ts(0)))
				}
				tok, err := h.tokens.Issue(claims)
				if err != nil {
					t.Fatal(err)
				}
				return h.beat(id, tok, h.body(events.HeartbeatProgress, 1000, 0, ""))
			}
			for _, at := range []time.Duration{60 * time.Second, 100 * time.Second, 140 * time.Second} {
				h.advance(start.Add(at).Sub(h.clock()))
				if rec := send(); rec.Code/100 != 2 {
					t.Fatalf("at +%v: %d %s", at, rec.Code, rec.Body)
				}
				if got := h.session(id).ExpiresAt; got.After(end) {
					t.Fatalf("at +%v: lease renewed to %v, past the credential's end %v", at, got, end)
				}
			}
			h.advance(end.Sub(h.clock()))
			rec := send()
			want, reason := http.StatusUnauthorized, auth.ReasonTokenExpired
			if tc.licence {
				want, reason = http.StatusForbidden, playback.ReasonLicenceEnded
			}
			if e := decode[httpx.ErrorBody](t, rec).Error; rec.Code != want || e.Reason != reason {
				t.Fatalf("at the end: %d %s, want %d %s", rec.Code, rec.Body, want, reason)
			}
		})
	}
}

package authorizeplay_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// leasedStore answers admissions with a lease locator, as the DynamoDB and
// Firestore stores do (bolt has none).
type leasedStore struct{ authorizeplay.Store }

func (s leasedStore) AcquireLease(ctx context.Context, req playback.LeaseRequest) (playback.Session, error) {
	sess, err := s.Store.AcquireLease(ctx, req)
	if err == nil {
		sess.Lease = "7"
	}
	return sess, err
}

// TestPlaybackTokenLeaseSetting: PLAYBACK_TOKEN_LEASE decides whether the
// playback token carries the lease (off: the token previous releases
// verify, and heartbeats renew reading the session first, see
// functions/heartbeat TestHeartbeatRenewsOnTheTokensLease); the CMCD and
// manifest credentials never carry it.
func TestPlaybackTokenLeaseSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		on    bool
		lease string
	}{
		{name: "on", on: true, lease: "7"},
		{name: "off", on: false, lease: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			// The harness's server reads bolt: one more on the same
			// store, answering with a lease.
			verifier, err := auth.NewVerifier(auth.VerifierConfig{Issuer: issuer, Audience: audience,
				HS256Keys: kid + ":" + base64.StdEncoding.EncodeToString(jwtKey), Leeway: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			srv, err := authorizeplay.New(authorizeplay.Config{PastDueGrace: 72 * time.Hour, LeaseTTL: 2 * time.Minute,
				TokenTTL: time.Hour, MaxBody: 4096, ManifestGrace: 30 * time.Second, ManifestMaxTTL: 10 * time.Minute, TokenLease: tc.on},
				authorizeplay.Deps{Store: leasedStore{h.store}, Identity: verifier, Tokens: h.tokens, Now: func() time.Time { return h.now }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			mux := http.NewServeMux()
			srv.Register(mux)
			h.h = httpx.Middleware(slog.New(slog.DiscardHandler), mux)
			rec := h.play(demo.AccountFamily, "big-buck-bunny", "tv-1")
			if rec.Code != http.StatusCreated {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var resp authorizeplay.PlayResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			claims, err := h.tokens.Verify(resp.PlaybackToken, h.now)
			if err != nil {
				t.Fatal(err)
			}
			if claims.Lease != tc.lease || claims.StartedAt.IsZero() != (tc.lease == "") {
				t.Fatalf("playback token lease %q from %v, want %q", claims.Lease, claims.StartedAt, tc.lease)
			}
			cmcd, err := h.tokens.VerifyCMCD(path.Base(resp.CMCDReportURL), h.now)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Manifests == nil {
				t.Fatal("no personalized manifests")
			}
			u, err := url.Parse(resp.Manifests.HLS)
			if err != nil {
				t.Fatal(err)
			}
			manifest, err := h.tokens.VerifyManifest(u.Query().Get("token"), h.now)
			if err != nil {
				t.Fatal(err)
			}
			for name, c := range map[string]auth.PlaybackClaims{"CMCD": cmcd, "manifest": manifest} {
				if c.Lease != "" || !c.StartedAt.IsZero() || c.SessionID != resp.SessionID {
					t.Errorf("%s credential carries lease %q from %v (session %q)", name, c.Lease, c.StartedAt, c.SessionID)
				}
			}
		})
	}
}

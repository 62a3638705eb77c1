package authorizeplay_test

import (
	"context"
	"net/url"
	"path"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/demo"
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
			// The harness's server reads bolt through a store answering
			// with a lease.
			h := newHarnessOn(t, func(c *authorizeplay.Config) {
				c.ManifestGrace, c.ManifestMaxTTL, c.TokenLease = 30*time.Second, 10*time.Minute, tc.on
			}, func(s authorizeplay.Store) authorizeplay.Store { return leasedStore{s} })
			resp, claims := h.admitted(t, h.play(demo.AccountFamily, "big-buck-bunny", "tv-1"))
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

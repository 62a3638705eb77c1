package signurl_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// endsWhileSigning signs as its URLSigner does; armed, the clock reaches
// the grant's end while it signs (an origin fetch or a slow key took the
// rest of the grant's last second), and it refuses the grant as every
// signer refuses an expiry that is not after its own clock's now.
type endsWhileSigning struct {
	playback.URLSigner
	clock *clock
	armed atomic.Bool
}

func (s *endsWhileSigning) Sign(ctx context.Context, req playback.SignRequest) (playback.SignedAccess, error) {
	if s.armed.Load() {
		s.clock.set(req.Expires)
		if err := req.Validate(s.clock.now()); err != nil {
			return playback.SignedAccess{}, fmt.Errorf("endsWhileSigning: %w", err)
		}
	}
	return s.URLSigner.Sign(ctx, req)
}

// TestGrantEndingWhileSignedIsTheLeasesEnd: a grant whose end comes while
// it is signed is refused by the signer, whose clock has passed the check
// before signing. That is the lease's end, as the check answers it (410
// lease_expired), not a fault of ours: no 500 sign_failed, which is logged
// as an error, counts toward the 5xx alarms and tells the player that
// nothing will help. On the urls route and both manifest routes that sign
// (an HLS media playlist, the DASH MPD).
func TestGrantEndingWhileSignedIsTheLeasesEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// call asks with the grant g (the urls answer), arming the signer
		// just before the request that signs.
		call func(t *testing.T, m *manifestHarness, urls func() fetched, g signurl.URLsResponse, arm func()) fetched
	}{
		{name: "urls", call: func(t *testing.T, m *manifestHarness, urls func() fetched, g signurl.URLsResponse, arm func()) fetched {
			arm()
			return urls()
		}},
		{name: "hls media playlist", call: func(t *testing.T, m *manifestHarness, urls func() fetched, g signurl.URLsResponse, arm func()) fetched {
			master := m.get(g.Manifests.HLS, nil)
			_, variants := parseMaster(t, master.body)
			if master.status != http.StatusOK || len(variants) == 0 {
				t.Fatalf("master: %d %s", master.status, master.body)
			}
			arm()
			return m.get(variants[0].uri, nil)
		}},
		{name: "dash mpd", call: func(t *testing.T, m *manifestHarness, urls func() fetched, g signurl.URLsResponse, arm func()) fetched {
			arm()
			return m.get(g.Manifests.DASH, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newManifestHarness(t, 2, "")
			signer := &endsWhileSigning{URLSigner: m.signers[cdnCFECDSA], clock: m.clock}
			mux := http.NewServeMux()
			api := httptest.NewServer(httpx.Middleware(slog.New(slog.DiscardHandler), mux))
			t.Cleanup(api.Close)
			srv, err := signurl.New(signurl.Config{DefaultCDN: cdnCFECDSA, Grace: 30 * time.Second, MaxTTL: 10 * time.Minute, MaxBody: 1024,
				CDNBases: map[string]string{cdnCFECDSA: m.cdnEdge.URL}, PublicURL: api.URL},
				signurl.Deps{Store: m.store, Tokens: m.tokens, Signers: map[string]playback.URLSigner{cdnCFECDSA: signer}, Now: m.clock.now, Origin: m.origin})
			if err != nil {
				t.Fatal(err)
			}
			srv.Register(mux)
			sess, token := m.session(demo.AccountFamily, ladderTitle, time.Hour)
			urls := func() fetched {
				req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+sess.ID+"/urls", strings.NewReader(`{"cdn":"`+cdnCFECDSA+`"}`))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				f := fetched{status: rec.Code, body: rec.Body.Bytes()}
				if f.status != http.StatusOK {
					f.reason = errorOf(t, f.status, f.body).Reason
				}
				return f
			}
			first := urls()
			g := decodeGrant(t, first.status, first.body)
			if g.Manifests == nil {
				t.Fatalf("urls answered no manifests: %s", first.body)
			}
			got := tc.call(t, m, urls, g, func() { signer.armed.Store(true) })
			if got.status != http.StatusGone || got.reason != playback.ReasonLeaseExpired {
				t.Fatalf("a grant ending while signed: %d %s, want 410 %s", got.status, got.body, playback.ReasonLeaseExpired)
			}
		})
	}
}

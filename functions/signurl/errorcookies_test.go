package signurl_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// signsThenFails signs its first ok requests and fails the rest.
type signsThenFails struct {
	playback.URLSigner
	ok    int64
	calls atomic.Int64
}

func (s *signsThenFails) Sign(ctx context.Context, req playback.SignRequest) (playback.SignedAccess, error) {
	if s.calls.Add(1) > s.ok {
		return playback.SignedAccess{}, errors.New("key unavailable")
	}
	return s.URLSigner.Sign(ctx, req)
}

// TestFailedGrantSetsNoCookie: a urls answer that fails after some of its
// renditions were signed carries none of their cookies. An error answer is
// no grant: its Set-Cookie headers would hand out CDN credentials the
// caller was told it did not get, on a response nothing marks no-store.
func TestFailedGrantSetsNoCookie(t *testing.T) {
	t.Parallel()
	m := newManifestHarness(t, 2, "")
	signer := &signsThenFails{URLSigner: m.signers[cdnCFECDSA], ok: 1}
	srv, err := signurl.New(signurl.Config{Grace: 30 * time.Second, MaxTTL: 10 * time.Minute, MaxBody: 1024,
		CDNBases: map[string]string{cdnCFECDSA: m.cdnEdge.URL}},
		signurl.Deps{Store: m.store, Tokens: m.tokens, Signers: map[string]playback.URLSigner{cdnCFECDSA: signer}, Now: m.clock.now, Origin: m.origin})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Register(mux)
	sess, token := m.session(demo.AccountFamily, ladderTitle, time.Hour)
	req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+sess.ID+"/urls", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if signer.calls.Load() < 2 {
		t.Fatalf("the plan allows %d rendition(s); the test needs two", signer.calls.Load())
	}
	if rec.Code != http.StatusInternalServerError || errorOf(t, rec.Code, rec.Body.Bytes()).Reason != "sign_failed" {
		t.Fatalf("status %d %s, want 500 sign_failed", rec.Code, rec.Body.Bytes())
	}
	if got := rec.Result().Header.Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("the error answer sets %d cookies: %q", len(got), got)
	}
	// A key the signer refuses refuses every try until an operator acts.
	if ra := rec.Result().Header.Get("Retry-After"); ra != "" {
		t.Errorf("Retry-After %q on sign_failed: a retry meets the same key", ra)
	}
}

package heartbeat_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// TestHeartbeatRenewsOnTheTokensLease: a heartbeat whose playback token
// carries its session's lease renews by RenewHeldLease with what the
// token says (a store that can renews without reading first); tokens
// without one renew by RenewLease; CMCD reports, which mostly land inside
// the write slack, renew by RenewLease whatever their credential carries.
func TestHeartbeatRenewsOnTheTokensLease(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{noConsume: true})
	acct := playback.NewID("acct")
	id, plain := h.play(acct, "title_1", 2)
	stored, err := h.bolt.GetSession(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock()
	claims := auth.PlaybackClaims{SessionID: id, AccountID: acct, TitleID: "title_1", DeviceID: "dev_" + acct,
		IssuedAt: now, ExpiresAt: now.Add(4 * time.Hour), StartedAt: stored.StartedAt, Lease: "3"}
	withLease, err := h.tokens.Issue(claims)
	if err != nil {
		t.Fatal(err)
	}
	cmcd, err := h.tokens.IssueCMCD(claims)
	if err != nil {
		t.Fatal(err)
	}
	held := func() []playback.Session {
		h.store.mu.Lock()
		defer h.store.mu.Unlock()
		return append([]playback.Session(nil), h.store.heldCalls...)
	}

	h.advance(30 * time.Second)
	if rec := h.beat(id, plain, h.body("progress", 1000, 0, "")); rec.Code != http.StatusOK {
		t.Fatalf("beat without a lease: %d %s", rec.Code, rec.Body)
	}
	if got := held(); len(got) != 0 {
		t.Fatalf("a token without a lease renewed by RenewHeldLease: %+v", got)
	}
	h.advance(30 * time.Second)
	if rec := h.beat(id, withLease, h.body("progress", 2000, 0, "")); rec.Code != http.StatusOK {
		t.Fatalf("beat with a lease: %d %s", rec.Code, rec.Body)
	}
	got := held()
	if len(got) != 1 || got[0] != claims.Held() || got[0].Lease != "3" || !got[0].StartedAt.Equal(stored.StartedAt) {
		t.Fatalf("RenewHeldLease calls %+v, want one with the token's %+v", got, claims.Held())
	}
	h.advance(30 * time.Second)
	before := h.store.leaseReads()
	target := fmt.Sprintf("/v1/playback/%s/cmcd/%s?CMCD=%s", id, cmcd, "ts%3D"+fmt.Sprint(h.clock().UnixMilli()))
	if rec := h.report(http.MethodGet, target, "", ""); rec.Code/100 != 2 {
		t.Fatalf("CMCD report: %d %s", rec.Code, rec.Body)
	}
	if got := held(); len(got) != 1 || h.store.leaseReads() != before+1 {
		t.Fatalf("a CMCD report renewed by RenewHeldLease (%+v) or not at all (%d lease calls)", got, h.store.leaseReads()-before)
	}
}

package admin_test

import (
	"context"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// TestAccountDeleteEndsSessions: DELETE of an account with running
// sessions ends them, as a cancellation does, whichever If-Match it
// carries: the account's sessions and lease slots outlive its record on
// every store, and a heartbeat would otherwise renew them with no account
// left for the entitlement consumer to act on. The next renewal is refused
// CodeGone, which a heartbeat answers 410. On bolt, the Firestore emulator
// and DynamoDB Local.
func TestAccountDeleteEndsSessions(t *testing.T) {
	t.Parallel()
	for _, st := range everyStore {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessOn(t, auth.DefaultAdminClaim, st.store(t))
			h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
			for _, tc := range []struct{ name, id, ifMatch string }{
				{name: "If-Match version", id: "acct_v"},
				{name: "If-Match star", id: "acct_star", ifMatch: "*"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					path := "/v1/admin/accounts/" + tc.id
					etag := h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"`+tc.id+`","plan_id":"std","territory":"DE","status":"active"}`,
						http.StatusCreated).header.Get("ETag")
					if tc.ifMatch != "" {
						etag = tc.ifMatch
					}
					var sessions []playback.Session
					for _, dev := range []string{"tv", "phone"} {
						s, err := h.store.AcquireLease(ctx, playback.LeaseRequest{SessionID: tc.id + "_" + dev, AccountID: tc.id, DeviceID: dev,
							TitleID: "bbb", Limit: 2, TTL: time.Minute, Now: h.now})
						if err != nil {
							t.Fatal(err)
						}
						sessions = append(sessions, s)
					}
					h.mustDo("DELETE", path, etag, "", http.StatusNoContent)
					h.mustDo("GET", path, "", "", http.StatusNotFound)
					now := h.clock()
					for _, s := range sessions {
						got, err := h.store.GetSession(ctx, s.ID)
						if err != nil {
							t.Fatal(err)
						}
						_, renew := h.store.RenewLease(ctx, s.ID, time.Minute, 0, now)
						if got.Active(now) || got.EndReason != playback.EndEntitlement || !playback.IsCode(renew, playback.CodeGone) {
							t.Fatalf("session %s after the account's DELETE: %+v, renewal %v; want ended %q, renewal gone", s.ID, got, renew, playback.EndEntitlement)
						}
					}
					if active, err := h.store.ListActiveSessions(ctx, tc.id, now); err != nil || len(active) != 0 {
						t.Fatalf("active sessions of the deleted account: %+v %v; want none", active, err)
					}
				})
			}
		})
	}
}

// TestAccountDeleteRetriedEndsWhatAFailureLeft: ending the sessions of an
// account being deleted fails: the answer is a 5xx and the account is
// still there (its sessions are ended before it is deleted), so the
// request retried finds it, ends the session and deletes it. A stale
// If-Match is 412 and ends nothing. A session left running past the
// delete (admitted while it was under way, its end failing after it) is
// ended by a DELETE retried after the account is gone, which is 404.
func TestAccountDeleteRetriedEndsWhatAFailureLeft(t *testing.T) {
	t.Parallel()
	inner, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	store := &failingEnds{Store: inner}
	h := newHarnessOn(t, auth.DefaultAdminClaim, store)
	ctx := context.Background()
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	created := h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated).header.Get("ETag")
	sess, err := inner.AcquireLease(ctx, playback.LeaseRequest{SessionID: "s_tv", AccountID: "acct_a", DeviceID: "tv",
		TitleID: "bbb", Limit: 2, TTL: time.Minute, Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	etag := h.mustDo("PUT", "/v1/admin/accounts/acct_a", created, `{"id":"acct_a","plan_id":"std","territory":"FR","status":"active"}`,
		http.StatusOK).header.Get("ETag")
	if r := h.do("DELETE", "/v1/admin/accounts/acct_a", h.admin, created, ""); r.status != http.StatusPreconditionFailed {
		t.Fatalf("DELETE with a stale If-Match: %d %s, want 412", r.status, r.body)
	}
	if got, _ := inner.GetSession(ctx, sess.ID); !got.Active(h.clock()) {
		t.Fatalf("session after a refused DELETE: %+v, want still active", got)
	}
	store.fail.Store(1)
	if r := h.do("DELETE", "/v1/admin/accounts/acct_a", h.admin, etag, ""); r.status != http.StatusServiceUnavailable {
		t.Fatalf("DELETE with the store failing the end: %d %s, want 503", r.status, r.body)
	}
	// The account went first: its sessions end after, never for a delete
	// that a write landing first refuses (412).
	h.mustDo("GET", "/v1/admin/accounts/acct_a", "", "", http.StatusNotFound)
	if got, _ := inner.GetSession(ctx, sess.ID); !got.Active(h.clock()) {
		t.Fatalf("session after the failed end: %+v, want still active", got)
	}
	h.mustDo("DELETE", "/v1/admin/accounts/acct_a", etag, "", http.StatusNotFound)
	if got, _ := inner.GetSession(ctx, sess.ID); got.Active(h.clock()) || got.EndReason != playback.EndEntitlement {
		t.Fatalf("session after the retried DELETE: %+v, want ended %q", got, playback.EndEntitlement)
	}
	// As a play admitted between the first end and the delete, whose
	// end after the delete failed, leaves it.
	late, err := inner.AcquireLease(ctx, playback.LeaseRequest{SessionID: "s_late", AccountID: "acct_a", DeviceID: "phone",
		TitleID: "bbb", Limit: 2, TTL: time.Minute, Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	h.mustDo("DELETE", "/v1/admin/accounts/acct_a", etag, "", http.StatusNotFound)
	if got, _ := inner.GetSession(ctx, late.ID); got.Active(h.clock()) || got.EndReason != playback.EndEntitlement {
		t.Fatalf("session left past the delete, after a DELETE retried: %+v, want ended %q", got, playback.EndEntitlement)
	}
}

// writeAfterRead is a store on which another writer updates the account
// right after the admin API's first read of it, once armed.
type writeAfterRead struct {
	playback.Store
	armed atomic.Bool
}

func (s *writeAfterRead) GetRecord(ctx context.Context, kind playback.Kind, id string) (playback.Record, error) {
	rec, err := s.Store.GetRecord(ctx, kind, id)
	if err == nil && kind == playback.KindAccount && s.armed.CompareAndSwap(true, false) {
		if _, uerr := s.Store.UpdateAccount(ctx, id, func(a *playback.Account) error { a.Territory = "FR"; return nil }); uerr != nil {
			return rec, uerr
		}
	}
	return rec, err
}

// TestAccountDeleteOvertakenEndsNothing: a DELETE that a write overtakes
// between its read of the account and the delete is refused (412), and
// the account, which stays, keeps its streams. Before, the sessions were
// ended ahead of the delete and stayed ended.
func TestAccountDeleteOvertakenEndsNothing(t *testing.T) {
	t.Parallel()
	inner := boltStore(t)
	store := &writeAfterRead{Store: inner}
	h := newHarnessOn(t, auth.DefaultAdminClaim, store)
	ctx := context.Background()
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	etag := h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated).header.Get("ETag")
	sess, err := inner.AcquireLease(ctx, playback.LeaseRequest{SessionID: "s_tv", AccountID: "acct_a", DeviceID: "tv",
		TitleID: "bbb", Limit: 2, TTL: time.Minute, Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	store.armed.Store(true)
	if r := h.do("DELETE", "/v1/admin/accounts/acct_a", h.admin, etag, ""); r.status != http.StatusPreconditionFailed {
		t.Fatalf("DELETE overtaken by a write: %d %s, want 412", r.status, r.body)
	}
	if got, _ := inner.GetSession(ctx, sess.ID); !got.Active(h.clock()) {
		t.Fatalf("session of the account a refused DELETE left: %+v, want still active", got)
	}
}

// deleteOvertaken is a store on which, once armed, the same DELETE runs
// whole between an account delete's checks and its write: two operators
// (or a client and its retry) deleting at once.
type deleteOvertaken struct {
	playback.Store
	armed  atomic.Bool
	first  func() resp
	answer resp
}

func (s *deleteOvertaken) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	if len(cs.Changes) == 1 && cs.Changes[0].Delete() && cs.Changes[0].Kind == playback.KindAccount && s.armed.CompareAndSwap(true, false) {
		s.answer = s.first()
	}
	return s.Store.ApplyChanges(ctx, cs)
}

// TestAccountDeleteTwiceAppliesOnce: two DELETEs of one account with the
// same If-Match, the second overtaken by the first, answer 204 and then
// 404 account_not_found, and apply once: one audit record of the delete,
// the sessions ended once (the first end stays), and the plan's count of
// accounts dropped once, so the plan still refuses its delete (409
// plan_in_use) while another account is on it. On bolt, the Firestore
// emulator and DynamoDB Local (whose plan counter a second decrement
// would take below the accounts on it).
func TestAccountDeleteTwiceAppliesOnce(t *testing.T) {
	t.Parallel()
	for _, st := range everyStore {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			store := &deleteOvertaken{Store: st.store(t)}
			h := newHarnessOn(t, auth.DefaultAdminClaim, store)
			ctx := context.Background()
			plan := playback.NewID("plan")
			acct, other := playback.NewID("acct"), playback.NewID("acct")
			h.mustDo("POST", "/v1/admin/plans", "", `{"id":"`+plan+`","name":"P","max_streams":2,"max_devices":5,"max_quality":"HD"}`, http.StatusCreated)
			etag := h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"`+acct+`","plan_id":"`+plan+`","territory":"DE","status":"active"}`,
				http.StatusCreated).header.Get("ETag")
			sess, err := h.store.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct, DeviceID: "tv",
				TitleID: "bbb", Limit: 2, TTL: time.Minute, Now: h.now})
			if err != nil {
				t.Fatal(err)
			}
			path := "/v1/admin/accounts/" + acct
			store.first = func() resp { return h.do("DELETE", path, h.admin, etag, "") }
			store.armed.Store(true)
			second := h.do("DELETE", path, h.admin, etag, "")
			if store.answer.status != http.StatusNoContent {
				t.Fatalf("first DELETE: %d %s, want 204", store.answer.status, store.answer.body)
			}
			if second.status != http.StatusNotFound || second.errBody(t).Reason != "account_not_found" {
				t.Fatalf("overtaken DELETE: %d %s, want 404 account_not_found", second.status, second.body)
			}
			ended, err := h.store.GetSession(ctx, sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			if ended.EndReason != playback.EndEntitlement {
				t.Fatalf("session after the DELETEs: %+v, want ended %q", ended, playback.EndEntitlement)
			}
			// Retried later, it is still 404 and ends nothing again.
			h.mustDo("DELETE", path, etag, "", http.StatusNotFound)
			if again, _ := h.store.GetSession(ctx, sess.ID); !again.EndedAt.Equal(ended.EndedAt) || again.EndReason != ended.EndReason {
				t.Fatalf("session after a retried DELETE: %+v, want %+v", again, ended)
			}
			deletes := 0
			for cursor := ""; ; {
				page, err := h.store.ListAudit(ctx, cursor, 100)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range page.Records {
					for _, c := range r.Changes {
						if c.ID == acct && c.Op == playback.OpDelete {
							deletes++
						}
					}
				}
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			if deletes != 1 {
				t.Fatalf("audit records of the account's delete: %d, want 1", deletes)
			}
			h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"`+other+`","plan_id":"`+plan+`","territory":"DE","status":"active"}`, http.StatusCreated)
			planTag := h.mustDo("GET", "/v1/admin/plans/"+plan, "", "", http.StatusOK).header.Get("ETag")
			if r := h.do("DELETE", "/v1/admin/plans/"+plan, h.admin, planTag, ""); r.status != http.StatusConflict || r.errBody(t).Reason != "plan_in_use" {
				t.Fatalf("DELETE of the plan %s is on: %d %s, want 409 plan_in_use", other, r.status, r.body)
			}
		})
	}
}

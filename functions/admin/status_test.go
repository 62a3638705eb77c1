package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// TestAccountWriteThatTakesPlayAwayEndsSessions: a PUT or PATCH of an
// account that leaves it unable to play (a status that may not play, a
// suspension in the body) ends its running sessions, as a suspension and
// a lost entitlement from Stripe do: the session's next renewal is refused
// CodeGone, which a heartbeat answers 410. A write after which the account
// may still play (another status that plays, a plan with fewer streams,
// which the Stripe path leaves to admission too) ends nothing. On bolt,
// the Firestore emulator and DynamoDB Local.
func TestAccountWriteThatTakesPlayAwayEndsSessions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method, body string // body: %[1]s is the account's id
		ended              bool
	}{
		{name: "PUT canceled", method: "PUT", body: `{"id":%[1]q,"plan_id":"std","territory":"DE","status":"canceled"}`, ended: true},
		{name: "PUT unpaid", method: "PUT", body: `{"id":%[1]q,"plan_id":"std","territory":"DE","status":"unpaid"}`, ended: true},
		{name: "PATCH paused", method: "PATCH", body: `{"status":"paused"}`, ended: true},
		{name: "PATCH incomplete", method: "PATCH", body: `{"status":"incomplete"}`, ended: true},
		{name: "PATCH none", method: "PATCH", body: `{"status":"none"}`, ended: true},
		{name: "PUT suspended", method: "PUT", body: `{"id":%[1]q,"plan_id":"std","territory":"DE","status":"active","suspended":true}`, ended: true},
		{name: "PATCH trialing", method: "PATCH", body: `{"status":"trialing"}`},
		{name: "PATCH fewer streams", method: "PATCH", body: `{"plan_id":"basic"}`},
		{name: "PUT territory", method: "PUT", body: `{"id":%[1]q,"plan_id":"std","territory":"FR","status":"active"}`},
	}
	for _, st := range everyStore {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessOn(t, auth.DefaultAdminClaim, st.store(t))
			h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
			h.mustDo("POST", "/v1/admin/plans", "", `{"id":"basic","name":"Basic","max_streams":1,"max_devices":2,"max_quality":"SD"}`, http.StatusCreated)
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					id := fmt.Sprintf("acct_%d", i)
					h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"`+id+`","plan_id":"std","territory":"DE","status":"active"}`, http.StatusCreated)
					var sessions []playback.Session
					for _, dev := range []string{"tv", "phone"} {
						s, err := h.store.AcquireLease(ctx, playback.LeaseRequest{SessionID: id + "_" + dev, AccountID: id, DeviceID: dev,
							TitleID: "bbb", Limit: 2, TTL: time.Minute, Now: h.now})
						if err != nil {
							t.Fatal(err)
						}
						sessions = append(sessions, s)
					}
					path := "/v1/admin/accounts/" + id
					etag := h.mustDo("GET", path, "", "", http.StatusOK).header.Get("ETag")
					if tc.method == "PATCH" {
						if r := h.patch(path, etag, admin.MergePatchType, tc.body); r.status != http.StatusOK {
							t.Fatalf("PATCH: %d %s", r.status, r.body)
						}
					} else {
						h.mustDo("PUT", path, etag, fmt.Sprintf(tc.body, id), http.StatusOK)
					}
					now := h.clock()
					for _, s := range sessions {
						got, err := h.store.GetSession(ctx, s.ID)
						if err != nil {
							t.Fatal(err)
						}
						_, renew := h.store.RenewLease(ctx, s.ID, time.Minute, 0, now)
						if tc.ended {
							if got.Active(now) || got.EndReason != playback.EndEntitlement || !playback.IsCode(renew, playback.CodeGone) {
								t.Fatalf("session %s after the write: %+v, renewal %v; want ended %q, renewal gone", s.ID, got, renew, playback.EndEntitlement)
							}
						} else if !got.Active(now) || renew != nil {
							t.Fatalf("session %s after the write: %+v, renewal %v; want it playing on", s.ID, got, renew)
						}
					}
				})
			}
		})
	}
}

// failingEnds fails the first fail EndSession calls, as a store that is
// down for a moment does.
type failingEnds struct {
	playback.Store
	fail atomic.Int32
}

func (s *failingEnds) EndSession(ctx context.Context, id, reason string, now time.Time) (playback.Session, error) {
	if s.fail.Add(-1) >= 0 {
		return playback.Session{}, playback.Errorf(playback.CodeUnavailable, "store_down", "store down")
	}
	return s.Store.EndSession(ctx, id, reason, now)
}

// TestAccountWriteRetriedEndsWhatAFailureLeft: the account is written but
// ending its session fails: the answer is a 5xx, and the request retried
// (the same settings, now unchanged) ends the session; nothing waits for
// a status change that already happened.
func TestAccountWriteRetriedEndsWhatAFailureLeft(t *testing.T) {
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
	h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated)
	sess, err := inner.AcquireLease(ctx, playback.LeaseRequest{SessionID: "s_tv", AccountID: "acct_a", DeviceID: "tv",
		TitleID: "bbb", Limit: 2, TTL: time.Minute, Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	// As the payment consumer last announced it (its outbox).
	announced := playback.Entitlement{Entitled: true, Status: playback.StatusActive, PlanID: "std"}
	if _, err := inner.UpdateAccount(ctx, "acct_a", func(a *playback.Account) error { a.Announced = announced; return nil }); err != nil {
		t.Fatal(err)
	}
	etag := h.mustDo("GET", "/v1/admin/accounts/acct_a", "", "", http.StatusOK).header.Get("ETag")
	const canceled = `{"id":"acct_a","plan_id":"std","territory":"DE","status":"canceled","customer_id":"cus_a"}`
	store.fail.Store(1)
	if r := h.do("PUT", "/v1/admin/accounts/acct_a", h.admin, etag, canceled); r.status != http.StatusServiceUnavailable {
		t.Fatalf("PUT with the store failing the end: %d %s, want 503", r.status, r.body)
	}
	// The rest of the write's aftermath ran all the same: a retry may
	// come with the new version, not only as sent.
	if id, err := inner.AccountIDByCustomer(ctx, "cus_a"); err != nil || id != "acct_a" {
		t.Fatalf("customer link after the failed end: %q %v, want acct_a", id, err)
	}
	if got, _ := inner.GetSession(ctx, sess.ID); !got.Active(h.clock()) {
		t.Fatalf("session after the failed end: %+v, want still active", got)
	}
	// The write keeps the outbox as it was: for a Stripe customer's
	// account, the payment consumer's next event or reconciliation finds
	// the entitlement (now lost) differ from it and announces the loss,
	// whose consumer ends the sessions too.
	if a, err := inner.GetAccount(ctx, "acct_a"); err != nil || a.Announced != announced || a.Status != playback.StatusCanceled {
		t.Fatalf("account after the write: %+v %v; want canceled, announced still %+v", a, err, announced)
	}
	etag = h.mustDo("GET", "/v1/admin/accounts/acct_a", "", "", http.StatusOK).header.Get("ETag")
	h.mustDo("PUT", "/v1/admin/accounts/acct_a", etag, canceled, http.StatusOK)
	if got, _ := inner.GetSession(ctx, sess.ID); got.Active(h.clock()) || got.EndReason != playback.EndEntitlement {
		t.Fatalf("session after the retry: %+v, want ended %q", got, playback.EndEntitlement)
	}
}

// TestPastDueWriteStartsTheGrace: an operator's write that moves an
// account not linked to Stripe into past_due starts its grace at the
// write (past_due_since), so it plays on and its sessions run, as
// docs/catalogue.md says; a write that keeps past_due keeps the date, one
// that leaves it clears it.
func TestPastDueWriteStartsTheGrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, auth.DefaultAdminClaim)
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	stored := func(id string) playback.Account {
		t.Helper()
		a, err := h.store.GetAccount(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	patch := func(id, body string) {
		t.Helper()
		path := "/v1/admin/accounts/" + id
		etag := h.mustDo("GET", path, "", "", http.StatusOK).header.Get("ETag")
		if r := h.patch(path, etag, admin.MergePatchType, body); r.status != http.StatusOK {
			t.Fatalf("PATCH %s: %d %s", body, r.status, r.body)
		}
	}
	const grace = 72 * time.Hour

	// Created past_due.
	h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"acct_new","plan_id":"std","territory":"DE","status":"past_due"}`, http.StatusCreated)
	if a := stored("acct_new"); a.PastDueSince.Before(h.now) || !a.Entitled(h.clock(), grace) {
		t.Fatalf("account created past_due: since %v, entitled %v; want its grace started at the write", a.PastDueSince, a.Entitled(h.clock(), grace))
	}

	// Moved into past_due with a session running.
	h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated)
	sess, err := h.store.AcquireLease(ctx, playback.LeaseRequest{SessionID: "s_tv", AccountID: "acct_a", DeviceID: "tv",
		TitleID: "bbb", Limit: 2, TTL: time.Minute, Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	patch("acct_a", `{"status":"past_due"}`)
	since := stored("acct_a").PastDueSince
	if since.Before(h.now) || !stored("acct_a").Entitled(h.clock(), grace) {
		t.Fatalf("account patched past_due: since %v; want its grace started at the write", since)
	}
	if got, err := h.store.GetSession(ctx, sess.ID); err != nil || !got.Active(h.clock()) {
		t.Fatalf("session after past_due: %+v %v; want it playing on within the grace", got, err)
	}

	// Kept past_due: the grace does not restart.
	patch("acct_a", `{"territory":"FR"}`)
	if got := stored("acct_a").PastDueSince; !got.Equal(since) {
		t.Fatalf("past_due_since after a write keeping past_due: %v, want %v kept", got, since)
	}

	// Out of past_due: no date left to start a later episode from.
	patch("acct_a", `{"status":"active"}`)
	if got := stored("acct_a").PastDueSince; !got.IsZero() {
		t.Fatalf("past_due_since after leaving past_due: %v, want none", got)
	}
}

// TestPastDueSinceInTheBody: a body may carry the date a past_due grace
// started (an account moved from another store), which the write keeps;
// a date beside another status is refused where it stands.
func TestPastDueSinceInTheBody(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	since := h.now.Add(-10 * 24 * time.Hour).UTC().Truncate(time.Second)
	h.mustDo("POST", "/v1/admin/accounts", "",
		`{"id":"acct_old","plan_id":"std","territory":"DE","status":"past_due","past_due_since":"`+since.Format(time.RFC3339)+`"}`, http.StatusCreated)
	a, err := h.store.GetAccount(context.Background(), "acct_old")
	if err != nil {
		t.Fatal(err)
	}
	if !a.PastDueSince.Equal(since) || a.Entitled(h.clock(), 72*time.Hour) {
		t.Fatalf("account created past_due since %v: since %v, entitled %v; want the body's date, not entitled", since, a.PastDueSince, a.Entitled(h.clock(), 72*time.Hour))
	}
	r := h.mustDo("POST", "/v1/admin/accounts", "",
		`{"id":"acct_b","plan_id":"std","territory":"DE","status":"active","past_due_since":"`+since.Format(time.RFC3339)+`"}`, http.StatusUnprocessableEntity)
	if !strings.Contains(string(r.body), `"pointer":"/past_due_since"`) {
		t.Fatalf("active with a past_due date: %s; want a problem at /past_due_since", r.body)
	}
	// A grace that starts after the write (a typo's year) would let the
	// account play until then and the grace on.
	later := h.now.Add(24 * time.Hour).UTC().Truncate(time.Second)
	r = h.mustDo("POST", "/v1/admin/accounts", "",
		`{"id":"acct_later","plan_id":"std","territory":"DE","status":"past_due","past_due_since":"`+later.Format(time.RFC3339)+`"}`, http.StatusUnprocessableEntity)
	if !strings.Contains(string(r.body), `"pointer":"/past_due_since"`) {
		t.Fatalf("past_due since tomorrow: %s; want a problem at /past_due_since", r.body)
	}
	if _, err := h.store.GetAccount(context.Background(), "acct_later"); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("a refused account was written: %v", err)
	}
}

// TestAccountWriteRetriedAsSentEndsWhatAKillLeft: a PUT (or PATCH)
// writes the account, and the runner is killed before ending its
// sessions, so the operator gets no answer. The request retried as sent,
// with the If-Match it had, finds its own write in place: the change has
// been applied (RFC 9110 section 13.1.1 allows a 2xx then), and the
// retry must end the session, which nothing else would.
func TestAccountWriteRetriedAsSentEndsWhatAKillLeft(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, body string
	}{
		{name: "PUT", method: "PUT", body: `{"id":"acct_a","plan_id":"std","territory":"DE","status":"canceled","parental_cap":16}`},
		{name: "PATCH", method: "PATCH", body: `{"suspended":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
			etag := h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated).header.Get("ETag")
			sess, err := inner.AcquireLease(ctx, playback.LeaseRequest{SessionID: "s_tv", AccountID: "acct_a", DeviceID: "tv",
				TitleID: "bbb", Limit: 2, TTL: time.Minute, Now: h.now})
			if err != nil {
				t.Fatal(err)
			}
			send := func() resp {
				if tc.method == "PATCH" {
					return h.patch("/v1/admin/accounts/acct_a", etag, admin.MergePatchType, tc.body)
				}
				return h.do(tc.method, "/v1/admin/accounts/acct_a", h.admin, etag, tc.body)
			}
			store.fail.Store(1) // where the kill came: after the write, before the end
			if r := send(); r.status < 500 {
				t.Fatalf("%s whose end failed: %d %s, want a 5xx", tc.method, r.status, r.body)
			}
			if r := send(); r.status != http.StatusOK {
				t.Errorf("%s retried as sent: %d %s, want 200", tc.method, r.status, r.body)
			}
			if got, _ := inner.GetSession(ctx, sess.ID); got.Active(h.clock()) || got.EndReason != playback.EndEntitlement {
				t.Fatalf("session after the retry: %+v, want ended %q", got, playback.EndEntitlement)
			}
		})
	}
}

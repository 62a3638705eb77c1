package catalogfile

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// failingEnds fails the first fail EndSession calls, as a store that is
// down for a moment does.
type failingEnds struct {
	*bolt.Store
	fail atomic.Int32
}

func (s *failingEnds) EndSession(ctx context.Context, id, reason string, now time.Time) (playback.Session, error) {
	if s.fail.Add(-1) >= 0 {
		return playback.Session{}, playback.Errorf(playback.CodeUnavailable, "store_down", "store down")
	}
	return s.Store.EndSession(ctx, id, reason, now)
}

// TestImportEndsSessionsOfAccountsThatMayNotPlay: an import that leaves an
// account unable to play (canceled, suspended) ends its running sessions
// through playback.EndLostEntitlement, as the admin API's write does; one
// that keeps it playing ends nothing. An end that fails fails the import
// with the account written, and importing the file again (the account now
// unchanged) ends the session.
func TestImportEndsSessionsOfAccountsThatMayNotPlay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &failingEnds{Store: openBolt(t)}
	now := time.Now().UTC()
	importFile := func(accounts string) (Plan, error) {
		t.Helper()
		f, err := Parse("c.json", []byte(strings.Replace(goodJSON,
			`{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}`, accounts, 1)))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := Diff(ctx, s, f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Apply(ctx, s, plan, "cli:test", func() time.Time { return now })
		return plan, err
	}
	const (
		playing  = `{"id": "acct_a", "plan_id": "premium", "territory": "DE", "status": "active"}, {"id": "acct_b", "plan_id": "premium", "territory": "DE", "status": "active"}, {"id": "acct_c", "plan_id": "premium", "territory": "DE", "status": "active"}`
		stopping = `{"id": "acct_a", "plan_id": "premium", "territory": "DE", "status": "canceled"}, {"id": "acct_b", "plan_id": "premium", "territory": "DE", "status": "active", "suspended": true}, {"id": "acct_c", "plan_id": "premium", "territory": "FR", "status": "trialing"}`
	)
	if _, err := importFile(playing); err != nil {
		t.Fatal(err)
	}
	acquire := func(acct string) playback.Session {
		t.Helper()
		sess, err := s.AcquireLease(ctx, playback.LeaseRequest{SessionID: "s_" + acct, AccountID: acct, DeviceID: "tv",
			TitleID: "bbb", Limit: 4, TTL: time.Hour, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	a, b, c := acquire("acct_a"), acquire("acct_b"), acquire("acct_c")
	s.fail.Store(1)
	if _, err := importFile(stopping); !playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("import with the store failing an end: %v, want unavailable", err)
	}
	if got, err := s.GetAccount(ctx, "acct_a"); err != nil || got.Status != playback.StatusCanceled {
		t.Fatalf("account after the failed import: %+v %v; want canceled", got, err)
	}
	plan, err := importFile(stopping)
	if err != nil {
		t.Fatalf("import again: %v", err)
	}
	if len(plan.Changes) != 0 {
		t.Fatalf("import again planned %d changes, want none", len(plan.Changes))
	}
	later := now.Add(time.Second)
	for _, tc := range []struct {
		name  string
		sess  playback.Session
		ended bool
	}{
		{name: "canceled", sess: a, ended: true},
		{name: "suspended", sess: b, ended: true},
		{name: "trialing in another territory", sess: c},
	} {
		got, err := s.GetSession(ctx, tc.sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, renew := s.RenewLease(ctx, tc.sess.ID, time.Hour, 0, later)
		if tc.ended {
			if got.Active(later) || got.EndReason != playback.EndEntitlement || !playback.IsCode(renew, playback.CodeGone) {
				t.Fatalf("%s: session %+v, renewal %v; want ended %q, renewal gone", tc.name, got, renew, playback.EndEntitlement)
			}
		} else if !got.Active(later) || renew != nil {
			t.Fatalf("%s: session %+v, renewal %v; want it playing on", tc.name, got, renew)
		}
	}
}

// TestImportPastDueStartsTheGrace: an import that moves an account not
// linked to Stripe into past_due starts its grace at the import
// (past_due_since), so its running session plays on; importing the file
// again keeps the date (nothing to change), and a file that takes the
// account out of past_due clears it.
func TestImportPastDueStartsTheGrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openBolt(t)
	importFile := func(status string) Plan {
		t.Helper()
		f, err := Parse("c.json", []byte(strings.Replace(goodJSON,
			`{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}`,
			`{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "`+status+`"}`, 1)))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := Diff(ctx, s, f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Apply(ctx, s, plan, "cli:test", time.Now); err != nil {
			t.Fatal(err)
		}
		return plan
	}
	since := func() time.Time {
		t.Helper()
		a, err := s.GetAccount(ctx, "acct_a")
		if err != nil {
			t.Fatal(err)
		}
		return a.PastDueSince
	}
	importFile("active")
	sess, err := s.AcquireLease(ctx, playback.LeaseRequest{SessionID: "s_a", AccountID: "acct_a", DeviceID: "tv",
		TitleID: "bbb", Limit: 1, TTL: time.Hour, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC()
	if plan := importFile("past_due"); len(plan.EndSessions) != 0 {
		t.Fatalf("importing past_due plans to end the sessions of %v; want none within the grace", plan.EndSessions)
	}
	got := since()
	if got.Before(before.Truncate(time.Second)) || got.After(time.Now()) {
		t.Fatalf("past_due_since after importing past_due: %v, want the import's time (after %v)", got, before)
	}
	if sess, err := s.GetSession(ctx, sess.ID); err != nil || !sess.Active(time.Now()) {
		t.Fatalf("session after importing past_due: %+v %v; want it playing on", sess, err)
	}
	if plan := importFile("past_due"); len(plan.Changes) != 0 || !since().Equal(got) {
		t.Fatalf("import again: %d changes, since %v; want none and %v kept", len(plan.Changes), since(), got)
	}
	importFile("active")
	if !since().IsZero() {
		t.Fatalf("past_due_since after importing active: %v, want none", since())
	}
}

// TestExportImportKeepsThePastDueDate: export then import is how an
// operator moves stores, so the file carries an account's past_due date:
// an account past due for 10 days stays past its grace in the new store,
// with the same date, and the file imports back into it with no change.
func TestExportImportKeepsThePastDueDate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	since := now.Add(-10 * 24 * time.Hour)
	grace := 72 * time.Hour
	importAt := func(s *bolt.Store, data []byte, at time.Time) Plan {
		t.Helper()
		f, err := Parse("c.json", data)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := DiffAt(ctx, s, f, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Apply(ctx, s, plan, "cli:test", func() time.Time { return at }); err != nil {
			t.Fatal(err)
		}
		return plan
	}
	from, to := openBolt(t), openBolt(t)
	importAt(from, []byte(strings.Replace(goodJSON,
		`{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}`,
		`{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "past_due"}`, 1)), since)
	f, err := Export(ctx, from, true)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	importAt(to, data, now)
	a, err := to.GetAccount(ctx, "acct_a")
	if err != nil {
		t.Fatal(err)
	}
	if !a.PastDueSince.Equal(since) || a.Entitled(now, grace) {
		t.Fatalf("account imported into a fresh store: past_due_since %v, entitled %v; want %v and not entitled", a.PastDueSince, a.Entitled(now, grace), since)
	}
	if plan := importAt(to, data, now.Add(time.Hour)); len(plan.Changes) != 0 {
		t.Fatalf("the export imported again into the new store: %d changes, want none", len(plan.Changes))
	}
}

// TestPastDueSinceNotAfterTheImport: a grace starting after the write (a
// typo's year) would let the account play until then and the grace on;
// the import refuses it where it stands and writes nothing. A clock a
// little ahead on the exporting machine is allowed for.
func TestPastDueSinceNotAfterTheImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	for _, tc := range []struct {
		name  string
		since time.Time
		want  string
	}{
		{"a year ahead", now.AddDate(1, 0, 0), "/accounts/0/past_due_since"},
		{"a day ahead", now.Add(24 * time.Hour), "/accounts/0/past_due_since"},
		{"the exporter's clock seconds ahead", now.Add(10 * time.Second), ""},
		{"yesterday", now.Add(-24 * time.Hour), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openBolt(t)
			f, err := Parse("c.json", []byte(strings.Replace(goodJSON,
				`{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}`,
				`{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "past_due", "past_due_since": "`+tc.since.Format(time.RFC3339)+`"}`, 1)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = DiffAt(ctx, s, f, now)
			var inv *Invalid
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("DiffAt: %v, want no problem", err)
			case tc.want != "" && (!errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Pointer != tc.want):
				t.Fatalf("DiffAt: %v, want one problem at %s", err, tc.want)
			}
		})
	}
}

// TestPastDueSinceOnlyWithPastDue: a date with another status would be
// dropped by the write, so it is refused where it stands.
func TestPastDueSinceOnlyWithPastDue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, account, want string
	}{
		{"past_due", `{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "past_due", "past_due_since": "2026-01-02T03:04:05Z"}`, ""},
		{"active", `{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "past_due_since": "2026-01-02T03:04:05Z"}`, "/accounts/0/past_due_since"},
		{"no status", `{"id": "acct_a", "plan_id": "basic", "territory": "DE", "past_due_since": "2026-01-02T03:04:05Z"}`, "/accounts/0/past_due_since"},
		{"not a date", `{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "past_due", "past_due_since": "yesterday"}`, "/accounts/0/past_due_since"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("c.json", []byte(strings.Replace(goodJSON,
				`{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}`, tc.account, 1)))
			var inv *Invalid
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Parse: %v, want no problem", err)
			case tc.want != "" && (!errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Pointer != tc.want):
				t.Fatalf("Parse: %v, want one problem at %s", err, tc.want)
			}
		})
	}
}

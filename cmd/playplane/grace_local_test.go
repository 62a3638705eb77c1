package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// runJobs runs once each job the runner schedules (mount): those its
// functions can run as configured, here without STRIPE_API_KEY.
func (r *localRun) runJobs(ctx context.Context) {
	r.t.Helper()
	for _, fn := range catalog.Functions {
		if len(fn.Jobs) == 0 {
			continue
		}
		f := r.app.functions[fn.Name]
		jobs := f.(scheduled).Jobs()
		for _, j := range fn.Jobs {
			if !canRun(f, j.Name) {
				continue
			}
			if _, err := jobs[j.Name](ctx); err != nil {
				r.t.Fatalf("%s %s: %v", fn.Name, j.Name, err)
			}
		}
	}
}

// TestGraceEndEndsAnUnlinkedAccountsPlayback: the demo's acct_pastdue, which
// no Stripe customer links (an operator's past_due), plays inside its
// grace; once the grace has run out, the next run of the jobs the runner
// schedules without STRIPE_API_KEY ends its running session, as
// reconciliation's announcement ends a linked account's: the player's
// next heartbeat is 410.
func TestGraceEndEndsAnUnlinkedAccountsPlayback(t *testing.T) {
	t.Parallel()
	run := startLocal(t, t.TempDir())
	ctx := context.Background()
	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	if code := run.call("POST", "/v1/play", run.token(demo.AccountPastDue), `{"title_id":"sintel","device_id":"tv"}`, &play); code != 201 {
		t.Fatalf("play inside the grace: %d", code)
	}
	beat := func() int {
		body := fmt.Sprintf(`{"event":"progress","position_ms":30000,"duration_ms":888000,"device_time":%q}`, time.Now().UTC().Format(time.RFC3339Nano))
		return run.call("POST", "/v1/playback/"+play.SessionID+"/heartbeat", play.PlaybackToken, body, nil)
	}
	// The grace runs out while it plays (the runner's clock is the
	// machine's: the date moves back instead).
	if _, err := run.app.store.UpdateAccount(ctx, demo.AccountPastDue, func(a *playback.Account) error {
		a.PastDueSince = time.Now().Add(-73 * time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if code := beat(); code/100 != 2 {
		t.Fatalf("heartbeat before the jobs ran: %d", code)
	}
	run.runJobs(ctx)
	run.idle()
	if code := beat(); code != 410 {
		t.Fatalf("heartbeat after the grace ended and the jobs ran: %d, want 410", code)
	}
	sess, err := run.app.store.GetSession(ctx, play.SessionID)
	if err != nil || sess.EndReason != playback.EndEntitlement {
		t.Fatalf("session after the grace: %+v %v, want ended %q", sess, err, playback.EndEntitlement)
	}
}

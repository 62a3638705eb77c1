package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// webhookStatuses are the subscription statuses each account's events go
// through, in turn: entitled and not.
var webhookStatuses = []string{"active", "past_due", "unpaid"}

// TestKilledRunnerAppliesEveryAcknowledgedStripeEvent starts the runner
// binary, sends each of several linked accounts a stream of
// customer.subscription.updated events (statuses in turn, a second
// apart) while its subscriber plays, kills the process with SIGKILL
// mid-stream and starts it again on the same data directory: every event
// answered 200 must be in the inbox and end processed, each account must
// end in the status of the newest event processed of it, and an
// account that may not play must have no running session.
func TestKilledRunnerAppliesEveryAcknowledgedStripeEvent(t *testing.T) {
	t.Parallel()
	const accounts, killAfter = 6, 120
	bin := buildRunner(t)
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Issuer: "playplane-local", Audience: "playplane"}
	ids := make([]string, accounts)
	store, err := bolt.Open(filepath.Join(dir, "playplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range ids {
		ids[i] = fmt.Sprintf("acct_whk_%d", i)
		if err := store.PutAccount(ctx, playback.Account{ID: ids[i], PlanID: "premium", Status: playback.StatusActive,
			Territory: "DE", CustomerID: "cus_whk_" + fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		if err := store.LinkCustomer(ctx, "cus_whk_"+fmt.Sprint(i), ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	// Only the journal announces again what a runner lost: the inbox
	// sweep, which would too (STRIPE_SWEEP_EVERY, 30s by default), never
	// runs, however long the runners take on a loaded machine.
	noSweep := "STRIPE_SWEEP_EVERY=24h"
	run := startRunner(t, bin, dir, noSweep)
	secrets, err := loadSecrets(filepath.Join(dir, "dev-secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../events/testdata/stripe/customer.subscription.updated.json")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).Unix()
	event := func(i, k int) (string, []byte) {
		var ev map[string]any
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Error(err) // the workers' goroutines may not stop the test
			return "", nil
		}
		id := fmt.Sprintf("evt_whk_%d_%d", i, k)
		ev["id"], ev["created"] = id, base+int64(k)
		data := ev["data"].(map[string]any)
		o := data["object"].(map[string]any)
		o["id"], o["customer"], o["status"] = fmt.Sprintf("sub_whk_%d", i), fmt.Sprintf("cus_whk_%d", i), webhookStatuses[k%len(webhookStatuses)]
		o["metadata"] = map[string]any{"account_id": ids[i]}
		o["items"].(map[string]any)["data"].([]any)[0].(map[string]any)["price"].(map[string]any)["id"] = "price_premium"
		data["previous_attributes"] = map[string]any{"status": webhookStatuses[(k+len(webhookStatuses)-1)%len(webhookStatuses)]}
		out, err := json.Marshal(ev)
		if err != nil {
			t.Error(err)
		}
		return id, out
	}
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(url string, payload []byte) (int, error) {
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secrets.StripeWebhook, Timestamp: time.Now()})
		req, err := http.NewRequest("POST", url+"/v1/webhooks/stripe", strings.NewReader(string(payload)))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Stripe-Signature", signed.Header)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err != nil {
			return 0, err
		}
		return resp.StatusCode, nil
	}
	var total atomic.Int64
	acked := make([][]string, accounts)
	sent := make([]int, accounts) // events sent of each account: 1..sent[i]
	var wg sync.WaitGroup
	for i := range ids {
		tok, err := DevToken(cfg, ids[i], time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			c := &crashClient{url: run.url, http: client}
			for k := 1; ; k++ {
				id, payload := event(i, k)
				sent[i] = k
				code, err := post(run.url, payload)
				if err != nil {
					return
				}
				if code != http.StatusOK {
					t.Errorf("event %s: %d", id, code)
					return
				}
				acked[i] = append(acked[i], id)
				total.Add(1)
				// Plays race the entitlement changes; a refusal is fine.
				if _, err := c.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"tv"}`, nil); err != nil {
					return
				}
			}
		})
	}
	deadline := time.Now().Add(60 * time.Second)
	for total.Load() < killAfter && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	run.kill()
	wg.Wait()
	if total.Load() < killAfter {
		t.Fatalf("only %d events acknowledged before the kill; stderr:\n%s", total.Load(), run.log())
	}

	// The journaled announcements are delivered again at start. The
	// store is read with the runner stopped (it holds the file): each
	// round lets a restarted runner work a little and stops it as Ctrl-C
	// would, which must keep what it did. A round's length only sets how
	// often the store is read: with the sweep off it cannot hide a lost
	// announcement, and a starved runner (the -race build pinned to a
	// loaded core) processes about a batch of 10 per round.
	unprocessed := func() (n int) {
		for i := range ids {
			for _, id := range acked[i] {
				if ev, err := store.GetEvent(ctx, "stripe", id); err != nil || ev.ProcessedAt.IsZero() {
					n++
				}
			}
		}
		return n
	}
	// The deadline only stops a runner that never gets there from hanging
	// the test: the -race runner on a loaded machine takes seconds to
	// start and stop.
	for deadline := time.Now().Add(3 * time.Minute); ; {
		run = startRunner(t, bin, dir, noSweep)
		time.Sleep(2 * time.Second)
		run.stop()
		if store, err = bolt.Open(filepath.Join(dir, "playplane.db")); err != nil {
			t.Fatal(err)
		}
		if unprocessed() == 0 || time.Now().After(deadline) {
			break
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
	}
	defer store.Close()
	for i, acct := range ids {
		for _, id := range acked[i] {
			ev, err := store.GetEvent(ctx, "stripe", id)
			if err != nil {
				t.Errorf("%s: acknowledged event %s: %v", acct, id, err)
				continue
			}
			if ev.ProcessedAt.IsZero() {
				t.Errorf("%s: acknowledged event %s not processed after the restart (parked %q)", acct, id, ev.ParkedKey)
			}
		}
		newest := 0
		for k := 1; k <= sent[i]; k++ {
			// One recorded but not yet announced when the kill came
			// waits for the sweep (or Stripe's retry, unanswered as it
			// was): not applied yet, so not what the status says.
			if ev, err := store.GetEvent(ctx, "stripe", fmt.Sprintf("evt_whk_%d_%d", i, k)); err == nil && !ev.ProcessedAt.IsZero() {
				newest = k
			}
		}
		a, err := store.GetAccount(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		if want := webhookStatuses[newest%len(webhookStatuses)]; string(a.Status) != want {
			t.Errorf("%s: status %q after the restart, the newest processed event (%d of %d sent, %d acknowledged) says %q",
				acct, a.Status, newest, sent[i], len(acked[i]), want)
		}
		active, err := store.ListActiveSessions(ctx, acct, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if playback.MayNeverPlay(a) && len(active) > 0 {
			t.Errorf("%s: %s, yet %d sessions run after the restart", acct, a.Status, len(active))
		}
		if len(active) > 1 {
			t.Errorf("%s: %d sessions of one device run", acct, len(active))
		}
	}
	t.Logf("killed after %d acknowledged events", total.Load())
}

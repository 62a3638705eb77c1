package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/demo"
)

// TestAdminWriteEndsPlayback: an operator who cancels an account through
// the admin API, or deletes it, ends its running stream as a Stripe
// cancellation does: the player's next heartbeat and signing are 410, not
// answered until the lease or the token runs out. The account is one no
// Stripe customer bills, whose status is the operator's to write.
func TestAdminWriteEndsPlayback(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, run *localRun, adminTok, etag string)
	}{
		{name: "canceled", write: func(t *testing.T, run *localRun, adminTok, etag string) {
			req, _ := http.NewRequest("PATCH", run.srv.URL+"/v1/admin/accounts/"+demo.AccountSolo, strings.NewReader(`{"status":"canceled"}`))
			req.Header.Set("Authorization", "Bearer "+adminTok)
			req.Header.Set("Content-Type", "application/merge-patch+json")
			req.Header.Set("If-Match", etag)
			resp, err := run.api.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"canceled"`) {
				t.Fatalf("PATCH status canceled: %d %s", resp.StatusCode, body)
			}
		}},
		{name: "deleted", write: func(t *testing.T, run *localRun, adminTok, etag string) {
			run.mustAPI("DELETE", "/v1/admin/accounts/"+demo.AccountSolo, adminTok, etag, "", http.StatusNoContent)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			run := startLocal(t, dir)
			adminTok := run.adminToken()
			var play struct {
				SessionID     string `json:"session_id"`
				PlaybackToken string `json:"playback_token"`
			}
			if code := run.call("POST", "/v1/play", run.token(demo.AccountSolo), `{"title_id":"sintel","device_id":"tv"}`, &play); code != 201 {
				t.Fatalf("play: %d", code)
			}
			acct := run.mustAPI("GET", "/v1/admin/accounts/"+demo.AccountSolo, adminTok, "", "", http.StatusOK)
			tc.write(t, run, adminTok, acct.etag)
			run.idle()
			beat := fmt.Sprintf(`{"event":"progress","position_ms":30000,"duration_ms":888000,"device_time":%q}`, time.Now().UTC().Format(time.RFC3339Nano))
			if code := run.call("POST", "/v1/playback/"+play.SessionID+"/heartbeat", play.PlaybackToken, beat, nil); code != http.StatusGone {
				t.Fatalf("heartbeat after the operator %s the account: %d, want 410", tc.name, code)
			}
			if code := run.call("POST", "/v1/playback/"+play.SessionID+"/urls", play.PlaybackToken, "", nil); code != http.StatusGone {
				t.Fatalf("signing after the operator %s the account: %d, want 410", tc.name, code)
			}
		})
	}
}

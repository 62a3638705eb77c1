package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/demo"
)

// TestAdminCancellationEndsPlayback: an operator who sets an account's
// status to canceled through the admin API ends its running stream as a
// Stripe cancellation does: the player's next heartbeat and signing are
// 410, not answered until the lease or the token runs out.
func TestAdminCancellationEndsPlayback(t *testing.T) {
	dir := t.TempDir()
	run := startLocal(t, dir)
	adminTok, err := AdminToken(Config{DataDir: dir, Issuer: "playplane-local", Audience: "playplane"}, "ops", auth.DefaultAdminClaim, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok := run.token(demo.AccountFamily)
	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"tv"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	acct := run.mustAPI("GET", "/v1/admin/accounts/"+demo.AccountFamily, adminTok, "", "", http.StatusOK)
	req, _ := http.NewRequest("PATCH", run.srv.URL+"/v1/admin/accounts/"+demo.AccountFamily, strings.NewReader(`{"status":"canceled"}`))
	req.Header.Set("Authorization", "Bearer "+adminTok)
	req.Header.Set("Content-Type", "application/merge-patch+json")
	req.Header.Set("If-Match", acct.etag)
	resp, err := run.api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"canceled"`) {
		t.Fatalf("PATCH status canceled: %d %s", resp.StatusCode, body)
	}
	run.idle()
	beat := fmt.Sprintf(`{"event":"progress","position_ms":30000,"duration_ms":888000,"device_time":%q}`, time.Now().UTC().Format(time.RFC3339Nano))
	if code := run.call("POST", "/v1/playback/"+play.SessionID+"/heartbeat", play.PlaybackToken, beat, nil); code != http.StatusGone {
		t.Fatalf("heartbeat after the operator canceled the account: %d, want 410", code)
	}
	if code := run.call("POST", "/v1/playback/"+play.SessionID+"/urls", play.PlaybackToken, "", nil); code != http.StatusGone {
		t.Fatalf("signing after the operator canceled the account: %d, want 410", code)
	}
}

// TestAdminDeleteEndsPlayback: an operator who deletes an account with a
// running stream through the admin API ends the stream: the player's next
// heartbeat and signing are 410, not renewed for an account that is gone.
func TestAdminDeleteEndsPlayback(t *testing.T) {
	dir := t.TempDir()
	run := startLocal(t, dir)
	adminTok, err := AdminToken(Config{DataDir: dir, Issuer: "playplane-local", Audience: "playplane"}, "ops", auth.DefaultAdminClaim, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok := run.token(demo.AccountFamily)
	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"tv"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	acct := run.mustAPI("GET", "/v1/admin/accounts/"+demo.AccountFamily, adminTok, "", "", http.StatusOK)
	run.mustAPI("DELETE", "/v1/admin/accounts/"+demo.AccountFamily, adminTok, acct.etag, "", http.StatusNoContent)
	run.idle()
	beat := fmt.Sprintf(`{"event":"progress","position_ms":30000,"duration_ms":888000,"device_time":%q}`, time.Now().UTC().Format(time.RFC3339Nano))
	if code := run.call("POST", "/v1/playback/"+play.SessionID+"/heartbeat", play.PlaybackToken, beat, nil); code != http.StatusGone {
		t.Fatalf("heartbeat after the operator deleted the account: %d, want 410", code)
	}
	if code := run.call("POST", "/v1/playback/"+play.SessionID+"/urls", play.PlaybackToken, "", nil); code != http.StatusGone {
		t.Fatalf("signing after the operator deleted the account: %d, want 410", code)
	}
}

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/demo"
)

// TestDevRoutes: the runner-only /dev/token mints a token the API accepts,
// only for demo accounts; allowed page origins may read it; DEV_ENDPOINTS
// =false removes the routes; the page itself is served either way.
func TestDevRoutes(t *testing.T) {
	t.Parallel()
	get := func(t *testing.T, url, origin, token string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp, raw
	}

	t.Run("on", func(t *testing.T) {
		t.Parallel()
		base := "http://" + startLimited(t, map[string]string{"CORS_ALLOWED_ORIGINS": "http://localhost:5173"}).addr
		resp, raw := get(t, base+"/dev/token?account="+demo.AccountSolo, "http://localhost:5173", "")
		var tok struct {
			AccountID string `json:"account_id"`
			Token     string `json:"token"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(raw, &tok) != nil || tok.AccountID != demo.AccountSolo || tok.Token == "" ||
			resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("/dev/token: %d %v %s", resp.StatusCode, resp.Header, raw)
		}
		if resp, raw := get(t, base+"/v1/sessions", "", tok.Token); resp.StatusCode != 200 {
			t.Fatalf("the dev token is refused by the API: %d %s", resp.StatusCode, raw)
		}
		if resp, raw := get(t, base+"/dev/token?account=acct_nobody", "", ""); resp.StatusCode != 400 || !strings.Contains(string(raw), "account_not_demo") {
			t.Fatalf("/dev/token for a non-demo account: %d %s", resp.StatusCode, raw)
		}
		if resp, _ := get(t, base+"/dev/demo", "https://evil.example", ""); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("/dev/demo let a disallowed origin read it: %d %v", resp.StatusCode, resp.Header)
		}
		resp, raw = get(t, base+"/dev/demo", "", "")
		if resp.StatusCode != 200 || !strings.Contains(string(raw), `"local-cloudcdn"`) || !strings.Contains(string(raw), demo.AccountKids) {
			t.Fatalf("/dev/demo: %d %s", resp.StatusCode, raw)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		base := "http://" + startLimited(t, map[string]string{"DEV_ENDPOINTS": "false"}).addr
		if resp, raw := get(t, base+"/dev/token?account="+demo.AccountSolo, "", ""); resp.StatusCode != 404 {
			t.Fatalf("/dev/token with DEV_ENDPOINTS=false: %d %s", resp.StatusCode, raw)
		}
		if resp, raw := get(t, base+"/player/", "", ""); resp.StatusCode != 200 || !strings.Contains(string(raw), "playplane player") {
			t.Fatalf("/player/: %d %.200s", resp.StatusCode, raw)
		}
	})
}

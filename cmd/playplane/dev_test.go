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
	getHost := func(t *testing.T, url, host, origin, token string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = host
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
	get := func(t *testing.T, url, origin, token string) (*http.Response, []byte) {
		t.Helper()
		return getHost(t, url, "", origin, token)
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
		// A page on another name that rebinds it to 127.0.0.1 reaches the
		// runner with its own name as Host: the dev routes must not answer
		// it, the names the runner is reached by still may.
		for _, tt := range []struct {
			name, host string
			want       int
		}{
			{name: "rebound_name", host: "evil.example", want: 403},
			{name: "rebound_name_with_port", host: "evil.example:" + port(base), want: 403},
			{name: "localhost_suffix", host: "localhost.evil.example", want: 403},
			{name: "loopback_suffix", host: "127.0.0.1.evil.example", want: 403},
			{name: "localhost", host: "localhost:" + port(base), want: 200},
			{name: "LOCALHOST_no_port", host: "LOCALHOST", want: 200},
			{name: "loopback_v4", host: "127.0.0.2:1", want: 200},
			{name: "loopback_v6", host: "[::1]:" + port(base), want: 200},
		} {
			for _, path := range []string{"/dev/token?account=" + demo.AccountSolo, "/dev/demo"} {
				resp, raw := getHost(t, base+path, tt.host, "", "")
				if resp.StatusCode != tt.want || (tt.want == 403 && !strings.Contains(string(raw), `"reason":"dev_host"`)) {
					t.Errorf("%s: Host %s: %d %s, want %d", path, tt.host, resp.StatusCode, raw, tt.want)
				}
			}
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

func port(base string) string { return base[strings.LastIndex(base, ":")+1:] }

// TestRunnerHost: the names the dev routes answer, the runner's own
// (PUBLIC_URL's host, localhost, loopback addresses) with any port.
func TestRunnerHost(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, public, host string
		want               bool
	}{
		{name: "public_host", public: "https://play.test:8443", host: "play.test", want: true},
		{name: "public_host_other_port", public: "https://play.test:8443", host: "Play.Test:9", want: true},
		{name: "public_host_trailing_dot", public: "http://play.test", host: "play.test.", want: false},
		{name: "public_ip", public: "http://192.168.1.5:8080", host: "192.168.1.5:8080", want: true},
		{name: "other_name", public: "https://play.test", host: "evil.example", want: false},
		{name: "suffix_of_public", public: "https://play.test", host: "play.test.evil.example", want: false},
		{name: "localhost", public: "https://play.test", host: "localhost:8080", want: true},
		{name: "loopback_v6_no_port", public: "https://play.test", host: "[::1]", want: true},
		{name: "unspecified", public: "https://play.test", host: "0.0.0.0:8080", want: false},
		{name: "lan_ip", public: "https://play.test", host: "10.0.0.1", want: false},
		{name: "empty", public: "https://play.test", host: "", want: false},
		{name: "bad_public_url", public: "::", host: "localhost", want: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := runnerHost(tt.public)(tt.host); got != tt.want {
				t.Fatalf("runnerHost(%q)(%q) = %v, want %v", tt.public, tt.host, got, tt.want)
			}
		})
	}
}

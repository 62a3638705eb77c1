package main

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/auth"
)

// TestOperatorChangesSurviveKilledRestart: an operator changes demo
// records through the admin API (a plan, a title, an account, an edge's
// weight and draining, deletes a demo title and a demo edge), the runner
// is killed with SIGKILL and started again on the same data directory, as
// `make run` is: every acknowledged change must still be there, so seeding
// at start may write demo records only into a store that never had them.
// The demo edges still follow the runner to its new address (each start
// here listens on a port of its own) where the operator left their base
// URL as seeded.
func TestOperatorChangesSurviveKilledRestart(t *testing.T) {
	t.Parallel()
	bin := buildRunner(t)
	dir := t.TempDir()
	run := startRunner(t, bin, dir)
	admin, err := AdminToken(Config{DataDir: dir, Issuer: "playplane-local", Audience: "playplane"}, "ops", auth.DefaultAdminClaim, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	call := func(url, method, path, etag, contentType, body string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+admin)
		if etag != "" {
			req.Header.Set("If-Match", etag)
		}
		if body != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("ETag"), string(raw)
	}
	change := func(method, path, contentType, body string, want int) {
		t.Helper()
		code, etag, raw := call(run.url, "GET", path, "", "", "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, raw)
		}
		if code, _, raw := call(run.url, method, path, etag, contentType, body); code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, code, raw, want)
		}
	}
	const js, patch = "application/json", "application/merge-patch+json"
	change("PUT", "/v1/admin/plans/standard", js,
		`{"id":"standard","name":"Standard Plus","max_streams":3,"max_devices":6,"max_quality":"HD"}`, http.StatusOK)
	change("PATCH", "/v1/admin/accounts/acct_family", patch, `{"parental_cap":12}`, http.StatusOK)
	// edited is the stored record at path with set applied, as an operator
	// edits what they read; an edge's health fields are not its settings.
	edited := func(path string, set map[string]any) string {
		t.Helper()
		_, _, raw := call(run.url, "GET", path, "", "", "")
		var doc map[string]any
		if err := json.Unmarshal([]byte(raw), &doc); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, raw)
		}
		for _, health := range []string{"load", "reported_capacity", "healthy", "reported_at", "received_at"} {
			delete(doc, health)
		}
		maps.Copy(doc, set)
		out, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	change("PUT", "/v1/admin/titles/sintel", js, edited("/v1/admin/titles/sintel", map[string]any{"rating": 14}), http.StatusOK)
	change("PUT", "/v1/admin/edges/fra-1", js, edited("/v1/admin/edges/fra-1", map[string]any{"weight": 2, "disabled": true}), http.StatusOK)
	change("DELETE", "/v1/admin/titles/coming-soon", "", "", http.StatusNoContent)
	change("DELETE", "/v1/admin/edges/iad-2", "", "", http.StatusNoContent)

	run.kill()
	run = startRunner(t, bin, dir)

	for _, tc := range []struct {
		name, path string
		wantCode   int
		want       []string // fragments of the record's JSON
	}{
		{name: "plan", path: "/v1/admin/plans/standard", wantCode: http.StatusOK, want: []string{`"name":"Standard Plus"`, `"max_streams":3`}},
		{name: "title", path: "/v1/admin/titles/sintel", wantCode: http.StatusOK, want: []string{`"rating":14`}},
		{name: "account", path: "/v1/admin/accounts/acct_family", wantCode: http.StatusOK, want: []string{`"parental_cap":12`}},
		{name: "edge", path: "/v1/admin/edges/fra-1", wantCode: http.StatusOK,
			want: []string{`"weight":2`, `"disabled":true`, `"base_url":"` + run.url + `"`}},
		{name: "an untouched demo edge follows the new address", path: "/v1/admin/edges/fra-2", wantCode: http.StatusOK,
			want: []string{`"base_url":"` + run.url + `"`}},
		{name: "deleted title", path: "/v1/admin/titles/coming-soon", wantCode: http.StatusNotFound},
		{name: "deleted edge", path: "/v1/admin/edges/iad-2", wantCode: http.StatusNotFound},
	} {
		code, _, raw := call(run.url, "GET", tc.path, "", "", "")
		if code != tc.wantCode {
			t.Errorf("%s after the restart: GET %s = %d %s, want %d", tc.name, tc.path, code, raw, tc.wantCode)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(raw, w) {
				t.Errorf("%s after the restart: %s lacks %s", tc.name, raw, w)
			}
		}
	}
}

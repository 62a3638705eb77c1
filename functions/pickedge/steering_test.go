package pickedge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// getManifest fetches uri as a player would (no custom headers) and
// checks the headers and keys every steering response must have.
func getManifest(t *testing.T, h *harness, uri string) map[string]json.RawMessage {
	t.Helper()
	rec := h.request(httptest.NewRequest(http.MethodGet, uri, nil), clientFra, false)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", uri, rec.Code, rec.Body)
	}
	if ct, cc, acao := rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"), rec.Header().Get("Access-Control-Allow-Origin"); ct != "application/json" || cc != "no-store" || acao != "*" {
		t.Fatalf("Content-Type %q Cache-Control %q Access-Control-Allow-Origin %q", ct, cc, acao)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s: %v", rec.Body, err)
	}
	var version, ttl int
	var reload string
	var priority []string
	for key, dst := range map[string]any{"VERSION": &version, "TTL": &ttl, "RELOAD-URI": &reload, "PATHWAY-PRIORITY": &priority} {
		raw, ok := m[key]
		if !ok {
			t.Fatalf("manifest %s lacks %s", rec.Body, key)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	if version != 1 || ttl != 300 || len(priority) == 0 {
		t.Fatalf("manifest %s", rec.Body)
	}
	return m
}

// resolve resolves a RELOAD-URI against the URI it came from, as hls.js
// (new URL(reload, previous)) and dash.js do, and adds the query
// parameters players append.
func resolve(t *testing.T, base, ref string, params url.Values) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	u := b.ResolveReference(r)
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.RequestURI()
}

func TestSteeringManifest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, multiCDN("cloudfront:3,cloudcdn:2,local:1"))
	id, token := h.session("sintel")
	resp := h.mustPick(id, token, clientFra)
	want := []string{"cloudfront", "cloudcdn", "local"}

	t.Run("hls", func(t *testing.T) {
		t.Parallel()
		m := getManifest(t, h, resp.SteeringURI)
		var reload string
		var priority []string
		_ = json.Unmarshal(m["RELOAD-URI"], &reload)
		_ = json.Unmarshal(m["PATHWAY-PRIORITY"], &priority)
		if _, dash := m["SERVICE-LOCATION-PRIORITY"]; dash || !slices.Equal(priority, want) {
			t.Fatalf("manifest %v", m)
		}
		ru, err := url.Parse(reload)
		if err != nil || ru.IsAbs() || ru.Query().Get("token") != token || ru.Query().Get("format") != "hls" {
			t.Fatalf("RELOAD-URI %q", reload)
		}
		// The player reloads with its pathway and throughput.
		next := resolve(t, resp.SteeringURI, reload, url.Values{"_HLS_pathway": {"cloudfront"}, "_HLS_throughput": {"5800000"}})
		if u, _ := url.Parse(next); u.Path != "/v1/steering/"+id {
			t.Fatalf("reload resolves to %s", next)
		}
		m2 := getManifest(t, h, next)
		if string(m2["RELOAD-URI"]) != string(m["RELOAD-URI"]) || string(m2["PATHWAY-PRIORITY"]) != string(m["PATHWAY-PRIORITY"]) {
			t.Fatalf("reload answered %v, first answer %v", m2, m)
		}
	})
	t.Run("dash", func(t *testing.T) {
		t.Parallel()
		m := getManifest(t, h, resp.DASHSteeringURI)
		var priority, locations []string
		_ = json.Unmarshal(m["PATHWAY-PRIORITY"], &priority)
		_ = json.Unmarshal(m["SERVICE-LOCATION-PRIORITY"], &locations)
		if !slices.Equal(priority, want) || !slices.Equal(locations, want) {
			t.Fatalf("manifest %v", m)
		}
	})
	t.Run("dash inferred from the player's parameters", func(t *testing.T) {
		t.Parallel()
		uri := "/v1/steering/" + id + "?" + url.Values{"token": {token}, "_DASH_pathway": {`"cloudfront,local"`}, "_DASH_throughput": {"5800000,100"}}.Encode()
		m := getManifest(t, h, uri)
		var reload string
		_ = json.Unmarshal(m["RELOAD-URI"], &reload)
		if _, ok := m["SERVICE-LOCATION-PRIORITY"]; !ok {
			t.Fatalf("manifest %v", m)
		}
		if ru, err := url.Parse(reload); err != nil || ru.Query().Get("format") != "dash" {
			t.Fatalf("RELOAD-URI %q", reload)
		}
	})
	t.Run("bearer header instead of the query", func(t *testing.T) {
		t.Parallel()
		req := httptest.NewRequest(http.MethodGet, "/v1/steering/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if rec := h.request(req, clientFra, false); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
}

func TestSteeringManifestPublicURL(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{env: map[string]string{"PICKEDGE_PUBLIC_URL": "https://api.example.com/prod/"}})
	id, token := h.session("sintel")
	resp := h.mustPick(id, token, clientFra)
	if want := "https://api.example.com/prod/v1/steering/" + id + "?format=hls&token=" + token; resp.SteeringURI != want {
		t.Fatalf("steering_uri %q, want %q", resp.SteeringURI, want)
	}
	m := getManifest(t, h, "/v1/steering/"+id+"?token="+token)
	var reload string
	_ = json.Unmarshal(m["RELOAD-URI"], &reload)
	if want := "https://api.example.com/prod/v1/steering/" + id + "?format=hls&token=" + token; reload != want {
		t.Fatalf("RELOAD-URI %q, want %q", reload, want)
	}
}

func TestSteeringManifestRejects(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	id, token := h.session("sintel")
	otherID, _ := h.session("tears-of-steel")
	ended, endedToken := h.session("big-buck-bunny")
	h.at(time.Second)
	if _, err := h.store.EndSession(context.Background(), ended, playback.EndByUser, h.clock()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, uri string
		status    int
		reason    string
	}{
		{"no token", "/v1/steering/" + id, 401, "token_missing"},
		{"garbage token", "/v1/steering/" + id + "?token=v1.dev.abc.def", 401, "token_malformed"},
		{"token of another session", "/v1/steering/" + otherID + "?token=" + token, 403, "session_mismatch"},
		{"ended session", "/v1/steering/" + ended + "?token=" + endedToken, 410, "session_ended"},
		{"bad format", "/v1/steering/" + id + "?format=smooth&token=" + token, 400, "format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := h.request(httptest.NewRequest(http.MethodGet, tc.uri, nil), clientFra, false)
			if e := errorOf(t, rec); rec.Code != tc.status || e.Reason != tc.reason {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.reason)
			}
		})
	}
}

// TestPicksStableAndMoveMinimally is the rendezvous property at the HTTP
// level: while the healthy set is unchanged every title keeps its ranking
// (across requests and table rebuilds), and when one edge leaves only the
// titles it served change, each keeping the rest of its ranking in order.
func TestPicksStableAndMoveMinimally(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	type viewer struct{ id, token string }
	const titles = 80
	viewers := make([]viewer, titles)
	for i := range viewers {
		id, token := h.session(fmt.Sprint("title-", i))
		viewers[i] = viewer{id, token}
	}
	clients := []string{clientFra, clientLondonISP, clientUnknown}
	rank := func() map[[2]int][]string {
		out := map[[2]int][]string{}
		for i, v := range viewers {
			for c, client := range clients {
				out[[2]int{i, c}] = edgeIDs(h.mustPick(v.id, v.token, client))
			}
		}
		return out
	}
	first := rank()
	if again := rank(); !mapsEqual(first, again) {
		t.Fatal("rankings changed between two requests")
	}
	// Past the refresh interval, with every edge reporting again: a new
	// table, the same healthy set, the same rankings.
	h.at(6 * time.Second)
	var all []string
	for _, e := range first {
		all = append(all, e...)
	}
	slices.Sort(all)
	h.setHealth(true, slices.Compact(all)...)
	if rebuilt := rank(); !mapsEqual(first, rebuilt) {
		t.Fatal("rankings changed after the table was rebuilt with the same healthy set")
	}

	const leaving = "fra-1"
	h.at(7 * time.Second)
	h.setHealth(false, leaving)
	after := rank()
	moved := 0
	for k, before := range first {
		now := after[k]
		if !slices.Contains(before, leaving) {
			if !slices.Equal(before, now) {
				t.Fatalf("viewer %v did not use %s but moved: %v → %v", k, leaving, before, now)
			}
			continue
		}
		moved++
		kept := slices.DeleteFunc(slices.Clone(before), func(e string) bool { return e == leaving })
		var rest []string
		for _, e := range now {
			if slices.Contains(kept, e) {
				rest = append(rest, e)
			}
		}
		if slices.Contains(now, leaving) || !slices.Equal(rest, kept) || len(now) != len(before) {
			t.Fatalf("viewer %v: %v → %v after %s left", k, before, now, leaving)
		}
	}
	t.Logf("%d of %d rankings involved %s", moved, len(first), leaving)
	if moved == 0 || moved == len(first) {
		t.Fatalf("%d of %d rankings involved %s; the test needs some of each", moved, len(first), leaving)
	}
}

func mapsEqual(a, b map[[2]int][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestSteeringWithManifestCredential: the personalized manifests of
// signurl point players here with their manifest credential, which the
// steering route accepts for its own session only, until it expires: 401
// token_expired, or 403 licence_window_ended for one the licence window
// ends, so that the player can tell the viewer why.
func TestSteeringWithManifestCredential(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{env: map[string]string{"PUBLIC_API_URL": "https://api.example.com"}})
	id, _ := h.session("sintel")
	otherID, _ := h.session("tears-of-steel")
	cred, err := h.tokens.IssueManifest(auth.PlaybackClaims{SessionID: id, AccountID: demo.AccountFamily, TitleID: "sintel",
		IssuedAt: h.t0, ExpiresAt: h.t0.Add(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	// A credential the licence window ends (authorize play's and sign
	// URLs' for a session the window ends) says so at its end.
	licensed, err := h.tokens.IssueManifest(auth.PlaybackClaims{SessionID: id, AccountID: demo.AccountFamily, TitleID: "sintel",
		IssuedAt: h.t0, ExpiresAt: h.t0.Add(10 * time.Minute), LicenceEnds: true})
	if err != nil {
		t.Fatal(err)
	}
	forged := []byte(cred)
	forged[len(forged)-3] ^= 1
	m := getManifest(t, h, "/v1/steering/"+id+"?format=dash&token="+cred)
	var reload string
	_ = json.Unmarshal(m["RELOAD-URI"], &reload)
	if want := "https://api.example.com/v1/steering/" + id + "?format=dash&token=" + cred; reload != want {
		t.Fatalf("RELOAD-URI %q, want %q (absolute on PUBLIC_API_URL, same credential)", reload, want)
	}
	for _, tc := range []struct {
		name, uri string
		at        time.Duration
		status    int
		reason    string
	}{
		{"another session", "/v1/steering/" + otherID + "?token=" + cred, 0, 403, "session_mismatch"},
		{"expired", "/v1/steering/" + id + "?token=" + cred, 10 * time.Minute, 401, "token_expired"},
		{"ended with the licence", "/v1/steering/" + id + "?token=" + licensed, 10 * time.Minute, 403, "licence_window_ended"},
		{"forged", "/v1/steering/" + id + "?token=" + string(forged), 0, 401, "token_signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.uri, nil)
			h.at(tc.at)
			defer h.at(0)
			rec := h.request(req, clientFra, false)
			if e := errorOf(t, rec); rec.Code != tc.status || e.Reason != tc.reason {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.reason)
			}
		})
	}
}

// TestSteeringFirstAnswerKeepsTheStart: the steering URI a session's
// manifests name carries the pathway they start on (playurl.SteeringStart).
// The answer to it, the player's first, keeps that pathway first while it
// has a usable edge for the viewer, the others in the ranking's order; its
// RELOAD-URI does not carry it, so the next answer is the ranking's. A
// start without a usable edge, or one the ranking does not know, gets the
// ranking (the player cannot stay); a malformed one is refused.
func TestSteeringFirstAnswerKeepsTheStart(t *testing.T) {
	t.Parallel()
	ranked := []string{"cloudfront", "cloudcdn", "local"}
	for _, tt := range []struct {
		name, format, start string
		down                []string // edges reported unhealthy first
		first               []string
	}{
		{name: "second choice kept first", format: "hls", start: "cloudcdn", first: []string{"cloudcdn", "cloudfront", "local"}},
		{name: "last choice kept first", format: "hls", start: "local", first: []string{"local", "cloudfront", "cloudcdn"}},
		{name: "dash", format: "dash", start: "cloudcdn", first: []string{"cloudcdn", "cloudfront", "local"}},
		{name: "the first choice", format: "hls", start: "cloudfront", first: ranked},
		{name: "start without a usable edge", format: "hls", start: "cloudcdn", down: []string{"gc-lhr-1", "gc-ams-1"},
			first: []string{"cloudfront", "local"}},
		{name: "start the ranking does not know", format: "hls", start: "akamai", first: ranked},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, multiCDN("cloudfront:3,cloudcdn:2,local:1"))
			if len(tt.down) > 0 {
				h.at(time.Second) // newer than the seeded state
				h.setHealth(false, tt.down...)
			}
			id, token := h.session("sintel")
			then := ranked
			if len(tt.down) > 0 {
				then = tt.first
			}
			if got := h.mustPick(id, token, clientFra).Pathways; !slices.Equal(got, then) {
				t.Fatalf("the ranking is %v, want %v", got, then)
			}
			first := "/v1/steering/" + id + "?" + url.Values{"format": {tt.format}, "token": {token}, "start": {tt.start}}.Encode()
			m := getManifest(t, h, first)
			var reload string
			var priority, locations []string
			_ = json.Unmarshal(m["RELOAD-URI"], &reload)
			_ = json.Unmarshal(m["PATHWAY-PRIORITY"], &priority)
			_ = json.Unmarshal(m["SERVICE-LOCATION-PRIORITY"], &locations)
			if !slices.Equal(priority, tt.first) {
				t.Errorf("first answer %v, want %v", priority, tt.first)
			}
			if tt.format == "dash" && !slices.Equal(locations, tt.first) {
				t.Errorf("first answer's SERVICE-LOCATION-PRIORITY %v, want %v", locations, tt.first)
			}
			if ru, err := url.Parse(reload); err != nil || ru.Query().Has("start") {
				t.Fatalf("RELOAD-URI %q carries the start", reload)
			}
			next := getManifest(t, h, resolve(t, first, reload, url.Values{"_HLS_pathway": {tt.start}}))
			_ = json.Unmarshal(next["PATHWAY-PRIORITY"], &priority)
			if !slices.Equal(priority, then) {
				t.Errorf("next answer %v, want the ranking %v", priority, then)
			}
		})
	}
	t.Run("malformed start", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, multiCDN("cloudfront:3,cloudcdn:2,local:1"))
		id, token := h.session("sintel")
		for _, start := range []string{"cloud cdn", `"cloudcdn"`, "cloudcdn,local"} {
			uri := "/v1/steering/" + id + "?" + url.Values{"token": {token}, "start": {start}}.Encode()
			rec := h.request(httptest.NewRequest(http.MethodGet, uri, nil), clientFra, false)
			if rec.Code != http.StatusBadRequest || errorOf(t, rec).Reason != "start" {
				t.Errorf("start %q: %d %s", start, rec.Code, rec.Body)
			}
		}
	})
}

// TestSteeringURIBehindAProxyChain: without a public URL, steering_uri
// takes the scheme the player used, the first entry of X-Forwarded-Proto
// ("https" at the front door, "http" appended by a proxy inside), as
// playurl.APIBase reads it for the manifests of the same session.
func TestSteeringURIBehindAProxyChain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	id, token := h.session("sintel")
	req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+id+"/edges", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-Proto", "https, http")
	rec := h.request(req, clientFra, false)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var resp struct {
		SteeringURI string `json:"steering_uri"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if want := "https://example.com/v1/steering/" + id + "?format=hls&token=" + token; resp.SteeringURI != want {
		t.Fatalf("steering_uri %q, want %q", resp.SteeringURI, want)
	}
}

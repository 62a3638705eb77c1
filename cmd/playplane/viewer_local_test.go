package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/steering/geoiptest"
)

// TestViewerLocationEndToEnd runs the local runner behind a "front door"
// on loopback (trusted, as PICKEDGE_TRUSTED_PROXIES says) that forwards the
// viewer's address in X-Forwarded-For, with GeoIP and anonymous-IP
// databases built here: authorize play licenses by where the viewer is,
// and pick edge places the same viewer in the same country.
func TestViewerLocationEndToEnd(t *testing.T) {
	dir := t.TempDir()
	city := geoiptest.Write(t, dir, "GeoIP2-City", map[string]mmdbtype.Map{
		"198.51.100.0/24": cityRecord("DE", 52.52, 13.40),
		"203.0.113.0/24":  cityRecord("US", 38.9, -77.0),
		"192.0.2.0/24":    cityRecord("FR", 48.86, 2.35),
		"100.64.0.0/16":   cityRecord("JP", 35.68, 139.69),
	})
	anon := geoiptest.Write(t, dir, "GeoIP2-Anonymous-IP", map[string]mmdbtype.Map{
		"203.0.113.192/26": {"is_anonymous": mmdbtype.Bool(true), "is_public_proxy": mmdbtype.Bool(true)},
	})
	t.Setenv("PICKEDGE_TRUSTED_PROXIES", "127.0.0.0/8,::1/128")
	t.Setenv("PICKEDGE_GEOIP_CITY_DB", city)
	t.Setenv("PICKEDGE_GEOIP_ANONYMOUS_DB", anon)
	t.Setenv("AUTHORIZE_REFUSE_ANONYMOUS_PROXIES", "true")
	run := startLocal(t, t.TempDir())

	send := func(method, path, token, body, viewer string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, run.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Forwarded-For", viewer)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := run.api.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw
	}
	for _, tc := range []struct {
		name, account, title, viewer string
		status                       int
		reason, country              string
	}{
		{"DE account at home", demo.AccountFamily, "tears-of-steel", "198.51.100.7", 201, "", "DE"},
		{"DE account in France keeps its catalogue", demo.AccountFamily, "tears-of-steel", "192.0.2.7", 201, "", "FR"},
		{"DE account in Japan", demo.AccountFamily, "tears-of-steel", "100.64.1.1", 403, "not_licensed_in_viewer_country", ""},
		{"US subscriber in France", demo.AccountSolo, "us-exclusive", "192.0.2.8", 403, "not_licensed_in_viewer_country", ""},
		{"US subscriber at home", demo.AccountSolo, "us-exclusive", "203.0.113.9", 201, "", "US"},
		{"US subscriber through a public proxy", demo.AccountSolo, "us-exclusive", "203.0.113.200", 403, "anonymous_proxy", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, raw := send("POST", "/v1/play", run.token(tc.account), `{"title_id":"`+tc.title+`","device_id":"e2e-`+tc.account+`"}`, tc.viewer)
			if code != tc.status || (tc.reason != "" && !strings.Contains(string(raw), `"reason":"`+tc.reason+`"`)) {
				t.Fatalf("play: %d %s, want %d %s", code, raw, tc.status, tc.reason)
			}
			if code != 201 {
				return
			}
			var play struct {
				SessionID     string `json:"session_id"`
				PlaybackToken string `json:"playback_token"`
			}
			decode(t, raw, &play)
			code, raw = send("POST", "/v1/playback/"+play.SessionID+"/edges", play.PlaybackToken, "", tc.viewer)
			var edges pickedge.EdgesResponse
			decode(t, raw, &edges)
			if code != 200 || edges.Location.Country != tc.country || edges.Location.Source != "geoip" {
				t.Fatalf("edges: %d %+v, want the viewer placed in %s by GeoIP", code, edges.Location, tc.country)
			}
			code, _ = send("DELETE", "/v1/sessions/"+play.SessionID, run.token(tc.account), "", tc.viewer)
			if code != 200 {
				t.Fatalf("end session: %d", code)
			}
		})
	}
}

func cityRecord(country string, lat, lon float64) mmdbtype.Map {
	return mmdbtype.Map{
		"country":  mmdbtype.Map{"iso_code": mmdbtype.String(country)},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon)},
	}
}

func decode(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
}

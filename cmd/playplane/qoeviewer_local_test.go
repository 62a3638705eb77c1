package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestQoEAggregatesByViewer drives views through the runner behind a
// "front door" on loopback (trusted) that sets a Google load balancer's
// X-Client-Geo-Location and CloudFront's CloudFront-Viewer-ASN and device
// headers, and reads GET /v1/admin/qoe by country, ASN and device type:
// what authorize play learned of the viewer reaches the aggregates
// through the playback token and the heartbeat messages.
func TestQoEAggregatesByViewer(t *testing.T) {
	t.Setenv("PICKEDGE_TRUSTED_PROXIES", "127.0.0.0/8,::1/128")
	t.Setenv("PICKEDGE_VIEWER_COUNTRY_HEADER", "X-Client-Geo-Location")
	t.Setenv("PICKEDGE_VIEWER_ASN_HEADER", "CloudFront-Viewer-ASN")
	dir := t.TempDir()
	run := startLocal(t, dir)
	tok := run.token(demo.AccountFamily)
	device := playback.NewID("dev")
	t0 := time.Now()

	send := func(method, path, token, body string, headers map[string]string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, run.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := run.api.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if out != nil && json.Unmarshal(raw, out) != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return resp.StatusCode
	}
	for i, v := range []struct {
		name    string
		body    string // extra play request fields
		headers map[string]string
	}{
		{name: "tv named by the player, ASN from the front door", body: `,"device_type":"tv"`,
			headers: map[string]string{"X-Client-Geo-Location": "DE,Berlin", "CloudFront-Viewer-ASN": "3320"}},
		{name: "phone told by its User-Agent, away in France", headers: map[string]string{"X-Client-Geo-Location": "fr,paris",
			"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"}},
		{name: "tablet told by the front door", headers: map[string]string{"X-Client-Geo-Location": "DE",
			"CloudFront-Is-Tablet-Viewer": "true", "CloudFront-Viewer-ASN": "16509"}},
	} {
		var play struct {
			SessionID     string `json:"session_id"`
			PlaybackToken string `json:"playback_token"`
		}
		body := fmt.Sprintf(`{"title_id":"sintel","device_id":%q%s}`, device, v.body)
		if code := send("POST", "/v1/play", tok, body, v.headers, &play); code != http.StatusCreated {
			t.Fatalf("%s: play: %d", v.name, code)
		}
		for n, ev := range []string{events.HeartbeatStart, events.HeartbeatStop} {
			req := events.HeartbeatRequest{Event: ev, PositionMS: 1000, DurationMS: 888_000,
				DeviceTime: t0.Add(time.Duration(i*10+n) * time.Millisecond).UTC(),
				QoE:        playback.QoE{StartupMS: 500, PlayedMS: int64(n) * 100, CDN: "local", EdgeID: "edge-1"}}
			raw, _ := json.Marshal(req)
			// Heartbeats come without the headers: the viewer rides in the token.
			if code := send("POST", "/v1/playback/"+play.SessionID+"/heartbeat", play.PlaybackToken, string(raw), nil, nil); code != http.StatusOK {
				t.Fatalf("%s: heartbeat %s: %d", v.name, ev, code)
			}
		}
	}
	run.idle()

	adminTok := run.adminToken()
	for _, tc := range []struct {
		dim  playback.QoEDimension
		want map[string]int // views per value
	}{
		{playback.QoEByCountry, map[string]int{"DE": 2, "FR": 1}},
		{playback.QoEByDeviceType, map[string]int{"tv": 1, "mobile": 1, "tablet": 1}},
		{playback.QoEByASN, map[string]int{"3320": 1, "16509": 1, "": 1}},
	} {
		resp := run.mustAPI("GET", "/v1/admin/qoe?dimension="+string(tc.dim), adminTok, "", "", http.StatusOK)
		var out admin.QoEResponse
		if err := json.Unmarshal(resp.body, &out); err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, a := range out.Totals {
			got[a.Value] += a.Views
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("views by %s = %v, want %v", tc.dim, got, tc.want)
		}
	}
}

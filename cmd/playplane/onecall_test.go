package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/demo"
)

// TestOneCallStartsPlayback: the answer of POST /v1/play alone leads a
// player to the first segment: its personalized manifest, the media
// playlist the manifest names, the signed init segment at the local edge,
// and the steering server, with no other API call (no urls, no edges).
// Every API answer goes through the validating client.
func TestOneCallStartsPlayback(t *testing.T) {
	run := startLocal(t, t.TempDir())
	tok := run.token(demo.AccountFamily) // standard plan: up to HD
	var play struct {
		SessionID         string `json:"session_id"`
		ManifestURL       string `json:"manifest_url"`
		Manifests         struct{ HLS, DASH string }
		SteeringURI       string    `json:"steering_uri"`
		ManifestExpiresAt time.Time `json:"manifest_expires_at"`
		LeaseExpiresAt    time.Time `json:"lease_expires_at"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"big-buck-bunny","device_id":"tv"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	if play.ManifestURL == "" || play.ManifestURL != play.Manifests.HLS ||
		!strings.HasPrefix(play.Manifests.HLS, run.srv.URL+"/v1/manifests/"+play.SessionID+"/hls?token=m1.") ||
		!strings.HasPrefix(play.Manifests.DASH, run.srv.URL+"/v1/manifests/"+play.SessionID+"/dash?token=m1.") ||
		!strings.HasPrefix(play.SteeringURI, run.srv.URL+"/v1/steering/"+play.SessionID+"?") {
		t.Fatalf("play answer %+v: want the session's personalized manifests and steering server on the runner", play)
	}
	if play.ManifestExpiresAt.Before(play.LeaseExpiresAt) {
		t.Errorf("the manifest credential expires at %v, before the lease (%v)", play.ManifestExpiresAt, play.LeaseExpiresAt)
	}
	master := run.fetch(play.ManifestURL)
	if !strings.Contains(master, "#EXT-X-CONTENT-STEERING:") {
		t.Fatalf("multivariant playlist without steering:\n%s", master)
	}
	var media []string
	for _, line := range strings.Split(master, "\n") {
		if strings.HasPrefix(line, run.srv.URL+"/v1/manifests/"+play.SessionID+"/hls/") {
			media = append(media, line)
		}
	}
	if len(media) == 0 || strings.Contains(strings.Join(media, " "), "/uhd?") {
		t.Fatalf("variant URIs %q: want the plan's SD and HD media playlists, no UHD", media)
	}
	playlist := run.fetch(media[0])
	m := regexp.MustCompile(`#EXT-X-MAP:URI="([^"]+)"`).FindStringSubmatch(playlist)
	if m == nil {
		t.Fatalf("media playlist without EXT-X-MAP:\n%s", playlist)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the init segment the one-call manifest names: %d, want 200 (%s)", resp.StatusCode, m[1])
	}
	if mpd := run.fetch(play.Manifests.DASH); !strings.Contains(mpd, "<ContentSteering") {
		t.Fatalf("MPD without steering:\n%s", mpd)
	}
	if steering := run.fetch(play.SteeringURI); !strings.Contains(steering, `"PATHWAY-PRIORITY"`) {
		t.Fatalf("steering manifest %s", steering)
	}

	// A title without a ladder has no personalized manifests: the answer
	// names none rather than URLs the manifests route would refuse.
	flat := demo.Titles(time.Now())[0]
	flat.ID, flat.AssetPath, flat.Renditions = "flat", "/titles/flat/", nil
	if err := run.app.store.PutTitle(context.Background(), flat); err != nil {
		t.Fatal(err)
	}
	var noLadder struct {
		Manifests   *struct{ HLS string } `json:"manifests"`
		ManifestURL string                `json:"manifest_url"`
		SteeringURI string                `json:"steering_uri"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"flat","device_id":"phone"}`, &noLadder); code != 201 {
		t.Fatalf("play of a title without a ladder: %d", code)
	}
	if noLadder.Manifests != nil || noLadder.ManifestURL != "" || noLadder.SteeringURI != "" {
		t.Fatalf("a title without a ladder: %+v, want no manifests", noLadder)
	}
}

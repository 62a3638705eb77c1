package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestLicenceEndOnEveryRoute plays a title whose licence window ends two
// seconds on, through the runner and the validating client: from the
// window's end the heartbeat, the personalized manifests and the steering
// server the play answer names all answer 403 licence_window_ended, the
// document's reason, not 401 (the manifest credential says the licence
// ends it, as the playback token does), so a player can tell the viewer
// why whichever request learns of the end first.
func TestLicenceEndOnEveryRoute(t *testing.T) {
	t.Parallel()
	run := startLocal(t, t.TempDir())
	ctx := context.Background()
	const titleID = "big-buck-bunny"
	title, err := run.app.store.GetTitle(ctx, titleID)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Truncate(time.Second).Add(3 * time.Second)
	for i := range title.Windows {
		title.Windows[i].End = end
	}
	if err := run.app.store.PutTitle(ctx, title); err != nil {
		t.Fatal(err)
	}
	var play struct {
		SessionID     string                `json:"session_id"`
		PlaybackToken string                `json:"playback_token"`
		LicenceEndsAt time.Time             `json:"licence_ends_at"`
		ManifestURL   string                `json:"manifest_url"`
		Manifests     struct{ DASH string } `json:"manifests"`
		SteeringURI   string                `json:"steering_uri"`
	}
	if code := run.call("POST", "/v1/play", run.token(demo.AccountFamily), `{"title_id":"`+titleID+`","device_id":"`+playback.NewID("dev")+`"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	if !play.LicenceEndsAt.Equal(end) || play.ManifestURL == "" || play.SteeringURI == "" {
		t.Fatalf("play answer %+v, want its licence to end at %v, with manifests and steering", play, end)
	}
	run.fetch(play.ManifestURL) // good until the end
	time.Sleep(time.Until(end))
	beat := func() *http.Request {
		req, _ := http.NewRequest("POST", run.srv.URL+"/v1/playback/"+play.SessionID+"/heartbeat",
			strings.NewReader(`{"event":"progress","position_ms":1000,"duration_ms":10000,"device_time":"`+time.Now().UTC().Format(time.RFC3339Nano)+`"}`))
		req.Header.Set("Authorization", "Bearer "+play.PlaybackToken)
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	get := func(u string) func() *http.Request {
		return func() *http.Request { req, _ := http.NewRequest("GET", u, nil); return req }
	}
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"heartbeat", beat},
		{"multivariant playlist", get(play.ManifestURL)},
		{"MPD", get(play.Manifests.DASH)},
		{"steering", get(play.SteeringURI)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := run.api.Do(tc.req())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(raw), `"reason":"`+playback.ReasonLicenceEnded+`"`) {
				t.Fatalf("after the licence's end: %d %s, want 403 %s", resp.StatusCode, raw, playback.ReasonLicenceEnded)
			}
		})
	}
}

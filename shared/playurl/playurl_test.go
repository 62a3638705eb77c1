package playurl

import (
	"net/http/httptest"
	"testing"
)

func TestURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cdn, grant, hls string
	}{
		{name: "defaults", hls: "https://api.test/v1/manifests/ses%2F1/hls?token=m1.x%2By"},
		{name: "query grant is the default", grant: "query", hls: "https://api.test/v1/manifests/ses%2F1/hls?token=m1.x%2By"},
		{name: "pathway and cookies", cdn: "cloudcdn", grant: "cookie", hls: "https://api.test/v1/manifests/ses%2F1/hls?cdn=cloudcdn&grant=cookie&token=m1.x%2By"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := PersonalizedManifests("https://api.test", "ses/1", "m1.x+y", tt.cdn, tt.grant)
			if m.HLS != tt.hls {
				t.Errorf("HLS = %s, want %s", m.HLS, tt.hls)
			}
			if want := tt.hls[:len("https://api.test/v1/manifests/ses%2F1/")] + "dash" + tt.hls[len("https://api.test/v1/manifests/ses%2F1/hls"):]; m.DASH != want {
				t.Errorf("DASH = %s, want %s", m.DASH, want)
			}
		})
	}
	if got, want := Steering("https://api.test", "s1", "m1.x", "hls"), "https://api.test/v1/steering/s1?format=hls&token=m1.x"; got != want {
		t.Errorf("Steering = %s, want %s", got, want)
	}
	if got, want := SteeringFrom("https://api.test", "s1", "m1.x", "dash", "cloudcdn"), "https://api.test/v1/steering/s1?format=dash&start=cloudcdn&token=m1.x"; got != want {
		t.Errorf("SteeringFrom = %s, want %s", got, want)
	}
}

func TestAPIBase(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "http://api.internal/v1/play", nil)
	if got := APIBase(r, "https://api.example"); got != "https://api.example" {
		t.Errorf("configured: %s", got)
	}
	if got := APIBase(r, ""); got != "http://api.internal" {
		t.Errorf("from the request: %s", got)
	}
	r.Header.Set("X-Forwarded-Proto", "https")
	if got := APIBase(r, ""); got != "https://api.internal" {
		t.Errorf("behind TLS termination: %s", got)
	}
}

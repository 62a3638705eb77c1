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
	// Each proxy that appends to X-Forwarded-Proto appends the scheme it
	// was reached by, so the first entry is the one the player used (or
	// one the caller wrote itself, which only its own URLs follow).
	for _, tc := range []struct {
		name  string
		proto []string // header lines
		want  string
	}{
		{name: "no proxy", want: "http://api.internal"},
		{name: "behind TLS termination", proto: []string{"https"}, want: "https://api.internal"},
		{name: "upper case", proto: []string{"HTTPS"}, want: "https://api.internal"},
		{name: "plain http at the front", proto: []string{"http"}, want: "http://api.internal"},
		{name: "https at the front, http inside", proto: []string{"https, http"}, want: "https://api.internal"},
		{name: "without spaces", proto: []string{"https,http,http"}, want: "https://api.internal"},
		{name: "one line per proxy", proto: []string{"https", "http"}, want: "https://api.internal"},
		{name: "http at the front, https inside", proto: []string{"http, https"}, want: "http://api.internal"},
		{name: "an empty entry first", proto: []string{" , https, http"}, want: "https://api.internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "http://api.internal/v1/play", nil)
			for _, v := range tc.proto {
				r.Header.Add("X-Forwarded-Proto", v)
			}
			if got := APIBase(r, ""); got != tc.want {
				t.Errorf("X-Forwarded-Proto %q: %s, want %s", tc.proto, got, tc.want)
			}
		})
	}
}

package authorizeplay_test

import (
	"net/http"
	"testing"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestPlayTokenCarriesTheViewer: the playback token names the viewer the
// QoE aggregates break views down by, from what the play request tells.
func TestPlayTokenCarriesTheViewer(t *testing.T) {
	t.Parallel()
	const frontDoor = "10.0.0.9:443"
	iPhone := "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
	set := func(kv ...string) func(*http.Request) {
		return func(r *http.Request) {
			for i := 0; i < len(kv); i += 2 {
				r.Header.Set(kv[i], kv[i+1])
			}
		}
	}
	for _, tc := range []struct {
		name      string
		frontDoor bool // the runner behind a front door setting the headers
		account   string
		body      string
		req       func(*http.Request)
		want      playback.Viewer
	}{
		{name: "nothing known: the home territory", account: demo.AccountFamily, body: `{"title_id":"sintel","device_id":"d1"}`,
			req: set(), want: playback.Viewer{Country: "DE"}},
		{name: "device type named by the player wins", account: demo.AccountFamily,
			body: `{"title_id":"sintel","device_id":"d1","device_type":"console"}`,
			req:  set("User-Agent", iPhone, "CloudFront-Is-Desktop-Viewer", "true"), want: playback.Viewer{Country: "DE", DeviceType: "console"}},
		{name: "CloudFront device header over the User-Agent", account: demo.AccountFamily, body: `{"title_id":"sintel","device_id":"d1"}`,
			req:  set("User-Agent", iPhone, "CloudFront-Is-SmartTV-Viewer", "true", "CloudFront-Is-Mobile-Viewer", "false"),
			want: playback.Viewer{Country: "DE", DeviceType: "tv"}},
		{name: "User-Agent", account: demo.AccountSolo, body: `{"title_id":"sintel","device_id":"d1"}`,
			req: set("User-Agent", iPhone), want: playback.Viewer{Country: "US", DeviceType: "mobile"}},
		{name: "front door country and ASN", frontDoor: true, account: demo.AccountFamily, body: `{"title_id":"sintel","device_id":"d1"}`,
			req:  set("CloudFront-Viewer-Country", "fr", "CloudFront-Viewer-ASN", "3215"),
			want: playback.Viewer{Country: "FR", ASN: 3215}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessWith(t, func(c *authorizeplay.Config) {
				if tc.frontDoor {
					c.Viewer.TrustedProxies = []string{"10.0.0.0/8"}
					c.Viewer.CountryHeader, c.Viewer.ASNHeader = "CloudFront-Viewer-Country", "CloudFront-Viewer-ASN"
				}
			})
			rec := h.do(http.MethodPost, "/v1/play", h.token(tc.account), tc.body, tc.req, func(r *http.Request) { r.RemoteAddr = frontDoor })
			_, claims := h.admitted(t, rec)
			if claims.Viewer != tc.want {
				t.Fatalf("viewer %+v, want %+v", claims.Viewer, tc.want)
			}
		})
	}
}

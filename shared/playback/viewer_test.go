package playback_test

import (
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

func TestDeviceTypeFromUserAgent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, ua, want string }{
		{"none", "", ""},
		{"a library", "Go-http-client/1.1", ""},
		{"desktop Chrome", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "desktop"},
		{"Mac Safari", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15", "desktop"},
		{"iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", "mobile"},
		{"Android phone", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36", "mobile"},
		{"Android tablet", "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36", "tablet"},
		{"iPad", "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", "tablet"},
		{"Samsung TV", "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.5) AppleWebKit/537.36 (KHTML, like Gecko) 85.0 TV Safari/537.36", "tv"},
		{"Android TV says Android", "Mozilla/5.0 (Linux; Android 12; BRAVIA 4K UR3) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36", "tv"},
		{"PlayStation", "Mozilla/5.0 (PlayStation; PlayStation 5/6.50) AppleWebKit/605.1.15 (KHTML, like Gecko)", "console"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := playback.DeviceTypeFromUserAgent(tc.ua); got != tc.want {
				t.Fatalf("DeviceTypeFromUserAgent = %q, want %q", got, tc.want)
			}
			if tc.want != "" && !playback.ValidDeviceType(tc.want) {
				t.Fatalf("%q is not a device type", tc.want)
			}
		})
	}
}

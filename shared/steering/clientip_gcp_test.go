package steering

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// The Pulumi gcp and hybrid stacks set PICKEDGE_TRUSTED_HOPS=2
// (functions/catalog.GCPFrontEndHops) on pickedge: behind Google's external
// Application Load Balancer the function is reached from Cloud Run's front
// end and X-Forwarded-For ends "<client-ip>,<load-balancer-ip>", after
// whatever the caller sent itself.
func TestClientIPBehindTheGoogleLoadBalancer(t *testing.T) {
	t.Parallel()
	const viewer, lb, frontEnd = "198.51.100.7", "203.0.113.10", "169.254.169.126:41234"
	for _, tc := range []struct {
		name string
		cfg  ClientIPConfig
		xff  string
		want string
	}{
		{name: "stack setting", cfg: ClientIPConfig{TrustedHops: 2}, xff: viewer + "," + lb, want: viewer},
		{name: "stack setting, caller forged a header", cfg: ClientIPConfig{TrustedHops: 2}, xff: "6.6.6.6, " + viewer + ", " + lb, want: viewer},
		// Without the setting every viewer is the front end: the bug.
		{name: "no setting", cfg: ClientIPConfig{}, xff: viewer + "," + lb, want: "169.254.169.126"},
		{name: "one hop locates the load balancer", cfg: ClientIPConfig{TrustedHops: 1}, xff: viewer + "," + lb, want: lb},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClientIP(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("POST", "/v1/playback/s/edges", nil)
			r.RemoteAddr = frontEnd
			r.Header.Set("X-Forwarded-For", tc.xff)
			got, err := c.FromRequest(r)
			if err != nil || got != netip.MustParseAddr(tc.want) {
				t.Errorf("FromRequest = %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

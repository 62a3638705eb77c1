package steering

import (
	"errors"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	// The load balancer (10.0.0.0/8) and CDN (2001:db8:cdn::/48 style
	// ranges) are ours; 198.51.100.0/24 is an ISP's proxy we do not trust.
	proxies := ClientIPConfig{TrustedProxies: []string{"10.0.0.0/8", "2001:db8:c::/48", " 192.0.2.10 "}}
	twoHops := ClientIPConfig{TrustedHops: 2}
	tests := []struct {
		name    string
		cfg     ClientIPConfig
		remote  string
		xff     []string
		want    string
		wantErr bool
	}{
		{name: "no proxy configured: header ignored", cfg: ClientIPConfig{},
			remote: "203.0.113.7:5000", xff: []string{"1.2.3.4"}, want: "203.0.113.7"},
		{name: "client talks to us directly and spoofs the header", cfg: proxies,
			remote: "203.0.113.7:5000", xff: []string{"10.0.0.1, 1.2.3.4"}, want: "203.0.113.7"},
		{name: "through the load balancer", cfg: proxies,
			remote: "10.1.2.3:443", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "spoofed entries left of the real client are skipped", cfg: proxies,
			remote: "10.1.2.3:443", xff: []string{"6.6.6.6, 10.9.9.9, 203.0.113.7"}, want: "203.0.113.7"},
		{name: "chain of trusted proxies", cfg: proxies,
			remote: "10.1.2.3:443", xff: []string{"203.0.113.7, 2001:db8:c::9, 192.0.2.10"}, want: "203.0.113.7"},
		{name: "untrusted proxy in the chain is where trust stops", cfg: proxies,
			remote: "10.1.2.3:443", xff: []string{"203.0.113.7, 198.51.100.1"}, want: "198.51.100.1"},
		{name: "several header lines are one list", cfg: proxies,
			remote: "10.1.2.3:443", xff: []string{"6.6.6.6", "203.0.113.7, 10.0.0.2"}, want: "203.0.113.7"},
		{name: "garbage from the client stops the walk at the last trusted hop", cfg: proxies,
			remote: "10.1.2.3:443", xff: []string{"<script>, 10.0.0.5"}, want: "10.0.0.5"},
		{name: "unknown entry", cfg: proxies,
			remote: "10.1.2.3:443", xff: []string{"unknown"}, want: "10.1.2.3"},
		{name: "all hops trusted: leftmost", cfg: proxies,
			remote: "10.1.2.3:443", xff: []string{"10.0.0.9, 10.0.0.8"}, want: "10.0.0.9"},
		{name: "trusted peer without header", cfg: proxies,
			remote: "10.1.2.3:443", want: "10.1.2.3"},
		{name: "empty entries are skipped", cfg: proxies,
			remote: "10.1.2.3:443", xff: []string{"203.0.113.7, , "}, want: "203.0.113.7"},
		{name: "ipv6 entry with port and brackets", cfg: proxies,
			remote: "[2001:db8:c::1]:443", xff: []string{"[2001:db8:77::5]:1234"}, want: "2001:db8:77::5"},
		{name: "ipv4 entry with port", cfg: proxies,
			remote: "10.1.2.3:443", xff: []string{"203.0.113.7:61000"}, want: "203.0.113.7"},
		{name: "ipv6 entry in brackets without port", cfg: proxies,
			remote: "10.1.2.3:443", xff: []string{"[2001:db8:77::5]"}, want: "2001:db8:77::5"},
		{name: "ipv4-mapped peer is trusted as ipv4", cfg: proxies,
			remote: "[::ffff:10.1.2.3]:443", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "ipv4-mapped trusted proxy is trusted as ipv4", cfg: ClientIPConfig{TrustedProxies: []string{"::ffff:10.1.2.3"}},
			remote: "[::ffff:10.1.2.3]:443", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "ipv4-mapped trusted network is an ipv4 network", cfg: ClientIPConfig{TrustedProxies: []string{"::ffff:10.0.0.0/104"}},
			remote: "10.1.2.3:443", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "hop count: client is second from the right", cfg: twoHops,
			remote: "100.64.0.1:443", xff: []string{"6.6.6.6, 203.0.113.7, 54.0.0.1"}, want: "203.0.113.7"},
		{name: "hop count: spoofing the leftmost entry changes nothing", cfg: twoHops,
			remote: "100.64.0.1:443", xff: []string{"203.0.113.7, 54.0.0.1"}, want: "203.0.113.7"},
		{name: "hop count: shorter chain than configured", cfg: twoHops,
			remote: "100.64.0.1:443", xff: []string{"54.0.0.1"}, want: "54.0.0.1"},
		{name: "hop count plus trusted networks", cfg: ClientIPConfig{TrustedHops: 1, TrustedProxies: []string{"10.0.0.0/8"}},
			remote: "100.64.0.1:443", xff: []string{"6.6.6.6, 203.0.113.7, 10.0.0.3"}, want: "203.0.113.7"},
		{name: "custom header", cfg: ClientIPConfig{TrustedProxies: []string{"10.0.0.0/8"}, Header: "x-real-ip"},
			remote: "10.1.2.3:443", want: "10.1.2.3"},
		{name: "bare remote address (Lambda adapters)", cfg: proxies,
			remote: "203.0.113.7", want: "203.0.113.7"},
		{name: "unusable remote address", cfg: proxies, remote: "pipe", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClientIP(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/pick", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got, err := c.FromRequest(r)
			if tt.wantErr {
				if !errors.Is(err, ErrNoClientIP) {
					t.Fatalf("err = %v, want ErrNoClientIP", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != netip.MustParseAddr(tt.want) {
				t.Fatalf("FromRequest = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClientIPCustomHeaderIsRead(t *testing.T) {
	t.Parallel()
	c, err := NewClientIP(ClientIPConfig{TrustedProxies: []string{"10.0.0.0/8"}, Header: "x-real-ip"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Real-Ip", "203.0.113.8")
	r.Header.Set("X-Forwarded-For", "6.6.6.6")
	if got, _ := c.FromRequest(r); got != netip.MustParseAddr("203.0.113.8") {
		t.Fatalf("got %s", got)
	}
}

func TestNewClientIPErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewClientIP(ClientIPConfig{TrustedProxies: []string{"10.0.0.0/99"}}); err == nil {
		t.Error("bad prefix accepted")
	}
	if _, err := NewClientIP(ClientIPConfig{TrustedHops: -1}); err == nil {
		t.Error("negative hops accepted")
	}
}

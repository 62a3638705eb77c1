package steering

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP finds the address of the client behind the reverse proxies we
// run or pay for. X-Forwarded-For is written by whoever sends the request,
// so only the entries appended by trusted proxies mean anything: the header
// is walked from the right, starting with the peer that connected to us,
// skipping every hop that is trusted; the first untrusted hop is the client.
// A hop is trusted when it is one of the first TrustedHops hops (for proxies
// without fixed addresses, like CloudFront in front of an ALB) or when its
// address is in a trusted proxy network.
type ClientIP struct {
	proxies     []netip.Prefix
	trustedHops int
	header      string
}

// ClientIPConfig configures ClientIP. The zero value trusts nobody and
// answers the TCP peer.
type ClientIPConfig struct {
	// TrustedProxies are networks of proxies that append to the header.
	TrustedProxies []string `env:"TRUSTED_PROXIES"`
	// TrustedHops is how many proxies always sit in front of the service.
	TrustedHops int `env:"TRUSTED_HOPS"`
	// Header defaults to X-Forwarded-For.
	Header string `env:"CLIENT_IP_HEADER, default=X-Forwarded-For"`
}

// NewClientIP validates cfg.
func NewClientIP(cfg ClientIPConfig) (*ClientIP, error) {
	header, err := headerName("client IP header", cfg.Header)
	if err != nil {
		return nil, fmt.Errorf("steering.NewClientIP: %w", err)
	}
	c := &ClientIP{trustedHops: cfg.TrustedHops, header: cmp.Or(header, "X-Forwarded-For")}
	if cfg.TrustedHops < 0 {
		return nil, fmt.Errorf("steering.NewClientIP: trusted hops %d < 0", cfg.TrustedHops)
	}
	for _, s := range cfg.TrustedProxies {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("steering.NewClientIP: trusted proxy %q: %w", s, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		// Hops are compared unmapped (parseHop), so an IPv4-mapped
		// network, as a dual-stack listener prints its peers, is the IPv4
		// network it maps.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		c.proxies = append(c.proxies, p.Masked())
	}
	return c, nil
}

// headerName reads a setting naming a request header (what says the
// setting in errors), canonical: spaces around it, as environment values
// carry, are dropped, and a name that is not an RFC 9110 token is refused,
// since no request carries it and the setting would never match. Blank is
// "", for the caller's default.
func headerName(what, s string) (string, error) {
	s = strings.TrimSpace(s)
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return "", fmt.Errorf("%s %q is not a header name: %q is not a token character (RFC 9110)", what, s, rune(c))
		}
	}
	return http.CanonicalHeaderKey(s), nil
}

// ErrNoClientIP is returned when the request's peer address is unusable.
var ErrNoClientIP = errors.New("steering: request has no usable peer address")

// FromRequest returns the client's address.
func (c *ClientIP) FromRequest(r *http.Request) (netip.Addr, error) {
	peer, ok := parseHop(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, fmt.Errorf("steering.ClientIP: remote address %q: %w", r.RemoteAddr, ErrNoClientIP)
	}
	current := peer
	if !c.trusted(current, 0) {
		return current, nil
	}
	hop := 1
	values := r.Header.Values(c.header)
	// Several header lines are one comma-separated list in order (RFC 9110
	// section 5.3), so walking lines from the last and entries from the
	// right of each line walks the whole list from the right.
	for i := len(values) - 1; i >= 0; i-- {
		line := values[i]
		for line != "" {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				entry, line = line, ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			a, ok := parseHop(entry)
			if !ok {
				// A trusted proxy would not have written this, so the
				// entry and everything left of it came from the client:
				// the last trusted hop is the best address we have.
				return current, nil
			}
			current = a
			if !c.trusted(current, hop) {
				return current, nil
			}
			hop++
		}
	}
	// Every hop was trusted: the leftmost is as far as the chain goes.
	return current, nil
}

// PeerTrusted reports whether the request's TCP peer is a trusted proxy,
// so that headers it sets (a country, the forwarded chain) may be believed.
func (c *ClientIP) PeerTrusted(r *http.Request) bool {
	peer, ok := parseHop(r.RemoteAddr)
	return ok && c.trusted(peer, 0)
}

func (c *ClientIP) trusted(a netip.Addr, hop int) bool {
	if hop < c.trustedHops {
		return true
	}
	for _, p := range c.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads "192.0.2.1", "192.0.2.1:443", "2001:db8::1",
// "[2001:db8::1]:443" and "[2001:db8::1]" (forms proxies put in
// X-Forwarded-For and servers put in RemoteAddr).
func parseHop(s string) (netip.Addr, bool) {
	var a netip.Addr
	var err error
	switch {
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		a, err = netip.ParseAddr(s[1 : len(s)-1])
	case strings.HasPrefix(s, "["), strings.Count(s, ":") == 1:
		var ap netip.AddrPort
		ap, err = netip.ParseAddrPort(s)
		a = ap.Addr()
	default:
		a, err = netip.ParseAddr(s)
	}
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

package steering

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/playplane/playplane/shared/playback"
)

// ViewerConfig says how to tell where a viewer is: which proxies may be
// believed about the client's address and country, and the GeoIP databases.
// Functions embed it with one prefix (PICKEDGE_) so that pick edge and
// authorize play read the same settings and see the same viewer. The
// header names are read alike (headerName): trimmed, and a name that is
// not a header name stops NewViewer.
type ViewerConfig struct {
	// TrustedProxies, TrustedHops and ClientIPHeader configure ClientIP.
	TrustedProxies []string `env:"TRUSTED_PROXIES"`
	TrustedHops    int      `env:"TRUSTED_HOPS"`
	ClientIPHeader string   `env:"CLIENT_IP_HEADER, default=X-Forwarded-For"`
	// CountryHeader names a header the front door sets to the viewer's
	// ISO 3166-1 alpha-2 country: CloudFront-Viewer-Country on CloudFront,
	// or the custom request header a Google load balancer fills with
	// {client_region}. It is believed only on requests whose TCP peer is a
	// trusted proxy, and it wins over GeoIP.
	CountryHeader string `env:"VIEWER_COUNTRY_HEADER"`
	// ASNHeader names a header the front door sets to the viewer's
	// autonomous system number: CloudFront-Viewer-ASN on CloudFront.
	// Believed, like CountryHeader, only from a trusted proxy; it wins
	// over the GeoIP ASN database.
	ASNHeader string `env:"VIEWER_ASN_HEADER"`
	// GeoIP databases (MaxMind DB files shipped with the function).
	GeoIPCityDB      string `env:"GEOIP_CITY_DB"`
	GeoIPASNDB       string `env:"GEOIP_ASN_DB"`
	GeoIPAnonymousDB string `env:"GEOIP_ANONYMOUS_DB"`
}

// ClientIPConfig is the part of cfg ClientIP reads.
func (cfg ViewerConfig) ClientIPConfig() ClientIPConfig {
	return ClientIPConfig{TrustedProxies: cfg.TrustedProxies, TrustedHops: cfg.TrustedHops, Header: cfg.ClientIPHeader}
}

// HasLocationSource reports whether cfg can tell a viewer's country at all.
func (cfg ViewerConfig) HasLocationSource() bool {
	return strings.TrimSpace(cfg.CountryHeader) != "" || cfg.GeoIPCityDB != ""
}

// OpenGeoIP opens the configured databases, or returns nil when none is.
func (cfg ViewerConfig) OpenGeoIP() (*GeoIP, error) {
	switch {
	case cfg.GeoIPCityDB == "" && (cfg.GeoIPASNDB != "" || cfg.GeoIPAnonymousDB != ""):
		return nil, errors.New("steering.ViewerConfig.OpenGeoIP: ASN and anonymous-IP databases need a City database (GEOIP_CITY_DB)")
	case cfg.GeoIPCityDB == "":
		return nil, nil
	}
	geo, err := OpenGeoIP(cfg.GeoIPCityDB, cfg.GeoIPASNDB)
	if err != nil {
		return nil, err
	}
	if cfg.GeoIPAnonymousDB != "" {
		if err := geo.WithAnonymousIP(cfg.GeoIPAnonymousDB); err != nil {
			_ = geo.Close()
			return nil, err
		}
	}
	return geo, nil
}

// Viewer locates the client of an HTTP request: its address through the
// trusted proxy chain, then the Locator, with the front door's country
// header, when trusted, over GeoIP's country.
type Viewer struct {
	ip            *ClientIP
	locator       *Locator
	countryHeader string
	asnHeader     string
}

// NewViewer builds a Viewer; locator must not be nil.
func NewViewer(cfg ViewerConfig, locator *Locator) (*Viewer, error) {
	ip, err := NewClientIP(cfg.ClientIPConfig())
	if err != nil {
		return nil, fmt.Errorf("steering.NewViewer: %w", err)
	}
	if locator == nil {
		return nil, errors.New("steering.NewViewer: a Locator is required")
	}
	country, err := headerName("country header", cfg.CountryHeader)
	if err != nil {
		return nil, fmt.Errorf("steering.NewViewer: %w", err)
	}
	asn, err := headerName("ASN header", cfg.ASNHeader)
	if err != nil {
		return nil, fmt.Errorf("steering.NewViewer: %w", err)
	}
	return &Viewer{ip: ip, locator: locator, countryHeader: country, asnHeader: asn}, nil
}

// Locate never fails: an unusable peer address or an undecodable GeoIP
// record leave the default location, and the error is returned for logging.
// CountryFromHeader tells whether Country came from the front door.
func (v *Viewer) Locate(r *http.Request) (loc Location, addr netip.Addr, err error) {
	addr, ipErr := v.ip.FromRequest(r)
	loc, err = v.locator.Locate(addr)
	if (v.countryHeader != "" || v.asnHeader != "") && v.ip.PeerTrusted(r) {
		if c, ok := countryCode(r.Header.Get(v.countryHeader)); ok && v.countryHeader != "" {
			loc.Country, loc.CountryFromHeader = c, true
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(r.Header.Get(v.asnHeader)), 10, 32); err == nil && n > 0 && v.asnHeader != "" {
			loc.ASN = uint32(n)
		}
	}
	return loc, addr, errors.Join(ipErr, err)
}

// countryCode accepts an ISO 3166-1 alpha-2 code in either case, alone
// or first in a comma-separated list (a Google load balancer's
// X-Client-Geo-Location: {client_region},{client_city}). Codes the
// sources send for no country do not count, as if no header came:
// MaxMind's legacy A1, A2, O1 and Cloudflare's T1 (not two letters), and
// playback.NotCountries.
func countryCode(s string) (string, bool) {
	s, _, _ = strings.Cut(s, ",")
	s = strings.ToUpper(strings.TrimSpace(s))
	if !playback.IsCountryCode(s) {
		return "", false
	}
	return s, true
}

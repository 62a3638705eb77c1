package steering

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/playplane/playplane/shared/steering/geoiptest"
)

func TestViewer(t *testing.T) {
	t.Parallel()
	geo, err := NewGeoIP(cityDB(t, geoCities...), asnDB(t, geoASNs...))
	if err != nil {
		t.Fatal(err)
	}
	anon := geoiptest.Build(t, "GeoIP2-Anonymous-IP", map[string]mmdbtype.Map{
		"203.0.113.128/25": {"is_anonymous": mmdbtype.Bool(true), "is_anonymous_vpn": mmdbtype.Bool(true)},
	})
	if err := geo.WithAnonymousIPBytes(anon); err != nil {
		t.Fatal(err)
	}
	locator, err := NewLocator(nil, geo, Location{Lat: 50, Lon: 10})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ViewerConfig{TrustedProxies: []string{"10.0.0.0/8"}, CountryHeader: "cloudfront-viewer-country", ASNHeader: "CloudFront-Viewer-ASN"}
	v, err := NewViewer(cfg, locator)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer, xff, country, asn string
		wantCountry                   string
		wantASN                       uint32
		wantHeader, wantAnon          bool
	}{
		{name: "geoip country of the forwarded client", peer: "10.0.0.1:443", xff: "198.51.100.7", wantCountry: "DE", wantASN: 3320},
		{name: "front door ASN wins over geoip", peer: "10.0.0.1:443", xff: "198.51.100.7", asn: "16509", wantCountry: "DE", wantASN: 16509},
		{name: "ASN header from an untrusted peer is ignored", peer: "198.51.100.7:5000", asn: "16509", wantCountry: "DE", wantASN: 3320},
		{name: "malformed ASN header is ignored", peer: "10.0.0.1:443", xff: "198.51.100.7", asn: "AS16509", wantCountry: "DE", wantASN: 3320},
		{name: "country first in a geo list", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "us,mountain view", wantCountry: "US", wantHeader: true, wantASN: 3320},
		{name: "front door header wins over geoip", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "fr", wantCountry: "FR", wantHeader: true, wantASN: 3320},
		{name: "header from an untrusted peer is ignored", peer: "198.51.100.7:5000", country: "US", wantCountry: "DE"},
		{name: "forged forwarded-for from an untrusted peer is ignored", peer: "203.0.113.5:5000", xff: "198.51.100.7", wantCountry: "GB"},
		{name: "placeholder country is unknown", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "XX", wantCountry: "DE", wantASN: 3320},
		// Codes front doors and GeoIP sent for no country are as if no
		// header came: MaxMind's legacy EU (Europe), AP (Asia/Pacific),
		// A1, A2, O1; Cloudflare's T1 (Tor); CLDR's groupings EU, EZ, UN,
		// QO and unknown ZZ (Google's {client_region}).
		{name: "legacy geoip europe is no country", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "EU", wantCountry: "DE", wantASN: 3320},
		{name: "legacy geoip asia/pacific is no country", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "ap", wantCountry: "DE", wantASN: 3320},
		{name: "legacy geoip europe first in a geo list is no country", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "EU,Frankfurt", wantCountry: "DE", wantASN: 3320},
		{name: "cldr eurozone is no country", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "EZ", wantCountry: "DE", wantASN: 3320},
		{name: "cldr united nations is no country", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "UN", wantCountry: "DE", wantASN: 3320},
		{name: "cldr outlying oceania is no country", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "QO", wantCountry: "DE", wantASN: 3320},
		{name: "cldr unknown region", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "ZZ", wantCountry: "DE", wantASN: 3320},
		{name: "legacy geoip anonymous proxy", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "A1", wantCountry: "DE", wantASN: 3320},
		{name: "legacy geoip satellite provider", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "A2", wantCountry: "DE", wantASN: 3320},
		{name: "legacy geoip other country", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "O1", wantCountry: "DE", wantASN: 3320},
		{name: "tor exit", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "T1", wantCountry: "DE", wantASN: 3320},
		{name: "placeholder with no geoip answer leaves no country", peer: "10.0.0.1:443", xff: "8.8.8.8", country: "EU", wantCountry: ""},
		// Kosovo's XK is user-assigned in ISO 3166-1 but a country to
		// MaxMind, CLDR and CloudFront alike.
		{name: "kosovo is a country", peer: "10.0.0.1:443", xff: "198.51.100.7", country: "XK", wantCountry: "XK", wantHeader: true, wantASN: 3320},
		{name: "anonymous vpn address", peer: "10.0.0.1:443", xff: "203.0.113.200", wantCountry: "GB", wantAnon: true},
		{name: "unknown address", peer: "10.0.0.1:443", xff: "8.8.8.8", wantCountry: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if tt.country != "" {
				r.Header.Set("CloudFront-Viewer-Country", tt.country)
			}
			if tt.asn != "" {
				r.Header.Set("CloudFront-Viewer-ASN", tt.asn)
			}
			loc, _, err := v.Locate(r)
			if err != nil {
				t.Fatal(err)
			}
			if loc.Country != tt.wantCountry || loc.CountryFromHeader != tt.wantHeader || loc.AnonymousProxy != tt.wantAnon ||
				(tt.wantASN != 0 && loc.ASN != tt.wantASN) {
				t.Fatalf("Locate = country %q header %v anonymous %v ASN %d, want %q %v %v %d",
					loc.Country, loc.CountryFromHeader, loc.AnonymousProxy, loc.ASN, tt.wantCountry, tt.wantHeader, tt.wantAnon, tt.wantASN)
			}
		})
	}
}

// TestViewerHeaderSettings: the three settings naming a header the front
// door sets (client IP, country, ASN) are read by one rule: spaces around
// the name are dropped, a name no request can carry (not an RFC 9110
// token) is refused at start, and a blank client IP header is the default.
func TestViewerHeaderSettings(t *testing.T) {
	t.Parallel()
	locator, err := NewLocator(nil, nil, Location{Lat: 50, Lon: 10})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                   string
		clientIP, country, asn string
		wantErr                string // in the error; "" accepts
		wantAddr, wantCountry  string
		wantASN                uint32
	}{
		{name: "as written", clientIP: "X-Real-IP", country: "cloudfront-viewer-country", asn: "CloudFront-Viewer-ASN",
			wantAddr: "203.0.113.8", wantCountry: "FR", wantASN: 3320},
		{name: "padded names are trimmed", clientIP: " X-Real-IP\t", country: " cloudfront-viewer-country ", asn: "\tCloudFront-Viewer-ASN ",
			wantAddr: "203.0.113.8", wantCountry: "FR", wantASN: 3320},
		{name: "blank client IP header is X-Forwarded-For", clientIP: "  ", wantAddr: "198.51.100.7"},
		{name: "client IP header with a space is refused", clientIP: "X Real IP", wantErr: `client IP header "X Real IP"`},
		{name: "country header with a space is refused", country: "CloudFront Viewer Country", wantErr: `country header "CloudFront Viewer Country"`},
		{name: "ASN header with a colon is refused", asn: "CloudFront-Viewer-ASN:", wantErr: `ASN header "CloudFront-Viewer-ASN:"`},
		{name: "client IP header with a non-ASCII letter is refused", clientIP: "X-Réal-IP", wantErr: `client IP header "X-Réal-IP"`},
	}
	// A blank country header is no location source either (authorize
	// play would take every viewer as located in no country).
	if (ViewerConfig{CountryHeader: " \t"}).HasLocationSource() {
		t.Error("a blank country header counts as a location source")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewViewer(ViewerConfig{TrustedProxies: []string{"10.0.0.0/8"}, ClientIPHeader: tt.clientIP,
				CountryHeader: tt.country, ASNHeader: tt.asn}, locator)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewViewer err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = "10.0.0.1:443"
			r.Header.Set("X-Real-Ip", "203.0.113.8")
			r.Header.Set("X-Forwarded-For", "198.51.100.7")
			r.Header.Set("CloudFront-Viewer-Country", "fr")
			r.Header.Set("CloudFront-Viewer-ASN", "3320")
			loc, addr, _ := v.Locate(r)
			if addr.String() != tt.wantAddr || loc.Country != tt.wantCountry || loc.ASN != tt.wantASN {
				t.Fatalf("Locate = %s %q AS%d, want %s %q AS%d", addr, loc.Country, loc.ASN, tt.wantAddr, tt.wantCountry, tt.wantASN)
			}
		})
	}
}

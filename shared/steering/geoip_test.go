package steering

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/playplane/playplane/shared/steering/geoiptest"
)

type cityFixture struct {
	cidr     string
	lat, lon float64
	country  string
}

type asnFixture struct {
	cidr string
	asn  uint32
}

func cityDB(t testing.TB, fixtures ...cityFixture) []byte {
	recs := map[string]mmdbtype.Map{}
	for _, f := range fixtures {
		rec := mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(f.country)}}
		if f.lat != 0 || f.lon != 0 {
			rec["location"] = mmdbtype.Map{
				"latitude": mmdbtype.Float64(f.lat), "longitude": mmdbtype.Float64(f.lon), "accuracy_radius": mmdbtype.Uint16(20),
			}
		}
		recs[f.cidr] = rec
	}
	return geoiptest.Build(t, "GeoLite2-City", recs)
}

func asnDB(t testing.TB, fixtures ...asnFixture) []byte {
	recs := map[string]mmdbtype.Map{}
	for _, f := range fixtures {
		recs[f.cidr] = mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(f.asn),
			"autonomous_system_organization": mmdbtype.String("Example ISP"),
		}
	}
	return geoiptest.Build(t, "GeoLite2-ASN", recs)
}

// Fixtures shared by the GeoIP and Locator tests: a German ISP with IPv4 and
// IPv6 ranges, a UK range, a range with a country but no location.
var (
	geoCities = []cityFixture{
		{cidr: "198.51.100.0/24", lat: 52.52, lon: 13.40, country: "DE"},
		{cidr: "203.0.113.0/24", lat: 51.51, lon: -0.13, country: "GB"},
		{cidr: "2001:db8:de::/48", lat: 48.14, lon: 11.58, country: "DE"},
		{cidr: "192.0.2.0/24", country: "FR"},
		{cidr: "12.34.0.0/24", lat: 40.71, lon: -74.0, country: "US"}, // the coverage zone file says fra
		// A third-party database in GeoIP Legacy's codes: known only as
		// somewhere in Europe.
		{cidr: "100.64.0.0/24", lat: 47.0, lon: 8.0, country: "EU"},
	}
	geoASNs = []asnFixture{
		{cidr: "198.51.100.0/24", asn: 3320},
		{cidr: "2001:db8:de::/48", asn: 3320},
	}
)

func TestGeoIPLookup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cityPath, asnPath := filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	if err := os.WriteFile(cityPath, cityDB(t, geoCities...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(asnPath, asnDB(t, geoASNs...), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFiles, err := OpenGeoIP(cityPath, asnPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fromFiles.Close() })
	cityOnly, err := NewGeoIP(cityDB(t, geoCities...), nil)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		geo      *GeoIP
		addr     string
		want     GeoRecord
		wantCity bool
	}{
		{name: "ipv4 with location and asn", geo: fromFiles, addr: "198.51.100.7",
			want: GeoRecord{Lat: 52.52, Lon: 13.40, HasLocation: true, Country: "DE", ASN: 3320}, wantCity: true},
		{name: "ipv6 with location and asn", geo: fromFiles, addr: "2001:db8:de::42",
			want: GeoRecord{Lat: 48.14, Lon: 11.58, HasLocation: true, Country: "DE", ASN: 3320}, wantCity: true},
		{name: "ipv4-mapped ipv6", geo: fromFiles, addr: "::ffff:203.0.113.9",
			want: GeoRecord{Lat: 51.51, Lon: -0.13, HasLocation: true, Country: "GB"}, wantCity: true},
		{name: "country without location", geo: fromFiles, addr: "192.0.2.1",
			want: GeoRecord{Country: "FR"}, wantCity: true},
		{name: "unknown address", geo: fromFiles, addr: "8.8.8.8", want: GeoRecord{}},
		{name: "no asn database", geo: cityOnly, addr: "198.51.100.7",
			want: GeoRecord{Lat: 52.52, Lon: 13.40, HasLocation: true, Country: "DE"}, wantCity: true},
		{name: "nil geoip", geo: nil, addr: "198.51.100.7", want: GeoRecord{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.geo.Lookup(netip.MustParseAddr(tt.addr))
			if err != nil {
				t.Fatal(err)
			}
			if got.HasCityRecord != tt.wantCity {
				t.Errorf("HasCityRecord = %v, want %v", got.HasCityRecord, tt.wantCity)
			}
			got.HasCityRecord, got.HasASNRecord, got.MatchedNetwork, got.AccuracyKm = false, false, netip.Prefix{}, 0
			if got != tt.want {
				t.Fatalf("Lookup(%s) = %+v, want %+v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestOpenGeoIPErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("not a maxmind db"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenGeoIP(filepath.Join(dir, "missing.mmdb"), ""); err == nil {
		t.Error("missing city database opened")
	}
	if _, err := OpenGeoIP(garbage, ""); err == nil {
		t.Error("garbage city database opened")
	}
	good := filepath.Join(dir, "city.mmdb")
	if err := os.WriteFile(good, cityDB(t, geoCities...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenGeoIP(good, garbage); err == nil {
		t.Error("garbage asn database opened")
	}
	if _, err := NewGeoIP([]byte("junk"), nil); err == nil {
		t.Error("junk bytes opened")
	}
}

func TestLocate(t *testing.T) {
	t.Parallel()
	geo, err := NewGeoIP(cityDB(t, geoCities...), asnDB(t, geoASNs...))
	if err != nil {
		t.Fatal(err)
	}
	cz, err := ParseCoverageZones([]byte(`{"coverageZones": {
		"fra": {"network": ["12.34.0.0/24"], "network6": ["2001:db8:f::/48"], "coordinates": {"latitude": 50.11, "longitude": 8.68}},
		"ber-isp": {"network": ["198.51.100.128/25"]}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	def := Location{Lat: 50.0, Lon: 10.0}
	loc, err := NewLocator(cz, geo, def)
	if err != nil {
		t.Fatal(err)
	}
	noData, err := NewLocator(nil, nil, def)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		locator *Locator
		addr    string
		want    Location
	}{
		{name: "coverage zone beats geoip", locator: loc, addr: "12.34.0.5",
			want: Location{Lat: 50.11, Lon: 8.68, Source: SourceCoverageZone, Zone: "fra", Country: "US"}},
		{name: "geoip beats default", locator: loc, addr: "203.0.113.5",
			want: Location{Lat: 51.51, Lon: -0.13, Source: SourceGeoIP, Country: "GB"}},
		{name: "ipv6 geoip with asn", locator: loc, addr: "2001:db8:de::1",
			want: Location{Lat: 48.14, Lon: 11.58, Source: SourceGeoIP, Country: "DE", ASN: 3320}},
		{name: "ipv6 coverage zone", locator: loc, addr: "2001:db8:f::1",
			want: Location{Lat: 50.11, Lon: 8.68, Source: SourceCoverageZone, Zone: "fra"}},
		{name: "zone without coordinates keeps geoip coordinates and asn", locator: loc, addr: "198.51.100.200",
			want: Location{Lat: 52.52, Lon: 13.40, Source: SourceGeoIP, Zone: "ber-isp", Country: "DE", ASN: 3320}},
		{name: "geoip without location falls back to default", locator: loc, addr: "192.0.2.9",
			want: Location{Lat: 50.0, Lon: 10.0, Source: SourceDefault, Country: "FR"}},
		{name: "a country that names none is none", locator: loc, addr: "100.64.0.9",
			want: Location{Lat: 47.0, Lon: 8.0, Source: SourceGeoIP}},
		{name: "unknown address gets default", locator: loc, addr: "8.8.4.4",
			want: Location{Lat: 50.0, Lon: 10.0, Source: SourceDefault}},
		{name: "no databases at all", locator: noData, addr: "198.51.100.7",
			want: Location{Lat: 50.0, Lon: 10.0, Source: SourceDefault}},
		{name: "ipv4-mapped address reaches ipv4 zone", locator: loc, addr: "::ffff:12.34.0.5",
			want: Location{Lat: 50.11, Lon: 8.68, Source: SourceCoverageZone, Zone: "fra", Country: "US"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.locator.Locate(netip.MustParseAddr(tt.addr))
			if err != nil {
				t.Fatal(err)
			}
			if got.GeoSource == "" || !validCoordinates(got.GeoLat, got.GeoLon) {
				t.Errorf("Locate(%s) has no GeoIP/default location: %+v", tt.addr, got)
			}
			if got.Source != SourceCoverageZone && (got.GeoLat != got.Lat || got.GeoLon != got.Lon || got.GeoSource != got.Source) {
				t.Errorf("Locate(%s): geo location %v,%v (%s) differs from %v,%v (%s) without a zone", tt.addr, got.GeoLat, got.GeoLon, got.GeoSource, got.Lat, got.Lon, got.Source)
			}
			if got.IPv6 != netip.MustParseAddr(tt.addr).Unmap().Is6() {
				t.Errorf("Locate(%s).IPv6 = %v", tt.addr, got.IPv6)
			}
			got.GeoLat, got.GeoLon, got.GeoSource, got.IPv6 = 0, 0, "", false
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Locate(%s) = %+v, want %+v", tt.addr, got, tt.want)
			}
		})
	}
	if _, err := NewLocator(nil, nil, Location{Lat: 120}); err == nil {
		t.Error("NewLocator accepted an invalid default")
	}
}

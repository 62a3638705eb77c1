package steering

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// GeoIP locates addresses with MaxMind DB files: a City-style database
// (GeoIP2/GeoLite2 City, DB-IP City Lite, or any database with the same
// location/country keys) and optionally an ASN-style one (GeoLite2 ASN).
// The files ship with the function; they are trusted and never fetched.
type GeoIP struct {
	city *maxminddb.Reader
	asn  *maxminddb.Reader
	anon *maxminddb.Reader
}

// GeoRecord is what GeoIP knows about an address.
type GeoRecord struct {
	Lat, Lon       float64
	HasLocation    bool
	AccuracyKm     uint16
	Country        string // ISO 3166-1 alpha-2
	ASN            uint32
	HasCityRecord  bool
	HasASNRecord   bool
	MatchedNetwork netip.Prefix
	// Anonymous is set when the anonymous-IP database (GeoIP2 Anonymous IP
	// or one with its keys) lists the address as a VPN, hosting provider,
	// public or residential proxy, or Tor exit node.
	Anonymous bool
}

// anonRecord is a GeoIP2 Anonymous IP record.
type anonRecord struct {
	Anonymous        bool `maxminddb:"is_anonymous"`
	VPN              bool `maxminddb:"is_anonymous_vpn"`
	Hosting          bool `maxminddb:"is_hosting_provider"`
	PublicProxy      bool `maxminddb:"is_public_proxy"`
	ResidentialProxy bool `maxminddb:"is_residential_proxy"`
	Tor              bool `maxminddb:"is_tor_exit_node"`
}

// City-style record; traits.autonomous_system_number is where the
// Enterprise and ISP databases carry the ASN.
type cityRecord struct {
	Location struct {
		Latitude       float64 `maxminddb:"latitude"`
		Longitude      float64 `maxminddb:"longitude"`
		AccuracyRadius uint16  `maxminddb:"accuracy_radius"`
	} `maxminddb:"location"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Traits struct {
		ASN uint32 `maxminddb:"autonomous_system_number"`
	} `maxminddb:"traits"`
}

type asnRecord struct {
	ASN uint32 `maxminddb:"autonomous_system_number"`
}

// OpenGeoIP memory-maps the City database at cityPath and, when asnPath is
// not empty, the ASN database.
func OpenGeoIP(cityPath, asnPath string) (*GeoIP, error) {
	city, err := maxminddb.Open(cityPath)
	if err != nil {
		return nil, fmt.Errorf("steering.OpenGeoIP: city database: %w", err)
	}
	g := &GeoIP{city: city}
	if asnPath != "" {
		if g.asn, err = maxminddb.Open(asnPath); err != nil {
			_ = city.Close()
			return nil, fmt.Errorf("steering.OpenGeoIP: asn database: %w", err)
		}
	}
	return g, nil
}

// NewGeoIP reads databases already in memory (asnDB may be nil). The slices
// must not change while the GeoIP is in use.
func NewGeoIP(cityDB, asnDB []byte) (*GeoIP, error) {
	city, err := maxminddb.OpenBytes(cityDB)
	if err != nil {
		return nil, fmt.Errorf("steering.NewGeoIP: city database: %w", err)
	}
	g := &GeoIP{city: city}
	if asnDB != nil {
		if g.asn, err = maxminddb.OpenBytes(asnDB); err != nil {
			return nil, fmt.Errorf("steering.NewGeoIP: asn database: %w", err)
		}
	}
	return g, nil
}

// Lookup returns what the databases hold for addr. A record without a
// location (latitude and longitude both zero, which MaxMind never uses for a
// real place) leaves HasLocation false.
func (g *GeoIP) Lookup(addr netip.Addr) (GeoRecord, error) {
	var rec GeoRecord
	if g == nil || !addr.IsValid() {
		return rec, nil
	}
	res := g.city.Lookup(addr)
	if res.Found() {
		var c cityRecord
		if err := res.Decode(&c); err != nil {
			return rec, fmt.Errorf("steering.GeoIP.Lookup: city record for %s: %w", addr, err)
		}
		rec.HasCityRecord = true
		rec.MatchedNetwork = res.Prefix()
		rec.Country = c.Country.ISOCode
		rec.ASN = c.Traits.ASN
		rec.AccuracyKm = c.Location.AccuracyRadius
		if (c.Location.Latitude != 0 || c.Location.Longitude != 0) && validCoordinates(c.Location.Latitude, c.Location.Longitude) {
			rec.Lat, rec.Lon, rec.HasLocation = c.Location.Latitude, c.Location.Longitude, true
		}
	} else if err := res.Err(); err != nil {
		return rec, fmt.Errorf("steering.GeoIP.Lookup: city database: %w", err)
	}
	if g.asn != nil {
		res := g.asn.Lookup(addr)
		if res.Found() {
			var a asnRecord
			if err := res.Decode(&a); err != nil {
				return rec, fmt.Errorf("steering.GeoIP.Lookup: asn record for %s: %w", addr, err)
			}
			rec.HasASNRecord = true
			if a.ASN != 0 {
				rec.ASN = a.ASN
			}
		} else if err := res.Err(); err != nil {
			return rec, fmt.Errorf("steering.GeoIP.Lookup: asn database: %w", err)
		}
	}
	if g.anon != nil {
		res := g.anon.Lookup(addr)
		if res.Found() {
			var a anonRecord
			if err := res.Decode(&a); err != nil {
				return rec, fmt.Errorf("steering.GeoIP.Lookup: anonymous-ip record for %s: %w", addr, err)
			}
			rec.Anonymous = a.Anonymous || a.VPN || a.Hosting || a.PublicProxy || a.ResidentialProxy || a.Tor
		} else if err := res.Err(); err != nil {
			return rec, fmt.Errorf("steering.GeoIP.Lookup: anonymous-ip database: %w", err)
		}
	}
	return rec, nil
}

// WithAnonymousIP adds an anonymous-IP database at path to g.
func (g *GeoIP) WithAnonymousIP(path string) error {
	r, err := maxminddb.Open(path)
	if err != nil {
		return fmt.Errorf("steering.GeoIP.WithAnonymousIP: %w", err)
	}
	g.anon = r
	return nil
}

// WithAnonymousIPBytes adds an anonymous-IP database already in memory.
func (g *GeoIP) WithAnonymousIPBytes(db []byte) error {
	r, err := maxminddb.OpenBytes(db)
	if err != nil {
		return fmt.Errorf("steering.GeoIP.WithAnonymousIPBytes: %w", err)
	}
	g.anon = r
	return nil
}

// HasAnonymousIP reports whether an anonymous-IP database is loaded.
func (g *GeoIP) HasAnonymousIP() bool { return g != nil && g.anon != nil }

// Close unmaps the databases.
func (g *GeoIP) Close() error {
	if g == nil {
		return nil
	}
	err := g.city.Close()
	if g.asn != nil {
		err = errors.Join(err, g.asn.Close())
	}
	if g.anon != nil {
		err = errors.Join(err, g.anon.Close())
	}
	return err
}

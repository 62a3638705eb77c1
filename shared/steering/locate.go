package steering

import (
	"fmt"
	"net/netip"
)

// Source says where a Location's coordinates came from.
type Source string

const (
	SourceCoverageZone Source = "coverage_zone"
	SourceGeoIP        Source = "geoip"
	SourceDefault      Source = "default"
)

// Location is where ranking believes a client is.
type Location struct {
	Lat, Lon float64
	Source   Source
	// Zone is the client's coverage zone, if any: the PoP (Traffic Router
	// cache group) operators assigned to the client's network.
	Zone    string
	Country string
	ASN     uint32 // 0 when unknown
}

// Locator turns a client address into a Location. The coverage zone file
// wins over GeoIP because operators write it for the networks GeoIP gets
// wrong (their own ISPs' ranges, mobile carriers' NATs); GeoIP wins over the
// configured default.
type Locator struct {
	zones *CoverageZones
	geo   *GeoIP
	def   Location
}

// NewLocator builds a Locator. zones and geo may be nil; def must have valid
// coordinates.
func NewLocator(zones *CoverageZones, geo *GeoIP, def Location) (*Locator, error) {
	if !validCoordinates(def.Lat, def.Lon) {
		return nil, fmt.Errorf("steering.NewLocator: default location %v,%v out of range", def.Lat, def.Lon)
	}
	def.Source = SourceDefault
	return &Locator{zones: zones, geo: geo, def: def}, nil
}

// Locate never fails: when the databases know nothing, or a GeoIP record
// cannot be decoded, the client gets the default location. The GeoIP error,
// if any, is returned for logging.
func (l *Locator) Locate(addr netip.Addr) (Location, error) {
	loc := l.def
	addr = addr.Unmap().WithZone("")
	rec, err := l.geo.Lookup(addr)
	if err == nil {
		if rec.ASN != 0 {
			loc.ASN = rec.ASN
		}
		if rec.Country != "" {
			loc.Country = rec.Country
		}
		if rec.HasLocation {
			loc.Lat, loc.Lon, loc.Source = rec.Lat, rec.Lon, SourceGeoIP
		}
	}
	if z, ok := l.zones.Lookup(addr); ok {
		loc.Zone = z.Name
		if z.HasCoordinates {
			loc.Lat, loc.Lon, loc.Source = z.Lat, z.Lon, SourceCoverageZone
		}
	}
	return loc, err
}

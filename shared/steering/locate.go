package steering

import (
	"fmt"
	"net/netip"

	"github.com/playplane/playplane/shared/playback"
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
	// Lat and Lon are the coverage zone's coordinates when the client's
	// zone has both, else GeoIP's, else the default; Source says which.
	Lat, Lon float64
	Source   Source
	// Zone is the client's coverage zone, if any: the PoP (Traffic Router
	// cache group) operators assigned to the client's network.
	Zone string
	// DeepZone and DeepCaches are the client's deep coverage zone and the
	// edges it names.
	DeepZone   string
	DeepCaches []string
	// GeoLat and GeoLon are where GeoIP (GeoSource geoip) or the default
	// (GeoSource default) puts the client, for when its coverage zone
	// decides nothing. An empty GeoSource means Lat and Lon.
	GeoLat, GeoLon float64
	GeoSource      Source
	// Country is ISO 3166-1 alpha-2, from the front door's header when
	// CountryFromHeader, else from GeoIP; "" when unknown.
	Country           string
	CountryFromHeader bool
	ASN               uint32 // 0 when unknown
	// AnonymousProxy is set when the anonymous-IP database lists the
	// address (VPN, hosting provider, public proxy, Tor exit).
	AnonymousProxy bool
	// IPv6 says the client connected over IPv6, so only edges serving
	// IPv6 may serve it (and likewise for IPv4).
	IPv6 bool
}

// Locator turns a client address into a Location. The coverage zone file
// wins over GeoIP because operators write it for the networks GeoIP gets
// wrong (their own ISPs' ranges, mobile carriers' NATs); GeoIP wins over the
// configured default.
type Locator struct {
	zones Zones
	deep  Zones
	geo   *GeoIP
	def   Location
}

// Zones gives the coverage zones to use now; a *CoverageZones and a
// *ZoneFile (which reloads its file) both do.
type Zones interface {
	Current() *CoverageZones
}

// Current makes a fixed *CoverageZones a Zones.
func (cz *CoverageZones) Current() *CoverageZones { return cz }

// NewLocator builds a Locator. zones and geo may be nil; def must have valid
// coordinates.
func NewLocator(zones *CoverageZones, geo *GeoIP, def Location) (*Locator, error) {
	return NewLocatorWith(LocatorSources{Zones: zones, GeoIP: geo}, def)
}

// LocatorSources are the databases a Locator reads; each may be nil.
type LocatorSources struct {
	Zones     Zones
	DeepZones Zones
	GeoIP     *GeoIP
}

// NewLocatorWith builds a Locator from its sources.
func NewLocatorWith(src LocatorSources, def Location) (*Locator, error) {
	if !validCoordinates(def.Lat, def.Lon) {
		return nil, fmt.Errorf("steering.NewLocator: default location %v,%v out of range", def.Lat, def.Lon)
	}
	def.Source = SourceDefault
	l := &Locator{geo: src.GeoIP, def: def}
	// A typed nil in an interface would not read as "no zones".
	if cz, ok := src.Zones.(*CoverageZones); !ok || cz != nil {
		l.zones = src.Zones
	}
	if cz, ok := src.DeepZones.(*CoverageZones); !ok || cz != nil {
		l.deep = src.DeepZones
	}
	return l, nil
}

// Locate never fails: when the databases know nothing, or a GeoIP record
// cannot be decoded, the client gets the default location. The GeoIP error,
// if any, is returned for logging.
func (l *Locator) Locate(addr netip.Addr) (Location, error) {
	loc := l.def
	addr = addr.Unmap().WithZone("")
	loc.IPv6 = addr.Is6()
	rec, err := l.geo.Lookup(addr)
	if err == nil {
		if rec.ASN != 0 {
			loc.ASN = rec.ASN
		}
		// A database in GeoIP Legacy's codes answers EU or AP for a place
		// it knows only by continent: no country, as in a header.
		if playback.IsCountryCode(rec.Country) {
			loc.Country = rec.Country
		}
		loc.AnonymousProxy = rec.Anonymous
		if rec.HasLocation {
			loc.Lat, loc.Lon, loc.Source = rec.Lat, rec.Lon, SourceGeoIP
		}
	}
	loc.GeoLat, loc.GeoLon, loc.GeoSource = loc.Lat, loc.Lon, loc.Source
	if l.zones != nil {
		if z, ok := l.zones.Current().Lookup(addr); ok {
			loc.Zone = z.Name
			// Coordinates outside the globe cannot be ranked from; they
			// count as none, so GeoIP places the client.
			if z.HasCoordinates && validCoordinates(z.Lat, z.Lon) {
				loc.Lat, loc.Lon, loc.Source = z.Lat, z.Lon, SourceCoverageZone
			}
		}
	}
	if l.deep != nil {
		if z, ok := l.deep.Current().Lookup(addr); ok && len(z.Caches) > 0 {
			loc.DeepZone, loc.DeepCaches = z.Name, z.Caches
		}
	}
	return loc, err
}

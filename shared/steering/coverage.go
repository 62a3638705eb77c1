package steering

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
)

// CoverageZones maps client networks to named zones, read from a coverage
// zone file in the format of Apache Traffic Control's Traffic Router:
//
//	{"revision": "...", "customerName": "...",
//	 "coverageZones": {"fra": {"network": ["192.0.2.0/24"],
//	                           "network6": ["2001:db8::/32"],
//	                           "coordinates": {"latitude": 50.1, "longitude": 8.7}}}}
//
// As in Traffic Router, a zone's name is the cache group (here: the PoP) that
// should serve its networks, and its coordinates locate its clients when that
// cache group cannot. Coordinates may be JSON numbers or strings, as Traffic
// Router's own test files have them.
//
// Lookups find the most specific matching prefix in a table of disjoint
// address ranges built once at load: one binary search, no allocation.
type CoverageZones struct {
	Revision string
	zones    []Zone
	starts   []u128  // starts[i] begins a range that runs up to starts[i+1]-1
	owners   []int32 // zone index of each range, -1 for none
}

// Zone is one coverage zone.
type Zone struct {
	Name           string
	Lat, Lon       float64
	HasCoordinates bool
}

type coverageFile struct {
	Revision      string                  `json:"revision"`
	CoverageZones map[string]coverageZone `json:"coverageZones"`
}

type coverageZone struct {
	Network     []string `json:"network"`
	Network6    []string `json:"network6"`
	Coordinates *struct {
		Latitude  coordinate `json:"latitude"`
		Longitude coordinate `json:"longitude"`
	} `json:"coordinates"`
}

// coordinate accepts 48.1 and "48.1" alike.
type coordinate float64

func (c *coordinate) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("coordinate %s: %w", b, err)
	}
	*c = coordinate(f)
	return nil
}

// LoadCoverageZones reads a coverage zone file.
func LoadCoverageZones(path string) (*CoverageZones, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("steering.LoadCoverageZones: %w", err)
	}
	cz, err := ParseCoverageZones(b)
	if err != nil {
		return nil, fmt.Errorf("steering.LoadCoverageZones %s: %w", path, err)
	}
	return cz, nil
}

// ParseCoverageZones parses a coverage zone file. When the same prefix is
// listed in two zones the zone whose name sorts first owns it, so a file
// always loads to the same table.
func ParseCoverageZones(data []byte) (*CoverageZones, error) {
	var f coverageFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("steering.ParseCoverageZones: %w", err)
	}
	if f.CoverageZones == nil {
		return nil, fmt.Errorf("steering.ParseCoverageZones: no coverageZones object")
	}
	names := make([]string, 0, len(f.CoverageZones))
	for name := range f.CoverageZones {
		names = append(names, name)
	}
	slices.Sort(names)

	cz := &CoverageZones{Revision: f.Revision, zones: make([]Zone, len(names))}
	var spans []span
	for i, name := range names {
		z := f.CoverageZones[name]
		cz.zones[i] = Zone{Name: name}
		if c := z.Coordinates; c != nil {
			lat, lon := float64(c.Latitude), float64(c.Longitude)
			if !validCoordinates(lat, lon) {
				return nil, fmt.Errorf("steering.ParseCoverageZones: zone %q: coordinates %v,%v out of range", name, lat, lon)
			}
			cz.zones[i].Lat, cz.zones[i].Lon, cz.zones[i].HasCoordinates = lat, lon, true
		}
		for _, family := range []struct {
			key   string
			cidrs []string
			v4    bool
		}{{"network", z.Network, true}, {"network6", z.Network6, false}} {
			for _, cidr := range family.cidrs {
				p, err := netip.ParsePrefix(cidr)
				if err != nil {
					return nil, fmt.Errorf("steering.ParseCoverageZones: zone %q: %w", name, err)
				}
				if p.Addr().Is4() != family.v4 {
					return nil, fmt.Errorf("steering.ParseCoverageZones: zone %q: %s is in the wrong family for %q", name, cidr, family.key)
				}
				spans = append(spans, prefixSpan(p, int32(i)))
			}
		}
	}
	cz.starts, cz.owners = flatten(spans)
	return cz, nil
}

// Lookup returns the zone of the most specific network containing addr.
// IPv4-mapped IPv6 addresses match IPv4 networks.
func (cz *CoverageZones) Lookup(addr netip.Addr) (Zone, bool) {
	if cz == nil || !addr.IsValid() {
		return Zone{}, false
	}
	k := addrKey(addr)
	// Find the last range starting at or before k.
	lo, hi := 0, len(cz.starts)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if !k.less(cz.starts[mid]) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 || cz.owners[lo-1] < 0 {
		return Zone{}, false
	}
	return cz.zones[cz.owners[lo-1]], true
}

// Zones lists the zones sorted by name.
func (cz *CoverageZones) Zones() []Zone { return slices.Clone(cz.zones) }

// u128 is an address as a 128-bit integer; IPv4 addresses take their
// IPv4-mapped IPv6 form so both families share one table.
type u128 struct{ hi, lo uint64 }

func addrKey(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) compare(b u128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func (a u128) isMax() bool { return a.hi == ^uint64(0) && a.lo == ^uint64(0) }

func (a u128) next() u128 {
	if a.lo == ^uint64(0) {
		return u128{a.hi + 1, 0}
	}
	return u128{a.hi, a.lo + 1}
}

// hostMask has the low n bits set.
func hostMask(n int) u128 {
	switch {
	case n <= 0:
		return u128{}
	case n < 64:
		return u128{0, 1<<uint(n) - 1}
	case n == 64:
		return u128{0, ^uint64(0)}
	case n < 128:
		return u128{1<<uint(n-64) - 1, ^uint64(0)}
	default:
		return u128{^uint64(0), ^uint64(0)}
	}
}

// span is the address range of one prefix and the zone that listed it.
type span struct {
	start, end u128
	zone       int32
}

func prefixSpan(p netip.Prefix, zone int32) span {
	p = p.Masked()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	start := addrKey(p.Addr())
	m := hostMask(128 - bits)
	return span{start: start, end: u128{start.hi | m.hi, start.lo | m.lo}, zone: zone}
}

// flatten turns nested prefixes into disjoint ranges, each owned by its most
// specific prefix. Prefixes never overlap partially, so a sweep that keeps the
// enclosing prefixes on a stack sees every boundary in order.
func flatten(spans []span) (starts []u128, owners []int32) {
	slices.SortFunc(spans, func(a, b span) int {
		if c := a.start.compare(b.start); c != 0 {
			return c
		}
		if c := b.end.compare(a.end); c != 0 { // wider first: parents before children
			return c
		}
		return cmp.Compare(a.zone, b.zone)
	})
	emit := func(at u128, owner int32) {
		if n := len(starts); n > 0 && starts[n-1] == at {
			owners[n-1] = owner
			return
		}
		if n := len(owners); n > 0 && owners[n-1] == owner {
			return
		}
		starts, owners = append(starts, at), append(owners, owner)
	}
	var stack []span
	closeBefore := func(limit u128, all bool) {
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if !all && !top.end.less(limit) {
				return
			}
			stack = stack[:len(stack)-1]
			if top.end.isMax() {
				continue
			}
			owner := int32(-1)
			if len(stack) > 0 {
				owner = stack[len(stack)-1].zone
			}
			emit(top.end.next(), owner)
		}
	}
	for _, s := range spans {
		closeBefore(s.start, false)
		if n := len(stack); n > 0 && stack[n-1].start == s.start && stack[n-1].end == s.end {
			continue // the same prefix in a later zone: the first zone keeps it
		}
		emit(s.start, s.zone)
		stack = append(stack, s)
	}
	closeBefore(u128{}, true)
	return slices.Clip(starts), slices.Clip(owners)
}

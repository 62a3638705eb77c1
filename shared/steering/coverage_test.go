package steering

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// atcCoverageFile follows Traffic Router's czf.json test resource: string
// coordinates, revision and customerName keys, IPv6 prefixes that are not in
// canonical form.
const atcCoverageFile = `{
  "revision": "Wed May  4 15:04:01 2016",
  "customerName": "Acme",
  "coverageZones": {
    "fra": {
      "network6": ["2001:DEAD:BEEF:0::/48", "2001:db8::/32"],
      "network": ["12.34.0.0/24", "100.0.0.0/16", "10.0.0.0/8"],
      "coordinates": {"longitude": "8.68", "latitude": "50.11"}
    },
    "fra-isp": {
      "network": ["10.1.0.0/16", "100.0.5.0/24"],
      "network6": ["2001:db8:1::/48"],
      "coordinates": {"longitude": 13.4, "latitude": 52.52}
    },
    "fra-isp-core": {
      "network": ["10.1.2.0/24"]
    },
    "lhr": {
      "network": ["12.34.1.0/24", "0.0.0.0/0"],
      "network6": ["2001:db8:1:2::/64"],
      "coordinates": {"longitude": -0.45, "latitude": 51.47}
    }
  }
}`

func TestCoverageZonesLookup(t *testing.T) {
	t.Parallel()
	cz, err := ParseCoverageZones([]byte(atcCoverageFile))
	if err != nil {
		t.Fatal(err)
	}
	if cz.Revision != "Wed May  4 15:04:01 2016" {
		t.Errorf("Revision = %q", cz.Revision)
	}
	tests := []struct {
		name string
		addr string
		want string // "" for no zone
	}{
		{name: "ipv4 in zone", addr: "12.34.0.7", want: "fra"},
		{name: "ipv4 first address of prefix", addr: "100.0.0.0", want: "fra"},
		{name: "ipv4 last address of prefix", addr: "100.0.255.255", want: "fra"},
		{name: "more specific prefix in another zone wins", addr: "10.1.9.9", want: "fra-isp"},
		{name: "most specific of three nested prefixes", addr: "10.1.2.3", want: "fra-isp-core"},
		{name: "back to the middle prefix after the nested one ends", addr: "10.1.3.0", want: "fra-isp"},
		{name: "back to the outer prefix after the middle one ends", addr: "10.2.0.0", want: "fra"},
		{name: "hole punched in a parent", addr: "100.0.5.1", want: "fra-isp"},
		{name: "default route catches the rest", addr: "198.51.100.1", want: "lhr"},
		{name: "top of ipv4 space", addr: "255.255.255.255", want: "lhr"},
		{name: "ipv4-mapped ipv6 matches ipv4 networks", addr: "::ffff:12.34.1.9", want: "lhr"},
		{name: "ipv6 non-canonical prefix", addr: "2001:dead:beef::1", want: "fra"},
		{name: "ipv6 nested /48 in /32", addr: "2001:db8:1:5::1", want: "fra-isp"},
		{name: "ipv6 nested /64 in /48 in /32", addr: "2001:db8:1:2::abcd", want: "lhr"},
		{name: "ipv6 outer /32", addr: "2001:db8:ffff::1", want: "fra"},
		{name: "ipv6 outside every zone (ipv4 default route does not cover ipv6)", addr: "2a00::1", want: ""},
		{name: "ipv6 with zone id", addr: "2001:db8::1%eth0", want: "fra"},
		{name: "invalid address", addr: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var a netip.Addr
			if tt.addr != "" {
				a = netip.MustParseAddr(tt.addr)
			}
			z, ok := cz.Lookup(a)
			if ok != (tt.want != "") || z.Name != tt.want {
				t.Fatalf("Lookup(%s) = %q, %v; want %q", tt.addr, z.Name, ok, tt.want)
			}
		})
	}
	z, _ := cz.Lookup(netip.MustParseAddr("12.34.0.1"))
	if !z.HasCoordinates || z.Lat != 50.11 || z.Lon != 8.68 {
		t.Errorf("string coordinates: got %+v", z)
	}
	z, _ = cz.Lookup(netip.MustParseAddr("10.1.2.3"))
	if z.HasCoordinates {
		t.Errorf("zone without coordinates: got %+v", z)
	}
}

func TestParseCoverageZonesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, want string
	}{
		{name: "not json", file: `{`, want: "EOF"},
		{name: "not an object", file: `[]`, want: "not a JSON object"},
		{name: "no coverageZones", file: `{"revision": "x"}`, want: "no coverageZones"},
		{name: "bad cidr names its zone", file: `{"coverageZones": {"a": {"network": ["10.0.0.0/33"]}}}`, want: `zone "a"`},
		{name: "host name", file: `{"coverageZones": {"a": {"network": ["example.com/24"]}}}`, want: "host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseCoverageZones([]byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestCoverageZonesDuplicatePrefixGoesToTheFirstZoneInFileOrder(t *testing.T) {
	t.Parallel()
	file := `{"coverageZones": {"b": {"network": ["10.0.0.0/8"]}, "a": {"network": ["10.0.0.0/8"]}, "c": {"network": ["10.0.0.0/8"]}}}`
	for range 20 { // a map-based decoder would vary between parses
		cz, err := ParseCoverageZones([]byte(file))
		if err != nil {
			t.Fatal(err)
		}
		if z, _ := cz.Lookup(netip.MustParseAddr("10.1.1.1")); z.Name != "b" {
			t.Fatalf("duplicate prefix owned by %q, want the first zone in the file", z.Name)
		}
	}
}

func TestLoadCoverageZones(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "czf.json")
	if err := os.WriteFile(path, []byte(atcCoverageFile), 0o600); err != nil {
		t.Fatal(err)
	}
	cz, err := LoadCoverageZones(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cz.Zones()) != 4 {
		t.Fatalf("zones = %v", cz.Zones())
	}
	if _, err := LoadCoverageZones(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing file loaded")
	}
}

// TestCoverageZonesMatchesBruteForce checks the flattened range table against
// a linear longest-prefix match over random nested prefixes of both families.
func TestCoverageZonesMatchesBruteForce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	randomAddr := func(v4 bool) netip.Addr {
		if v4 {
			// A narrow space so that prefixes nest and collide often.
			return netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		}
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		b[4], b[5] = byte(rng.IntN(4)), byte(rng.IntN(256))
		for i := 6; i < 16; i++ {
			b[i] = byte(rng.IntN(256))
		}
		return netip.AddrFrom16(b)
	}
	type entry struct {
		prefix netip.Prefix
		zone   string
	}
	var entries []entry
	zones := map[string]*strings.Builder{}
	zoneNames := []string{"z0", "z1", "z2", "z3", "z4", "z5"}
	for _, name := range zoneNames {
		zones[name] = &strings.Builder{}
	}
	for range 400 {
		v4 := rng.IntN(2) == 0
		var p netip.Prefix
		if v4 {
			p = netip.PrefixFrom(randomAddr(true), 8+rng.IntN(25)).Masked()
		} else {
			p = netip.PrefixFrom(randomAddr(false), 32+rng.IntN(97)).Masked()
		}
		name := zoneNames[rng.IntN(len(zoneNames))]
		entries = append(entries, entry{p, name})
	}
	var file strings.Builder
	file.WriteString(`{"coverageZones": {`)
	for i, name := range zoneNames {
		if i > 0 {
			file.WriteString(",")
		}
		var v4s, v6s []string
		for _, e := range entries {
			if e.zone != name {
				continue
			}
			if e.prefix.Addr().Is4() {
				v4s = append(v4s, `"`+e.prefix.String()+`"`)
			} else {
				v6s = append(v6s, `"`+e.prefix.String()+`"`)
			}
		}
		file.WriteString(`"` + name + `": {"network": [` + strings.Join(v4s, ",") + `], "network6": [` + strings.Join(v6s, ",") + `]}`)
	}
	file.WriteString(`}}`)
	cz, err := ParseCoverageZones([]byte(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	bruteForce := func(a netip.Addr) (string, bool) {
		best, bestBits := "", -1
		for _, e := range entries {
			if !e.prefix.Contains(a) {
				continue
			}
			// Zones are written z0..z5, so the first zone in the file
			// is also the first by name.
			if b := e.prefix.Bits(); b > bestBits || (b == bestBits && e.zone < best) {
				best, bestBits = e.zone, b
			}
		}
		return best, bestBits >= 0
	}
	probes := make([]netip.Addr, 0, 30000)
	for range 20000 {
		probes = append(probes, randomAddr(rng.IntN(2) == 0))
	}
	for _, e := range entries { // boundaries: first and last address of every prefix, and their neighbours
		first := e.prefix.Addr()
		last := lastAddr(e.prefix)
		probes = append(probes, first, first.Prev(), last, last.Next())
	}
	for _, a := range probes {
		if !a.IsValid() {
			continue
		}
		want, wantOK := bruteForce(a)
		got, ok := cz.Lookup(a)
		if ok != wantOK || got.Name != want {
			t.Fatalf("Lookup(%s) = %q,%v; brute force says %q,%v", a, got.Name, ok, want, wantOK)
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

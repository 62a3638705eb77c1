package steering

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// Traffic Router parity corpus, part 1: coverage zone lookups.
//
// Each row names what Apache Traffic Control's Traffic Router answers for a
// client address against a file, and where that answer comes from:
//   - "TR test ..." rows restate an assertion of Traffic Router's own unit
//     tests (traffic_router/core/src/test/java/.../core/loc/), with their
//     files;
//   - "TR src ..." rows follow from Traffic Router's source read line by
//     line (traffic_router/core/src/main/java/.../core/loc/NetworkNode.java,
//     .../core/util/CidrAddress.java, read at apache/trafficcontrol
//     991a4243); the Java address parsing they depend on
//     (InetAddress.getByName, Integer.parseInt, String.split) was checked
//     on the Java 17 installed here.
//
// want is the zone Traffic Router's NetworkNode.getNetwork returns ("" when
// it returns the root, which has no location); reject means generateTree
// returns null, so Traffic Router refuses the file and keeps its last good
// one.

const (
	// TR test NetworkNodeUnitTest.itDoesIpV6 / itSupportsDeepCaches.
	trUnitFile = `{"revision": "Mon Dec 21 15:04:01 2015", "customerName": "Kabletown",
	  "coverageZones": {"us-co-denver": {
	    "network": ["192.168.55.0/24","192.168.6.0/24","192.168.0.0/16"],
	    "network6": ["1234:5678::/64","1234:5679::/64"]}}}`
	// TR test NetworkNodeUnitTest.itMatchesIpsInOverlappingSubnets.
	trMappedFile = `{"revision": "Mon Dec 21 15:04:01 2015", "customerName": "Kabletown",
	  "coverageZones": {"us-co-denver": {
	    "network": ["192.168.55.0/24","192.168.6.0/24","192.168.0.0/16"],
	    "network6": ["0:0:0:0:0:ffff:a4f:3700/24"]}}}`
	// TR test resource czmap.json (NetworkNodeTest.testIps: the first
	// network of each family, plus one, is in the zone).
	trCzmapFile = `{"coverageZones": {"CDN_in_a_Box_Edge": {
	    "network6": ["1234:5678::/64", "1234:5679::/64"],
	    "network": ["192.168.8.0/24", "192.168.9.0/24"],
	    "coordinates": {"latitude": 38.897663, "longitude": -77.036574}}}}`
	// TR test resource czf.json, three of its ten groups: every group
	// lists 2001:DEAD:BEEF:<n>::/48 and 2001:CAFE:F00D:<n>::/37, which are
	// one network each written with other host bits.
	trCzfFile = `{"revision": "Wed May  4 15:04:01 2016", "customerName": "Acme", "coverageZones": {
	  "cache-group-0": {"network6": ["2001:DEAD:BEEF:0::/48","2001:CAFE:F00D:0::/37","2601:AC1D:0::/26"],
	    "network": ["12.34.0.0/24","111.222.0.0/24","100.0.0.0/16","10.0.0.0/20"],
	    "coordinates": {"longitude": "-106.480250", "latitude": "39.117800"}},
	  "cache-group-1": {"network6": ["2001:DEAD:BEEF:1::/48","2001:CAFE:F00D:1::/37","2601:AC1D:1::/26"],
	    "network": ["12.34.1.0/24","111.222.1.0/24","100.1.0.0/16","10.1.0.0/20"],
	    "coordinates": {"longitude": "-120.0", "latitude": "48.0"}},
	  "cache-group-9": {"network6": ["2001:DEAD:BEEF:9::/48","2001:CAFE:F00D:9::/37","2601:AC1D:9::/26"],
	    "network": ["12.34.9.0/24","111.222.9.0/24","100.9.0.0/16","10.9.0.0/20"],
	    "coordinates": {"longitude": "-85.0", "latitude": "48.0"}}}}`
	// The issue's hand-made file: nested and overlapping networks of both
	// families, a group with coordinates but no caches, a duplicated
	// prefix, half-given and empty coordinates.
	issueFile = `{"revision": "issue-17", "coverageZones": {
	  "fra": {"network": ["10.0.0.0/8", "100.64.0.0/10"], "network6": ["2001:db8::/32"],
	          "coordinates": {"latitude": 50.11, "longitude": 8.68}},
	  "fra-isp": {"network": ["10.1.0.0/16"], "network6": ["2001:db8:1::/48"],
	          "coordinates": {"latitude": "52.52", "longitude": "13.40"}},
	  "lhr": {"network": ["10.1.2.0/24", "100.64.0.0/10"], "network6": ["2001:db8:1:2::/64"],
	          "coordinates": {"latitude": 51.47}},
	  "ams-empty": {"network": ["192.0.2.0/24"], "coordinates": {"latitude": 52.37, "longitude": 4.90}},
	  "nowhere": {"network": ["198.51.100.0/24"], "coordinates": {}},
	  "mapped": {"network6": ["0:0:0:0:0:ffff:a4f:3700/24"]}}}`
)

const bomFile = `{"coverageZones": {"a": {"network": ["10.0.0.0/8"]}}}`

// utf16Bytes and utf32Bytes encode s as a file in UTF-16 or UTF-32.
func utf16Bytes(s string, order binary.AppendByteOrder) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, u)
	}
	return string(b)
}

func utf32Bytes(s string, order binary.AppendByteOrder) string {
	var b []byte
	for _, r := range s {
		b = order.AppendUint32(b, uint32(r))
	}
	return string(b)
}

type czRow struct {
	name, source string
	file         string
	deep         bool
	addr         string
	want         string // zone; "" for none
	coords       []float64
	noCoords     bool
	caches       []string
	reject       string // substring of the parse error; "" when the file loads
}

var coverageCorpus = []czRow{
	// Traffic Router's own unit tests.
	{name: "ipv6 in /64", source: "TR test NetworkNodeUnitTest.itDoesIpV6", file: trUnitFile, addr: "1234:5678::1", want: "us-co-denver"},
	{name: "ipv4 in nested /24 under /16", source: "TR test NetworkNodeUnitTest.itMatchesIpsInOverlappingSubnets", file: trMappedFile, addr: "192.168.55.2", want: "us-co-denver"},
	{name: "invalid ipv4 mask rejects the file", source: "TR test NetworkNodeUnitTest.itRejectsInvalidIpV4Network",
		file: `{"coverageZones": {"us-co-denver": {"network": ["192.168.55.0/40","192.168.6.0/24","192.168.0.0/16"], "network6": ["1234:5678::/64","1234:5679::/64"]}}}`, reject: "mask"},
	{name: "invalid ipv6 literal rejects the file", source: "TR test NetworkNodeUnitTest.itRejectsInvalidIpV6Network",
		file: `{"coverageZones": {"us-co-denver": {"network": ["192.168.55.0/24","192.168.6.0/24","192.168.0.0/16"], "network6": ["1234:5678::/64","zyx:5679::/64"]}}}`, reject: "zyx"},
	{name: "deep zone names its caches", source: "TR test NetworkNodeUnitTest.itSupportsDeepCaches", deep: true,
		file: `{"deepCoverageZones": {"us-co-denver": {"network": ["192.168.55.0/24","192.168.6.0/24","192.168.0.0/16"], "network6": ["1234:5678::/64","1234:5679::/64"], "caches": ["host1","host2"]}}}`,
		addr: "192.168.55.100", want: "us-co-denver", caches: []string{"host1", "host2"}},
	{name: "czmap ipv4 first network plus one", source: "TR test NetworkNodeTest.testIps (czmap.json)", file: trCzmapFile, addr: "192.168.8.1", want: "CDN_in_a_Box_Edge", coords: []float64{38.897663, -77.036574}},
	{name: "czmap ipv6 first network plus one", source: "TR test NetworkNodeTest.testIps (czmap.json)", file: trCzmapFile, addr: "1234:5678::1", want: "CDN_in_a_Box_Edge"},
	{name: "dczmap ipv4", source: "TR test NetworkNodeTest.testIps (dczmap.json)", deep: true,
		file: `{"deepCoverageZones": {"cache-group-01": {"network6": ["1234:5678::/64","1234:5679::/64"], "network": ["192.168.8.0/24","192.168.9.0/24"], "caches": ["host1","host2","host3","host4"]}}}`,
		addr: "192.168.8.1", want: "cache-group-01", caches: []string{"host1", "host2", "host3", "host4"}},

	// czf.json read by the source.
	{name: "czf distinct /24", source: "TR src NetworkNode.add: disjoint siblings (czf.json)", file: trCzfFile, addr: "12.34.1.123", want: "cache-group-1", coords: []float64{48, -120}},
	{name: "czf string coordinates", source: "TR src NetworkNode.generateTree: asDouble of a string (czf.json)", file: trCzfFile, addr: "12.34.0.123", want: "cache-group-0", coords: []float64{39.1178, -106.48025}},
	{name: "czf same /48 with other host bits: last group wins", source: "TR src NetworkNode.add: TreeMap.put replaces the value of an equal key (czf.json)", file: trCzfFile, addr: "2001:dead:beef::1", want: "cache-group-9"},
	{name: "czf same /37 with other host bits: last group wins", source: "TR src NetworkNode.add / CidrAddress.compareTo (czf.json)", file: trCzfFile, addr: "2001:cafe:f00d:1::1", want: "cache-group-9"},
	{name: "czf outside every network", source: "TR src NetworkNode.getNetwork returns the root (no loc)", file: trCzfFile, addr: "8.8.8.8", want: ""},

	// The issue's file.
	{name: "nested /16 in /8", source: "TR src NetworkNode.add: the wider network adopts the narrower", file: issueFile, addr: "10.1.9.9", want: "fra-isp", coords: []float64{52.52, 13.40}},
	{name: "nested /24 in /16 in /8", source: "TR src NetworkNode.getNetwork recurses to the deepest", file: issueFile, addr: "10.1.2.3", want: "lhr", noCoords: true},
	{name: "outer /8 after the nested ones", source: "TR src NetworkNode.getNetwork", file: issueFile, addr: "10.2.0.1", want: "fra", coords: []float64{50.11, 8.68}},
	{name: "same prefix in two zones: first in file order", source: "TR src NetworkNode.add: an equal CidrAddress is not added again", file: issueFile, addr: "100.64.1.1", want: "fra"},
	{name: "ipv6 nested /64", source: "TR src NetworkNode.SuperNode.getNetwork6", file: issueFile, addr: "2001:db8:1:2::9", want: "lhr"},
	{name: "half-given coordinates are none", source: "TR src NetworkNode.generateTree: has(latitude) && has(longitude)", file: issueFile, addr: "2001:db8:1:2::9", want: "lhr", noCoords: true},
	{name: "empty coordinates are none", source: "TR src NetworkNode.generateTree", file: issueFile, addr: "198.51.100.7", want: "nowhere", noCoords: true},
	{name: "group with coordinates (caches are Pick's business)", source: "TR src NetworkNode.generateTree", file: issueFile, addr: "192.0.2.10", want: "ams-empty", coords: []float64{52.37, 4.90}},
	{name: "ipv4-mapped network6 entry does not catch ipv4 clients", source: "TR src SuperNode.getNetwork: an IPv4 client searches children, network6 went to children6", file: issueFile, addr: "8.8.8.8", want: ""},
	{name: "ipv4-mapped network6 entry does not catch its own ipv4 network", source: "TR src SuperNode.getNetwork / add6", file: issueFile, addr: "10.79.55.1", want: "fra"},
	{name: "ipv4-mapped network6 entry matches ipv6 clients with the same first bits", source: "TR src CidrAddress.compareTo: host bytes under the shorter mask", file: issueFile, addr: "a4f:37ff::1", want: "mapped"},
	{name: "ipv4-mapped client is an ipv4 client", source: "TR src InetAddress.getByName makes ::ffff:a.b.c.d IPv4", file: issueFile, addr: "::ffff:10.1.2.3", want: "lhr"},
	{name: "ipv6 client outside network6", source: "TR src SuperNode.getNetwork6", file: issueFile, addr: "2a00::1", want: ""},

	// How entries are read (CidrAddress.fromString, InetAddress.getByName).
	{name: "bare address is a /32", source: "TR src CidrAddress(InetAddress): mask = address length", file: `{"coverageZones": {"a": {"network": ["203.0.113.7"]}}}`, addr: "203.0.113.7", want: "a"},
	{name: "bare address does not cover its neighbour", source: "TR src CidrAddress(InetAddress)", file: `{"coverageZones": {"a": {"network": ["203.0.113.7"]}}}`, addr: "203.0.113.8", want: ""},
	{name: "bare ipv6 address is a /128", source: "TR src CidrAddress(InetAddress)", file: `{"coverageZones": {"a": {"network6": ["2001:db8::7"]}}}`, addr: "2001:db8::7", want: "a"},
	{name: "whitespace around host and mask", source: "TR src CidrAddress.fromString: trim()", file: `{"coverageZones": {"a": {"network": [" 10.1.0.0 / 16 "]}}}`, addr: "10.1.200.1", want: "a"},
	{name: "plus sign in the mask", source: "TR src Integer.parseInt(\"+8\")", file: `{"coverageZones": {"a": {"network": ["10.0.0.0/+8"]}}}`, addr: "10.9.9.9", want: "a"},
	{name: "trailing slash is a /32", source: "TR src String.split drops trailing empty parts", file: `{"coverageZones": {"a": {"network": ["10.0.0.0/"]}}}`, addr: "10.0.0.0", want: "a"},
	{name: "third part ignored", source: "TR src CidrAddress.fromString reads parts 0 and 1", file: `{"coverageZones": {"a": {"network": ["10.0.0.0/8/30"]}}}`, addr: "10.200.0.1", want: "a"},
	{name: "double slash rejects the file", source: "TR src Integer.parseInt(\"\") throws", file: `{"coverageZones": {"a": {"network": ["10.0.0.0//8"]}}}`, reject: "mask"},
	{name: "hex mask rejects the file", source: "TR src Integer.parseInt(\"0x8\") throws", file: `{"coverageZones": {"a": {"network": ["10.0.0.0/0x8"]}}}`, reject: "mask"},
	{name: "host bits are masked for matching", source: "TR src CidrAddress.compareTo masks both sides", file: `{"coverageZones": {"a": {"network": ["10.1.2.3/16"]}}}`, addr: "10.1.99.1", want: "a"},
	{name: "legacy two-part ipv4", source: "TR src InetAddress.getByName(\"10.1\") = 10.0.0.1", file: `{"coverageZones": {"a": {"network": ["10.1/16"]}}}`, addr: "10.0.77.1", want: "a"},
	{name: "leading zeros are decimal", source: "TR src InetAddress.getByName(\"010.1.1.1\") = 10.1.1.1", file: `{"coverageZones": {"a": {"network": ["010.1.1.0/24"]}}}`, addr: "10.1.1.9", want: "a"},
	{name: "number entry is a one-part ipv4", source: "TR src JsonNode.asText of 167772160; getByName = 10.0.0.0", file: `{"coverageZones": {"a": {"network": [167772160]}}}`, addr: "10.0.0.0", want: "a"},
	{name: "number entry with a fraction is the double as Java writes it", source: "TR src JsonNode.asText of 10.50 is Double.toString = \"10.5\"; getByName = 10.0.0.5",
		file: `{"coverageZones": {"a": {"network": [10.50]}}}`, addr: "10.0.0.5", want: "a"},
	{name: "number entry with an exponent", source: "TR src JsonNode.asText of 1e1 = \"10.0\"; getByName = 10.0.0.0", file: `{"coverageZones": {"a": {"network": [1e1]}}}`, addr: "10.0.0.0", want: "a"},
	{name: "number entry -0 is 0", source: "TR src Jackson reads -0 as the int 0; getByName(\"0\") = 0.0.0.0", file: `{"coverageZones": {"a": {"network": [-0]}}}`, addr: "0.0.0.0", want: "a"},
	{name: "deep caches named by numbers", source: "TR src parseDeepCacheNames: asText of each", deep: true,
		file: `{"deepCoverageZones": {"d": {"network": ["10.0.0.0/8"], "caches": [1.50, 7, 2e7, -0]}}}`, addr: "10.1.1.1", want: "d", caches: []string{"1.5", "7", "2.0E7", "0"}},
	{name: "empty host is the loopback address", source: "TR src InetAddress.getByName(\"\") = 127.0.0.1", file: `{"coverageZones": {"a": {"network": ["/8"]}}}`, addr: "127.8.8.8", want: "a"},
	{name: "octet over 255 rejects the file", source: "TR src getByName(\"256.1.1.1\") is a host name that does not resolve", file: `{"coverageZones": {"a": {"network": ["256.1.1.0/24"]}}}`, reject: "host name"},
	// Java's own readings of text, run on the Java 17 here and through TR's
	// generateTree: String.trim drops every char up to U+0020 and nothing
	// else (CidrAddress.java:34,49), Integer.parseInt takes any decimal
	// digit of the BMP (CidrAddress.java:49), Jackson's asDouble trims
	// likewise and then takes Double.parseDouble's syntax
	// (NetworkNode.java:113-114).
	{name: "mask in arabic-indic digits", source: "TR src Integer.parseInt(\"\u0668\") = 8", file: `{"coverageZones": {"a": {"network": ["10.0.0.0/\u0668"]}}}`, addr: "10.9.9.9", want: "a"},
	{name: "mask in fullwidth digits", source: "TR src Integer.parseInt(\"\uff18\") = 8", file: `{"coverageZones": {"a": {"network": ["10.0.0.0/\uff18"]}}}`, addr: "10.9.9.9", want: "a"},
	{name: "control character before the host is trimmed", source: "TR src String.trim", file: `{"coverageZones": {"a": {"network": ["\u000110.0.0.0/8"]}}}`, addr: "10.9.9.9", want: "a"},
	{name: "control character around the mask is trimmed", source: "TR src String.trim", file: `{"coverageZones": {"a": {"network": ["10.0.0.0/\u0001 8 "]}}}`, addr: "10.9.9.9", want: "a"},
	{name: "no-break space after the host rejects the file", source: "TR src String.trim keeps U+00A0; getByName takes it for a host name that does not resolve",
		file: `{"coverageZones": {"a": {"network": ["10.0.0.0\u00a0/8"]}}}`, reject: "host name"},
	{name: "no-break space after the mask rejects the file", source: "TR src Integer.parseInt(\"8\u00a0\") throws", file: `{"coverageZones": {"a": {"network": ["10.0.0.0/8\u00a0"]}}}`, reject: "mask"},
	{name: "coordinate after a no-break space reads as 0", source: "TR src Jackson asDouble: String.trim keeps U+00A0, parseDouble throws",
		file: `{"coverageZones": {"a": {"network": ["10.0.0.0/8"], "coordinates": {"latitude": "\u00a052.5", "longitude": 8}}}}`, addr: "10.9.9.9", want: "a", coords: []float64{0, 8}},
	{name: "coordinate with two type suffixes reads as 0, control characters are trimmed", source: "TR src Double.parseDouble(\"1.5ff\") throws; trim",
		file: `{"coverageZones": {"a": {"network": ["10.0.0.0/8"], "coordinates": {"latitude": "1.5ff", "longitude": "\u00012.5\u0001"}}}}`, addr: "10.9.9.9", want: "a", coords: []float64{0, 2.5}},
	{name: "coordinate -Infinity is read, 1_0 is not", source: "TR src Double.parseDouble",
		file: `{"coverageZones": {"a": {"network": ["10.0.0.0/8"], "coordinates": {"latitude": "-Infinity", "longitude": "1_0"}}}}`, addr: "10.9.9.9", want: "a", coords: []float64{math.Inf(-1), 0}},
	{name: "ipv4-mapped with an ipv6 mask rejects the file", source: "TR src CidrAddress: IPv4 netmask > 32", file: `{"coverageZones": {"a": {"network6": ["::ffff:10.0.0.0/104"]}}}`, reject: "mask"},
	{name: "ipv4-compatible ::a.b.c.d stays ipv6", source: "TR src getByName(\"::10.0.0.1\") is Inet6Address", file: `{"coverageZones": {"a": {"network6": ["::10.0.0.0/120"]}}}`, addr: "::10.0.0.9", want: "a"},
	{name: "ipv6 scope id ignored", source: "TR src Inet6Address bytes exclude the scope", file: `{"coverageZones": {"a": {"network6": ["fe80::%eth0/64"]}}}`, addr: "fe80::1", want: "a"},
	{name: "ipv6 in brackets", source: "TR src getByName(\"[2001:db8::]\")", file: `{"coverageZones": {"a": {"network6": ["[2001:db8::]/32"]}}}`, addr: "2001:db8::1", want: "a"},
	{name: "ipv4 listed under network6 answers ipv6 clients with its bits", source: "TR src SuperNode.add6 + CidrAddress.compareTo", file: `{"coverageZones": {"a": {"network6": ["10.0.0.0/8"]}}}`, addr: "a00::1", want: "a"},
	{name: "ipv4 listed under network6 does not answer ipv4 clients", source: "TR src SuperNode.getNetwork", file: `{"coverageZones": {"a": {"network6": ["10.0.0.0/8"]}}}`, addr: "10.0.0.1", want: ""},
	{name: "short ipv6 listed under network answers ipv4 clients with its bits", source: "TR src SuperNode.add + CidrAddress.compareTo", file: `{"coverageZones": {"a": {"network": ["2001:db8::/16"]}}}`, addr: "32.1.5.5", want: "a"},
	{name: "short ipv6 listed under network does not answer ipv6 clients", source: "TR src SuperNode.getNetwork6", file: `{"coverageZones": {"a": {"network": ["2001:db8::/16"]}}}`, addr: "2001:db8::1", want: ""},
	{name: "same network other host bits replaces and drops nested networks", source: "TR src NetworkNode.add: TreeMap.put keeps the key, swaps the value",
		file: `{"coverageZones": {"a": {"network": ["10.0.0.0/8", "10.1.0.0/16"]}, "b": {"network": ["10.9.9.9/8"]}}}`, addr: "10.1.2.3", want: "b"},
	{name: "catch-all 0.0.0.0/0", source: "TR src NetworkNode.add: /0 adopts every sibling", file: `{"coverageZones": {"a": {"network": ["10.0.0.0/8"]}, "any": {"network": ["0.0.0.0/0"]}}}`, addr: "8.8.8.8", want: "any"},
	{name: "catch-all keeps more specific networks", source: "TR src NetworkNode.add", file: `{"coverageZones": {"a": {"network": ["10.0.0.0/8"]}, "any": {"network": ["0.0.0.0/0"]}}}`, addr: "10.0.0.8", want: "a"},
	{name: "network6 before network within a zone", source: "TR src addNetworkNodesToRoot iterates network6 then network",
		file: `{"coverageZones": {"a": {"network": ["10.0.0.0/8"], "network6": ["2001:db8::/32"]}}}`, addr: "2001:db8::1", want: "a"},

	// IPv6 networks longer than /32 listed under "network": an IPv4 client
	// key is 32 bits, so it compares equal (CidrAddress.java:107-126, the
	// shorter mask decides) to every such sibling sharing its first 32
	// bits. NetworkNode.getNetwork (NetworkNode.java:224) asks the
	// children's TreeMap (NetworkNode.java:236), whose get returns the
	// first key on its red-black search path that compares equal; the
	// shape comes from the puts and removes of NetworkNode.add
	// (NetworkNode.java:264,273) in file order. CidrAddress compares
	// signed bytes (NetworkNode.java:119 promotes them), so 0x80-0xff
	// sort before 0x00-0x7f. Answers checked against NetworkNode and
	// CidrAddress at 991a4243 compiled and run on the Java 17 here.
	{name: "v6 under network, two siblings: the tree's root, the first", source: "TR src TreeMap.get: the root compares equal first",
		file: `{"coverageZones": {"z0": {"network": ["2001:db8:1::/48"]}, "z1": {"network": ["2001:db8:2::/48"]}}}`, addr: "32.1.13.184", want: "z0"},
	{name: "v6 under network, three ascending siblings: the rotated-up middle", source: "TR src TreeMap.put rebalances: the second key becomes the root",
		file: `{"coverageZones": {"z0": {"network": ["2001:db8:1::/48"]}, "z1": {"network": ["2001:db8:2::/48"]}, "z2": {"network": ["2001:db8:3::/48"]}}}`, addr: "32.1.13.184", want: "z1"},
	{name: "v6 under network, 0x80 sorts first: no rotation", source: "TR src CidrAddress.compareTo compares signed bytes",
		file: `{"coverageZones": {"z0": {"network": ["2001:db8:1::/48"]}, "z1": {"network": ["2001:db8:2::/48"]}, "z2": {"network": ["2001:db8:8000::/48"]}}}`, addr: "32.1.13.184", want: "z0"},
	{name: "v6 under network, siblings moved under a wider network", source: "TR src NetworkNode.add: moved children go to the new node's TreeMap in order, then leave the old one",
		file: `{"coverageZones": {"z0": {"network": ["2001:db8:1::/48"]}, "z1": {"network": ["2001:db8:2::/48"]}, "z2": {"network": ["2001:db8:3::/48"]}, "z3": {"network": ["2001:db8:4::/48"]}, "z4": {"network": ["2001:db8:2::/47"]}}}`, addr: "32.1.13.184", want: "z1"},
	{name: "v6 under network, a later sibling to the left stays below the root", source: "TR src TreeMap.put: a red leaf, no rotation",
		file: `{"coverageZones": {"a": {"network": ["2001:db8:5::/64", "2001:db8:6::/64"]}, "b": {"network": ["2001:db8:4::/48"]}}}`, addr: "32.1.13.184", want: "a"},
	{name: "v6 under network, the found sibling's subtree decides", source: "TR src NetworkNode.getNetwork recurses into the found child only",
		file: `{"coverageZones": {"a": {"network": ["2001:db8:1::/48"]}, "b": {"network": ["2001:db8:2::/48", "2001:db8:2:1::/64"]}}}`, addr: "::ffff:32.1.13.184", want: "a"},

	// The file's bytes as Jackson's readTree(File) takes them
	// (ByteSourceJsonBootstrapper: a byte order mark is skipped; UTF-16 and
	// UTF-32 are told by the mark or by the zero bytes of JSON's ASCII
	// start), run with Jackson 2.14 here: a file saved with a mark by a
	// Windows editor, or by PowerShell's redirection in UTF-16, loads.
	{name: "utf-8 byte order mark is skipped", source: "TR src Jackson ByteSourceJsonBootstrapper.handleBOM (EF BB BF)",
		file: "\ufeff" + bomFile, addr: "10.9.9.9", want: "a"},
	{name: "utf-16le with a byte order mark", source: "TR src Jackson ByteSourceJsonBootstrapper.handleBOM (FF FE)",
		file: utf16Bytes("\ufeff"+bomFile, binary.LittleEndian), addr: "10.9.9.9", want: "a"},
	{name: "utf-16be without a byte order mark", source: "TR src Jackson ByteSourceJsonBootstrapper.checkUTF16",
		file: utf16Bytes(bomFile, binary.BigEndian), addr: "10.9.9.9", want: "a"},
	{name: "utf-32le without a byte order mark", source: "TR src Jackson ByteSourceJsonBootstrapper.checkUTF32",
		file: utf32Bytes(bomFile, binary.LittleEndian), addr: "10.9.9.9", want: "a"},
	{name: "utf-16 text outside the bmp", source: "TR src Jackson ByteSourceJsonBootstrapper: InputStreamReader decodes surrogate pairs",
		file: utf16Bytes(strings.Replace(bomFile, `"a"`, "\"\U0001F310\"", 1), binary.LittleEndian), addr: "10.9.9.9", want: "\U0001F310"},
	{name: "a zone name in latin-1 refuses the file", source: "TR src Jackson UTF8StreamJsonParser: Invalid UTF-8 start byte 0xfc",
		file: "{\"coverageZones\": {\"M\xfcnchen\": {\"network\": [\"10.0.0.0/8\"]}}}", reject: "UTF-8"},
	{name: "a revision in latin-1 refuses the file", source: "TR src Jackson UTF8StreamJsonParser: Invalid UTF-8 middle byte 0x22",
		file: "{\"revision\": \"caf\xe9\", " + bomFile[1:], reject: "UTF-8"},
	{name: "bytes after the file's object are not read", source: "TR src Jackson readTree stops after the root value",
		file: bomFile + "\xff\xfe", addr: "10.9.9.9", want: "a"},

	// The shapes of a zone.
	{name: "zone given as an array loads and matches nothing", source: "TR src JsonUtils.getJsonNode on an array throws; caught per key", file: `{"coverageZones": {"a": ["10.0.0.0/8"], "b": {"network": ["11.0.0.0/8"]}}}`, addr: "10.0.0.1", want: ""},
	{name: "network given as a string is ignored", source: "TR src iterating a TextNode yields nothing", file: `{"coverageZones": {"a": {"network": "10.0.0.0/8"}}}`, addr: "10.0.0.1", want: ""},
	{name: "network given as an object uses its values", source: "TR src iterating an ObjectNode yields its values", file: `{"coverageZones": {"a": {"network": {"x": "10.0.0.0/8"}}}}`, addr: "10.0.0.1", want: "a"},
	{name: "missing network key is no networks", source: "TR src addNetworkNodesToRoot catches JsonUtilsException", file: `{"coverageZones": {"a": {"network6": ["2001:db8::/32"]}}}`, addr: "10.0.0.1", want: ""},
	{name: "repeated zone key: last value, first place", source: "TR src Jackson ObjectNode.set on an existing key",
		file: `{"coverageZones": {"a": {"network": ["10.0.0.0/8"]}, "b": {"network": ["11.0.0.0/8"]}, "a": {"network": ["11.0.0.0/8"]}}}`, addr: "11.0.0.1", want: "a"},
	{name: "repeated zone key drops the first value", source: "TR src Jackson ObjectNode.set",
		file: `{"coverageZones": {"a": {"network": ["10.0.0.0/8"]}, "a": {"network": ["11.0.0.0/8"]}}}`, addr: "10.0.0.1", want: ""},
	{name: "string coordinate that is no number reads as 0", source: "TR src JsonNode.asDouble of \"north\"",
		file: `{"coverageZones": {"a": {"network": ["10.0.0.0/8"], "coordinates": {"latitude": "north", "longitude": 8}}}}`, addr: "10.0.0.1", want: "a", coords: []float64{0, 8}},
	{name: "missing coverageZones rejects the file", source: "TR src JsonUtils.getJsonNode throws, generateTree returns null", file: `{"revision": "x"}`, reject: "no coverageZones"},
	{name: "deep file key in a regular file rejects it", source: "TR src generateTree(useDeep=false) reads coverageZones", file: `{"deepCoverageZones": {}}`, reject: "no coverageZones"},
}

func TestCoverageZonesMatchTrafficRouter(t *testing.T) {
	t.Parallel()
	for _, row := range coverageCorpus {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			parse := ParseCoverageZones
			if row.deep {
				parse = ParseDeepCoverageZones
			}
			cz, err := parse([]byte(row.file))
			if row.reject != "" {
				if err == nil || !strings.Contains(err.Error(), row.reject) {
					t.Fatalf("[%s] err = %v, want a rejection mentioning %q", row.source, err, row.reject)
				}
				return
			}
			if err != nil {
				t.Fatalf("[%s] %v", row.source, err)
			}
			z, ok := cz.Lookup(netip.MustParseAddr(row.addr))
			if ok != (row.want != "") || z.Name != row.want {
				t.Fatalf("[%s] Lookup(%s) = %q, Traffic Router answers %q", row.source, row.addr, z.Name, row.want)
			}
			if row.coords != nil && (!z.HasCoordinates || z.Lat != row.coords[0] || z.Lon != row.coords[1]) {
				t.Errorf("[%s] coordinates = %v %v,%v, want %v", row.source, z.HasCoordinates, z.Lat, z.Lon, row.coords)
			}
			if row.noCoords && z.HasCoordinates {
				t.Errorf("[%s] coordinates %v,%v, want none", row.source, z.Lat, z.Lon)
			}
			if row.deep && !slices.Equal(z.Caches, row.caches) {
				t.Errorf("[%s] caches = %v, want %v", row.source, z.Caches, row.caches)
			}
		})
	}
}

// trLookup walks the tree the way NetworkNode.getNetwork does: from the
// root, into the child the children's TreeMap.get finds, as deep as it
// goes.
func trLookup(root *czNode, key cidr) int32 {
	zone, node := int32(-1), root
	for {
		next := node.children.get(key)
		if next == nil {
			return zone
		}
		zone, node = next.zone, next
	}
}

// TestRangeTablesMatchTheTree checks the flattened lookup tables against a
// walk of the tree they come from, on random files full of what makes
// Traffic Router's tree unusual: the same network with other host bits,
// repeated networks, entries of the other family, nesting.
func TestRangeTablesMatchTheTree(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(17, 1128))
	v4 := func() string {
		return fmt.Sprintf("10.%d.%d.%d/%d", rng.IntN(4), rng.IntN(256), rng.IntN(256), 8+rng.IntN(25))
	}
	v6 := func() string {
		return fmt.Sprintf("2001:db8:%x:%x::%x/%d", rng.IntN(4), rng.IntN(65536), rng.IntN(65536), 32+rng.IntN(97))
	}
	for round := range 30 {
		var b strings.Builder
		b.WriteString(`{"coverageZones": {`)
		for z := range 8 {
			if z > 0 {
				b.WriteString(",")
			}
			var n4, n6 []string
			for range 30 {
				switch rng.IntN(10) {
				case 0: // an IPv6 entry under network
					n4 = append(n4, fmt.Sprintf(`"a%02x:%x::/%d"`, rng.IntN(4), rng.IntN(65536), 8+rng.IntN(25)))
					// and one longer than /32, in 11.0-3.0.0-1 for IPv4
					// clients, where TreeMap.get picks among siblings
					n4 = append(n4, fmt.Sprintf(`"b%02x:%x:%x::/%d"`, rng.IntN(4), rng.IntN(2), rng.IntN(4), 33+rng.IntN(40)))
				case 1: // an IPv4 entry under network6
					n6 = append(n6, `"`+v4()+`"`)
				case 2, 3, 4, 5:
					n4 = append(n4, `"`+v4()+`"`)
				default:
					n6 = append(n6, `"`+v6()+`"`)
				}
			}
			fmt.Fprintf(&b, `"z%d": {"network": [%s], "network6": [%s]}`, z, strings.Join(n4, ","), strings.Join(n6, ","))
		}
		b.WriteString("}}")
		file := b.String()
		cz, err := ParseCoverageZones([]byte(file))
		if err != nil {
			t.Fatal(err)
		}
		// Rebuild the trees the parser built, to walk them.
		var root4, root6 czNode
		top, _ := decodeObject([]byte(file))
		raw, _ := top.get("coverageZones")
		zones, _ := decodeObject(raw)
		for i, name := range zones.keys {
			if _, err := parseZone(name, zones.vals[i], &root4, &root6, int32(i)); err != nil {
				t.Fatal(err)
			}
		}
		for range 3000 {
			var a netip.Addr
			var root *czNode
			var key cidr
			if rng.IntN(2) == 0 {
				a = netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))})
				switch rng.IntN(5) {
				case 0:
					a = netip.AddrFrom4([4]byte{byte(0xa0 + rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
				case 1:
					a = netip.AddrFrom4([4]byte{11, byte(rng.IntN(4)), 0, byte(rng.IntN(2))})
				}
				b4 := a.As4()
				copy(key.b[:], b4[:])
				key.n, key.v4, root = 32, true, &root4
			} else {
				var b16 [16]byte
				b16[0], b16[1], b16[2], b16[3], b16[4], b16[5] = 0x20, 0x01, 0x0d, 0xb8, 0, byte(rng.IntN(4))
				if rng.IntN(5) == 0 {
					b16[0], b16[1], b16[2], b16[3] = 10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))
				}
				for i := 6; i < 16; i++ {
					b16[i] = byte(rng.IntN(256))
				}
				a = netip.AddrFrom16(b16)
				key.b, key.n, root = b16, 128, &root6
			}
			want := trLookup(root, key)
			z, ok := cz.Lookup(a)
			if got := slices.Index(zoneNames(cz), z.Name); ok != (want >= 0) || (ok && int32(got) != want) {
				t.Fatalf("round %d: Lookup(%s) = %q %v, the tree says zone %d", round, a, z.Name, ok, want)
			}
		}
	}
}

func zoneNames(cz *CoverageZones) []string {
	var out []string
	for _, z := range cz.zones {
		out = append(out, z.Name)
	}
	return out
}

package steering

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// siblingFile is the n-th of a fixed series of coverage zone files listing
// IPv6 networks longer than /32 under "network", all in 2001:db8::/32, with
// wider ones among them that take narrower ones in: every IPv4 client in
// 32.1.13.184 meets many siblings, and the answer depends on the shape
// of the red-black trees after their puts and removes. The series is its
// own small generator, so the files never change.
func siblingFile(n int) (file string, entries [][2]string) {
	x := uint64(n)*0x9e3779b97f4a7c15 + 1
	next := func(k int) int {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return int(x % uint64(k))
	}
	var b strings.Builder
	b.WriteString(`{"coverageZones": {`)
	for z := range 5 {
		if z > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"z%d": {"network": [`, z)
		for i := range 1 + next(12) {
			if i > 0 {
				b.WriteString(",")
			}
			c := fmt.Sprintf("2001:db8:%x::/%d", next(64)<<10, 33+next(32))
			if next(6) == 0 {
				c = fmt.Sprintf("2001:db8:%x::/%d", next(64)<<10, 33+next(6))
			}
			entries = append(entries, [2]string{fmt.Sprintf("z%d", z), c})
			fmt.Fprintf(&b, "%q", c)
		}
		b.WriteString("]}")
	}
	b.WriteString("}}")
	return b.String(), entries
}

// trSiblingAnswers are Traffic Router's answers for 32.1.13.184 against
// siblingFile(0..len-1): the zone's digit, or "-" for none. They were
// produced by Traffic Router's own NetworkNode and CidrAddress
// (traffic_router/core/src/main/java/.../core/loc/NetworkNode.java and
// .../core/util/CidrAddress.java at apache/trafficcontrol 991a4243),
// compiled against stubs on the Java 17 here, adding each file's entries in
// file order with SuperNode.add and asking SuperNode.getNetwork, as
// generateTree and TrafficRouter.getNetworkNode do
// (NetworkNode.java:146-164, 211-231).
const trSiblingAnswers = "" +
	"123112001432301122401001110240232414321010040030310434013443" +
	"040001242244420102321134402241110014410120000011002100300431" +
	"102122134233422312020211042143241021004342213240430211144314" +
	"411002444011314020413031304430143034132422203143103233034421" +
	"440101012100012424131314124321030011303432042144410023023300"

func TestIPv4KeyFindsTrafficRoutersSibling(t *testing.T) {
	t.Parallel()
	client := netip.MustParseAddr("32.1.13.184")
	for n := range len(trSiblingAnswers) {
		file, _ := siblingFile(n)
		cz, err := ParseCoverageZones([]byte(file))
		if err != nil {
			t.Fatalf("file %d: %v", n, err)
		}
		got := "-"
		if z, ok := cz.Lookup(client); ok {
			got = strings.TrimPrefix(z.Name, "z")
		}
		if want := trSiblingAnswers[n : n+1]; got != want {
			t.Errorf("file %d: Lookup(%s) = z%s, Traffic Router answers z%s\n%s", n, client, got, want, file)
		}
	}
}

package steering

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// CoverageZones maps client networks to named zones, read from a coverage
// zone file (CZF) or deep coverage zone file (DCZF) of Apache Traffic
// Control's Traffic Router:
//
//	{"revision": "...", "customerName": "...",
//	 "coverageZones": {"fra": {"network": ["192.0.2.0/24"],
//	                           "network6": ["2001:db8::/32"],
//	                           "coordinates": {"latitude": 50.1, "longitude": 8.7}}}}
//
// A zone's name is the cache group (here: the PoP) that should serve its
// networks; its coordinates locate its clients when that cache group cannot.
// A deep file has "deepCoverageZones" instead, and each zone lists the
// "caches" (here: edge ids) embedded in its networks.
//
// The file is read with Traffic Router's semantics (traffic_router/core
// NetworkNode.generateTree and CidrAddress.fromString), not with Go's
// stricter ones, so that a file Traffic Router loads loads here and answers
// the same. See docs/steering-parity.md and the corpus in
// coverage_parity_test.go. In short:
//
//   - the bytes are read as Jackson reads a file: a byte order mark is
//     skipped, UTF-16 and UTF-32 are decoded, UTF-8 that Jackson's parser
//     throws on rejects the file;
//   - zones are read in file order; for a duplicated key the last value
//     wins in the first key's place (Jackson's ObjectNode);
//   - an entry is "host[/bits]": both parts trimmed (String.trim), the mask
//     read by Integer.parseInt (any script's digits), a bare host is a /32 or
//     /128, IPv4 may be in the legacy 1-4 part forms Java accepts (127.1),
//     an empty host is 127.0.0.1, an IPv4-mapped IPv6 host is IPv4;
//   - a network that cannot be parsed rejects the whole file (Traffic Router
//     keeps its previous one); names are not resolved (Traffic Router would
//     look them up in DNS at load time), so they reject the file too;
//   - networks nest into a tree in file order, network6 before network in
//     each zone; an identical network listed again is ignored (the first
//     zone keeps it) while the same network written with other host bits
//     (10.0.0.1/8 after 10.0.0.0/8) replaces the earlier node and drops the
//     networks nested under it;
//   - "network" entries answer IPv4 clients and "network6" entries IPv6
//     clients, whatever family an entry is written in; an IPv4 client
//     compares equal to every IPv6 network longer than /32 sharing its 32
//     bits, and gets the one Traffic Router's TreeMap meets first
//     (czChildren);
//   - coordinates count only when both latitude and longitude are present;
//     values are read like Jackson's asDouble (a string that is no number
//     reads as 0), and number entries like its asText (10.50 is 10.5).
//
// Lookups find the most specific matching network in a table of disjoint
// address ranges per family, built once at load: one binary search, no
// allocation.
type CoverageZones struct {
	Revision string
	zones    []Zone
	v4, v6   rangeTable
}

// Zone is one coverage zone.
type Zone struct {
	Name           string
	Lat, Lon       float64
	HasCoordinates bool
	// Caches are the edges a deep coverage zone names (deep files only).
	Caches []string
}

type rangeTable struct {
	starts []u128  // starts[i] begins a range that runs up to starts[i+1]-1
	owners []int32 // zone index of each range, -1 for none
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

// LoadDeepCoverageZones reads a deep coverage zone file.
func LoadDeepCoverageZones(path string) (*CoverageZones, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("steering.LoadDeepCoverageZones: %w", err)
	}
	cz, err := ParseDeepCoverageZones(b)
	if err != nil {
		return nil, fmt.Errorf("steering.LoadDeepCoverageZones %s: %w", path, err)
	}
	return cz, nil
}

// ParseCoverageZones parses a coverage zone file ("coverageZones").
func ParseCoverageZones(data []byte) (*CoverageZones, error) {
	cz, err := parseCoverage(data, "coverageZones")
	if err != nil {
		return nil, fmt.Errorf("steering.ParseCoverageZones: %w", err)
	}
	return cz, nil
}

// ParseDeepCoverageZones parses a deep coverage zone file
// ("deepCoverageZones", zones with "caches").
func ParseDeepCoverageZones(data []byte) (*CoverageZones, error) {
	cz, err := parseCoverage(data, "deepCoverageZones")
	if err != nil {
		return nil, fmt.Errorf("steering.ParseDeepCoverageZones: %w", err)
	}
	return cz, nil
}

func parseCoverage(data []byte, key string) (*CoverageZones, error) {
	top, err := decodeFile(data)
	if err != nil {
		return nil, err
	}
	if top == nil {
		return nil, errors.New("the file is not a JSON object")
	}
	cz := &CoverageZones{}
	if rev, ok := top.get("revision"); ok {
		cz.Revision = jsonText(rev)
	}
	raw, ok := top.get(key)
	if !ok {
		return nil, fmt.Errorf("no %s object", key)
	}
	zones, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	var root4, root6 czNode
	if zones != nil { // Traffic Router reads a non-object as no zones
		for i, name := range zones.keys {
			z, err := parseZone(name, zones.vals[i], &root4, &root6, int32(len(cz.zones)))
			if err != nil {
				return nil, err
			}
			cz.zones = append(cz.zones, z)
		}
	}
	cz.v4 = flattenTree(&root4, true)
	cz.v6 = flattenTree(&root6, false)
	return cz, nil
}

func parseZone(name string, raw json.RawMessage, root4, root6 *czNode, idx int32) (Zone, error) {
	z := Zone{Name: name}
	obj, err := decodeObject(raw)
	if err != nil || obj == nil {
		// Traffic Router finds neither networks nor coordinates in an
		// array, string or number: the zone exists and matches nothing.
		return z, nil
	}
	if c, ok := obj.get("coordinates"); ok {
		if co, _ := decodeObject(c); co != nil {
			lat, okLat := co.get("latitude")
			lon, okLon := co.get("longitude")
			if okLat && okLon {
				z.Lat, z.Lon, z.HasCoordinates = asDouble(lat), asDouble(lon), true
			}
		}
	}
	if c, ok := obj.get("caches"); ok {
		for _, v := range jsonElements(c) {
			if s := jsonText(v); s != "" && !slices.Contains(z.Caches, s) {
				z.Caches = append(z.Caches, s)
			}
		}
	}
	for _, fam := range [...]struct {
		key  string
		root *czNode
	}{{"network6", root6}, {"network", root4}} {
		v, ok := obj.get(fam.key)
		if !ok {
			continue
		}
		for _, e := range jsonElements(v) {
			text := jsonText(e)
			c, err := parseJavaCIDR(text)
			if err != nil {
				return z, fmt.Errorf("zone %q: %s %q: %w", name, fam.key, text, err)
			}
			fam.root.insert(&czNode{c: c, zone: idx})
		}
	}
	return z, nil
}

// Lookup returns the zone of the most specific network containing addr.
// IPv4 and IPv4-mapped IPv6 clients match "network" entries, IPv6 clients
// "network6" entries.
func (cz *CoverageZones) Lookup(addr netip.Addr) (Zone, bool) {
	if cz == nil || !addr.IsValid() {
		return Zone{}, false
	}
	addr = addr.Unmap()
	t := &cz.v6
	if addr.Is4() {
		t = &cz.v4
	}
	k := addrKey(addr)
	// Find the last range starting at or before k.
	lo, hi := 0, len(t.starts)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if !k.less(t.starts[mid]) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 || t.owners[lo-1] < 0 {
		return Zone{}, false
	}
	return cz.zones[t.owners[lo-1]], true
}

// Zones lists the zones in file order.
func (cz *CoverageZones) Zones() []Zone { return slices.Clone(cz.zones) }

// ---- JSON read the way Jackson's tree model reads it ----

// object is a JSON object with its keys in file order; a repeated key keeps
// its first position and its last value.
type object struct {
	keys []string
	vals []json.RawMessage
}

func (o *object) get(k string) (json.RawMessage, bool) {
	i := slices.Index(o.keys, k)
	if i < 0 {
		return nil, false
	}
	return o.vals[i], true
}

// decodeFile reads a file's top-level object as Jackson reads a file
// (jacksonText, then jacksonUTF8); nil, nil when the file is valid JSON
// but not an object. The coverage zone files and the cache groups file
// beside them are all read through it, so a file saved with a byte order
// mark or in UTF-16 loads whichever of them it is.
func decodeFile(data []byte) (*object, error) {
	data = jacksonText(data)
	top, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	if err := jacksonUTF8(data); err != nil {
		return nil, err
	}
	return top, nil
}

// jacksonText is the UTF-8 text Jackson reads from a file's bytes
// (ByteSourceJsonBootstrapper): a byte order mark is skipped, and UTF-16
// and UTF-32, told by their mark or else by the zero bytes JSON's ASCII
// start has in them, are decoded (an unpaired surrogate as U+FFFD, as
// Java's InputStreamReader does). Anything else is taken as UTF-8.
func jacksonText(b []byte) []byte {
	if len(b) >= 4 {
		switch quad := binary.BigEndian.Uint32(b); {
		case quad == 0x0000feff:
			return decodeUTF32(b[4:], binary.BigEndian)
		case quad == 0xfffe0000:
			return decodeUTF32(b[4:], binary.LittleEndian)
		case quad>>16 == 0xfeff:
			return decodeUTF16(b[2:], binary.BigEndian)
		case quad>>16 == 0xfffe:
			return decodeUTF16(b[2:], binary.LittleEndian)
		case quad>>8 == 0xefbbbf:
			return b[3:]
		case quad>>8 == 0:
			return decodeUTF32(b, binary.BigEndian)
		case quad&0x00ffffff == 0:
			return decodeUTF32(b, binary.LittleEndian)
		}
	}
	if len(b) >= 2 {
		switch i16 := binary.BigEndian.Uint16(b); {
		case i16&0xff00 == 0:
			return decodeUTF16(b, binary.BigEndian)
		case i16&0x00ff == 0:
			return decodeUTF16(b, binary.LittleEndian)
		}
	}
	return b
}

// jacksonUTF8 refuses what Jackson's UTF-8 parser throws on in the file's
// value (it reads nothing after it): a byte that cannot start a sequence,
// or one that should continue one and does not. Go's decoder would take
// either as U+FFFD. Jackson does not check overlong forms, surrogates or
// the range, so neither does this.
func jacksonUTF8(data []byte) error {
	var root json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil {
		return err
	}
	at := len(data) - len(bytes.TrimLeft(data, " \t\r\n")) // where root starts
	for i := 0; i < len(root); {
		c, n := root[i], 0
		switch {
		case c < 0x80:
		case c&0xe0 == 0xc0:
			n = 1
		case c&0xf0 == 0xe0:
			n = 2
		case c&0xf8 == 0xf0:
			n = 3
		default:
			return fmt.Errorf("invalid UTF-8 start byte 0x%02x at byte %d", c, at+i)
		}
		for i++; n > 0; i, n = i+1, n-1 {
			if i >= len(root) || root[i]&0xc0 != 0x80 {
				return fmt.Errorf("invalid UTF-8 middle byte at byte %d", at+i)
			}
		}
	}
	return nil
}

func decodeUTF16(b []byte, order binary.ByteOrder) []byte {
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = order.Uint16(b[2*i:])
	}
	return []byte(string(utf16.Decode(units)))
}

// decodeUTF32 stops at a code point beyond Unicode, where Jackson's
// UTF32Reader throws: what is left does not parse.
func decodeUTF32(b []byte, order binary.ByteOrder) []byte {
	out := make([]byte, 0, len(b)/4)
	for ; len(b) >= 4; b = b[4:] {
		r := order.Uint32(b)
		if r > unicode.MaxRune {
			break
		}
		out = utf8.AppendRune(out, rune(r))
	}
	return out
}

// decodeObject returns nil, nil when data is valid JSON but not an object.
func decodeObject(data []byte) (*object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if !json.Valid(data) {
			return nil, errors.New("invalid JSON")
		}
		return nil, nil
	}
	o := &object{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if i := slices.Index(o.keys, k); i >= 0 {
			o.vals[i] = v
			continue
		}
		o.keys, o.vals = append(o.keys, k), append(o.vals, v)
	}
	// What follows the object is not read: Jackson's readTree stops there
	// too.
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return o, nil
}

// jsonElements is what iterating a Jackson node yields: an array's
// elements, an object's values, nothing for a scalar.
func jsonElements(raw json.RawMessage) []json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	switch raw[0] {
	case '[':
		var a []json.RawMessage
		if json.Unmarshal(raw, &a) != nil {
			return nil
		}
		return a
	case '{':
		o, err := decodeObject(raw)
		if err != nil || o == nil {
			return nil
		}
		return o.vals
	}
	return nil
}

// jsonText is Jackson's asText: a string's value, a number as Jackson
// writes it back, a literal's text, "" for an object or array.
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	case '{', '[':
		return ""
	case 't', 'f', 'n':
		return string(raw)
	}
	return jsonNumberText(string(raw))
}

// jsonNumberText is asText of a number node: an integer's digits (-0 is an
// int 0), and a number with a fraction or exponent as the double Jackson
// reads it, written by Double.toString: "10.50" is "10.5", "1e1" is "10.0".
// Digits are the shortest that round-trip, as Java 19+ writes them; Java 17
// writes a few doubles with more (1.0E23 as 9.999999999999999E22), all in
// the exponent form, which no network entry can use anyway.
func jsonNumberText(t string) string {
	if !strings.ContainsAny(t, ".eE") {
		if t == "-0" {
			return "0"
		}
		return t
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return t
	}
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0 && math.Signbit(f):
		return "-0.0"
	case f == 0:
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	n, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(n)
}

// asDouble is Jackson's asDouble: numbers as they are, strings parsed
// after Java's trim by Double.parseDouble (0 when they are no number), true
// 1, anything else 0.
func asDouble(raw json.RawMessage) float64 {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	switch raw[0] {
	case '"':
		return javaParseDouble(jsonText(raw))
	case 't':
		return 1
	case '{', '[', 'n', 'f':
		return 0
	}
	f, _ := strconv.ParseFloat(string(raw), 64)
	return f
}

// ---- networks as Traffic Router's CidrAddress reads them ----

// cidr is a network as Traffic Router keeps it: the host bytes as written
// (4 or 16 of them, left-aligned here) and a mask length. Host bits are not
// cleared; comparisons mask them.
type cidr struct {
	b  [16]byte
	n  int
	v4 bool
}

var (
	errHostname = errors.New("not an IP address (Traffic Router would resolve it as a host name in DNS; not supported)")
	errMask     = errors.New("invalid mask length")
)

// parseJavaCIDR reads an entry like CidrAddress.fromString: split on "/"
// (trailing empty parts dropped, parts after the second ignored), trim,
// parse the host like InetAddress.getByName and the mask like
// Integer.parseInt.
func parseJavaCIDR(s string) (cidr, error) {
	parts := strings.Split(s, "/")
	for len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) == 1 && parts[0] == "" {
		parts = []string{""}
	}
	var c cidr
	a, ok := parseJavaHost(javaTrim(parts[0]))
	if !ok {
		return c, errHostname
	}
	if a.Is4() {
		b4 := a.As4()
		copy(c.b[:], b4[:])
		c.v4, c.n = true, 32
	} else {
		c.b, c.n = a.As16(), 128
	}
	if len(parts) > 1 {
		n, err := javaParseInt(javaTrim(parts[1]))
		if err != nil {
			return c, fmt.Errorf("%w: %q", errMask, parts[1])
		}
		if n < 0 || int(n) > c.n {
			return c, fmt.Errorf("%w: /%d", errMask, n)
		}
		c.n = int(n)
	}
	return c, nil
}

// javaTrim is Java's String.trim: every char up to U+0020 goes, and no
// other (a no-break space stays, so the entry does not parse).
func javaTrim(s string) string { return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' }) }

// javaParseInt is Integer.parseInt: an optional sign, then decimal digits of
// any script in the BMP (Character.digit), within 32 bits.
func javaParseInt(s string) (int64, error) {
	errSyntax := fmt.Errorf("%q is not a Java int", s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	if s == "" {
		return 0, errSyntax
	}
	var n int64
	for _, r := range s {
		if r > 0xffff || !unicode.IsDigit(r) {
			return 0, errSyntax
		}
		// Unicode encodes every set of decimal digits as ten code points
		// in a row, 0 to 9, so a digit's value is how many digits precede
		// it, modulo 10.
		d := 0
		for unicode.IsDigit(r - rune(d) - 1) {
			d++
		}
		n = n*10 + int64(d%10)
		if n > math.MaxInt32+1 {
			return 0, errSyntax
		}
	}
	if neg {
		n = -n
	}
	if n > math.MaxInt32 {
		return 0, errSyntax
	}
	return n, nil
}

// javaParseDouble is Double.parseDouble: trimmed as by String.trim, an
// optional sign, then Infinity, NaN, or a decimal or hexadecimal number
// with at most one type suffix (d, D, f, F). Go's ParseFloat also takes
// "inf", "nan" in any case and underscores, which Java does not. A string
// Java rejects reads as 0, as asDouble has it.
func javaParseDouble(s string) float64 {
	s = javaTrim(s)
	sign, rest := "", s
	if rest != "" && (rest[0] == '+' || rest[0] == '-') {
		sign, rest = rest[:1], rest[1:]
	}
	switch rest {
	case "Infinity":
		if sign == "-" {
			return math.Inf(-1)
		}
		return math.Inf(1)
	case "NaN":
		return math.NaN()
	}
	if n := len(rest); n > 0 && strings.IndexByte("dDfF", rest[n-1]) >= 0 {
		rest = rest[:n-1]
	}
	if rest == "" || strings.ContainsAny(rest, "_iInN") {
		return 0
	}
	f, err := strconv.ParseFloat(sign+rest, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0
	}
	return f
}

// parseJavaHost parses the address literals java.net.InetAddress.getByName
// accepts: "" (the loopback address), IPv4 in 1-4 decimal parts, IPv6 with
// or without brackets and scope; IPv4-mapped IPv6 becomes IPv4.
func parseJavaHost(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
		if !strings.Contains(s, ":") {
			return netip.Addr{}, false
		}
	}
	if strings.Contains(s, ":") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Addr{}, false
		}
		return a.WithZone("").Unmap(), true
	}
	return parseJavaIPv4(s)
}

// parseJavaIPv4 reads "a.b.c.d", "a.b.c" (c 16 bits), "a.b" (b 24 bits) and
// "a" (32 bits), decimal digits only, at most 15 characters.
func parseJavaIPv4(s string) (netip.Addr, bool) {
	if len(s) > 15 || strings.HasSuffix(s, ".") {
		return netip.Addr{}, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals [4]uint64
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	last := len(parts) - 1
	for i := range last {
		if vals[i] > 255 {
			return netip.Addr{}, false
		}
	}
	if vals[last] > math.MaxUint32>>(8*last) {
		return netip.Addr{}, false
	}
	var u uint32
	for i := range last {
		u |= uint32(vals[i]) << (24 - 8*i)
	}
	u |= uint32(vals[last])
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b), true
}

// compare is CidrAddress.compareTo: the host bytes under the shorter mask,
// as Java's signed bytes (0x80-0xff before 0x00-0x7f), which orders the
// TreeMap of a node's children and so shapes it.
func (a cidr) compare(o cidr) int {
	n := min(a.n, o.n)
	for i := 0; i*8 < n; i++ {
		m := byte(0xff)
		if r := n - i*8; r < 8 {
			m = ^byte(0xff >> r)
		}
		if c := cmp.Compare(int8(a.b[i]&m), int8(o.b[i]&m)); c != 0 {
			return c
		}
	}
	return 0
}

// equal is CidrAddress.equals: same family, mask and host bytes.
func (a cidr) equal(o cidr) bool { return a.v4 == o.v4 && a.n == o.n && a.b == o.b }

// includes is CidrAddress.includesAddress: a strictly shorter mask and the
// same bits under it.
func (a cidr) includes(o cidr) bool { return a.n < o.n && a.compare(o) == 0 }

// czNode is a NetworkNode: a network, its zone, and the networks nested in
// it. Siblings never contain one another.
type czNode struct {
	c        cidr
	zone     int32
	children czChildren
}

// insert adds nn below p the way NetworkNode.add does. Only the children
// comparing equal to nn can be equal to it, contain it or be contained, so
// only those are looked at; Traffic Router scans them all, in the same
// order.
func (p *czNode) insert(nn *czNode) {
	near := p.children.overlapping(nn.c)
	for _, ch := range near {
		if ch.c.equal(nn.c) {
			return // the first listing keeps the network
		}
	}
	var moved []*czNode
	for _, ch := range near {
		if nn.c.includes(ch.c) {
			nn.insert(ch)
			moved = append(moved, ch)
		}
	}
	for _, ch := range moved {
		p.children.remove(ch.c)
	}
	for _, ch := range near {
		if ch.c.includes(nn.c) {
			ch.insert(nn)
			return
		}
	}
	// The same network with other host bits takes the place of the one
	// there, nested networks included (TreeMap.put swaps the value).
	p.children.put(nn)
}

// flattenTree turns a family's tree into disjoint ranges of client
// addresses, each owned by the deepest network containing it. In the IPv4
// tree a network only ever sees 32-bit keys, so its first 32 bits at most
// decide: of siblings longer than /32 sharing those bits, the one
// Traffic Router's TreeMap.get finds answers, and the others are never
// reached.
func flattenTree(root *czNode, v4 bool) rangeTable {
	var spans []span
	var walk func(p *czNode)
	walk = func(p *czNode) {
		p.children.each(func(n *czNode) {
			if v4 && n.c.n > 32 {
				key := cidr{n: 32, v4: true}
				copy(key.b[:4], n.c.b[:4])
				if p.children.get(key) != n {
					return
				}
			}
			spans = append(spans, treeSpan(n.c, v4, n.zone, int32(len(spans))))
			walk(n)
		})
	}
	walk(root)
	starts, owners := flatten(spans)
	return rangeTable{starts: starts, owners: owners}
}

func treeSpan(c cidr, v4 bool, zone, seq int32) span {
	var b [16]byte
	n := c.n
	if v4 {
		// Keys of IPv4 clients are their IPv4-mapped form.
		n = min(n, 32)
		b[10], b[11] = 0xff, 0xff
		copy(b[12:], c.b[:4])
		n += 96
	} else {
		b = c.b
	}
	start := u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	m := hostMask(128 - n)
	start = u128{start.hi &^ m.hi, start.lo &^ m.lo}
	return span{start: start, end: u128{start.hi | m.hi, start.lo | m.lo}, zone: zone, seq: seq}
}

// u128 is an address as a 128-bit integer; IPv4 addresses take their
// IPv4-mapped IPv6 form.
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

// span is the address range of one tree node; seq is its position in a
// pre-order walk, so parents come before their children.
type span struct {
	start, end u128
	zone, seq  int32
}

// flatten turns nested ranges into disjoint ones, each owned by its most
// specific range. Ranges never overlap partially, so a sweep that keeps the
// enclosing ranges on a stack sees every boundary in order. Identical
// ranges (only from IPv6 networks longer than /32 listed under "network",
// nested in one another) go to the later node of the walk, which is the
// deeper one.
func flatten(spans []span) (starts []u128, owners []int32) {
	slices.SortFunc(spans, func(a, b span) int {
		if c := a.start.compare(b.start); c != 0 {
			return c
		}
		if c := b.end.compare(a.end); c != 0 { // wider first: parents before children
			return c
		}
		return cmp.Compare(a.seq, b.seq)
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
		emit(s.start, s.zone)
		stack = append(stack, s)
	}
	closeBefore(u128{}, true)
	return slices.Clip(starts), slices.Clip(owners)
}

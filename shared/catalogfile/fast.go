package catalogfile

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/playplane/playplane/shared/playback"
)

// The fast path of Parse, for the part of a file that grows with the
// catalogue: its titles. Checking ten thousand titles through the JSON
// Schema validator means a generic decode of every value, the validator's
// walk over it and then the typed decode; here the titles are scanned once
// into playback.Title with the rules of the schema's title definition
// written out.
//
// The schema stays the source of truth: the fast path only ever accepts or
// declines. It declines anything it is unsure of (an escape where a time
// is, a number with a fraction, a key it does not know, a key twice, bytes
// that are not UTF-8...), and every problem, whatever kind, sends the whole
// file through the schema path, which names the line and field. What the
// fast path accepts must be exactly what the schema path accepts and
// decodes: TestFastPathAgreesWithTheSchema and FuzzFastPathAgreesWithTheSchema
// check that on valid files and on mutated bad ones. The other sections
// (plans, edges, coverage zones, accounts: few records) go through the
// schema path as they are, in a document of their own.

// parseFast parses a JSON catalogue file, or reports false for Parse to
// take the schema path (which also gives the errors of a bad file).
func parseFast(name string, data []byte) (File, bool) {
	s := scanner{b: data, src: string(data)}
	s.ws()
	if !s.lit('{') {
		return File{}, false
	}
	// rest is the file without its titles, for the schema path.
	rest := make([]byte, 0, 1024)
	rest = append(rest, '{')
	var titles []playback.Title
	seen := map[string]bool{}
	for first := true; ; first = false {
		s.ws()
		if s.lit('}') {
			break
		}
		if !first && !(s.lit(',') && s.wsThen()) {
			return File{}, false
		}
		raw, ok := s.key()
		k := string(raw)
		if !ok || seen[k] {
			return File{}, false
		}
		seen[k] = true
		start := s.i
		switch k {
		case "titles":
			if titles, ok = s.titles(); !ok {
				return File{}, false
			}
			continue
		case "$schema", "plans", "edges", "coverage_zones", "accounts":
			if !s.skip() {
				return File{}, false
			}
		default:
			return File{}, false
		}
		if len(rest) > 1 {
			rest = append(rest, ',')
		}
		rest = append(rest, '"')
		rest = append(rest, k...)
		rest = append(rest, `":`...)
		rest = append(rest, data[start:s.i]...)
	}
	s.ws()
	if s.i != len(s.b) || !seen["titles"] {
		return File{}, false
	}
	rest = append(rest, '}')
	f, err := parseSchema(name, rest, func(string) int { return 0 })
	if err != nil {
		return File{}, false
	}
	f.Titles = titles
	return f, true
}

// scanner reads a JSON document. Strings without escapes are slices of
// src, one copy of the whole file, instead of one allocation each.
type scanner struct {
	b   []byte
	src string
	i   int
	// Scratch lists, copied out at their exact size.
	windows    []playback.LicenceWindow
	renditions []playback.Rendition
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// wsThen skips white space and reports true, for use in conditions.
func (s *scanner) wsThen() bool { s.ws(); return true }

// lit consumes c if it is next.
func (s *scanner) lit(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) word(w string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(w)) {
		s.i += len(w)
		return true
	}
	return false
}

// rawString consumes a string and returns its bytes between the quotes,
// and whether it holds an escape. Control characters and bytes that are
// not UTF-8 decline.
func (s *scanner) rawString() (raw []byte, escaped, ok bool) {
	if !s.lit('"') {
		return nil, false, false
	}
	start := s.i
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(raw) {
				return nil, false, false
			}
			return raw, escaped, true
		case c == '\\':
			escaped = true
			s.i += 2
			continue
		case c < 0x20:
			return nil, false, false
		case c >= 0x80:
			ascii = false
		}
		s.i++
	}
	return nil, false, false
}

// str consumes a string and returns its value; escapes are decoded as
// encoding/json decodes them.
func (s *scanner) str() (string, bool) {
	start := s.i
	_, escaped, ok := s.rawString()
	if !ok {
		return "", false
	}
	if !escaped {
		return s.src[start+1 : s.i-1], true
	}
	var v string
	// U+FFFD may be an unpaired surrogate escape that encoding/json
	// replaced, which the schema path refuses (invalid_utf8).
	if json.Unmarshal(s.b[start:s.i], &v) != nil || strings.ContainsRune(v, utf8.RuneError) {
		return "", false
	}
	return v, true
}

// key consumes an object key and its colon; keys with escapes decline.
func (s *scanner) key() ([]byte, bool) {
	raw, escaped, ok := s.rawString()
	if !ok || escaped {
		return nil, false
	}
	s.ws()
	if !s.lit(':') {
		return nil, false
	}
	s.ws()
	return raw, true
}

// uint consumes a non-negative integer written in plain digits (no sign,
// fraction or exponent: those decline) of at most 15 digits.
func (s *scanner) uint() (int, bool) {
	start := s.i
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 15 || digits > 1 && s.b[start] == '0' {
		return 0, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	return n, true
}

// skip consumes one value without checking it beyond finding its end:
// the schema path parses what was skipped.
func (s *scanner) skip() bool {
	depth := 0
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '"':
			if _, _, ok := s.rawString(); !ok {
				return false
			}
			if depth == 0 {
				return true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return false
			}
			if depth == 0 {
				s.i++
				return true
			}
		case ',', ':':
			if depth == 0 {
				return false
			}
		default:
			if depth == 0 {
				// A scalar: up to the next delimiter.
				start := s.i
				for s.i < len(s.b) && !delimiter(s.b[s.i]) {
					s.i++
				}
				return s.i > start
			}
		}
		s.i++
	}
	return false
}

func delimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// object consumes an object, calling field for each key with the
// scanner at its value; field consumes the value.
func (s *scanner) object(field func(k []byte) bool) bool {
	if !s.lit('{') {
		return false
	}
	for first := true; ; first = false {
		s.ws()
		if s.lit('}') {
			return true
		}
		if !first && !(s.lit(',') && s.wsThen()) {
			return false
		}
		k, ok := s.key()
		if !ok || !field(k) {
			return false
		}
	}
}

// array consumes an array, calling item for each element; item consumes
// it.
func (s *scanner) array(item func() bool) bool {
	if !s.lit('[') {
		return false
	}
	for first := true; ; first = false {
		s.ws()
		if s.lit(']') {
			return true
		}
		if !first && !(s.lit(',') && s.wsThen()) {
			return false
		}
		if !item() {
			return false
		}
	}
}

// once marks bit in seen, declining a key given twice.
func once(seen *uint, bit uint) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

func (s *scanner) titles() ([]playback.Title, bool) {
	var out []playback.Title
	ok := s.array(func() bool {
		t, ok := s.title()
		out = append(out, t)
		return ok
	})
	if out == nil {
		out = []playback.Title{}
	}
	return out, ok
}

const (
	tID uint = 1 << iota
	tName
	tRating
	tAssetPath
	tManifest
	tWindows
	tRenditions
)

// title is the schema's $defs/title.
func (s *scanner) title() (playback.Title, bool) {
	var t playback.Title
	var seen uint
	ok := s.object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "id":
			t.ID, ok = s.str()
			return ok && once(&seen, tID) && schemaID(t.ID)
		case "name":
			t.Name, ok = s.str()
			return ok && once(&seen, tName) && t.Name != ""
		case "rating":
			var r int
			r, ok = s.uint()
			t.Rating = &r
			return ok && once(&seen, tRating) && r <= 21
		case "asset_path":
			t.AssetPath, ok = s.str()
			p := t.AssetPath
			// ^/.*/$, where . is any character but a newline.
			return ok && once(&seen, tAssetPath) && len(p) >= 2 && p[0] == '/' && p[len(p)-1] == '/' &&
				!strings.Contains(p, "\n")
		case "manifest":
			t.Manifest, ok = s.str()
			return ok && once(&seen, tManifest) && t.Manifest != "" && !strings.Contains(t.Manifest, "/")
		case "windows":
			if !once(&seen, tWindows) {
				return false
			}
			if s.word("null") {
				return true
			}
			s.windows = s.windows[:0]
			ok := s.array(func() bool {
				w, ok := s.window()
				s.windows = append(s.windows, w)
				return ok
			})
			t.Windows = append(make([]playback.LicenceWindow, 0, len(s.windows)), s.windows...)
			return ok
		case "renditions":
			if !once(&seen, tRenditions) {
				return false
			}
			if s.word("null") {
				return true
			}
			s.renditions = s.renditions[:0]
			ok := s.array(func() bool {
				r, ok := s.rendition()
				s.renditions = append(s.renditions, r)
				return ok
			})
			t.Renditions = append(make([]playback.Rendition, 0, len(s.renditions)), s.renditions...)
			return ok
		}
		return false
	})
	const required = tID | tName | tRating | tAssetPath | tManifest
	return t, ok && seen&required == required
}

// schemaID is $defs/id: 1-256 printable ASCII characters other than
// '/', '#' and '|'.
func schemaID(id string) bool {
	if id == "" || len(id) > 256 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < '!' || c > '~' || c == '/' || c == '#' || c == '|' {
			return false
		}
	}
	return true
}

const (
	wTerritory uint = 1 << iota
	wStart
	wEnd
)

// window is $defs/window.
func (s *scanner) window() (playback.LicenceWindow, bool) {
	var w playback.LicenceWindow
	var seen uint
	ok := s.object(func(k []byte) bool {
		switch string(k) {
		case "territory":
			v, ok := s.str()
			w.Territory = v
			return ok && once(&seen, wTerritory) && len(v) == 2 && upper(v[0]) && upper(v[1])
		case "start":
			return once(&seen, wStart) && s.dateTime(&w.Start)
		case "end":
			return once(&seen, wEnd) && s.dateTime(&w.End)
		}
		return false
	})
	return w, ok && seen == wTerritory|wStart|wEnd
}

func upper(c byte) bool { return c >= 'A' && c <= 'Z' }
func digit(c byte) bool { return c >= '0' && c <= '9' }

// dateTime reads an RFC 3339 date-time as time.Time decodes it from JSON,
// accepting only the strict shape the schema's date-time format also
// accepts: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM), seconds below 60, offsets
// within ±23:59 (Go's parser checks the date's days).
func (s *scanner) dateTime(t *time.Time) bool {
	raw, escaped, ok := s.rawString()
	if !ok || escaped || len(raw) < 20 {
		return false
	}
	d := func(i int) int { return int(raw[i]-'0')*10 + int(raw[i+1]-'0') }
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if !digit(raw[i]) {
			return false
		}
	}
	if raw[4] != '-' || raw[7] != '-' || raw[10] != 'T' || raw[13] != ':' || raw[16] != ':' ||
		d(11) > 23 || d(14) > 59 || d(17) > 59 {
		return false
	}
	rest := raw[19:]
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && digit(rest[n]) {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && digit(rest[1]) && digit(rest[2]) && rest[3] == ':' &&
		digit(rest[4]) && digit(rest[5]):
		if int(rest[1]-'0')*10+int(rest[2]-'0') > 23 || int(rest[4]-'0')*10+int(rest[5]-'0') > 59 {
			return false
		}
	default:
		return false
	}
	return t.UnmarshalText(raw) == nil
}

const (
	rPath uint = 1 << iota
	rQuality
	rBandwidth
	rWidth
	rHeight
	rCodecs
)

// rendition is $defs/rendition.
func (s *scanner) rendition() (playback.Rendition, bool) {
	var r playback.Rendition
	var seen uint
	ok := s.object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "path":
			r.Path, ok = s.str()
			return ok && once(&seen, rPath) && renditionPath(r.Path)
		case "quality":
			var q string
			q, ok = s.str()
			r.Quality = playback.Quality(q)
			return ok && once(&seen, rQuality) && (q == "SD" || q == "HD" || q == "UHD")
		case "bandwidth":
			r.Bandwidth, ok = s.uint()
			return ok && once(&seen, rBandwidth) && r.Bandwidth >= 1
		case "width":
			r.Width, ok = s.uint()
			return ok && once(&seen, rWidth) && r.Width >= 1
		case "height":
			r.Height, ok = s.uint()
			return ok && once(&seen, rHeight) && r.Height >= 1
		case "codecs":
			r.Codecs, ok = s.str()
			return ok && once(&seen, rCodecs) && r.Codecs != ""
		}
		return false
	})
	return r, ok && seen == rPath|rQuality|rBandwidth|rWidth|rHeight|rCodecs
}

// renditionPath is ^[A-Za-z0-9_-]+$.
func renditionPath(p string) bool {
	if p == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(upper(c) || c >= 'a' && c <= 'z' || digit(c) || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

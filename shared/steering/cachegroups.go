package steering

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Methods is a set of Traffic Router localization methods: the ways a
// client may be sent to a cache group.
type Methods uint8

const (
	// MethodCZ: clients whose coverage zone names the group, its backups,
	// or the group closest to the zone's coordinates.
	MethodCZ Methods = 1 << iota
	// MethodDeepCZ: clients of a deep coverage zone.
	MethodDeepCZ
	// MethodGeo: clients located by GeoIP (or the default location).
	MethodGeo

	// AllMethods is Traffic Router's default when a group lists none.
	AllMethods = MethodCZ | MethodDeepCZ | MethodGeo
)

// CacheGroup is what Traffic Router's CacheLocation knows of a cache group
// (here: a PoP) besides its caches.
type CacheGroup struct {
	// Backups are tried in order when the client's coverage zone names this
	// group and it has no usable edge.
	Backups []string
	// FallbackToClosest sends those clients to the group closest to their
	// zone's coordinates once the backups fail too; when false they get
	// no edge.
	FallbackToClosest bool
	// Methods the group may be chosen by; zero means all.
	Methods Methods
}

func (g CacheGroup) allows(m Methods) bool { return g.Methods == 0 || g.Methods&m != 0 }

// LoadCacheGroups reads the "edgeLocations" of a Traffic Router
// configuration (CRConfig.json) or a file holding just that object.
func LoadCacheGroups(path string) (map[string]CacheGroup, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("steering.LoadCacheGroups: %w", err)
	}
	g, err := ParseCacheGroups(b)
	if err != nil {
		return nil, fmt.Errorf("steering.LoadCacheGroups %s: %w", path, err)
	}
	return g, nil
}

// ParseCacheGroups reads edge locations as Traffic Router's
// ConfigHandler.parseLocationConfig does:
//
//	{"edgeLocations": {"fra": {"latitude": 50.1, "longitude": 8.7,
//	  "backupLocations": {"list": ["muc", "ams"], "fallbackToClosest": false},
//	  "localizationMethods": ["CZ", "GEO"]}}}
//
// Without backupLocations, or with one that has no list, a group falls back
// to the closest group; with a list, only when fallbackToClosest is true.
// Unknown and non-string localization methods are skipped; none at all
// enables every method. The bytes are read as a coverage zone file's
// (decodeFile): a byte order mark, UTF-16 and UTF-32 are taken.
func ParseCacheGroups(data []byte) (map[string]CacheGroup, error) {
	// Decoded as a coverage zone file is, but a byte that is not UTF-8
	// reads as U+FFFD: Traffic Router reads its CRConfig through a
	// FileReader, which replaces malformed input, so such a file loads.
	top, err := decodeObject(jacksonText(data))
	if err != nil {
		return nil, fmt.Errorf("steering.ParseCacheGroups: %w", err)
	}
	if top == nil {
		return nil, fmt.Errorf("steering.ParseCacheGroups: not a JSON object")
	}
	locs := top
	if raw, ok := top.get("edgeLocations"); ok {
		if locs, err = decodeObject(raw); err != nil || locs == nil {
			return nil, fmt.Errorf("steering.ParseCacheGroups: edgeLocations is not an object")
		}
	}
	out := make(map[string]CacheGroup, len(locs.keys))
	for i, name := range locs.keys {
		g := CacheGroup{FallbackToClosest: true}
		jo, _ := decodeObject(locs.vals[i])
		if jo == nil {
			out[name] = g
			continue
		}
		if raw, ok := jo.get("backupLocations"); ok {
			g.Backups = []string{}
			if b, _ := decodeObject(raw); b != nil {
				if list, ok := b.get("list"); ok {
					for _, e := range jsonElements(list) {
						g.Backups = append(g.Backups, jsonText(e))
					}
					g.FallbackToClosest = false
					if f, ok := b.get("fallbackToClosest"); ok {
						g.FallbackToClosest = asBoolean(f)
					}
				}
			}
		}
		if raw, ok := jo.get("localizationMethods"); ok && bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
			for _, e := range jsonElements(raw) {
				if !bytes.HasPrefix(bytes.TrimSpace(e), []byte(`"`)) {
					continue
				}
				switch jsonText(e) {
				case "CZ":
					g.Methods |= MethodCZ
				case "DEEP_CZ":
					g.Methods |= MethodDeepCZ
				case "GEO":
					g.Methods |= MethodGeo
				}
			}
		}
		out[name] = g
	}
	return out, nil
}

// asBoolean is Jackson's asBoolean(false): true, "true" (after
// String.trim), or a non-zero integer; a number with a fraction or an
// exponent is a double, which is false whatever its value.
func asBoolean(raw []byte) bool {
	s := string(bytes.TrimSpace(raw))
	switch {
	case s == "true":
		return true
	case strings.HasPrefix(s, `"`):
		return javaTrim(jsonText(raw)) == "true"
	case s == "false" || s == "null" || s == "" || s[0] == '{' || s[0] == '[' || strings.ContainsAny(s, ".eE"):
		return false
	}
	return strings.Trim(s, "-0") != ""
}

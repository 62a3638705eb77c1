package steering

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Cache group settings read as Traffic Router's
// ConfigHandler.parseLocationConfig and parseLocalizationMethods read them.
func TestParseCacheGroups(t *testing.T) {
	t.Parallel()
	groups, err := ParseCacheGroups([]byte(`{"edgeLocations": {
	  "plain": {"latitude": 50, "longitude": 8},
	  "list": {"backupLocations": {"list": ["a", "b"]}},
	  "list-closest": {"backupLocations": {"list": ["a"], "fallbackToClosest": true}},
	  "list-closest-string": {"backupLocations": {"list": ["a"], "fallbackToClosest": "true"}},
	  "list-closest-double": {"backupLocations": {"list": ["a"], "fallbackToClosest": 1.0}},
	  "list-closest-long": {"backupLocations": {"list": ["a"], "fallbackToClosest": 99999999999}},
	  "list-closest-nbsp": {"backupLocations": {"list": ["a"], "fallbackToClosest": "\u00a0true"}},
	  "list-closest-control": {"backupLocations": {"list": ["a"], "fallbackToClosest": "\u0001true "}},
	  "no-list": {"backupLocations": {"fallbackToClosest": false}},
	  "methods": {"localizationMethods": ["GEO", "CZ", "BOGUS", 7, null]},
	  "only-bogus": {"localizationMethods": ["BOGUS"]},
	  "not-array": {"localizationMethods": "CZ"},
	  "array-group": ["x"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]CacheGroup{
		"plain":               {FallbackToClosest: true},
		"list":                {Backups: []string{"a", "b"}, FallbackToClosest: false}, // optBoolean(..., false)
		"list-closest":        {Backups: []string{"a"}, FallbackToClosest: true},
		"list-closest-string": {Backups: []string{"a"}, FallbackToClosest: true},
		// Jackson's asBoolean(false), run with Jackson 2.14 here: a
		// floating-point number is false whatever its value, an integer
		// true unless 0; a string is "true" after String.trim.
		"list-closest-double":  {Backups: []string{"a"}, FallbackToClosest: false},
		"list-closest-long":    {Backups: []string{"a"}, FallbackToClosest: true},
		"list-closest-nbsp":    {Backups: []string{"a"}, FallbackToClosest: false},
		"list-closest-control": {Backups: []string{"a"}, FallbackToClosest: true},
		"no-list":              {Backups: []string{}, FallbackToClosest: true}, // the default stays without a list
		"methods":              {FallbackToClosest: true, Methods: MethodGeo | MethodCZ},
		"only-bogus":           {FallbackToClosest: true}, // none valid: all enabled
		"not-array":            {FallbackToClosest: true},
		"array-group":          {FallbackToClosest: true},
	}
	if !reflect.DeepEqual(groups, want) {
		t.Fatalf("groups =\n%#v\nwant\n%#v", groups, want)
	}
	if !groups["only-bogus"].allows(MethodCZ) || groups["methods"].allows(MethodDeepCZ) {
		t.Error("allows disagrees with Traffic Router's defaults")
	}
	for _, bad := range []string{`[]`, `{"edgeLocations": []}`, `{`} {
		if _, err := ParseCacheGroups([]byte(bad)); err == nil {
			t.Errorf("ParseCacheGroups(%s) accepted it", bad)
		}
	}
	// A Latin-1 byte reads as U+FFFD, as Traffic Router's FileReader reads
	// CRConfig, where a coverage zone file (decodeFile) refuses it: a file
	// that loaded before stops no start.
	latin1, err := ParseCacheGroups([]byte("{\"edgeLocations\": {\"z\xfcrich\": {\"backupLocations\": {\"list\": [\"fra\"]}}}}"))
	if g, ok := latin1["z\ufffdrich"]; err != nil || !ok || !reflect.DeepEqual(g.Backups, []string{"fra"}) {
		t.Errorf("a Latin-1 cache group name: %v, %#v; want it read with U+FFFD", err, latin1)
	}
}

// The cache groups file is read from disk beside the coverage zone file,
// so it is decoded the same way: one a Windows editor saved with a byte
// order mark, or PowerShell's redirection wrote in UTF-16, loads.
func TestLoadCacheGroupsDecodesTheFileAsCoverageZonesAre(t *testing.T) {
	t.Parallel()
	const file = `{"edgeLocations": {"fra": {"backupLocations": {"list": ["muc"]}, "localizationMethods": ["CZ"]}}}`
	want := map[string]CacheGroup{"fra": {Backups: []string{"muc"}, Methods: MethodCZ}}
	for _, tt := range []struct{ name, data string }{
		{name: "utf-8", data: file},
		{name: "utf-8 byte order mark", data: "\ufeff" + file},
		{name: "utf-16le with a byte order mark", data: utf16Bytes("\ufeff"+file, binary.LittleEndian)},
		{name: "utf-16be without a byte order mark", data: utf16Bytes(file, binary.BigEndian)},
		{name: "utf-32le", data: utf32Bytes(file, binary.LittleEndian)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "cachegroups.json")
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			groups, err := LoadCacheGroups(path)
			if err != nil {
				t.Fatalf("LoadCacheGroups: %v", err)
			}
			if !reflect.DeepEqual(groups, want) {
				t.Fatalf("groups = %#v, want %#v", groups, want)
			}
		})
	}
}

package steering

import (
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
}

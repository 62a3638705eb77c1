package catalogfile

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/playplane/playplane/shared/steering"
)

// CoverageZonesProblems lists what is wrong with a coverage zone file, nil
// when the steering parser takes it. The parser stops at the first bad
// entry (Traffic Router refuses a file whole); an operator fixing a file
// wants every one, so each network entry is put through the same parser on
// its own and named by its JSON pointer.
func CoverageZonesProblems(data []byte) []Problem {
	_, whole := steering.ParseCoverageZones(data)
	if whole == nil {
		return nil
	}
	var top map[string]json.RawMessage
	var zones map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil || json.Unmarshal(top["coverageZones"], &zones) != nil {
		return []Problem{{Pointer: "", Message: whole.Error()}}
	}
	var ps []Problem
	for _, name := range slices.Sorted(maps.Keys(zones)) {
		var zone map[string]json.RawMessage
		if json.Unmarshal(zones[name], &zone) != nil {
			continue // the parser reads a zone that is no object as matching nothing
		}
		for _, key := range []string{"network", "network6"} {
			var entries []json.RawMessage
			if json.Unmarshal(zone[key], &entries) != nil {
				continue
			}
			for i, e := range entries {
				one, _ := json.Marshal(map[string]any{"coverageZones": map[string]any{"z": map[string]any{key: []json.RawMessage{e}}}})
				if _, err := steering.ParseCoverageZones(one); err != nil {
					msg := err.Error()
					if _, after, ok := strings.Cut(msg, `zone "z": `); ok {
						msg = after
					}
					ps = append(ps, Problem{Pointer: fmt.Sprintf("/coverageZones/%s/%s/%d", escapeTokens([]string{name})[0], key, i), Message: msg})
				}
			}
		}
	}
	if len(ps) == 0 {
		ps = []Problem{{Pointer: "", Message: whole.Error()}}
	}
	return ps
}

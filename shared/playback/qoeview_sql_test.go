package playback_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// TestWarehouseSQLNamesTheQoEFields: the warehouse queries (docs/qoe) read
// the heartbeat message's qoe object by its JSON names; a renamed field
// must be renamed there too, or the cloud's figures silently go to zero.
func TestWarehouseSQLNamesTheQoEFields(t *testing.T) {
	t.Parallel()
	jsonNames := func(typ reflect.Type) []string {
		var names []string
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			names = append(names, name)
		}
		return names
	}
	names, message := jsonNames(reflect.TypeFor[playback.QoE]()), jsonNames(reflect.TypeFor[events.Heartbeat]())
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "qoe", "*.sql"))
	if err != nil || len(files) != 2 {
		t.Fatalf("docs/qoe/*.sql: %v %v", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		used := regexp.MustCompile(`\bqoe\.(\w+)`).FindAllStringSubmatch(string(raw), -1)
		if len(used) < 6 {
			t.Fatalf("%s reads %d qoe fields", f, len(used))
		}
		for _, m := range used {
			if !slices.Contains(names, m[1]) {
				t.Errorf("%s reads qoe.%s; the message's qoe fields are %v", f, m[1], names)
			}
		}
		// h is the heartbeat message in both queries.
		top := regexp.MustCompile(`\bh\.(\w+)`).FindAllStringSubmatch(string(raw), -1)
		for _, want := range []string{"country", "asn", "device_type"} {
			if !slices.ContainsFunc(top, func(m []string) bool { return m[1] == want }) {
				t.Errorf("%s does not read the viewer's %s", f, want)
			}
		}
		for _, m := range top {
			if m[1] != "qoe" && m[1] != "dt" && m[1] != "publish_time" && !slices.Contains(message, m[1]) {
				t.Errorf("%s reads h.%s; the message's fields are %v", f, m[1], message)
			}
		}
	}
}

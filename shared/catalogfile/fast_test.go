package catalogfile

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/storetest"
)

// kv is one member of an object written in order, so that a test can
// drop, repeat, rename or replace any of them.
type kv struct{ k, v string }

func object(members []kv) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(`"` + m.k + `": ` + m.v)
	}
	sb.WriteByte('}')
	return sb.String()
}

var (
	baseWindow    = []kv{{"territory", `"DE"`}, {"start", `"2024-01-01T00:00:00+01:00"`}, {"end", `"2030-01-01T00:00:00Z"`}}
	baseRendition = []kv{{"path", `"hd"`}, {"quality", `"HD"`}, {"bandwidth", `3000000`}, {"width", `1280`}, {"height", `720`},
		{"codecs", `"avc1.64001f,mp4a.40.2"`}}
	baseTitle = []kv{{"id", `"bbb"`}, {"name", `"Big Buck Bunny"`}, {"rating", `12`}, {"asset_path", `"/titles/bbb/"`},
		{"manifest", `"master.m3u8"`}, {"windows", "[" + object(baseWindow) + "]"}, {"renditions", "[" + object(baseRendition) + "]"}}
	otherTitle = object([]kv{{"id", `"sintel"`}, {"name", `"Sintel"`}, {"rating", `0`}, {"asset_path", `"/titles/sintel/"`}, {"manifest", `"m.mpd"`}})
)

// file is a catalogue with every section, whose first title is title.
func file(title string) string {
	return `{
  "$schema": "https://playplane.dev/schemas/catalogue.schema.json",
  "plans": [{"id": "basic", "name": "Basic", "max_streams": 1, "max_devices": 2, "max_quality": "SD"}],
  "titles": [
    ` + title + `,
    ` + otherTitle + `
  ],
  "edges": [{"id": "fra-1", "cdn": "local", "pop": "fra", "base_url": "http://127.0.0.1:8081", "lat": 50.11, "lon": 8.68}],
  "coverage_zones": {"coverageZones": {"fra": {"network": ["10.0.0.0/8"]}}},
  "accounts": [{"id": "acct_a", "plan_id": "basic", "territory": "DE"}]
}`
}

// values stand in for any one value of a title: good and bad of every
// type and of each field's rules.
var values = []string{
	`null`, `true`, `false`, `0`, `1`, `-1`, `-0`, `7`, `21`, `22`, `1.0`, `1.5`, `1e1`, `01`, `123456789012345678901234`,
	`""`, `"x"`, `"X"`, `"DE"`, `"de"`, `"DEU"`, `"D"`, `"/"`, `"//"`, `"/a/"`, `"/a\n/"`, `"/a` + "\r" + `/"`, `"a/b"`, `"/a/b/"`,
	`"\u002fa\u002f"`, `"\""`, `"é"`, `"\u00e9"`, `"\ud800"`, "\"\xff\"", `"a b"`, `"a#b"`, `"a|b"`, `"a\tb"`, `"SD"`, `"HD"`,
	`"UHD"`, `"sd"`, `"4K"`, `"S\u0044"`, `"master.m3u8"`, `"hd-1_x"`, `"hd.1"`,
	`"` + strings.Repeat("a", 256) + `"`, `"` + strings.Repeat("a", 257) + `"`,
	`"2024-01-01T00:00:00Z"`, `"2024-01-01T00:00:00.123Z"`, `"2024-01-01T00:00:00.Z"`, `"2024-01-01t00:00:00Z"`,
	`"2024-01-01T00:00:00z"`, `"2024-01-01 00:00:00Z"`, `"2024-13-01T00:00:00Z"`, `"2024-02-30T00:00:00Z"`,
	`"2024-02-29T23:59:59-23:59"`, `"2023-02-29T00:00:00Z"`, `"2024-01-01T24:00:00Z"`, `"2024-01-01T23:60:00Z"`,
	`"2016-12-31T23:59:60Z"`, `"2024-01-01T00:00:00+24:00"`, `"2024-01-01T00:00:00+01:60"`, `"2024-01-01T00:00:00+0100"`,
	`"2024-01-01T00:00:00"`, `"24-01-01T00:00:00Z"`, `"2024-1-01T00:00:00Z"`, `"2024-01-01T00:00:00\u005a"`,
	`"0000-01-01T00:00:00Z"`, `"9999-12-31T23:59:59.999999999999Z"`,
	`[]`, `{}`, `[1]`, `[null]`, `[{}]`, `[[]]`, "[" + object(baseWindow) + "]", "[" + object(baseRendition) + "]",
	"[" + object(baseWindow) + "," + object(baseWindow) + "]",
}

// mutations are file(title) with one change to the first title, one of
// its windows or renditions, or the file's frame.
func mutations() []string {
	var out []string
	// member mutations of an object: each value replaced, each member
	// dropped, repeated, renamed in another case, and an unknown member.
	mutate := func(members []kv, wrap func(string) string) {
		for i := range members {
			for _, v := range values {
				m := append([]kv(nil), members...)
				m[i].v = v
				out = append(out, wrap(object(m)))
			}
			out = append(out,
				wrap(object(append(append([]kv(nil), members[:i]...), members[i+1:]...))),
				wrap(object(append(append([]kv(nil), members...), members[i]))),
				wrap(object(append(append([]kv(nil), members[:i]...), append([]kv{{strings.ToUpper(members[i].k), members[i].v}}, members[i+1:]...)...))),
				wrap(object(append(append([]kv(nil), members[:i]...), append([]kv{{members[i].k + " ", members[i].v}}, members[i+1:]...)...))),
			)
		}
		out = append(out, wrap(object(append(append([]kv(nil), members...), kv{"extra", `1`}))), wrap("[]"), wrap("null"), wrap(`"x"`))
	}
	title := func(s string) string { return file(s) }
	mutate(baseTitle, title)
	withTitle := func(k string) func(string) string {
		return func(s string) string {
			m := append([]kv(nil), baseTitle...)
			for i := range m {
				if m[i].k == k {
					m[i].v = "[" + s + "]"
				}
			}
			return file(object(m))
		}
	}
	mutate(baseWindow, withTitle("windows"))
	mutate(baseRendition, withTitle("renditions"))
	// The frame: syntax, white space, sections.
	good := file(object(baseTitle))
	for _, r := range [][2]string{
		{`"titles": [`, `"titles": null, "x": [`}, {`"titles": [`, `"titles": {}, "x": [`}, {`"titles": [`, `"Titles": [`},
		{`"plans": [`, `"titles": [], "plans": [`}, {`"plans": [`, `"extra": 1, "plans": [`}, {"\n  ]", ",\n  ]"},
		{"\n  ]", "\n  ],"}, {`"edges"`, `"edges": [], "edges"`}, {"{\n", "{,\n"}, {"{\n", " \t\r\n{\n"}, {"\n}", "\n} x"},
		{"\n}", "\n}\n\n"}, {"\n}", "\n}}"}, {"\n}", ""}, {`"basic"`, `"bas\u0069c"`}, {`"plans": [`, `"plans": [1,`},
		{`"coverage_zones": {`, `"coverage_zones": {"x":1,`}, {`"lat": 50.11`, `"lat": 500`}, {`"id": "acct_a"`, `"id": "acct/a"`},
		{`"$schema": "`, `"$schema": 1, "y": "`}, {`"titles"`, `"\u0074itles"`}, {": [", ":["}, {", ", ","},
		{`"id": "sintel"`, `"id": "bbb"`}, {`"2030-01-01T00:00:00Z"`, `"2020-01-01T00:00:00Z"`}, {"10.0.0.0/8", "10.0.0.0/33"},
	} {
		out = append(out, strings.Replace(good, r[0], r[1], 1))
	}
	// Truncations.
	for i := 0; i < len(good); i += 7 {
		out = append(out, good[:i])
	}
	return out
}

// schemaPathParse is Parse with every file through the schema.
func schemaPathParse(data []byte) (File, error) { return parse("c.json", data, false) }

// Parse with the fast path gives what the schema path gives, file for file
// and error for error, on good files and on every mutation; and the fast
// path alone never takes a file the schema refuses.
func TestFastPathAgreesWithTheSchema(t *testing.T) {
	t.Parallel()
	taken, refused := 0, 0
	for _, m := range mutations() {
		data := []byte(m)
		got, gotErr := Parse("c.json", data)
		want, wantErr := schemaPathParse(data)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && !sameProblems(gotErr, wantErr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("file:\n%s\nParse = %v, %v\nschema path = %v, %v", m, got, gotErr, want, wantErr)
		}
		if wantErr != nil {
			refused++
		}
		if f, ok := parseFast("c.json", data); ok {
			taken++
			sch, err := parseSchema("c.json", data, func(string) int { return 0 })
			if err != nil {
				t.Fatalf("the fast path takes a file the schema refuses (%v):\n%s", err, m)
			}
			if !reflect.DeepEqual(f, sch) {
				t.Fatalf("the fast path decodes\n%+v\nthe schema path\n%+v\nfrom:\n%s", f, sch, m)
			}
		}
	}
	// The corpus holds both kinds, and the fast path is what takes the
	// good ones.
	t.Logf("taken %d refused %d of %d", taken, refused, len(mutations()))
	if taken < 50 || refused < 500 {
		t.Fatalf("fast path took %d files, schema refused %d: the corpus does not test both", taken, refused)
	}
}

// sameProblems compares two errors of Parse; the schema validator lists
// a message's property names in no fixed order.
func sameProblems(a, b error) bool {
	var ia, ib *Invalid
	if !errors.As(a, &ia) || !errors.As(b, &ib) {
		return a.Error() == b.Error()
	}
	if len(ia.Problems) != len(ib.Problems) {
		return false
	}
	sorted := func(s string) string {
		r := []rune(s)
		slices.Sort(r)
		return string(r)
	}
	for i, p := range ia.Problems {
		q := ib.Problems[i]
		if p.Line != q.Line || p.Pointer != q.Pointer || sorted(p.Message) != sorted(q.Message) {
			return false
		}
	}
	return true
}

// demoExport is the demo catalogue as `playplane export` writes it.
func demoExport(t *testing.T) []byte {
	t.Helper()
	s := openBolt(t)
	if err := demo.Seed(context.Background(), s, "http://127.0.0.1:8080", time.Now()); err != nil {
		t.Fatal(err)
	}
	exp, err := Export(context.Background(), s, true)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Encode(&b, exp); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Good files of every shape go the fast path, to the same result.
func TestFastPathTakesGoodFiles(t *testing.T) {
	t.Parallel()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(goodYAML), &root); err != nil {
		t.Fatal(err)
	}
	fromYAML, err := yamlJSON(&root)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{name: "good", data: []byte(goodJSON)},
		{name: "from yaml", data: fromYAML},
		{name: "demo export", data: demoExport(t)},
		{name: "bench", data: storetest.CatalogueFile(50)},
		{name: "every field", data: []byte(file(object(baseTitle)))},
		{name: "null and empty lists", data: []byte(file(`{"id":"x","name":"\u00c9t\u00e9 <&>","rating":0,"asset_path":"/é/","manifest":"m","windows":null,"renditions":[]}`))},
		{name: "empty titles", data: []byte(`{"titles": []}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, ok := parseFast("c.json", tc.data)
			if !ok {
				t.Fatal("the fast path declines a good file")
			}
			want, err := parseSchema("c.json", tc.data, func(string) int { return 0 })
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f, want) {
				t.Fatalf("fast path\n%+v\nschema path\n%+v", f, want)
			}
		})
	}
}

// FuzzFastPathAgreesWithTheSchema: whatever the fast path takes, the
// schema takes and decodes the same.
func FuzzFastPathAgreesWithTheSchema(f *testing.F) {
	for _, m := range mutations() {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := parseFast("c.json", data)
		if !ok {
			return
		}
		want, err := parseSchema("c.json", data, func(string) int { return 0 })
		if err != nil {
			t.Fatalf("the fast path takes a file the schema refuses (%v):\n%q", err, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fast path\n%+v\nschema path\n%+v\nfrom %q", got, want, data)
		}
	})
}

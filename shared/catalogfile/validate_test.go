package catalogfile

import (
	"bytes"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/storetest"
)

// librarySchema is catalogue.schema.json compiled by the JSON Schema
// library, as Parse validated files before validate.go: the reference our
// validator is held to. It also proves the schema is a valid 2020-12
// schema (the library checks it against the draft's meta-schema).
func librarySchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// libraryProblems are the library's answer as Parse gave it: the leaf
// errors, each at its instance pointer with its English message.
func libraryProblems(e *jsonschema.ValidationError) []Problem {
	if len(e.Causes) == 0 {
		return []Problem{{Pointer: "/" + strings.Join(escapeTokens(e.InstanceLocation), "/"), Message: e.ErrorKind.LocalizedString(printer)}}
	}
	var out []Problem
	for _, c := range e.Causes {
		out = append(out, libraryProblems(c)...)
	}
	return out
}

// comparable is a problem with the names of an "additional properties"
// message sorted: the library lists them in map order.
func comparable(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		msg := p.Message
		if names, ok := strings.CutPrefix(msg, "additional properties "); ok {
			names = strings.TrimSuffix(names, " not allowed")
			list := strings.Split(names, ", ")
			slices.Sort(list)
			msg = "additional properties " + strings.Join(list, ", ") + " not allowed"
		}
		out[i] = p.Pointer + "\x00" + msg
	}
	slices.Sort(out)
	return out
}

// memberMutations are an object's members each replaced by every value,
// dropped, and an unknown member added (two, to hold their order).
func memberMutations(members []kv, values []string, wrap func(string) string) []string {
	var out []string
	for i := range members {
		for _, v := range values {
			m := slices.Clone(members)
			m[i].v = v
			out = append(out, wrap(object(m)))
		}
		out = append(out, wrap(object(slices.Delete(slices.Clone(members), i, i+1))))
	}
	return append(out, wrap(object(append(slices.Clone(members), kv{"zz", "1"}, kv{"extra", `1`}, kv{"a/b~c", `1`}))),
		wrap(object(nil)), wrap("[]"), wrap("null"), wrap(`"x"`), wrap("1.5"))
}

// validatorCorpus is every file the differential test runs: the fast
// path's corpus (titles, windows, renditions, the frame, syntax), the
// demo catalogue, and mutations of each other section's records, whose
// rules (ids, URLs, bounds, enums) the titles do not exercise.
func validatorCorpus(t *testing.T) []string {
	corpus := append(mutations(), goodJSON, string(storetest.CatalogueFile(20)))
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(goodYAML), &root); err != nil {
		t.Fatal(err)
	}
	fromYAML, err := yamlJSON(&root)
	if err != nil {
		t.Fatal(err)
	}
	corpus = append(corpus, string(fromYAML), string(demoExport(t)))

	more := append(slices.Clone(values),
		`-90`, `-90.0001`, `90`, `90.5`, `-180`, `180.0000001`, `-181`, `64`, `65`, `4294967295`, `4294967296`, `1e400`,
		`-1e-400`, `0.0`, `1E+2`, `[3320]`, `[-1]`, `[1.5]`, `["1"]`, `[4294967296]`, `[0, 4294967295]`,
		`"http://e"`, `"https://e.example/p?q#f"`, `"ftp://e"`, `"e.example"`, `"/relative"`, `"http://[::1]:80"`,
		`"http://::1/"`, `"http://[::1%25eth0]/"`, `"http://[1::2::3]/"`, `"http://[::1/"`, `"http://e/%zz"`, `"http:// e"`,
		`"https://"`, `"HTTP://E"`, `"http://e\u0000"`, `"active"`, `"none"`, `"trialing"`, `"Active"`, `"canceled"`,
		`"cus_1"`, `"a@b.c"`,
		// Either side of the exponents decimalOf leaves to big.Rat.
		`1e999`, `1e1000`, `-1e1000`, `1.5e1000`, `12e999`, `1e-1000`, `1e-1001`, `-1e-1001`, `-0.001e-999`,
		`0.000e99999`, `-0e1001`, `-0.0`, `100e-2`, `1000000e-1006`)
	section := func(name string) func(string) string {
		return func(rec string) string {
			return strings.Replace(file(object(baseTitle)), `"`+name+`": [`, `"`+name+`": [`+rec+`, `, 1)
		}
	}
	plan := []kv{{"id", `"p"`}, {"name", `"P"`}, {"max_streams", `1`}, {"max_devices", `1`}, {"max_quality", `"SD"`}}
	edge := []kv{{"id", `"e"`}, {"cdn", `"c"`}, {"pop", `"fra"`}, {"base_url", `"https://e"`}, {"lat", `0`}, {"lon", `0`},
		{"asns", `[1]`}, {"no_ipv4", `false`}, {"no_ipv6", `true`}, {"capacity", `1`}, {"weight", `0`}, {"disabled", `false`}}
	account := []kv{{"id", `"a"`}, {"email", `"a@b.c"`}, {"plan_id", `"basic"`}, {"status", `"active"`}, {"territory", `"DE"`},
		{"parental_cap", `12`}, {"customer_id", `"cus_a"`}, {"suspended", `false`}}
	// Every reason a date-time is refused for, in a window.
	times := []string{`"2024-01-01T00:00:60Z"`, `"2024-06-30T23:59:60Z"`, `"2024-06-30T23:59:60+01:00"`, `"2024-06-30T00:59:60+01:00"`,
		`"2024-01-01T00:00:00 01:00"`, `"2024-01-01T00:00:00+01-00"`, `"2024-01-01T00:00:00+0a:00"`, `"2024-01-01T00:00:00+-1:00"`,
		`"2024-01-01T00:00:00+01:-1"`, `"2024-01-01Taa:00:00Z"`, `"2024-01-01T-1:00:00Z"`, `"2024-01-01T00-00:00Z"`,
		`"2024-01-01T00:00:00.1234+01:00"`, `"2024-01-01T00:00:00.x+01:00"`, `"2024-01-01T00:00:00.5"`, `"2024-01-01T00:00:00ZZ"`,
		`"2024-01-01X00:00:00Z"`, `"2024-01-0aT00:00:00Z"`, `"2024-01-01T00:00:00-00:00"`, `"2024-01-01T23:59:59-23:59"`}
	windows := func(w string) string {
		m := slices.Clone(baseTitle)
		m[5].v = "[" + w + "]"
		return file(object(m))
	}
	corpus = append(corpus, memberMutations(baseWindow, times, windows)...)
	corpus = append(corpus, memberMutations(plan, more, section("plans"))...)
	corpus = append(corpus, memberMutations(edge, more, section("edges"))...)
	corpus = append(corpus, memberMutations(account, more, section("accounts"))...)
	// The file's own members and the coverage zones' frame.
	good := file(object(baseTitle))
	for _, v := range []string{`null`, `1`, `"x"`, `[]`, `{}`, `{"coverageZones": 1}`, `{"coveragezones": {}}`} {
		corpus = append(corpus,
			strings.Replace(good, `"coverage_zones": {"coverageZones": {"fra": {"network": ["10.0.0.0/8"]}}}`, `"coverage_zones": `+v, 1),
			strings.Replace(good, `"$schema": "https://playplane.dev/schemas/catalogue.schema.json"`, `"$schema": `+v, 1),
			strings.Replace(good, `"plans": [`, `"plans": `+v+`, "x": [`, 1),
			strings.Replace(good, `"edges": [`, `"edges": `+v+`, "x": [`, 1),
			strings.Replace(good, `"accounts": [`, `"accounts": `+v+`, "x": [`, 1))
	}
	// Several problems in one record, on one line (an admin API body).
	corpus = append(corpus,
		section("plans")(`{"id":"a/b","name":"","max_streams":0,"max_devices":-1,"max_quality":"4K","x":1,"y":2}`),
		section("edges")(`{"id":"","cdn":1,"base_url":"ftp://e","lat":91,"lon":-181,"asns":[-1,1.5,"x"],"weight":-1}`),
		section("accounts")(`{"id":"`+strings.Repeat("é", 257)+`","territory":"de","status":"x","parental_cap":22}`),
		`[]`, `null`, `1`, `"x"`, `{}`, ` `, ``, `{"titles": [], "titles": 1}`, `{"a": 1} {}`, `{"a": 1} x`, `{"a": 1}]`)
	return corpus
}

// TestValidatorAgreesWithTheLibrary: on every file of the corpus our
// validator finds exactly the problems the JSON Schema library finds
// (pointer and message, the same syntax errors), so Parse, CheckRecord
// and the admin API answer as they did when they used the library; only
// the order within one object is fixed instead of map order.
func TestValidatorAgreesWithTheLibrary(t *testing.T) {
	t.Parallel()
	lib := librarySchema(t)
	ours, err := schema()
	if err != nil {
		t.Fatal(err)
	}
	refused, problems := 0, 0
	for _, doc := range validatorCorpus(t) {
		data := []byte(doc)
		libInst, libErr := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		inst, err := decodeJSON(data)
		if (libErr == nil) != (err == nil) || err != nil && (err.Error() != libErr.Error() ||
			syntaxProblem(data, err) != syntaxProblem(data, libErr)) {
			t.Fatalf("syntax: ours %v, library %v\nfile:\n%s", err, libErr, doc)
		}
		if err != nil {
			continue
		}
		var want []Problem
		if err := lib.Validate(libInst); err != nil {
			var ve *jsonschema.ValidationError
			if !errors.As(err, &ve) {
				t.Fatal(err)
			}
			want = libraryProblems(ve)
		}
		got := ours.problems(inst)
		if !slices.Equal(comparable(got), comparable(want)) {
			t.Fatalf("file:\n%s\nours:\n%q\nlibrary:\n%q", doc, comparable(got), comparable(want))
		}
		if len(want) > 0 {
			refused++
			problems += len(want)
		}
	}
	// Both kinds, and many problems: a validator that accepts everything
	// or refuses everything fails above.
	t.Logf("%d files, %d refused with %d problems", len(validatorCorpus(t)), refused, problems)
	if refused < 1000 {
		t.Fatalf("only %d refused files: the corpus does not test the rules", refused)
	}
}

// Within one object, problems come in the order of the property names, so
// an answer is the same on every call (the library's varied).
func TestProblemsInAFixedOrder(t *testing.T) {
	t.Parallel()
	doc := `{"id":"a/b","name":"","max_streams":0,"max_devices":-1,"max_quality":"4K","zz":1,"extra":2}`
	first, err := CheckRecord("plan", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/id", "/max_devices", "/max_quality", "/max_streams", "/name", ""}
	var pointers []string
	for _, p := range first {
		pointers = append(pointers, p.Pointer)
	}
	if !slices.Equal(pointers, want) || first[5].Message != "additional properties 'extra', 'zz' not allowed" {
		t.Fatalf("problems %v, want pointers %q and the additional properties sorted", first, want)
	}
	for range 20 {
		again, _ := CheckRecord("plan", []byte(doc))
		if !slices.Equal(again, first) {
			t.Fatalf("problems %v, then %v", first, again)
		}
	}
}

// BenchmarkValidator is the schema path's check of a catalogue of
// storetest.BenchTitles() titles (a file the fast path declines takes it
// whole), by our validator and, as its floor, by the library.
func BenchmarkValidator(b *testing.B) {
	data := storetest.CatalogueFile(storetest.BenchTitles())
	inst, err := decodeJSON(data)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("library", func(b *testing.B) {
		lib := librarySchema(b)
		for b.Loop() {
			if err := lib.Validate(inst); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ours", func(b *testing.B) {
		ours, err := schema()
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if ps := ours.problems(inst); len(ps) > 0 {
				b.Fatal(ps)
			}
		}
	})
}

// Numbers beyond the exponents big.Rat takes (1e±1000000) are still
// numbers: the library, which parsed each into a big.Rat, compared a nil
// one and panicked (a 500 from the admin API for a bad body); and one
// short of that limit cost it tens of milliseconds and megabytes each,
// which decimalOf does not spend.
func TestNumbersOfAnyExponent(t *testing.T) {
	edge := func(member string) string {
		return `{"id":"e","cdn":"c","base_url":"https://e","lat":0,"lon":0,` + member + `}`
	}
	// A position given once: a name twice is refused on its own.
	at := func(lat, lon string) string {
		return `{"id":"e","cdn":"c","base_url":"https://e","lat":` + lat + `,"lon":` + lon + `}`
	}
	for _, tc := range []struct {
		name, kind, doc string
		want            []string
	}{
		{"huge number", "edge", edge(`"capacity":1e1000001`), []string{"/capacity 1e1000001 is beyond the numbers stored (magnitude at most 1.7976931348623157e+308)"}},
		{"huge latitude", "edge", at(`1e1000001`, `0`), []string{"/lat maximum: got ∞, want 90"}},
		{"huge negative longitude", "edge", at(`0`, `-1E+99999999999999999999`), []string{"/lon minimum: got -∞, want -180"}},
		{"tiny negative weight", "edge", edge(`"weight":-1e-1000001`), []string{"/weight minimum: got 0, want 0"}},
		{"zero of any exponent", "edge", edge(`"capacity":-0e99999999999999999999,"weight":-0.0e-99999999999999999999`), nil},
		{"tiny latitude", "edge", at(`-1e-1000001`, `0`), nil},
		{"huge integer", "edge", edge(`"asns":[1e1000001, 1.5e1000001]`), []string{
			"/asns/0 maximum: got ∞, want 4.294967295×10⁰⁹", "/asns/1 maximum: got ∞, want 4.294967295×10⁰⁹"}},
		{"tiny integer", "edge", edge(`"asns":[1e-1000001]`), []string{"/asns/0 got number, want integer"}},
		{"an integer of many digits", "edge", edge(`"asns":[0.` + strings.Repeat("0", 50) + `1e1000051]`),
			[]string{"/asns/0 maximum: got ∞, want 4.294967295×10⁰⁹"}},
		{"not an integer", "plan", `{"id":"p","name":"P","max_streams":1.` + strings.Repeat("1", 1100) + `e1001,"max_devices":1,"max_quality":"SD"}`,
			[]string{"/max_streams got number, want integer"}},
		{"huge streams", "plan", `{"id":"p","name":"P","max_streams":1e1000001,"max_devices":1,"max_quality":"SD"}`,
			[]string{"/max_streams maximum: got ∞, want 64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := CheckRecord(playback.Kind(tc.kind), []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				if strings.HasPrefix(p.Message, "json: ") { // the strict decode's, after the schema
					continue
				}
				if p.Line != 1 {
					t.Errorf("%v: line %d, want 1", p, p.Line)
				}
				got = append(got, p.Pointer+" "+p.Message)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("problems %q, want %q", got, tc.want)
			}
		})
	}
	// Not a timing: the bytes one number one short of big.Rat's limit
	// costs (10^999999 alone is 415 KB; the library spent 16 MB).
	inst, err := decodeJSON([]byte(`{"edges":[` + edge(`"asns":[1e999999]`) + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := schema()
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ps := ours.problems(inst)
	runtime.ReadMemStats(&after)
	if len(ps) != 1 || ps[0].Message != "maximum: got ∞, want 4.294967295×10⁰⁹" {
		t.Fatalf("problems %v", ps)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("checking 1e999999 allocated %d bytes", n)
	}
}

// The walks that drop readOnly members, read date-times and respell
// integers (dropReadOnly, dateTimes, integers) do not enter anyOf: a
// schema holding such a member in a branch would have it validated and
// then decoded as written, so it does not compile.
func TestAnyOfHoldsNoMemberAWriteChanges(t *testing.T) {
	t.Parallel()
	const head = `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", `
	for _, tc := range []struct {
		name, schema, want string
	}{
		{name: "strings only", schema: head + `"properties": {"a": {"anyOf": [{"$ref": "#/$defs/id"}, {"enum": [""]}]}}, "$defs": {"id": {"type": "string", "minLength": 1}}}`},
		{name: "numbers", schema: head + `"properties": {"a": {"anyOf": [{"type": "number"}, {"type": ["integer", "number"]}]}}}`},
		{name: "readOnly", schema: head + `"properties": {"a": {"anyOf": [{"type": "string"}, {"readOnly": true}]}}}`,
			want: "#/properties/a/anyOf/1: #/properties/a/anyOf/1 is readOnly"},
		{name: "a date-time by reference", schema: head + `"properties": {"a": {"anyOf": [{"$ref": "#/$defs/when"}, {"enum": [""]}]}}, "$defs": {"when": {"type": "string", "format": "date-time"}}}`,
			want: "#/properties/a/anyOf/0: #/$defs/when is a date-time"},
		{name: "a member of an object", schema: head + `"properties": {"a": {"anyOf": [{"type": "object", "properties": {"n": {"type": "integer"}}}, {"type": "null"}]}}}`,
			want: "#/properties/a/anyOf/0: #/properties/a/anyOf/0/properties/n is an integer"},
		{name: "an item", schema: head + `"properties": {"a": {"anyOf": [{"type": "array", "items": {"readOnly": true}}]}}}`,
			want: "#/properties/a/anyOf/0: #/properties/a/anyOf/0/items is readOnly"},
		{name: "in a definition referring to itself", schema: head + `"$ref": "#/$defs/tree", "$defs": {"tree": {"type": "object", "properties": {"kids": {"type": "array", "items": {"anyOf": [{"$ref": "#/$defs/tree"}, {"type": "null"}]}}, "at": {"type": "string", "format": "date-time"}}}}}`,
			want: "#/$defs/tree/properties/kids/items/anyOf/0: #/$defs/tree/properties/at is a date-time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := compileSchema([]byte(tc.schema))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("compile: %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("compile: %v, want an error %q...", err, tc.want)
			}
		})
	}
}

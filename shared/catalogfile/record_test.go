package catalogfile_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/playback"
)

func TestCheckRecord(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		kind playback.Kind
		doc  string
		want []string // pointers, "line:pointer" when the line matters
	}{
		{name: "good plan", kind: playback.KindPlan, doc: `{"id":"p","name":"P","max_streams":1,"max_devices":1,"max_quality":"SD"}`},
		{name: "plan fields", kind: playback.KindPlan, doc: "{\"id\":\"p\",\"name\":\"P\",\n\"max_streams\":0,\"max_devices\":1,\n\"max_quality\":\"4K\"}",
			want: []string{"/max_streams", "/max_quality"}},
		{name: "title window order", kind: playback.KindTitle,
			doc:  `{"id":"t","name":"T","rating":0,"asset_path":"/t/","manifest":"m","windows":[{"territory":"DE","start":"2030-01-01T00:00:00Z","end":"2020-01-01T00:00:00Z"}]}`,
			want: []string{"/windows/0/end"}},
		// No viewer is ever located in a grouping or an unknown region
		// (playback.NotCountries), so a window there licenses nothing.
		{name: "title window in no country", kind: playback.KindTitle,
			doc:  `{"id":"t","name":"T","rating":0,"asset_path":"/t/","manifest":"m","windows":[{"territory":"EU","start":"2020-01-01T00:00:00Z","end":"2030-01-01T00:00:00Z"}]}`,
			want: []string{"/windows/0/territory"}},
		{name: "account home in no country", kind: playback.KindAccount, doc: `{"id":"a","plan_id":"p","territory":"ZZ"}`, want: []string{"/territory"}},
		{name: "kosovo is a country", kind: playback.KindAccount, doc: `{"id":"a","plan_id":"p","territory":"XK"}`},
		{name: "edge range", kind: playback.KindEdge, doc: `{"id":"e","cdn":"c","base_url":"https://e","lat":0,"lon":200}`, want: []string{"/lon"}},
		// Steering names CDNs to players as HLS/DASH pathway IDs and
		// leaves out an edge whose cdn is not one.
		{name: "edge cdn is a pathway id", kind: playback.KindEdge, doc: `{"id":"e","cdn":"cloud front","base_url":"https://e","lat":0,"lon":0}`, want: []string{"/cdn"}},
		{name: "account suspended is a boolean", kind: playback.KindAccount, doc: `{"id":"a","plan_id":"p","territory":"DE","suspended":"yes"}`,
			want: []string{"/suspended"}},
		{name: "not an object", kind: playback.KindPlan, doc: `[]`, want: []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ps, err := catalogfile.CheckRecord(tc.kind, []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Pointer)
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("no problem at %q in %v", w, ps)
				}
			}
			if len(tc.want) == 0 && len(ps) > 0 {
				t.Errorf("problems %v", ps)
			}
		})
	}
	// Lines are those of the record itself.
	ps, _ := catalogfile.CheckRecord(playback.KindPlan, []byte("{\"id\":\"p\",\"name\":\"P\",\n\"max_streams\":0,\"max_devices\":1,\n\"max_quality\":\"SD\"}"))
	if len(ps) != 1 || ps[0].Line != 2 {
		t.Fatalf("problems %v, want one on line 2", ps)
	}
}

func TestCoverageZonesProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{name: "good", file: `{"coverageZones":{"a":{"network":["10.0.0.0/8"],"network6":["2001:db8::/32"]}}}`},
		{name: "each bad entry", file: `{"coverageZones":{"b":{"network":["10.0.0.0/8","10.0.0.0/33"]},"a/x":{"network6":["::/129"]}}}`,
			want: []string{"/coverageZones/a~1x/network6/0", "/coverageZones/b/network/1"}},
		{name: "no zones object", file: `{"zones":{}}`, want: []string{""}},
		{name: "not json", file: `{`, want: []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, p := range catalogfile.CoverageZonesProblems([]byte(tc.file)) {
				got = append(got, p.Pointer)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("problems at %q, want %q", got, tc.want)
			}
		})
	}
}

// TestServerOwnedMembersAreReadOnly: a record as the admin API's GET
// answers it, with the members the server owns (an account's devices and
// subscriptions, an edge's health), checks and parses as its settings:
// the schema marks those members readOnly and a write ignores them.
// Before, the schema refused them (additionalProperties), so a GET body
// written back was 422. The schema's readOnly members are exactly the
// stored record's members that are not settings, so a member added to
// the stored record (or to the settings) without the schema fails here.
func TestServerOwnedMembersAreReadOnly(t *testing.T) {
	t.Parallel()
	var schema struct {
		Defs map[string]struct {
			Properties map[string]struct {
				ReadOnly bool `json:"readOnly"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(catalogfile.SchemaJSON, &schema); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name            string
		kind            playback.Kind
		stored, setting reflect.Type
		doc             string
	}{
		{name: "account", kind: playback.KindAccount, stored: reflect.TypeFor[playback.Account](), setting: reflect.TypeFor[catalogfile.Account](),
			doc: `{"id":"a","plan_id":"p","territory":"DE","status":"active","parental_cap":0,"customer_id":"cus_a",
			"current_period_end":"2026-12-31T00:00:00Z","devices":[{"id":"tv","registered_at":"2026-01-01T00:00:00Z"}],
			"subscriptions":[{"id":"sub_a","status":"active","plan_id":"p","current_period_end":"2026-12-31T00:00:00Z","clock":1}],
			"updated_at":"2026-12-01T00:00:00Z","announced":{"entitled":true,"status":"active","plan_id":"p"},
			"customer_clock":1,"customer_link_created":1,"customers_deleted":[{"customer":"cus_old","clock":1,"event":"evt_1"}],
			"other_products":[{"subscription":"sub_o","clock":1,"event":"evt_2"}]}`},
		{name: "edge", kind: playback.KindEdge, stored: reflect.TypeFor[playback.Edge](), setting: reflect.TypeFor[catalogfile.Edge](),
			doc: `{"id":"e","cdn":"c","pop":"fra","base_url":"https://e","lat":0,"lon":0,"ipv4_down":true,"ipv6_down":false,
			"capacity":0,"reported_capacity":10,"load":5,"healthy":true,"hot_titles":["t"],"reported_at":"2026-12-01T00:00:00Z",
			"received_at":"2026-12-01T00:00:01Z","rebuffer_ratio":0.01,"throughput_kbps":5000}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			settings := map[string]bool{}
			for _, n := range jsonNames(tc.setting) {
				settings[n] = true
			}
			var owned []string
			for _, n := range jsonNames(tc.stored) {
				if !settings[n] {
					owned = append(owned, n)
				}
			}
			var marked []string
			for n, p := range schema.Defs[string(tc.kind)].Properties {
				if p.ReadOnly {
					marked = append(marked, n)
				}
			}
			slices.Sort(owned)
			slices.Sort(marked)
			if !slices.Equal(marked, owned) {
				t.Errorf("$defs/%s marks %q readOnly; the stored record's members that are not settings are %q", tc.kind, marked, owned)
			}

			ps, err := catalogfile.CheckRecord(tc.kind, []byte(tc.doc))
			if err != nil || len(ps) > 0 {
				t.Fatalf("a GET body: problems %v, %v", ps, err)
			}
			f, err := catalogfile.Parse("f.json", []byte(`{"`+string(tc.kind)+`s":[`+tc.doc+`]}`))
			if err != nil {
				t.Fatalf("a file holding a GET body: %v", err)
			}
			if len(f.Accounts)+len(f.Edges) != 1 {
				t.Fatalf("parsed %+v", f)
			}
		})
	}
}

// jsonNames is the JSON member names of struct type t.
func jsonNames(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "-" && f.IsExported() {
			out = append(out, name)
		}
	}
	return out
}

// JSON Schema counts a number whose fraction is zero as an integer
// (2020-12 validation, section 6.1.1: 2.0 and 1e1 are integers), so the
// published schema takes "max_streams": 2.0 from an operator's tool; the
// typed decode into int then refused it with Go's message and no pointer.
// A file and a record read it as the integer it is; one beyond the
// integers Go stores is a problem at its member.
func TestIntegralNumbersAreIntegers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		kind playback.Kind
		doc  string
		read string // the record as read; "" when want names problems
		want []string
	}{
		{name: "plan", kind: playback.KindPlan, doc: `{"id":"p","name":"P","max_streams":2.0,"max_devices":1e1,"max_quality":"SD"}`,
			read: `{"id":"p","name":"P","max_streams":2,"max_devices":10,"max_quality":"SD"}`},
		{name: "account", kind: playback.KindAccount, doc: `{"id":"a","plan_id":"p","territory":"DE","parental_cap":16.0}`,
			read: `{"id":"a","plan_id":"p","territory":"DE","parental_cap":16}`},
		{name: "title", kind: playback.KindTitle,
			doc: `{"id":"t","name":"T","rating":1.2e1,"asset_path":"/t/","manifest":"m",` +
				`"renditions":[{"path":"hd","quality":"HD","bandwidth":5.0E6,"width":1920.000,"height":108e1,"codecs":"avc1"}]}`,
			read: `{"id":"t","name":"T","rating":12,"asset_path":"/t/","manifest":"m","windows":null,` +
				`"renditions":[{"path":"hd","quality":"HD","bandwidth":5000000,"width":1920,"height":1080,"codecs":"avc1"}]}`},
		{name: "edge", kind: playback.KindEdge, doc: `{"id":"e","cdn":"c","base_url":"https://e","lat":0,"lon":0,"asns":[13335.0,-0.0]}`,
			read: `{"id":"e","cdn":"c","base_url":"https://e","lat":0,"lon":0,"asns":[13335,0]}`},
		{name: "beyond Go's integers", kind: playback.KindTitle,
			doc:  `{"id":"t","name":"T","rating":0,"asset_path":"/t/","manifest":"m","renditions":[{"path":"hd","quality":"HD","bandwidth":1e19,"width":1,"height":1,"codecs":"avc1"}]}`,
			want: []string{"/renditions/0/bandwidth"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec, ps, err := catalogfile.ReadRecord(tc.kind, []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Pointer)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("problems %v, want at %q", ps, tc.want)
			}
			if tc.read != "" {
				var have, want any
				if err := json.Unmarshal(rec, &have); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal([]byte(tc.read), &want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(have, want) {
					t.Fatalf("read %s, want %s", rec, tc.read)
				}
			}
			// An import reads the file as the admin API reads the record.
			_, err = catalogfile.Parse("f.json", []byte(`{"`+string(tc.kind)+`s":[`+tc.doc+`]}`))
			if (err != nil) != (tc.want != nil) {
				t.Fatalf("Parse: %v, want problems at %q", err, tc.want)
			}
		})
	}
}

// A number beyond float64 in a member the schema bounds by no maximum
// (an edge's capacity and weight) passed the schema, which compares
// exactly, and Go's decode then refused it: a problem at pointer ""
// naming a Go struct field. It is a problem at its member, in a record,
// a JSON file and a YAML file alike.
func TestNumbersBeyondFloat64(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, member, value string
	}{
		{name: "capacity", member: "capacity", value: "1e400"},
		{name: "weight in digits", member: "weight", value: "1" + strings.Repeat("0", 400)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := `{"id":"e","cdn":"c","base_url":"https://e","lat":0,"lon":0,"` + tc.member + `":` + tc.value + `}`
			_, ps, err := catalogfile.ReadRecord(playback.KindEdge, []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != 1 || ps[0].Pointer != "/"+tc.member {
				t.Fatalf("record: problems %v, want one at /%s", ps, tc.member)
			}
			for _, file := range []struct{ name, data string }{
				{"c.json", `{"edges":[` + doc + `]}`},
				{"c.yaml", "edges:\n  - {id: e, cdn: c, base_url: \"https://e\", lat: 0, lon: 0, " + tc.member + ": " + tc.value + "}\n"},
			} {
				_, err := catalogfile.Parse(file.name, []byte(file.data))
				var inv *catalogfile.Invalid
				if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Pointer != "/edges/0/"+tc.member {
					t.Fatalf("%s: %v, want one problem at /edges/0/%s", file.name, err, tc.member)
				}
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    catalogfile.Problem
		want string
	}{
		{name: "line and field", p: catalogfile.Problem{Line: 3, Pointer: "/plans/0/id", Message: "missing"}, want: "line 3: /plans/0/id: missing"},
		{name: "field without a line", p: catalogfile.Problem{Pointer: "/id", Message: "missing"}, want: "/id: missing"},
		{name: "the record as a whole", p: catalogfile.Problem{Line: 1, Message: "missing property 'id'"}, want: "line 1: missing property 'id'"},
		{name: "the file as a whole", p: catalogfile.Problem{Message: "not JSON"}, want: "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.p.String(); got != tc.want {
				t.Errorf("%+v reads %q, want %q", tc.p, got, tc.want)
			}
		})
	}
}

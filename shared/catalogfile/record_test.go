package catalogfile_test

import (
	"slices"
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

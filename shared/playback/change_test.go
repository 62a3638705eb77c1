package playback

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// NewChange's documents are what CanonicalDoc makes of them, so a store
// that takes them as they are writes the same bytes as one that checks
// them.
func TestNewChangeIsCanonical(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		name string
		kind Kind
		v    any
	}{
		{name: "plan", kind: KindPlan, v: Plan{ID: "p", Name: "P <&>", MaxStreams: 1, MaxDevices: 2, MaxQuality: QualityHD}},
		{name: "title", kind: KindTitle, v: Title{ID: "t", Name: "Été \u2028", AssetPath: "/t/", Manifest: "m",
			Windows:    []LicenceWindow{{Territory: "DE", Start: time.Date(2024, 1, 1, 0, 0, 0, 5, berlin), End: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}},
			Renditions: []Rendition{{Path: "hd", Quality: QualityHD, Bandwidth: 1, Width: 2, Height: 3, Codecs: "avc1"}}}},
		{name: "title not utf-8", kind: KindTitle, v: Title{ID: "t", Name: "bad \xff name", AssetPath: "/t/", Manifest: "m"}},
		{name: "edge", kind: KindEdge, v: Edge{ID: "e", CDN: "c", BaseURL: "https://e", Lat: -0.5, Lon: 1e-7, Healthy: true}},
		{name: "account", kind: KindAccount, v: Account{ID: "a", PlanID: "p", Territory: "DE", Status: StatusActive}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewChange(tc.kind, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			want, err := CanonicalDoc(tc.kind, c.ID, c.Doc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.Doc, want) {
				t.Fatalf("NewChange doc\n%s\nis not canonical\n%s", c.Doc, want)
			}
			cs, err := ChangeSet{Actor: "test", Changes: []Change{c}}.Prepare(MaxChangeSetChanges, MaxChangeSetBytes)
			if err != nil {
				t.Fatal(err)
			}
			if &cs.Changes[0].Doc[0] != &c.Doc[0] {
				t.Fatal("Prepare re-encoded a NewChange document")
			}
		})
	}
}

// A NewChange altered afterwards is checked as any other change.
func TestNewChangeAlteredIsChecked(t *testing.T) {
	t.Parallel()
	p := Plan{ID: "p", Name: "P", MaxStreams: 1, MaxDevices: 1, MaxQuality: QualitySD}
	for _, tc := range []struct {
		name  string
		alter func(*Change)
	}{
		{name: "id", alter: func(c *Change) { c.ID = "q" }},
		{name: "kind", alter: func(c *Change) { c.Kind = KindTitle }},
		{name: "doc replaced", alter: func(c *Change) { c.Doc = []byte(`{"id":"p","nmae":"P"}`) }},
		{name: "doc shortened", alter: func(c *Change) { c.Doc = c.Doc[:len(c.Doc)-1] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewChange(KindPlan, p)
			if err != nil {
				t.Fatal(err)
			}
			tc.alter(&c)
			_, err = ChangeSet{Actor: "test", Changes: []Change{c}}.Prepare(MaxChangeSetChanges, MaxChangeSetBytes)
			if !IsCode(err, CodeInvalid) {
				t.Fatalf("Prepare = %v, want invalid", err)
			}
		})
	}
	if _, err := NewChange(KindTitle, p); !IsCode(err, CodeInvalid) {
		t.Fatalf("a plan as a title: %v", err)
	}
	if _, err := NewChange(KindEdge, Edge{ID: "e", Lat: 100}); !IsCode(err, CodeInvalid) {
		t.Fatalf("an invalid edge: %v", err)
	}
}

// Titles encode as json.Marshal encodes them, whatever their strings,
// numbers and times.
func TestTitleJSONIsJSONMarshal(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "a", "Été", "<&>", "\"\\", "\n\t\x01", "\u2028\u2029", "bad \xff", "/titles/x/", "日本"}
	zones := []*time.Location{time.UTC, time.FixedZone("A", 3600), time.FixedZone("B", -9*3600-30*60), time.FixedZone("C", 61),
		time.FixedZone("D", 24*3600)}
	str := func() string { return strs[rng.IntN(len(strs))] + strs[rng.IntN(len(strs))] }
	when := func() time.Time {
		return time.Unix(rng.Int64N(1<<39)-1<<38, rng.Int64N(3)*rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
	}
	declined := 0
	for i := range 3000 {
		ti := Title{ID: str(), Name: str(), AssetPath: str(), Manifest: str()}
		if i%5 > 0 { // else unrated, a record from before ratings were required
			ti.Rating = new(rng.IntN(40) - 5)
		}
		if i%3 > 0 {
			ti.Windows = []LicenceWindow{}
			for range rng.IntN(3) {
				ti.Windows = append(ti.Windows, LicenceWindow{Territory: str(), Start: when(), End: when()})
			}
		}
		if i%2 > 0 {
			ti.Renditions = []Rendition{}
			for range rng.IntN(3) {
				ti.Renditions = append(ti.Renditions, Rendition{Path: str(), Quality: Quality(str()), Bandwidth: rng.IntN(1e9),
					Width: rng.IntN(5000) - 1, Height: rng.IntN(5000), Codecs: str()})
			}
		}
		want, wantErr := json.Marshal(ti)
		got, ok := appendTitleJSON(nil, &ti)
		switch {
		case !ok && wantErr == nil:
			// Declined: json.Marshal encodes it; fine as long as it is rare.
			declined++
		case ok && wantErr != nil:
			t.Fatalf("appendTitleJSON encodes what json.Marshal refuses (%v): %+v", wantErr, ti)
		case ok && !bytes.Equal(got, want):
			t.Fatalf("appendTitleJSON\n%s\njson.Marshal\n%s", got, want)
		}
	}
	// Only the odd zones (61 s, a whole day) decline.
	if declined > 1500 {
		t.Fatalf("%d of 3000 titles declined", declined)
	}
}

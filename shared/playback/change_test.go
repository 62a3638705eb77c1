package playback

import (
	"bytes"
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

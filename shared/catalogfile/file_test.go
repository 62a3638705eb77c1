package catalogfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering"
)

const goodJSON = `{
  "plans": [
    {"id": "basic", "name": "Basic", "max_streams": 1, "max_devices": 2, "max_quality": "SD"},
    {"id": "premium", "name": "Premium", "max_streams": 4, "max_devices": 8, "max_quality": "UHD"}
  ],
  "titles": [
    {"id": "bbb", "name": "Big Buck Bunny", "rating": 0, "asset_path": "/titles/bbb/", "manifest": "master.m3u8",
     "windows": [{"territory": "DE", "start": "2024-01-01T00:00:00+01:00", "end": "2030-01-01T00:00:00Z"}]},
    {"id": "sintel", "name": "Sintel", "rating": 12, "asset_path": "/titles/sintel/", "manifest": "master.m3u8"}
  ],
  "edges": [
    {"id": "fra-1", "cdn": "local", "pop": "fra", "base_url": "http://127.0.0.1:8081", "lat": 50.11, "lon": 8.68, "asns": [3320], "capacity": 100}
  ],
  "coverage_zones": {"coverageZones": {"fra": {"network": ["10.0.0.0/8"], "coordinates": {"latitude": 50.11, "longitude": 8.68}}}},
  "accounts": [
    {"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}
  ]
}
`

const goodYAML = `plans:
  - {id: basic, name: Basic, max_streams: 1, max_devices: 2, max_quality: SD}
  - {id: premium, name: Premium, max_streams: 4, max_devices: 8, max_quality: UHD}
titles:
  - id: bbb
    name: Big Buck Bunny
    rating: 0
    asset_path: /titles/bbb/
    manifest: master.m3u8
    windows:
      - {territory: DE, start: "2024-01-01T00:00:00+01:00", end: 2030-01-01T00:00:00Z}
  - {id: sintel, name: Sintel, rating: 12, asset_path: /titles/sintel/, manifest: master.m3u8}
edges:
  - {id: fra-1, cdn: local, pop: fra, base_url: "http://127.0.0.1:8081", lat: 50.11, lon: 8.68, asns: [3320], capacity: 100}
coverage_zones:
  coverageZones:
    fra: {network: [10.0.0.0/8], coordinates: {latitude: 50.11, longitude: 8.68}}
accounts:
  - {id: acct_a, plan_id: basic, territory: DE, status: active, customer_id: cus_a}
`

func openBolt(t testing.TB) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestParseJSONAndYAMLAgree(t *testing.T) {
	t.Parallel()
	fj, err := Parse("c.json", []byte(goodJSON))
	if err != nil {
		t.Fatal(err)
	}
	fy, err := Parse("c.yaml", []byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	// The coverage zone file is kept as written; YAML's has its keys sorted.
	var cj, cy any
	if json.Unmarshal(fj.CoverageZones, &cj) != nil || json.Unmarshal(fy.CoverageZones, &cy) != nil ||
		!reflect.DeepEqual(cj, cy) {
		t.Fatalf("coverage zones differ: %s vs %s", fj.CoverageZones, fy.CoverageZones)
	}
	fj.CoverageZones, fy.CoverageZones = nil, nil
	var a, b bytes.Buffer
	_ = Encode(&a, fj)
	_ = Encode(&b, fy)
	if a.String() != b.String() {
		t.Fatalf("JSON and YAML differ:\n%s\n%s", a.String(), b.String())
	}
	if got := fj.Titles[0].Windows[0].Start; got.Location() != time.UTC || !got.Equal(time.Date(2023, 12, 31, 23, 0, 0, 0, time.UTC)) {
		t.Fatalf("window start = %v, want UTC", got)
	}
}

// TestYAMLDecimalsWithLeadingZeros: a YAML integer written with leading
// zeros is the decimal it reads as (YAML 1.2's core schema), not YAML
// 1.1's octal: "rating: 012" is 12, as a YAML 1.2 editor shows it, not 10.
func TestYAMLDecimalsWithLeadingZeros(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, from, to string
		rating, cap    int
	}{
		{name: "rating 012", from: "rating: 12", to: "rating: 012", rating: 12},
		{name: "rating 016", from: "rating: 12", to: "rating: 016", rating: 16},
		{name: "parental cap 016", from: "customer_id: cus_a}", to: "customer_id: cus_a, parental_cap: 016}", rating: 12, cap: 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse("c.yaml", []byte(strings.Replace(goodYAML, tc.from, tc.to, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if r := f.Titles[1].Rating; r == nil || *r != tc.rating || f.Accounts[0].ParentalCap != tc.cap {
				t.Fatalf("rating %v, parental cap %d; want %d, %d", r, f.Accounts[0].ParentalCap, tc.rating, tc.cap)
			}
		})
	}
}

func TestParseNamesLineAndField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, data string
		wantLine         int
		wantIn           []string
	}{
		{name: "syntax", file: "c.json", data: "{\n  \"plans\": [\n    {\"id\": \"x\",}\n  ]\n}", wantLine: 3, wantIn: []string{"invalid character"}},
		{name: "negative rating", file: "c.json", data: strings.Replace(goodJSON, `"rating": 12`, `"rating": -1`, 1), wantLine: 9,
			wantIn: []string{"/titles/1/rating", "minimum"}},
		// 0 is all ages: a title left unrated must not become one.
		{name: "no rating", file: "c.json", data: strings.Replace(goodJSON, `"rating": 12, `, ``, 1), wantLine: 9,
			wantIn: []string{"/titles/1", "missing property 'rating'"}},
		{name: "yaml no rating", file: "c.yaml", data: strings.Replace(goodYAML, "rating: 12, ", "", 1), wantLine: 12,
			wantIn: []string{"/titles/1", "missing property 'rating'"}},
		{name: "unknown field", file: "c.json", data: strings.Replace(goodJSON, `"rating": 12`, `"ratnig": 12`, 1), wantLine: 9,
			wantIn: []string{"/titles/1", "ratnig"}},
		{name: "bad quality", file: "c.json", data: strings.Replace(goodJSON, `"max_quality": "SD"`, `"max_quality": "4K"`, 1), wantLine: 3,
			wantIn: []string{"/plans/0/max_quality"}},
		{name: "duplicate title", file: "c.json", data: strings.Replace(goodJSON, `"id": "sintel"`, `"id": "bbb"`, 1), wantLine: 9,
			wantIn: []string{"/titles/1/id", "also /titles/0"}},
		{name: "title id dot", file: "c.json", data: strings.Replace(goodJSON, `"id": "sintel"`, `"id": "."`, 1), wantLine: 9,
			wantIn: []string{"/titles/1/id", `"."`}},
		{name: "plan id dot dot", file: "c.json", data: strings.Replace(goodJSON, `"id": "premium"`, `"id": ".."`, 1), wantLine: 4,
			wantIn: []string{"/plans/1/id", `".."`}},
		{name: "customer id with a slash", file: "c.json", data: strings.Replace(goodJSON, `"customer_id": "cus_a"`, `"customer_id": "cus/a"`, 1), wantLine: 16,
			wantIn: []string{"/accounts/0/customer_id"}},
		{name: "window end beyond 9999 in UTC", file: "c.json", data: strings.Replace(goodJSON, `"2030-01-01T00:00:00Z"`, `"9999-12-31T23:00:00-05:00"`, 1), wantLine: 8,
			wantIn: []string{"/titles/0/windows/0/end", "9999"}},
		{name: "customer of two accounts", file: "c.json", data: strings.Replace(goodJSON, `"customer_id": "cus_a"}`,
			`"customer_id": "cus_a"},`+"\n"+`    {"id": "acct_b", "plan_id": "basic", "territory": "FR", "customer_id": "cus_a"}`, 1), wantLine: 17,
			wantIn: []string{"/accounts/1/customer_id", "also /accounts/0"}},
		{name: "window backwards", file: "c.json", data: strings.Replace(goodJSON, `"2030-01-01T00:00:00Z"`, `"2020-01-01T00:00:00Z"`, 1), wantLine: 8,
			wantIn: []string{"/titles/0/windows/0/end", "not after"}},
		{name: "rendition path twice", file: "c.json", data: strings.Replace(goodJSON, `"manifest": "master.m3u8"}`,
			`"manifest": "master.m3u8", "renditions": [{"path": "hd", "quality": "HD", "bandwidth": 3000000, "width": 1280, "height": 720, "codecs": "avc1.4d401f"}, {"path": "hd", "quality": "SD", "bandwidth": 800000, "width": 640, "height": 360, "codecs": "avc1.42c01e"}]}`, 1),
			wantLine: 9, wantIn: []string{"/titles/1/renditions", "distinct"}},
		// Signed URLs are scoped to a title's asset path: one that could
		// reach another title's media, or a manifest outside it, would
		// import and then refuse every play (403 title_not_signable).
		{name: "asset path of another title", file: "c.json", data: strings.Replace(goodJSON, `"asset_path": "/titles/sintel/"`, `"asset_path": "/titles/bbb/"`, 1),
			wantLine: 9, wantIn: []string{"/titles/1/asset_path", "own folder"}},
		{name: "asset path with a dot segment", file: "c.json", data: strings.Replace(goodJSON, `"asset_path": "/titles/sintel/"`, `"asset_path": "/titles/../sintel/"`, 1),
			wantLine: 9, wantIn: []string{"/titles/1/asset_path"}},
		{name: "manifest outside the asset path", file: "c.json", data: strings.Replace(goodJSON, `"manifest": "master.m3u8"}`, `"manifest": "../bbb/master.m3u8"}`, 1),
			wantLine: 9, wantIn: []string{"/titles/1/manifest"}},
		{name: "bad coverage zone", file: "c.json", data: strings.Replace(goodJSON, `10.0.0.0/8`, `10.0.0.0/99`, 1), wantLine: 14,
			wantIn: []string{"/coverage_zones", "10.0.0.0/99"}},
		// encoding/json keeps the last of a name given twice and turns
		// invalid UTF-8 into U+FFFD; the file is refused, as the admin
		// API's bodies are.
		{name: "plan field twice", file: "c.json", data: strings.Replace(goodJSON, `"max_streams": 1,`, `"max_streams": 1, "max_streams": 50,`, 1),
			wantLine: 3, wantIn: []string{"c.json", "/plans/0/max_streams", "twice"}},
		{name: "title field twice", file: "c.json", data: strings.Replace(goodJSON, `"rating": 12,`, `"rating": 12, "rating": 18,`, 1),
			wantLine: 9, wantIn: []string{"c.json", "/titles/1/rating", "twice"}},
		{name: "window field twice", file: "c.json", data: strings.Replace(goodJSON, `"territory": "DE", "start"`, `"territory": "DE", "territory": "FR", "start"`, 1),
			wantLine: 8, wantIn: []string{"c.json", "/titles/0/windows/0/territory", "twice"}},
		{name: "section twice", file: "c.json", data: strings.Replace(goodJSON, `"accounts": [`, `"accounts": [], "accounts": [`, 1),
			wantLine: 15, wantIn: []string{"c.json", "/accounts", "twice"}},
		{name: "name not UTF-8", file: "c.json", data: strings.Replace(goodJSON, `"Sintel"`, "\"Sin\xfftel\"", 1),
			wantLine: 9, wantIn: []string{"c.json", "/titles/1/name", "UTF-8"}},
		{name: "name with an unpaired surrogate", file: "c.json", data: strings.Replace(goodJSON, `"Sintel"`, `"Sintel\ud800"`, 1),
			wantLine: 9, wantIn: []string{"c.json", "/titles/1/name", "UTF-8"}},
		// The same rule in YAML: outside the coverage zone file a name
		// given twice is refused at its pointer, as in JSON.
		{name: "yaml plan field twice", file: "c.yaml", data: strings.Replace(goodYAML, "max_streams: 1,", "max_streams: 1, max_streams: 50,", 1),
			wantLine: 2, wantIn: []string{"c.yaml", "/plans/0/max_streams", "twice"}},
		{name: "yaml section twice", file: "c.yaml", data: goodYAML + "accounts: []\n",
			wantLine: 19, wantIn: []string{"c.yaml", "/accounts", "twice"}},
		{name: "yaml field", file: "c.yaml", data: strings.Replace(goodYAML, "rating: 12", "rating: -3", 1), wantLine: 12,
			wantIn: []string{"/titles/1/rating"}},
		{name: "yaml syntax", file: "c.yaml", data: "plans:\n  - id: x\n\tname: y\n", wantLine: -1, wantIn: []string{"yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.file, []byte(tc.data))
			var inv *Invalid
			if !errors.As(err, &inv) || len(inv.Problems) == 0 {
				t.Fatalf("Parse = %v, want *Invalid", err)
			}
			p := inv.Problems[0]
			// -1: the line yaml's parser gives, whatever it is.
			if p.Line != tc.wantLine && !(tc.wantLine == -1 && p.Line > 0) {
				t.Errorf("line %d, want %d (%v)", p.Line, tc.wantLine, err)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestParseKeepsCoverageZoneDuplicates: the coverage zone file inside a
// catalogue is parsed as Traffic Router parses it, which takes a zone
// named twice (the last one); the strict checks of the rest of the file
// stop at it.
func TestParseKeepsCoverageZoneDuplicates(t *testing.T) {
	t.Parallel()
	data := strings.Replace(goodJSON, `"coverageZones": {"fra": {`, `"coverageZones": {"fra": {"network": ["192.168.0.0/16"]}, "fra": {`, 1)
	f, err := Parse("c.json", []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !bytes.Contains(f.CoverageZones, []byte(`"192.168.0.0/16"`)) {
		t.Fatalf("coverage zones not kept as written: %s", f.CoverageZones)
	}
}

func importFile(t *testing.T, s Store, f File) (Plan, Report) {
	t.Helper()
	ctx := context.Background()
	plan, err := Diff(ctx, s, f)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Apply(ctx, s, plan, "cli:test", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return plan, rep
}

func TestImportIsIdempotentAndExportRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openBolt(t)
	f, err := Parse("c.json", []byte(goodJSON))
	if err != nil {
		t.Fatal(err)
	}
	// A dry run writes nothing.
	plan, err := Diff(ctx, s, f)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := PrintDiff(&out, plan); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "+ title bbb") || !strings.Contains(out.String(), "7 change(s)") {
		t.Fatalf("dry run printed:\n%s", out.String())
	}
	if _, err := s.GetTitle(ctx, "bbb"); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("dry run wrote: %v", err)
	}

	_, rep := importFile(t, s, f)
	if rep.Counts[playback.KindTitle][playback.OpCreate] != 2 || rep.CoverageZones != 1 {
		t.Fatalf("first import: %+v", rep)
	}
	if id, err := s.AccountIDByCustomer(ctx, "cus_a"); err != nil || id != "acct_a" {
		t.Fatalf("customer link = %q, %v", id, err)
	}
	e, err := s.GetEdge(ctx, "fra-1")
	if err != nil || !e.Healthy || e.ASNs[0] != 3320 {
		t.Fatalf("edge = %+v, %v", e, err)
	}
	again, err := Diff(ctx, s, f)
	if err != nil || !again.Empty() {
		t.Fatalf("re-import plans %+v (%v), want nothing", again, err)
	}
	audit, _ := s.ListAudit(ctx, "", 100)

	// Health reports and payments change what the file does not own:
	// importing again keeps it.
	if _, err := s.UpdateEdge(ctx, "fra-1", func(e *playback.Edge) error { e.Load, e.Healthy = 77, false; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateAccount(ctx, "acct_a", func(a *playback.Account) error {
		a.Devices = []playback.Device{{ID: "tv", RegisteredAt: time.Now().UTC()}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if again, _ := Diff(ctx, s, f); !again.Empty() {
		t.Fatalf("state the file does not own makes a diff: %+v", again.Changes)
	}

	// Export, then import the export into the same store and a fresh one.
	exp, err := Export(ctx, s, true)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, exp); err != nil {
		t.Fatal(err)
	}
	back, err := Parse("export.json", buf.Bytes())
	if err != nil {
		t.Fatalf("export does not parse: %v\n%s", err, buf.String())
	}
	if p, err := Diff(ctx, s, back); err != nil || !p.Empty() {
		t.Fatalf("export re-imports with %+v (%v)", p.Changes, err)
	}
	if after, _ := s.ListAudit(ctx, "", 100); len(after.Records) != len(audit.Records) {
		t.Fatalf("no-op imports wrote audit records: %d -> %d", len(audit.Records), len(after.Records))
	}
	fresh := openBolt(t)
	importFile(t, fresh, back)
	exp2, err := Export(ctx, fresh, true)
	if err != nil {
		t.Fatal(err)
	}
	var buf2 bytes.Buffer
	_ = Encode(&buf2, exp2)
	if buf.String() != buf2.String() {
		t.Fatalf("export of the copy differs:\n%s\n%s", buf.String(), buf2.String())
	}

	// An update shows the fields it changes.
	f.Titles[1].Rating = new(16)
	plan, _ = Diff(ctx, s, f)
	out.Reset()
	_ = PrintDiff(&out, plan)
	if !strings.Contains(out.String(), "~ title sintel") || !strings.Contains(out.String(), "rating: 12 -> 16") {
		t.Fatalf("diff printed:\n%s", out.String())
	}
}

func TestImportStopsOnConcurrentChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openBolt(t)
	f, _ := Parse("c.json", []byte(goodJSON))
	importFile(t, s, f)
	f.Titles[0].Name = "Renamed"
	plan, err := Diff(ctx, s, f)
	if err != nil {
		t.Fatal(err)
	}
	// Someone else changes the title between the diff and the write.
	if err := s.PutTitle(ctx, playback.Title{ID: "bbb", Name: "Theirs", AssetPath: "/titles/bbb/", Manifest: "master.m3u8"}); err != nil {
		t.Fatal(err)
	}
	_, err = Apply(ctx, s, plan, "cli:test", time.Now)
	if !playback.IsCode(err, playback.CodePrecondition) {
		t.Fatalf("Apply = %v, want precondition failed", err)
	}
	if got, _ := s.GetTitle(ctx, "bbb"); got.Name != "Theirs" {
		t.Fatalf("title = %+v", got)
	}
}

func TestAccountNeedsAKnownPlan(t *testing.T) {
	t.Parallel()
	s := openBolt(t)
	f, _ := Parse("c.json", []byte(strings.Replace(goodJSON, `"plan_id": "basic"`, `"plan_id": "gold"`, 1)))
	_, err := Diff(context.Background(), s, f)
	var inv *Invalid
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "/accounts/0/plan_id") {
		t.Fatalf("Diff = %v, want the account's plan named", err)
	}
}

// TestAccountWithoutAPlanOnlyLinked: a checkout stores its account with
// plan_id "" until the subscription's events name a plan, so a file (an
// export of such a store) may hold one, linked to its Stripe customer; the
// import writes it without looking for a plan "". Without a customer
// nothing would ever give it a plan: an operator must name one.
func TestAccountWithoutAPlanOnlyLinked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, account, want string
	}{
		{"linked, waiting for its plan", `{"id": "acct_a", "plan_id": "", "territory": "DE", "customer_id": "cus_a"}`, ""},
		{"linked, past_due", `{"id": "acct_a", "plan_id": "", "territory": "DE", "status": "past_due", "past_due_since": "2026-01-02T03:04:05Z", "customer_id": "cus_a"}`, ""},
		{"unlinked", `{"id": "acct_a", "plan_id": "", "territory": "DE"}`, "/accounts/0/plan_id"},
		{"customer_id empty", `{"id": "acct_a", "plan_id": "", "territory": "DE", "customer_id": ""}`, "/accounts/0/plan_id"},
		{"a plan, unlinked", `{"id": "acct_a", "plan_id": "basic", "territory": "DE"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse("c.json", []byte(strings.Replace(goodJSON,
				`{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}`, tc.account, 1)))
			var inv *Invalid
			switch {
			case tc.want != "" && (!errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Pointer != tc.want):
				t.Fatalf("Parse: %v, want one problem at %s", err, tc.want)
			case tc.want != "":
				return
			case err != nil:
				t.Fatalf("Parse: %v, want no problem", err)
			}
			if _, err := Diff(context.Background(), openBolt(t), f); err != nil {
				t.Fatalf("Diff: %v, want no problem", err)
			}
		})
	}
}

// TestExportOfAnAccountWithoutAPlanImports: a store holding an account as
// a checkout writes it before its subscription's events name a plan
// exports a file that imports into a fresh store, where the account is
// the same and the export too.
func TestExportOfAnAccountWithoutAPlanImports(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	from, to := openBolt(t), openBolt(t)
	checkout := playback.Account{ID: "acct_new", Email: "new@example.com", Status: playback.StatusNone, Territory: "FR",
		CustomerID: "cus_New01", UpdatedAt: now}
	doc, err := json.Marshal(checkout)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := from.ApplyChanges(ctx, playback.ChangeSet{Actor: "checkout:cs_test", At: now,
		Changes: []playback.Change{{Kind: playback.KindAccount, ID: checkout.ID, Doc: doc, IfAbsent: true}}}); err != nil {
		t.Fatal(err)
	}
	export := func(s *bolt.Store) []byte {
		t.Helper()
		f, err := Export(ctx, s, true)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Encode(&buf, f); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	exported := export(from)
	f, err := Parse("export.json", exported)
	if err != nil {
		t.Fatalf("the export does not parse: %v\n%s", err, exported)
	}
	plan, err := DiffAt(ctx, to, f, now)
	if err != nil {
		t.Fatalf("DiffAt: %v", err)
	}
	if _, err := Apply(ctx, to, plan, "cli:test", func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	got, err := to.GetAccount(ctx, checkout.ID)
	if err != nil {
		t.Fatal(err)
	}
	if AccountOf(got) != AccountOf(checkout) {
		t.Fatalf("imported account %+v, want %+v", AccountOf(got), AccountOf(checkout))
	}
	if again := export(to); !bytes.Equal(again, exported) {
		t.Fatalf("the fresh store exports:\n%s\nwant:\n%s", again, exported)
	}
}

func TestUploadCoverageZonesKeepsTheLastGood(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openBolt(t)
	good := []byte(`{"coverageZones":{"z":{"network":["10.0.0.0/8"]}}}`)
	if _, err := UploadCoverageZones(ctx, s, good, "admin", time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	_, err := UploadCoverageZones(ctx, s, []byte(`{"coverageZones":{"z":{"network":["10.0.0.0/33"]}}}`), "admin", time.Now(), 0)
	var pe *playback.Error
	if !errors.As(err, &pe) || pe.Code != playback.CodeInvalid || pe.Reason != "coverage_zones_invalid" {
		t.Fatalf("bad upload = %v", err)
	}
	cz, err := s.GetCoverageZones(ctx, 0)
	if err != nil || cz.Version != 1 || !bytes.Equal(cz.Data, good) {
		t.Fatalf("latest = %+v, %v", cz, err)
	}
}

func TestSchemaIsPublishedValidJSON(t *testing.T) {
	t.Parallel()
	if _, err := schema(); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(SchemaJSON, &v); err != nil || v["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("schema: %v %v", err, v["$schema"])
	}
}

// The demo catalogue (titles with their rendition ladder, edges, accounts)
// exports to a file the schema accepts and that re-imports with no change:
// a field the domain gains and the schema lacks fails here.
func TestDemoCatalogueRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openBolt(t)
	if err := demo.Seed(ctx, s, "http://127.0.0.1:8080", time.Now()); err != nil {
		t.Fatal(err)
	}
	f, err := Export(ctx, s, true)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"renditions"`) {
		t.Fatalf("export lost the titles' ladders:\n%.2000s", buf.String())
	}
	back, err := Parse("demo.json", buf.Bytes())
	if err != nil {
		t.Fatalf("exported demo catalogue does not parse: %v", err)
	}
	plan, err := Diff(ctx, s, back)
	if err != nil || !plan.Empty() {
		var out bytes.Buffer
		_ = PrintDiff(&out, plan)
		t.Fatalf("re-importing the export plans changes (%v):\n%s", err, out.String())
	}
}

// The schema is compiled on the first Parse rather than at start; one that
// does not compile must then fail every Parse, by the fast path (goodJSON
// takes it) or not, with an error that is not a file's *Invalid, and the
// next Parse too. Not parallel: it replaces the package's schema, which
// the parallel tests (run after it) use.
func TestBadSchemaFailsEveryParse(t *testing.T) {
	saved := schema
	t.Cleanup(func() { schema = saved })
	for _, tc := range []struct {
		name   string
		schema string
	}{
		{name: "not JSON", schema: `{"$schema": `},
		{name: "not a schema", schema: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": 5}`},
		{name: "unresolvable ref", schema: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": "#/$defs/none"}`},
		// Our validator implements the keywords the shipped schema uses;
		// one it does not know must fail, not be skipped.
		{name: "a keyword the validator lacks", schema: `{"type": "object", "properties": {"plans": {"type": "array", "uniqueItems": true}}}`},
		{name: "a format the validator lacks", schema: `{"type": "object", "properties": {"$schema": {"type": "string", "format": "email"}}}`},
		{name: "a reference outside $defs", schema: `{"type": "object", "properties": {"plans": {"$ref": "other.json#/x"}}}`},
		{name: "another dialect", schema: `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}`},
		{name: "$id below the root", schema: `{"type": "object", "properties": {"plans": {"$id": "x", "type": "array"}}}`},
		{name: "a date-time inside anyOf", schema: `{"type": "object", "properties": {"plans": {"anyOf": [{"type": "array", "items": {"format": "date-time"}}]}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema = sync.OnceValues(func() (*node, error) { return compileSchema([]byte(tc.schema)) })
			for _, file := range []struct{ name, data string }{
				{"c.json", goodJSON}, {"c.yaml", goodYAML}, {"c.json", goodJSON},
			} {
				f, err := Parse(file.name, []byte(file.data))
				var inv *Invalid
				if err == nil || errors.As(err, &inv) || !strings.Contains(err.Error(), "schema") {
					t.Fatalf("Parse(%s) with a bad schema = %d titles, %v; want a schema error", file.name, len(f.Titles), err)
				}
			}
		})
	}
	// The shipped schema compiles, and with it goodJSON parses: the errors
	// above are the schema's.
	schema = saved
	if _, err := Parse("c.json", []byte(goodJSON)); err != nil {
		t.Fatal(err)
	}
}

// A title stored before ratings were required exports without one, so the
// export imports back only once someone rates it: writing it out as 0
// would make it all ages on the way.
func TestExportKeepsATitleUnrated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openBolt(t)
	const doc = `{"id":"old","name":"Old","asset_path":"/titles/old/","manifest":"master.m3u8"}`
	if _, err := s.ApplyChanges(ctx, playback.ChangeSet{Actor: "test", At: time.Now(),
		Changes: []playback.Change{{Kind: playback.KindTitle, ID: "old", Doc: json.RawMessage(doc), IfAbsent: true}}}); err != nil {
		t.Fatal(err)
	}
	f, err := Export(ctx, s, false)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Encode(&out, f); err != nil {
		t.Fatal(err)
	}
	_, err = Parse("export.json", out.Bytes())
	var inv *Invalid
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "missing property 'rating'") {
		t.Fatalf("Parse of the export = %v, want missing property 'rating':\n%s", err, out.String())
	}
}

// TestParseKeepsCoverageZonesAsWritten: a file whose records hold a
// readOnly member or a lower-case date-time was re-encoded whole for the
// typed decode, coverage zones too, and Go sorts an object's names: where
// two zones list the same network the first in the file wins (as in
// Traffic Router), so the import served the other zone, a zone named
// twice lost its first value's place, bytes that are not UTF-8 turned
// into U+FFFD and passed, and every re-import planned a new version.
func TestParseKeepsCoverageZonesAsWritten(t *testing.T) {
	t.Parallel()
	const zones = `{"coverageZones":{"zfra":{"network":["10.0.0.0/8"]},"ams":{"network":["10.0.0.0/8"]}}}`
	file := func(record, zones string) string {
		return `{"plans":[{"id":"p","name":"P","max_streams":1,"max_devices":1,"max_quality":"SD"}],` + record +
			`,"coverage_zones":` + zones + `}`
	}
	for _, tc := range []struct {
		name, record string
	}{
		{name: "readOnly member", record: `"accounts":[{"id":"a","plan_id":"p","territory":"DE","devices":[]}]`},
		{name: "lower-case date-time", record: `"accounts":[{"id":"a","plan_id":"p","territory":"DE","status":"past_due","past_due_since":"2026-12-01t00:00:00z"}]`},
		{name: "lower-case date-time in a title", record: `"titles":[{"id":"t","name":"T","rating":0,"asset_path":"/t/","manifest":"m",` +
			`"windows":[{"territory":"DE","start":"2026-12-01t00:00:00z","end":"2027-12-01T00:00:00Z"}]}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f, err := Parse("c.json", []byte(file(tc.record, zones)))
			if err != nil {
				t.Fatal(err)
			}
			if string(f.CoverageZones) != zones {
				t.Errorf("coverage zones read as %s, want them as written: %s", f.CoverageZones, zones)
			}
			s := openBolt(t)
			importFile(t, s, f)
			cz, err := s.GetCoverageZones(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := steering.ParseCoverageZones(cz.Data)
			if err != nil {
				t.Fatal(err)
			}
			if z, ok := parsed.Lookup(netip.MustParseAddr("10.1.2.3")); !ok || z.Name != "zfra" {
				t.Errorf("10.1.2.3 is in zone %q (%v), want zfra, the first in the file", z.Name, ok)
			}
			// A store holding the zones as written (an upload, or an import
			// of a file without such a record) plans no new version.
			uploaded := openBolt(t)
			if _, err := UploadCoverageZones(ctx, uploaded, []byte(zones), "ops", time.Now(), 0); err != nil {
				t.Fatal(err)
			}
			if plan, err := Diff(ctx, uploaded, f); err != nil || plan.CoverageZones != nil {
				t.Errorf("import over the same zones plans a new version %s (%v), want none", plan.CoverageZones, err)
			}

			// A zone named twice stays as written; bytes that are not
			// UTF-8 stay refused.
			twice := `{"coverageZones":{"zfra":{"network":["192.168.0.0/16"]},"ams":{"network":["10.0.0.0/8"]},"zfra":{"network":["10.0.0.0/8"]}}}`
			if f, err := Parse("c.json", []byte(file(tc.record, twice))); err != nil || string(f.CoverageZones) != twice {
				t.Errorf("a zone named twice: %s, %v, want it as written", f.CoverageZones, err)
			}
			notUTF8 := "{\"coverageZones\":{\"zf\xffra\":{\"network\":[\"10.0.0.0/8\"]}}}"
			if _, err := Parse("c.json", []byte(file(tc.record, notUTF8))); err == nil || !strings.Contains(err.Error(), "/coverage_zones") {
				t.Fatalf("a zone name not UTF-8: %v, want a problem at /coverage_zones", err)
			}
		})
	}
}

// TestYAMLCoverageZonesKeepTheirOrder: a YAML file was read through Go
// maps, so its coverage zones reached the store sorted by name, and where
// two zones list the same network the wrong one won (the first in the
// file does, as in Traffic Router).
func TestYAMLCoverageZonesKeepTheirOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, file string }{
		{name: "block", file: "coverage_zones:\n  coverageZones:\n    zfra:\n      network: [10.0.0.0/8]\n    ams:\n      network: [10.0.0.0/8]\n"},
		{name: "flow", file: `coverage_zones: {coverageZones: {zfra: {network: [10.0.0.0/8]}, ams: {network: [10.0.0.0/8]}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse("c.yaml", []byte(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			const want = `{"coverageZones":{"zfra":{"network":["10.0.0.0/8"]},"ams":{"network":["10.0.0.0/8"]}}}`
			if string(f.CoverageZones) != want {
				t.Errorf("coverage zones read as %s, want them in the file's order: %s", f.CoverageZones, want)
			}
			zones, err := steering.ParseCoverageZones(f.CoverageZones)
			if err != nil {
				t.Fatal(err)
			}
			if z, ok := zones.Lookup(netip.MustParseAddr("10.1.2.3")); !ok || z.Name != "zfra" {
				t.Errorf("10.1.2.3 is in zone %q (%v), want zfra, the first in the file", z.Name, ok)
			}
		})
	}
}

// TestYAMLReadsNumbersAsJSONDoes: YAML's numbers were read as Go's int64
// or float64 before the schema saw them, so an integral float past 2^53
// (max_devices: 9007199254740993.0) was rounded to ...992 where JSON keeps
// its digits, and a number past int64 or float64 was refused otherwise
// than in JSON (at "" by strconv, rounded in the message, or as a
// string). Each YAML number now reads as its digits, as JSON's do: the
// same document, in either, answers the same.
func TestYAMLReadsNumbersAsJSONDoes(t *testing.T) {
	t.Parallel()
	// max_devices and bandwidth have no maximum in the schema.
	files := map[string]func(n string) (string, string){
		"max_devices": func(n string) (string, string) {
			return `{"plans":[{"id":"p","name":"P","max_streams":1,"max_devices":` + n + `,"max_quality":"SD"}]}`,
				"plans:\n  - id: p\n    name: P\n    max_streams: 1\n    max_devices: " + n + "\n    max_quality: SD\n"
		},
		"bandwidth": func(n string) (string, string) {
			return `{"titles":[{"id":"t","name":"T","rating":0,"asset_path":"/t/","manifest":"m","renditions":[{"path":"hd","quality":"HD","bandwidth":` + n + `,"width":1,"height":1,"codecs":"avc1"}]}]}`,
				"titles:\n  - id: t\n    name: T\n    rating: 0\n    asset_path: /t/\n    manifest: m\n    renditions:\n      - {path: hd, quality: HD, bandwidth: " + n + ", width: 1, height: 1, codecs: avc1}\n"
		},
		"asns": func(n string) (string, string) {
			return `{"edges":[{"id":"e","cdn":"c","base_url":"https://e","lat":0,"lon":0,"asns":[` + n + `]}]}`,
				"edges:\n  - id: e\n    cdn: c\n    base_url: https://e\n    lat: 0\n    lon: 0\n    asns: [" + n + "]\n"
		},
		"lat": func(n string) (string, string) {
			return `{"edges":[{"id":"e","cdn":"c","base_url":"https://e","lat":` + n + `,"lon":0}]}`,
				"edges:\n  - id: e\n    cdn: c\n    base_url: https://e\n    lat: " + n + "\n    lon: 0\n"
		},
		"capacity": func(n string) (string, string) {
			return `{"edges":[{"id":"e","cdn":"c","base_url":"https://e","lat":0,"lon":0,"capacity":` + n + `}]}`,
				"edges:\n  - id: e\n    cdn: c\n    base_url: https://e\n    lat: 0\n    lon: 0\n    capacity: " + n + "\n"
		},
	}
	for _, tc := range []struct {
		field      string
		json, yaml string // the number in each; yaml "" is json's spelling
		devices    int    // max_devices as read, when not 0
	}{
		{field: "max_devices", json: "9007199254740993.0", devices: 9007199254740993},
		{field: "max_devices", json: "9007199254740993", devices: 9007199254740993},
		{field: "max_devices", json: "9007199254740993", yaml: "+9_007_199_254_740_993.", devices: 9007199254740993},
		{field: "max_devices", json: "2.0", yaml: "+2.", devices: 2},
		{field: "max_devices", json: "10", yaml: "1.0E+1", devices: 10},
		{field: "max_devices", json: "9223372036854775807.0", devices: math.MaxInt64},
		{field: "max_devices", json: "-0.0"},
		{field: "max_devices", json: "2.5"},
		{field: "max_devices", json: "0.5", yaml: ".5"},
		{field: "max_devices", json: "9223372036854775808"},
		{field: "max_devices", json: "99999999999999999999"},
		{field: "max_devices", json: "1e400"},
		{field: "max_devices", json: `"1e400"`},
		{field: "bandwidth", json: "1e19"},
		{field: "bandwidth", json: "5.0E6"},
		{field: "asns", json: "13335.0"},
		{field: "asns", json: "4294967295.0"},
		{field: "asns", json: "4294967296.0"},
		{field: "asns", json: "1e400"},
		{field: "lat", json: "50.110000000000000000001"},
		{field: "lat", json: "-0.0"},
		{field: "lat", json: "1e-400"},
		{field: "lat", json: "1e400"},
		{field: "capacity", json: "9007199254740993.0"},
		{field: "capacity", json: "1e308"},
	} {
		if tc.yaml == "" {
			tc.yaml = tc.json
		}
		t.Run(tc.field+" "+tc.json+" "+tc.yaml, func(t *testing.T) {
			t.Parallel()
			j, _ := files[tc.field](tc.json)
			_, y := files[tc.field](tc.yaml)
			fj, errJ := Parse("c.json", []byte(j))
			fy, errY := Parse("c.yaml", []byte(y))
			// Lines differ between the two spellings; the rest may not.
			var pj, py []string
			for _, p := range problemsOf(errJ) {
				pj = append(pj, p.Pointer+": "+p.Message)
			}
			for _, p := range problemsOf(errY) {
				py = append(py, p.Pointer+": "+p.Message)
			}
			if (errJ == nil) != (errY == nil) || !slices.Equal(pj, py) || !reflect.DeepEqual(fj, fy) {
				t.Errorf("JSON and YAML differ:\nJSON %+v: %v\nYAML %+v: %v", fj, errJ, fy, errY)
			}
			if tc.devices != 0 && (errY != nil || fy.Plans[0].MaxDevices != tc.devices) {
				t.Errorf("YAML max_devices %s read as %+v (%v), want %d", tc.yaml, fy.Plans, errY, tc.devices)
			}
		})
	}
}

func problemsOf(err error) []Problem {
	var inv *Invalid
	if errors.As(err, &inv) {
		return inv.Problems
	}
	if err != nil {
		return []Problem{{Message: err.Error()}}
	}
	return nil
}

// TestCoverageZoneNamedTwiceReadsAlikeInJSONAndYAML: the coverage zone
// file is read as Traffic Router reads it (NetworkNode.generateTree over
// Jackson's readTree, whose ObjectNode keeps a name given twice once, in
// its first place, with its last value), and a JSON catalogue keeps it as
// written for that parser; a YAML catalogue refused it ("key \"zfra\"
// repeated"). Both now keep it, and the zones read the same.
func TestCoverageZoneNamedTwiceReadsAlikeInJSONAndYAML(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, file, data string }{
		{name: "json", file: "c.json", data: `{"coverage_zones": {"coverageZones": {"zfra": {"network": ["192.168.0.0/16"]}, ` +
			`"ams": {"network": ["10.0.0.0/8"]}, "zfra": {"network": ["10.0.0.0/8"]}}}}`},
		{name: "yaml block", file: "c.yaml", data: "coverage_zones:\n  coverageZones:\n    zfra:\n      network: [192.168.0.0/16]\n" +
			"    ams:\n      network: [10.0.0.0/8]\n    zfra:\n      network: [10.0.0.0/8]\n"},
		{name: "yaml flow", file: "c.yaml", data: `coverage_zones: {coverageZones: {zfra: {network: [192.168.0.0/16]}, ` +
			`ams: {network: [10.0.0.0/8]}, zfra: {network: [10.0.0.0/8]}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse(tc.file, []byte(tc.data))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			zones, err := steering.ParseCoverageZones(f.CoverageZones)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, z := range zones.Zones() {
				names = append(names, z.Name)
			}
			if !slices.Equal(names, []string{"zfra", "ams"}) {
				t.Errorf("zones %q, want [zfra ams]: a name given twice keeps its first place", names)
			}
			// The last value wins: zfra lists 10.0.0.0/8 (ahead of ams,
			// which lists it too), and 192.168.0.0/16 no more.
			for addr, want := range map[string]string{"10.1.2.3": "zfra", "192.168.1.1": ""} {
				if z, _ := zones.Lookup(netip.MustParseAddr(addr)); z.Name != want {
					t.Errorf("%s is in zone %q, want %q", addr, z.Name, want)
				}
			}
		})
	}
}

// TestApplyDatesAnOperatorsCustomer: an account's customer_id written by
// an operator (admin API, import) is news of the second it is written,
// so that a payment provider's older news of another customer (a
// checkout Stripe still retries) does not take it back, while newer news
// does (paymentwebhook's namesCustomer). Before, the write kept the
// previous customer's clock.
func TestApplyDatesAnOperatorsCustomer(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	stored := playback.Account{ID: "acct_c", PlanID: "basic", Status: playback.StatusActive, CustomerID: "cus_a", CustomerClock: 1000}
	for _, tc := range []struct {
		name, customer string
		wantClock      int64
	}{
		{name: "another customer", customer: "cus_b", wantClock: now.Unix()},
		{name: "the same customer", customer: "cus_a", wantClock: 1000},
		{name: "no customer", customer: "", wantClock: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := Account{ID: "acct_c", PlanID: "basic", CustomerID: tc.customer}
			if got := a.Apply(stored, now); got.CustomerID != tc.customer || got.CustomerClock != tc.wantClock {
				t.Fatalf("customer %q clock %d, want %q clock %d", got.CustomerID, got.CustomerClock, tc.customer, tc.wantClock)
			}
		})
	}
}

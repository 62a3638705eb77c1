// Package catalogfile is the operators' catalogue file: what `playplane
// import` reads and `playplane export` writes, over the AdminStore port of
// any store. A file is checked whole (syntax, the published JSON Schema
// catalogue.schema.json, the domain's rules and the coverage zone parser)
// before anything is read from or written to a store, and errors name the
// line and field.
package catalogfile

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering"
	"github.com/playplane/playplane/shared/strictjson"
)

// SchemaJSON is the published JSON Schema (2020-12) of the file.
//
//go:embed catalogue.schema.json
var SchemaJSON []byte

// SchemaID is the schema's $id; files may name it in "$schema".
const SchemaID = "https://playplane.dev/schemas/catalogue.schema.json"

// File is a catalogue file.
type File struct {
	Schema        string           `json:"$schema,omitempty"`
	Plans         []playback.Plan  `json:"plans,omitempty"`
	Titles        []playback.Title `json:"titles,omitempty"`
	Edges         []Edge           `json:"edges,omitempty"`
	CoverageZones json.RawMessage  `json:"coverage_zones,omitempty"`
	Accounts      []Account        `json:"accounts,omitempty"`
}

// Edge is an edge's configuration: the fields of playback.Edge an
// operator sets. Health fields come from the edge's reports.
type Edge struct {
	ID       string   `json:"id"`
	CDN      string   `json:"cdn"`
	PoP      string   `json:"pop,omitempty"`
	BaseURL  string   `json:"base_url"`
	Lat      float64  `json:"lat"`
	Lon      float64  `json:"lon"`
	ASNs     []uint32 `json:"asns,omitempty"`
	NoIPv4   bool     `json:"no_ipv4,omitempty"`
	NoIPv6   bool     `json:"no_ipv6,omitempty"`
	Capacity float64  `json:"capacity,omitempty"`
	Weight   float64  `json:"weight,omitempty"`
	Disabled bool     `json:"disabled,omitempty"`
}

// Apply sets e's configuration on stored, keeping its health.
func (e Edge) Apply(stored playback.Edge) playback.Edge {
	stored.ID, stored.CDN, stored.PoP, stored.BaseURL = e.ID, e.CDN, e.PoP, e.BaseURL
	stored.Lat, stored.Lon, stored.ASNs = e.Lat, e.Lon, slices.Clone(e.ASNs)
	stored.NoIPv4, stored.NoIPv6, stored.Capacity = e.NoIPv4, e.NoIPv6, e.Capacity
	stored.Weight, stored.Disabled = e.Weight, e.Disabled
	return stored
}

func edgeOf(e playback.Edge) Edge {
	return Edge{ID: e.ID, CDN: e.CDN, PoP: e.PoP, BaseURL: e.BaseURL, Lat: e.Lat, Lon: e.Lon, ASNs: e.ASNs,
		NoIPv4: e.NoIPv4, NoIPv6: e.NoIPv6, Capacity: e.Capacity, Weight: e.Weight, Disabled: e.Disabled}
}

// Account is an account's settings; devices, subscriptions and the rest
// of its state belong to playback and payments.
type Account struct {
	ID          string                      `json:"id"`
	Email       string                      `json:"email,omitempty"`
	PlanID      string                      `json:"plan_id"`
	Status      playback.SubscriptionStatus `json:"status,omitempty"`
	Territory   string                      `json:"territory"`
	ParentalCap int                         `json:"parental_cap,omitempty"`
	CustomerID  string                      `json:"customer_id,omitempty"`
	Suspended   bool                        `json:"suspended,omitempty"`
	// PastDueSince is when a past_due account's grace started, so that an
	// export imported into another store keeps it (check: only with
	// status past_due).
	PastDueSince time.Time `json:"past_due_since,omitzero"`
}

// Apply sets a's settings on stored, keeping the rest, as a write at now
// leaves it; a status left out keeps the stored one (a new account's is
// "none"). A past_due date given wins; without one, an account the
// payment provider manages takes its billing subscription's, as the
// provider's events fold it, and any other moving into past_due starts
// the grace at now (playback.Account.DatePastDue).
func (a Account) Apply(stored playback.Account, now time.Time) playback.Account {
	// Another customer refolds the account from the subscriptions that one
	// bills (playback.Account.SetCustomer): the status the file carries
	// (PaymentOwned lets through only the stored one) was the customer's
	// it leaves.
	refolded := a.CustomerID != stored.CustomerID && len(stored.Subscriptions) > 0
	stored.NameCustomer(a.CustomerID, now)
	stored.ID, stored.Email, stored.PlanID, stored.Territory = a.ID, a.Email, a.PlanID, a.Territory
	stored.ParentalCap, stored.CustomerID, stored.Suspended = a.ParentalCap, a.CustomerID, a.Suspended
	if a.Status != "" && !refolded {
		stored.Status = a.Status
	} else if stored.Status == "" {
		stored.Status = playback.StatusNone
	}
	if !a.PastDueSince.IsZero() && !refolded {
		stored.PastDueSince = a.PastDueSince.UTC()
	} else if billed, ok := stored.BillingSubscription(); ok && stored.PaymentManaged() && billed.Status == playback.StatusPastDue &&
		!billed.PastDueSince.IsZero() {
		// A legacy record whose status is not its subscription's: the
		// grace is the subscription's, not restarted by the write.
		stored.PastDueSince = billed.PastDueSince
	}
	return stored.DatePastDue(now)
}

// pastDueSkew is how far ahead of a write's clock a past_due date may
// be: an export from a machine whose clock runs a little ahead.
const pastDueSkew = time.Minute

// DateProblems is the problems, under pointer (the account's own), of
// a's past_due date as written at now: a grace that starts after the
// write (a typo's year) would let a past_due account play until then and
// the grace on.
func (a Account) DateProblems(pointer string, now time.Time) []Problem {
	if a.PastDueSince.After(now.Add(pastDueSkew)) {
		return []Problem{{Pointer: pointer + "/past_due_since", Message: fmt.Sprintf(
			"past_due_since %s is after the write (%s): the grace would start then", a.PastDueSince.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}}
	}
	return nil
}

// PaymentOwned is the JSON pointers, under the account's own, of the
// settings a would change on stored that the payment provider decides
// there (playback.Account.PaymentManaged): status, past_due_since, and
// plan_id where the subscription deciding the account names a plan. Writing them would last
// only until the customer's next event, so the admin API and import
// refuse such a write; nil when there is none. The values the
// subscriptions fold to are taken too: they put back what a write made
// before this rule left over them.
func (a Account) PaymentOwned(stored playback.Account) []string {
	if !stored.PaymentManaged() {
		return nil
	}
	// Zero when it holds none: only the customer links it, and the status
	// and plan it has stand.
	billed, _ := stored.BillingSubscription()
	var out []string
	// A status left out keeps the stored one.
	if a.Status != "" && a.Status != stored.Status && a.Status != billed.Status {
		out = append(out, "/status")
	}
	// Under a price that maps no plan (an account a checkout created
	// with one included), Stripe's events keep whatever plan the account
	// has (playback.Account.PutSubscription): the operator's.
	if plan := billed.PlanID; plan != "" && a.PlanID != stored.PlanID && a.PlanID != plan {
		out = append(out, "/plan_id")
	}
	// The grace of a past_due the provider decides is its to date.
	if d := a.PastDueSince; !d.IsZero() && !d.Equal(stored.PastDueSince) && !d.Equal(billed.PastDueSince) {
		out = append(out, "/past_due_since")
	}
	return out
}

// AccountOf is the settings of a, as a file or the admin API holds them.
func AccountOf(a playback.Account) Account {
	return Account{ID: a.ID, Email: a.Email, PlanID: a.PlanID, Status: a.Status, Territory: a.Territory,
		ParentalCap: a.ParentalCap, CustomerID: a.CustomerID, Suspended: a.Suspended, PastDueSince: a.PastDueSince}
}

// Problem is one thing wrong with a file: where (line, when the file is
// text the parser can place it, and the JSON pointer of the field) and
// what.
type Problem struct {
	Line    int    `json:"line,omitempty"`
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// String names the line and the field; the empty pointer (the record or
// file as a whole) is left out rather than read as an empty field name.
func (p Problem) String() string {
	var sb strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&sb, "line %d: ", p.Line)
	}
	if p.Pointer != "" {
		sb.WriteString(p.Pointer)
		sb.WriteString(": ")
	}
	sb.WriteString(p.Message)
	return sb.String()
}

// Invalid is the error of a file that cannot be imported, listing every
// problem found.
type Invalid struct {
	Name     string
	Problems []Problem
}

func (e *Invalid) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: %d problem(s)", e.Name, len(e.Problems))
	for _, p := range e.Problems {
		sb.WriteString("\n  ")
		sb.WriteString(p.String())
	}
	return sb.String()
}

// schema is compiled on the first Parse, not at start: a Lambda that links
// this package (admin) pays for it on its first import request only. Every
// Parse goes through it (the fast path too, for the sections other than
// titles), so a schema that does not compile fails every Parse with an
// error, never an accepted file. The validator is our own (validate.go):
// the JSON Schema library's package init compiled every draft's
// meta-schema wherever it was linked.
var schema = sync.OnceValues(func() (*node, error) { return compileSchema(SchemaJSON) })

// Parse reads a catalogue file, JSON or YAML (by name, ".yaml"/".yml",
// or by content), and checks all of it: an error is *Invalid naming every
// problem with its line and field.
func Parse(name string, data []byte) (File, error) { return parse(name, data, true) }

// parse is Parse; without fast, every file takes the schema path (what
// tests hold the fast path to).
func parse(name string, data []byte, fast bool) (File, error) {
	var f File
	inv := &Invalid{Name: name}
	isYAML := strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") ||
		!bytes.HasPrefix(bytes.TrimSpace(data), []byte("{"))
	var locate func(pointer string) int
	jsonData := data
	if isYAML {
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			inv.Problems = append(inv.Problems, Problem{Line: yamlErrorLine(err), Pointer: "", Message: err.Error()})
			return f, inv
		}
		var err error
		if jsonData, err = yamlJSON(&root); err != nil {
			inv.Problems = append(inv.Problems, Problem{Pointer: "", Message: err.Error()})
			return f, inv
		}
		locate = func(p string) int { return yamlLine(&root, p) }
	} else {
		locate = func(p string) int { return jsonLine(data, p) }
	}
	// A file the fast path takes whole and that breaks none of the rules
	// the schema cannot state is done; any problem is named by the schema
	// path below.
	if fast {
		if f, ok := parseFast(name, jsonData); ok && len(f.check()) == 0 {
			f.normalise()
			return f, nil
		}
	}
	f, err := parseSchema(name, jsonData, locate)
	if err != nil {
		return f, err
	}
	for _, p := range f.check() {
		p.Line = locate(p.Pointer)
		inv.Problems = append(inv.Problems, p)
	}
	if len(inv.Problems) > 0 {
		sortProblems(inv.Problems)
		return f, inv
	}
	f.normalise()
	return f, nil
}

// parseSchema checks jsonData's syntax and validates it with the schema,
// then decodes it strictly: the schema path. locate places a problem's
// pointer at its line.
func parseSchema(name string, jsonData []byte, locate func(pointer string) int) (File, error) {
	var f File
	inv := &Invalid{Name: name}
	sch, err := schema()
	if err != nil {
		return f, fmt.Errorf("catalogfile.Parse: schema: %w", err)
	}
	// One generic decode serves the syntax check and the schema.
	inst, err := decodeJSON(jsonData)
	if err != nil {
		inv.Problems = append(inv.Problems, syntaxProblem(jsonData, err))
		return f, inv
	}
	if ps := sch.problems(inst); len(ps) > 0 {
		for _, p := range ps {
			p.Line = locate(p.Pointer)
			inv.Problems = append(inv.Problems, p)
		}
		sortProblems(inv.Problems)
		return f, inv
	}
	// The server's members of a record as GET answers it (readOnly in the
	// schema) are ignored: the typed decode keeps refusing any other.
	var dropped []string
	sch.dropReadOnly(inst, nil, &dropped)
	// Every date-time the schema accepts reads as its instant, or is a
	// problem here, at its pointer, rather than the typed decode's error.
	upper := false
	sch.dateTimes(inst, nil, func(s, pointer string, required bool) string {
		t, err := playback.ParseDateTime(s)
		switch {
		case err != nil:
			inv.Problems = append(inv.Problems, Problem{Line: locate(pointer), Pointer: pointer, Message: err.Error()})
		case t.IsZero() && !required:
			// A member that may be left out reads its zero time as left
			// out (omitzero): the write would not say what it meant.
			inv.Problems = append(inv.Problems, Problem{Line: locate(pointer), Pointer: pointer, Message: fmt.Sprintf(
				"%s is Go's zero time, which reads as no date: leave the member out for none", s)})
		}
		u := playback.UpperDateTime(s)
		upper = upper || u != s
		return u
	})
	// An integer the schema accepts in any spelling (2.0, 1e1) reads as
	// its digits, which the typed decode takes; one beyond int64 (Go's
	// int here) is a problem at its pointer.
	respelled := false
	sch.integers(inst, nil, func(num json.Number, pointer string) json.Number {
		d := decimalOf(num)
		if d.exact == nil || !d.exact.Num().IsInt64() {
			inv.Problems = append(inv.Problems, Problem{Line: locate(pointer), Pointer: pointer, Message: fmt.Sprintf(
				"%s is beyond the integers stored (%d to %d)", num, math.MinInt64, math.MaxInt64)})
			return num
		}
		digits := json.Number(d.exact.Num().String())
		respelled = respelled || digits != num
		return digits
	})
	// A number beyond float64 is a problem at its pointer, not the typed
	// decode's error.
	sch.floats(inst, nil, func(num json.Number, pointer string) {
		if _, err := strconv.ParseFloat(string(num), 64); err != nil {
			inv.Problems = append(inv.Problems, Problem{Line: locate(pointer), Pointer: pointer, Message: fmt.Sprintf(
				"%s is beyond the numbers stored (magnitude at most %g)", num, math.MaxFloat64)})
		}
	})
	if len(inv.Problems) > 0 {
		sortProblems(inv.Problems)
		return f, inv
	}
	typed := jsonData
	reencoded := len(dropped) > 0 || upper || respelled
	if reencoded {
		// The coverage zone file is kept as written, not re-encoded: Go
		// sorts an object's names, and its zones' order decides which
		// zone a network listed twice is in; its parser, not this
		// encoder, reads a zone named twice and bytes that are not UTF-8.
		records := maps.Clone(inst.(map[string]any)) // the schema's root is an object
		delete(records, "coverage_zones")
		if typed, err = json.Marshal(records); err != nil {
			return f, fmt.Errorf("catalogfile.Parse: %w", err)
		}
	}
	d := json.NewDecoder(bytes.NewReader(typed))
	d.DisallowUnknownFields()
	if err := d.Decode(&f); err != nil {
		inv.Problems = append(inv.Problems, Problem{Message: err.Error()})
		return f, inv
	}
	if reencoded {
		var zones struct {
			CoverageZones json.RawMessage `json:"coverage_zones"`
		}
		if err := json.Unmarshal(jsonData, &zones); err != nil {
			inv.Problems = append(inv.Problems, Problem{Message: err.Error()})
			return f, inv
		}
		f.CoverageZones = zones.CoverageZones
	}
	if p := strict(jsonData, dropped); p != nil {
		p.Line = locate(p.Pointer)
		inv.Problems = append(inv.Problems, *p)
		return f, inv
	}
	return f, nil
}

// strict holds jsonData, one valid JSON value, to the rules of every JSON
// body the API takes (strictjson): no name twice, valid UTF-8. The
// coverage zone file is left to its parser, which takes a zone named twice
// as Traffic Router does, and so are the readOnly members ignored (at the
// pointers ignored), which File has no field for.
func strict(jsonData []byte, ignored []string) *Problem {
	pointer, err := strictjson.CheckAt(jsonData, reflect.TypeFor[File](), append([]string{"/coverage_zones"}, ignored...)...)
	if err == nil {
		return nil
	}
	return &Problem{Pointer: pointer, Message: playback.AsError(err).Message}
}

func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int { return a.Line - b.Line })
}

var printer = message.NewPrinter(language.English)

func escapeTokens(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
	}
	return out
}

// notCountry is the problem of a territory the schema's pattern takes but
// that names no country (playback.NotCountries): no viewer is ever
// located there, so a window in it licenses nothing and a home there
// meets no window.
const notCountry = "%q names a grouping or an unknown place, not a country: give each country's ISO 3166-1 alpha-2 code"

// check applies the rules the schema cannot state.
func (f *File) check() []Problem {
	var ps []Problem
	add := func(pointer, format string, args ...any) {
		ps = append(ps, Problem{Pointer: pointer, Message: fmt.Sprintf(format, args...)})
	}
	ids := map[string]map[string]int{}
	dup := func(kind, section string, i int, id string) {
		if !playback.ValidRecordID(id) {
			// The schema's id pattern lets ".", ".." and __x__ through; the
			// stores refuse them, after the sets before them are written.
			add(fmt.Sprintf("/%s/%d/id", section, i), "%s id %q names no record", kind, id)
			return
		}
		if ids[kind] == nil {
			ids[kind] = map[string]int{}
		}
		if j, ok := ids[kind][id]; ok {
			add(fmt.Sprintf("/%s/%d/id", section, i), "%s %q is also /%s/%d", kind, id, section, j)
			return
		}
		ids[kind][id] = i
	}
	for i, p := range f.Plans {
		dup("plan", "plans", i, p.ID)
	}
	for i, t := range f.Titles {
		dup("title", "titles", i, t.ID)
		for j, w := range t.Windows {
			for _, b := range []struct {
				name string
				at   time.Time
			}{{"start", w.Start}, {"end", w.End}} {
				// Stored as RFC 3339 in UTC, which has four-digit years.
				if y := b.at.UTC().Year(); y < 0 || y > 9999 {
					add(fmt.Sprintf("/titles/%d/windows/%d/%s", i, j, b.name), "%s %s is outside years 0000-9999 in UTC", b.name, b.at.Format(time.RFC3339))
				}
			}
			if !playback.IsCountryCode(w.Territory) {
				add(fmt.Sprintf("/titles/%d/windows/%d/territory", i, j), notCountry, w.Territory)
			}
			if !w.End.After(w.Start) {
				add(fmt.Sprintf("/titles/%d/windows/%d/end", i, j), "end %s is not after start %s", w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
			}
		}
		if err := t.ValidateRenditions(); err != nil {
			add(fmt.Sprintf("/titles/%d/renditions", i), "%s", playback.AsError(err).Message)
		}
		if _, _, err := t.MediaPaths(); err != nil {
			e := playback.AsError(err)
			add(fmt.Sprintf("/titles/%d/%s", i, e.Reason), "%s", e.Message)
		}
	}
	for i, e := range f.Edges {
		dup("edge", "edges", i, e.ID)
		if err := e.Apply(playback.Edge{}).Validate(); err != nil {
			add(fmt.Sprintf("/edges/%d", i), "%s", playback.AsError(err).Message)
		} else if !steering.ValidPathwayID(e.CDN) {
			// The schema takes any name; steering would leave the edge out.
			add(fmt.Sprintf("/edges/%d/cdn", i), "cdn %q must be a content steering pathway ID ([A-Za-z0-9._-]+): players are given it as one", e.CDN)
		}
	}
	customers := map[string]int{}
	for i, a := range f.Accounts {
		dup("account", "accounts", i, a.ID)
		if !playback.IsCountryCode(a.Territory) {
			add(fmt.Sprintf("/accounts/%d/territory", i), notCountry, a.Territory)
		}
		if a.PlanID == "" && a.CustomerID == "" {
			// A checkout's account waits for its subscription's events to
			// name a plan; no events would ever name one for this account.
			add(fmt.Sprintf("/accounts/%d/plan_id", i), "an account without a plan must be linked to its Stripe customer (customer_id), whose subscription's events name one: give it a plan")
		}
		switch j, twice := customers[a.CustomerID]; {
		case a.CustomerID == "":
		case !playback.ValidCustomerID(a.CustomerID):
			add(fmt.Sprintf("/accounts/%d/customer_id", i), playback.CustomerIDRule)
		case twice:
			// A customer is linked to one account: the last would win.
			add(fmt.Sprintf("/accounts/%d/customer_id", i), "customer %q is also /accounts/%d's", a.CustomerID, j)
		default:
			customers[a.CustomerID] = i
		}
		if !a.PastDueSince.IsZero() {
			// A date another status would drop (DatePastDue): the file
			// would not say what the store keeps.
			if a.Status != playback.StatusPastDue {
				add(fmt.Sprintf("/accounts/%d/past_due_since", i), "past_due_since is only for status past_due, not %q", a.Status)
			} else if y := a.PastDueSince.UTC().Year(); y < 0 || y > 9999 {
				add(fmt.Sprintf("/accounts/%d/past_due_since", i), "past_due_since %s is outside years 0000-9999 in UTC", a.PastDueSince.Format(time.RFC3339))
			}
		}
	}
	if len(f.CoverageZones) > 0 {
		if _, err := steering.ParseCoverageZones(f.CoverageZones); err != nil {
			add("/coverage_zones", "%v", err)
		}
	}
	return ps
}

// normalise puts times in UTC, as the stores hand them back, so that a
// file and what it wrote compare equal.
func (f *File) normalise() {
	for i := range f.Titles {
		for j := range f.Titles[i].Windows {
			w := &f.Titles[i].Windows[j]
			w.Start, w.End = w.Start.UTC(), w.End.UTC()
		}
	}
	if len(f.CoverageZones) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, f.CoverageZones) == nil {
			f.CoverageZones = buf.Bytes()
		}
	}
}

// syntaxProblem places a JSON decoding error at its line.
func syntaxProblem(data []byte, err error) Problem {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(len(data))
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	return Problem{Line: lineAt(data, off), Message: err.Error()}
}

func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// jsonLine is the line of the value at pointer in a JSON document (0 if
// it is not there).
func jsonLine(data []byte, pointer string) int {
	want := splitPointer(pointer)
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber() // a number beyond float64 is a token still, not the end of the walk
	line := 0
	// walk reads one value; it reports true once the search is over.
	var walk func(path []string) bool
	walk = func(path []string) bool {
		if slices.Equal(path, want) {
			// InputOffset is before the separators that lead to the value.
			off := d.InputOffset()
			rest := data[off:]
			line = lineAt(data, off+int64(len(rest)-len(bytes.TrimLeft(rest, " \t\r\n,:"))))
			return true
		}
		tok, err := d.Token()
		if err != nil {
			return true
		}
		switch tok {
		case json.Delim('{'):
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return true
				}
				key, _ := k.(string)
				if walk(append(slices.Clip(path), key)) {
					return true
				}
			}
			_, _ = d.Token()
		case json.Delim('['):
			for i := 0; d.More(); i++ {
				if walk(append(slices.Clip(path), strconv.Itoa(i))) {
					return true
				}
			}
			_, _ = d.Token()
		}
		return false
	}
	walk(nil)
	return line
}

func splitPointer(p string) []string {
	if p == "" || p == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

// yamlJSON is the JSON of a YAML document.
func yamlJSON(root *yaml.Node) ([]byte, error) {
	v, err := yamlValue(root)
	if err != nil {
		return nil, err
	}
	return appendJSON(nil, v)
}

// yamlMapping is a YAML mapping, which appendJSON writes in the file's order:
// a Go map would sort it, and the order of a coverage zone file's zones
// decides which one a network listed twice is in.
type yamlMapping struct {
	keys   []string
	values []any
}

// appendJSON appends the JSON of v, a value of yamlValue, to b.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case yamlMapping:
		b = append(b, '{')
		for i, k := range v.keys {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, k); err != nil {
				return nil, err
			}
			if b, err = appendJSON(append(b, ':'), v.values[i]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	raw, err := json.Marshal(v)
	return append(b, raw...), err
}

// yamlNumber is a decimal number of YAML 1.2's core schema (an int is
// one too).
var yamlNumber = regexp.MustCompile(`^([-+]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([-+]?[0-9]+))?$`)

// yamlDecimal spells s, a decimal number of YAML 1.2, in JSON's grammar,
// digit for digit. A leading 0 is a decimal's (016 is 16), as YAML 1.2
// reads it, not YAML 1.1's octal that yaml.v3 reads (14).
func yamlDecimal(s string) (json.Number, bool) {
	m := yamlNumber.FindStringSubmatch(s)
	if m == nil || m[2] == "" && m[3] == "" {
		return "", false
	}
	num := strings.TrimPrefix(m[1], "+")
	if whole := strings.TrimLeft(m[2], "0"); whole != "" {
		num += whole
	} else {
		num += "0"
	}
	if m[3] != "" {
		num += "." + m[3]
	}
	if m[4] != "" {
		num += "e" + m[4]
	}
	return json.Number(num), true
}

// yamlValue converts a YAML document to the value JSON would decode
// (mappings with string keys, in order), so that one schema and decoder
// serve both.
func yamlValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0])
	case yaml.MappingNode:
		// A key given twice is kept, as a JSON file's name given twice is:
		// the JSON rules then answer for both (refused at its pointer, but
		// in the coverage zone file, read as Traffic Router reads it).
		m := yamlMapping{keys: make([]string, 0, len(n.Content)/2), values: make([]any, 0, len(n.Content)/2)}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping keys must be strings", k.Line)
			}
			v, err := yamlValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m.keys, m.values = append(m.keys, k.Value), append(m.values, v)
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			// yaml.v3 reads a plain number beyond float64 (1e400) as a
			// string; YAML 1.2's core schema, like JSON, reads it as a
			// number.
			if num, ok := yamlDecimal(n.Value); ok && n.Style == 0 {
				return num, nil
			}
			return n.Value, nil
		case "!!binary":
			return n.Value, nil
		case "!!timestamp":
			// Times stay text, as JSON would give them.
			return n.Value, nil
		case "!!null":
			return nil, nil
		case "!!int", "!!float":
			// A decimal reads as its digits, as JSON's numbers do (the
			// schema and the typed decode see the same json.Number), not
			// as yaml.v3's int64 or float64, which round an integral
			// 9007199254740993.0 and refuse what is beyond them.
			// yaml.v3 drops '_' from a number (YAML 1.1's 1_000).
			if num, ok := yamlDecimal(strings.ReplaceAll(n.Value, "_", "")); ok {
				return num, nil
			}
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func yamlLine(root *yaml.Node, pointer string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, part := range splitPointer(pointer) {
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part {
					n, found = n.Content[i+1], true
					break
				}
			}
			if !found {
				return n.Line
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n.Line
			}
			n = n.Content[i]
		default:
			return n.Line
		}
	}
	return n.Line
}

func yamlErrorLine(err error) int {
	// yaml.v3 says "yaml: line N: ...".
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		rest := msg[i+5:]
		j := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if j > 0 {
			n, _ := strconv.Atoi(rest[:j])
			return n
		}
	}
	return 0
}

// Encode writes f as indented JSON.
func Encode(w io.Writer, f File) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// sections are the file's arrays of each kind.
var sections = map[playback.Kind]string{
	playback.KindPlan: "plans", playback.KindTitle: "titles", playback.KindEdge: "edges", playback.KindAccount: "accounts",
}

// CheckRecord checks one record of kind, as the file would hold it (a
// JSON object), by the rules of the file: the schema and the domain's
// rules. Problems name the field by its JSON pointer within the record
// and its line within doc; none means the record is good.
func CheckRecord(kind playback.Kind, doc []byte) ([]Problem, error) {
	_, ps, err := ReadRecord(kind, doc)
	return ps, err
}

// ReadRecord is CheckRecord, also answering the record as read when it
// has no problem: what a write of it takes, without the members the
// server owns (readOnly) and with its date-times as Go reads them (the
// lower-case t and z RFC 3339 allows made upper-case, in UTC for titles).
func ReadRecord(kind playback.Kind, doc []byte) (json.RawMessage, []Problem, error) {
	section, ok := sections[kind]
	if !ok {
		return nil, nil, fmt.Errorf("catalogfile.ReadRecord: kind %q", kind)
	}
	// The record goes in on the first line of the wrapper, so lines stay
	// those of doc.
	wrapped := append(append([]byte(`{"`+section+`":[`), doc...), "]}"...)
	f, err := Parse("record.json", wrapped)
	var inv *Invalid
	if !errors.As(err, &inv) {
		if err != nil {
			return nil, nil, fmt.Errorf("catalogfile.ReadRecord: %w", err)
		}
		var read any
		switch {
		case len(f.Plans) == 1:
			read = f.Plans[0]
		case len(f.Titles) == 1:
			read = f.Titles[0]
		case len(f.Edges) == 1:
			read = f.Edges[0]
		case len(f.Accounts) == 1:
			read = f.Accounts[0]
		default:
			return nil, nil, fmt.Errorf("catalogfile.ReadRecord: %s: not one record", kind)
		}
		rec, err := json.Marshal(read)
		if err != nil {
			return nil, nil, fmt.Errorf("catalogfile.ReadRecord: %w", err)
		}
		return rec, nil, nil
	}
	prefix := "/" + section + "/0"
	for i, p := range inv.Problems {
		switch {
		case p.Pointer == prefix || p.Pointer == "/"+section || p.Pointer == "":
			inv.Problems[i].Pointer = ""
		case strings.HasPrefix(p.Pointer, prefix+"/"):
			inv.Problems[i].Pointer = strings.TrimPrefix(p.Pointer, prefix)
		}
	}
	return nil, inv.Problems, nil
}

package catalog

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The functions are not importable from the catalogue (they import it);
// these tests read their source instead, so that a route, entry point, job or
// collection the code adds or renames cannot drift from what the stacks
// deploy.

const repoRoot = "../.."

// parseDir parses the non-test Go files of dir (relative to the repository
// root).
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return files
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// stringConsts maps the names of a package's string constants to their values.
func stringConsts(files []*ast.File) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range spec.Names {
				if i < len(spec.Values) {
					if v, ok := stringLit(spec.Values[i]); ok {
						out[name.Name] = v
					}
				}
			}
			return true
		})
	}
	return out
}

// Every route a function's Register mounts is in the catalogue, and the
// catalogue routes nothing the function does not serve.
func TestRoutesMatchWhatTheFunctionsServe(t *testing.T) {
	t.Parallel()
	for _, fn := range Functions {
		t.Run(fn.Name, func(t *testing.T) {
			t.Parallel()
			var served []string
			for _, f := range parseDir(t, "functions/"+fn.Name) {
				ast.Inspect(f, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok || len(call.Args) == 0 {
						return true
					}
					sel, ok := call.Fun.(*ast.SelectorExpr)
					if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
						return true
					}
					if pattern, ok := stringLit(call.Args[0]); ok {
						served = append(served, pattern)
					}
					return true
				})
			}
			var routed []string
			for _, r := range fn.Routes {
				routed = append(routed, r.Key())
			}
			slices.Sort(served)
			slices.Sort(routed)
			if len(served) == 0 || !slices.Equal(served, routed) {
				t.Errorf("functions/%s serves %q, the catalogue routes %q", fn.Name, served, routed)
			}
		})
	}
}

// gcpSpec is one gcpfn.Spec literal of functions/gcp's Functions list.
type gcpSpec struct {
	HTTP, Jobs string
	Consumers  map[string]string // topic -> entry point
}

func gcpSpecs(t *testing.T) map[string]gcpSpec {
	t.Helper()
	topics := map[string]string{}
	for name, v := range stringConsts(parseDir(t, "events")) {
		if strings.HasPrefix(name, "Topic") {
			topics["events."+name] = v
		}
	}
	out := map[string]gcpSpec{}
	isSpec := func(e ast.Expr) bool {
		sel, ok := e.(*ast.SelectorExpr)
		return ok && sel.Sel.Name == "Spec"
	}
	var literals []*ast.CompositeLit
	for _, f := range parseDir(t, "functions/gcp") {
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			switch typ := lit.Type.(type) {
			case *ast.ArrayType: // []gcpfn.Spec{{...}, ...}
				if isSpec(typ.Elt) {
					for _, elt := range lit.Elts {
						if spec, ok := elt.(*ast.CompositeLit); ok {
							literals = append(literals, spec)
						}
					}
					return false
				}
			default:
				if isSpec(typ) {
					literals = append(literals, lit)
					return false
				}
			}
			return true
		})
	}
	for _, lit := range literals {
		func() {
			var name string
			spec := gcpSpec{Consumers: map[string]string{}}
			for _, elt := range lit.Elts {
				kv, ok := elt.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				switch key := kv.Key.(*ast.Ident).Name; key {
				case "Name":
					name, _ = stringLit(kv.Value)
				case "HTTP":
					spec.HTTP, _ = stringLit(kv.Value)
				case "Jobs":
					spec.Jobs, _ = stringLit(kv.Value)
				case "Consumers":
					// on(events.TopicX, "EntryPoint")
					call, ok := kv.Value.(*ast.CallExpr)
					if !ok || len(call.Args) != 2 {
						t.Errorf("Consumers of %s is not on(topic, entry point)", name)
						continue
					}
					sel, _ := call.Args[0].(*ast.SelectorExpr)
					var topic string
					if sel != nil {
						topic = topics[sel.X.(*ast.Ident).Name+"."+sel.Sel.Name]
					}
					entry, _ := stringLit(call.Args[1])
					spec.Consumers[topic] = entry
				}
			}
			out[name] = spec
		}()
	}
	if len(out) == 0 {
		t.Fatal("no gcpfn.Spec literal in functions/gcp")
	}
	return out
}

// The entry points the stack deploys are those functions/gcp registers.
func TestEntryPointsMatchTheGCPDeployUnit(t *testing.T) {
	t.Parallel()
	specs := gcpSpecs(t)
	for _, fn := range Functions {
		spec, ok := specs[fn.Name]
		if !ok {
			t.Errorf("functions/gcp registers no %s", fn.Name)
			continue
		}
		consumers := map[string]string{}
		for _, c := range fn.Consumes {
			consumers[c.Topic] = c.GCPEntryPoint
		}
		if spec.HTTP != fn.GCPEntryPoint || spec.Jobs != fn.GCPJobsEntryPoint || !maps.Equal(spec.Consumers, consumers) {
			t.Errorf("%s: functions/gcp registers HTTP %q, jobs %q, consumers %v; the catalogue deploys %q, %q, %v",
				fn.Name, spec.HTTP, spec.Jobs, spec.Consumers, fn.GCPEntryPoint, fn.GCPJobsEntryPoint, consumers)
		}
		delete(specs, fn.Name)
	}
	for name := range specs {
		t.Errorf("functions/gcp registers %s, which the catalogue does not deploy", name)
	}
}

// jobKeys returns the keys of the map[string]<pkg>.Job literals in dir: the
// jobs a function declares in its Jobs method.
func jobKeys(t *testing.T, dir string) []string {
	t.Helper()
	var keys []string
	for _, f := range parseDir(t, dir) {
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			m, ok := lit.Type.(*ast.MapType)
			if !ok {
				return true
			}
			if sel, ok := m.Value.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Job" {
				return true
			}
			for _, elt := range lit.Elts {
				if k, ok := stringLit(elt.(*ast.KeyValueExpr).Key); ok {
					keys = append(keys, k)
				}
			}
			return true
		})
	}
	slices.Sort(keys)
	return keys
}

// The jobs the stacks schedule are the jobs the function declares (its
// Jobs method, which the Lambda and Cloud Functions wiring both serve), and
// the payload is the one the AWS sample sends.
func TestJobsMatchTheFunctionCode(t *testing.T) {
	t.Parallel()
	for _, fn := range Functions {
		var names []string
		for _, j := range fn.Jobs {
			names = append(names, j.Name)
		}
		slices.Sort(names)
		if got := jobKeys(t, "functions/"+fn.Name); !slices.Equal(got, names) {
			t.Errorf("%s declares jobs %v, the catalogue schedules %v", fn.Name, got, names)
		}
		if len(fn.Jobs) > 0 && fn.GCPJobsEntryPoint == "" {
			t.Errorf("%s has jobs but no GCP jobs entry point", fn.Name)
		}
	}

	b, err := os.ReadFile(filepath.Join(repoRoot, "events/aws/paymentwebhook/sweep.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sample, ours any
	if err := json.Unmarshal(b, &sample); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(Job{Name: "sweep"}.Payload()), &ours); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sample, ours) {
		t.Errorf("sweep payload %s, the sample sends %s", Job{Name: "sweep"}.Payload(), b)
	}
}

func TestJobSchedules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		every      time.Duration
		rate, cron string
	}{
		{name: "minute", every: time.Minute, rate: "rate(1 minute)", cron: "* * * * *"},
		{name: "five minutes", every: 5 * time.Minute, rate: "rate(5 minutes)", cron: "*/5 * * * *"},
		{name: "hour", every: time.Hour, rate: "rate(1 hour)", cron: "0 * * * *"},
		{name: "six hours", every: 6 * time.Hour, rate: "rate(6 hours)", cron: "0 */6 * * *"},
		{name: "day", every: 24 * time.Hour, rate: "rate(24 hours)", cron: "0 */24 * * *"},
		{name: "seconds", every: 30 * time.Second},
		{name: "seven minutes", every: 7 * time.Minute},
		{name: "ninety minutes", every: 90 * time.Minute},
		{name: "five hours", every: 5 * time.Hour},
		{name: "two days", every: 48 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := Job{Name: "x", Every: tc.every}
			rate, rateErr := j.RateExpression()
			cron, cronErr := j.CronSchedule()
			if tc.rate == "" {
				if rateErr == nil || cronErr == nil {
					t.Errorf("%s accepted: %q %q", tc.every, rate, cron)
				}
				return
			}
			if rate != tc.rate || cron != tc.cron || rateErr != nil || cronErr != nil {
				t.Errorf("%s: %q %q (%v %v), want %q %q", tc.every, rate, cron, rateErr, cronErr, tc.rate, tc.cron)
			}
		})
	}
	for _, fn := range Functions {
		for _, j := range fn.Jobs {
			if _, err := j.RateExpression(); err != nil {
				t.Errorf("%s: %v", fn.Name, err)
			}
		}
	}
}

// ttlWriters are the shared/firestore functions that write expire_at, and
// the collection group of the documents each writes. A new writer fails
// the test until it is listed here, with its collection group.
var ttlWriters = map[string]string{
	"eventFields":    "events",      // inbox/{source}/events/{id}
	"SaveSessionQoE": "session_qoe", // session_qoe/{id}
	"heldSlotFields": "slots",       // accounts/{id}/slots/{k}
	"freeSlotFields": "slots",
	"admitWrites":    "slots",    // the device lock, accounts/{id}/slots/<deviceLockPrefix><device>
	"sessionFields":  "sessions", // sessions/{id}
	"replace":        "guards",   // …/guards/{rev}
}

// Every collection group the Firestore adapter writes with its TTL field
// has a TTL policy on that field, and there is no other policy.
func TestFirestoreTTLCoversWhatTheAdapterExpires(t *testing.T) {
	t.Parallel()
	files := parseDir(t, "shared/firestore")
	consts := stringConsts(files)
	field, ok := consts["fieldExpireAt"]
	if !ok {
		t.Fatal("shared/firestore has no fieldExpireAt constant")
	}
	collections := map[string]bool{}
	for name, v := range consts {
		if strings.HasPrefix(name, "col") || strings.HasPrefix(name, "sub") {
			collections[v] = true
		}
	}
	writers := map[string]bool{}
	for _, f := range files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				var key ast.Expr
				switch n := n.(type) {
				case *ast.KeyValueExpr:
					key = n.Key
				case *ast.AssignStmt:
					for _, lhs := range n.Lhs {
						if idx, ok := lhs.(*ast.IndexExpr); ok {
							key = idx.Index
						}
					}
				}
				if id, ok := key.(*ast.Ident); ok && id.Name == "fieldExpireAt" {
					writers[fn.Name.Name] = true
				}
				return true
			})
		}
	}
	if len(writers) == 0 {
		t.Fatal("found no writer of fieldExpireAt: the check is broken")
	}
	want := map[TTLField]bool{}
	for w := range writers {
		group, ok := ttlWriters[w]
		if !ok {
			t.Errorf("firestore.%s writes %s: list it in ttlWriters with its collection group", w, field)
			continue
		}
		if !collections[group] {
			t.Errorf("ttlWriters: %q is not a collection of shared/firestore", group)
		}
		want[TTLField{CollectionGroup: group, Field: field}] = true
	}
	for w := range ttlWriters {
		if !writers[w] {
			t.Errorf("ttlWriters lists firestore.%s, which no longer writes %s", w, field)
		}
	}
	got := map[TTLField]bool{}
	for _, ttl := range FirestoreTTL {
		got[ttl] = true
	}
	if !maps.Equal(got, want) {
		t.Errorf("FirestoreTTL %v, the adapter expires %v", sortedTTL(got), sortedTTL(want))
	}
}

func sortedTTL(set map[TTLField]bool) []string {
	var out []string
	for f := range set {
		out = append(out, f.CollectionGroup+"."+f.Field)
	}
	slices.Sort(out)
	return out
}

var settingValue = regexp.MustCompile(`^[A-Za-z0-9_=,.:-]*$`)

func TestSettingsAreWellFormed(t *testing.T) {
	t.Parallel()
	used := map[string]bool{}
	for _, fn := range Functions {
		for _, s := range fn.Settings {
			if _, ok := SettingByEnv(s); !ok {
				t.Errorf("%s: unknown setting %q", fn.Name, s)
			}
			used[s] = true
		}
	}
	for _, s := range Settings {
		if !envName.MatchString(s.Env) || s.ConfigKey == "" || !settingValue.MatchString(s.Default) {
			t.Errorf("setting %+v is misnamed", s)
		}
		if _, secret := SecretByEnv(s.Env); secret {
			t.Errorf("setting %s is also a secret", s.Env)
		}
		if !used[s.Env] {
			t.Errorf("setting %s is used by no function", s.Env)
		}
	}
}

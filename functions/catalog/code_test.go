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

// The Firestore TTL policies are held to what shared/firestore writes by
// reading the adapter's source: which collections expire is a property of
// its write paths, not a value any code can report at run time.

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

// The payload a schedule sends is the one the AWS sample sends. (Which jobs
// a function declares is checked at run time by cmd/playplane's
// TestFunctionsServeWhatTheCatalogueDeploys.)
func TestJobPayloadMatchesTheSample(t *testing.T) {
	t.Parallel()
	for _, fn := range Functions {
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
	for _, s := range GCPSettings {
		if _, ok := SettingByEnv(s); !ok {
			t.Errorf("GCPSettings: unknown setting %q", s)
		}
		used[s] = true
	}
	for _, s := range Settings {
		if !envName.MatchString(s.Env) || s.ConfigKey == "" || !settingValue.MatchString(s.Default) {
			t.Errorf("setting %+v is misnamed", s)
		}
		if s.Optional && s.Default != "" {
			t.Errorf("setting %s is optional but defaults to %q", s.Env, s.Default)
		}
		if _, secret := SecretByEnv(s.Env); secret {
			t.Errorf("setting %s is also a secret", s.Env)
		}
		if !used[s.Env] {
			t.Errorf("setting %s is used by no function", s.Env)
		}
	}
}

// The trigger variables and values the stacks give each Lambda are the ones
// shared/awsfn reads to pick its handler: it takes each from here rather
// than spelling it again.
func TestTriggerNamesMatchTheLambdaWiring(t *testing.T) {
	t.Parallel()
	refs := catalogRefs(parseDir(t, "shared/awsfn"))
	for _, name := range []string{"EnvTrigger", "EnvTopic", "TriggerHTTP", "TriggerQueue", "TriggerJob"} {
		if got := refs[name]; got != name {
			t.Errorf("shared/awsfn %s is not catalog.%s (it is %q)", name, name, got)
		}
	}
}

// catalogRefs maps the names of a package's constants declared as a
// constant of the catalogue (EnvTrigger = catalog.EnvTrigger) to that
// constant's name.
func catalogRefs(files []*ast.File) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range spec.Names {
				if i >= len(spec.Values) {
					continue
				}
				if sel, ok := spec.Values[i].(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "catalog" {
						out[name.Name] = sel.Sel.Name
					}
				}
			}
			return true
		})
	}
	return out
}

// TestSharedPackagesSpellNoCatalogueName: an env name the catalogue
// spells (the variables the stacks set, the settings, the secrets) is
// spelled there only; a shared package that reads one takes the constant
// (httpx.EnvCORSAllowedOrigins = catalog.EnvCORSAllowedOrigins). Go's
// struct tags cannot name a constant: the adapters' `env` tags are held to
// the stacks by infra/stack's TestEveryEnvNameIsReadByTheCode instead.
func TestSharedPackagesSpellNoCatalogueName(t *testing.T) {
	t.Parallel()
	names := map[string]string{} // value -> the catalogue's constant
	for name, v := range stringConsts(parseDir(t, "functions/catalog")) {
		for _, kind := range []string{"Env", "Setting", "Secret"} {
			if strings.HasPrefix(name, kind) && envName.MatchString(v) {
				names[v] = name
			}
		}
	}
	if names[EnvTrigger] != "EnvTrigger" || names[SecretStripeAPIKey] != "SecretStripeAPIKey" {
		t.Fatalf("the catalogue's env names were not read: %v", names)
	}
	err := filepath.WalkDir(filepath.Join(repoRoot, "shared"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if v, ok := stringLit(exprOf(n)); ok {
				if c, ok := names[v]; ok {
					t.Errorf("%s spells %s, catalog.%s", fset.Position(n.Pos()), v, c)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func exprOf(n ast.Node) ast.Expr {
	e, _ := n.(ast.Expr)
	return e
}

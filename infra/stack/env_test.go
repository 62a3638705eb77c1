package stack

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
)

// part is one deployed function (HTTP, consumer or jobs) with its env.
type part struct {
	cloud Cloud
	fn    catalog.Function
	name  string            // physical name
	env   map[string]string // plain values; secrets on GCP have ""
	names []string          // sorted, secrets marked "(secret)"
}

// parts returns every deployed function part of d.
func (d *deployment) parts(t *testing.T) []part {
	t.Helper()
	var out []part
	for _, r := range d.mock.OfType("aws:lambda/function:Function") {
		p := part{cloud: AWS, name: r.InStr("name"), env: map[string]string{}}
		p.fn = d.functionOf(t, p.name)
		secret := secretPaths(r)
		for k, v := range mapOf(r.In("environment", "variables")) {
			p.env[k], _ = v.(string)
			if k == catalog.EnvTopic {
				continue // a queue Lambda's own (checkTrigger), beside the function's environment
			}
			if secret[".environment.variables."+k] {
				k += " (secret)"
			}
			p.names = append(p.names, k)
		}
		slices.Sort(p.names)
		out = append(out, p)
	}
	for _, r := range d.mock.OfType("gcp:cloudfunctionsv2/function:Function") {
		p := part{cloud: GCP, name: r.InStr("name"), env: map[string]string{}}
		p.fn = d.functionOf(t, p.name)
		for k, v := range mapOf(r.In("serviceConfig", "environmentVariables")) {
			p.env[k], _ = v.(string)
			p.names = append(p.names, k)
		}
		items, _ := r.In("serviceConfig", "secretEnvironmentVariables").([]any)
		for _, item := range items {
			k, _ := mapOf(item)["key"].(string)
			p.env[k] = ""
			p.names = append(p.names, k+" (secret)")
		}
		slices.Sort(p.names)
		out = append(out, p)
	}
	return out
}

// functionOf is the catalogue function of a physical name
// (<prefix>-<function>[-<topic>|-jobs]).
func (d *deployment) functionOf(t *testing.T, physical string) catalog.Function {
	t.Helper()
	rest := strings.TrimPrefix(physical, d.prefix()+"-")
	name, _, _ := strings.Cut(rest, "-")
	fn, ok := catalog.FunctionByName(name)
	if !ok {
		t.Fatalf("%s is no catalogue function", physical)
	}
	return fn
}

// TestStackEnvNamesPerFunction lists what each function gets (run with -v
// to print the table): every part of a function on a cloud (HTTP,
// consumers, jobs) gets the same environment. What the names must be is
// not a table here: TestStackSetsWhatEachBuildReads runs each function's
// Build on them.
func TestStackEnvNamesPerFunction(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		got := map[string][]string{}
		for _, p := range d.parts(t) {
			key := string(p.cloud) + " " + p.fn.Name
			if prev, ok := got[key]; ok && !slices.Equal(prev, p.names) {
				t.Errorf("%s: %s gets %v, another part of %s gets %v", d.layout.Name, p.name, p.names, key, prev)
			}
			got[key] = p.names
		}
		for _, key := range slices.Sorted(maps.Keys(got)) {
			t.Logf("%-6s %-20s %s", d.layout.Name, key, strings.Join(got[key], " "))
		}
	})
}

// knownGaps are env names a stack sets that the function's code does not
// read yet, with the reason ("<layout> <cloud> <function> <NAME>"). The
// test fails once the code reads them, so the entry is removed.
var knownGaps = map[string]string{}

// TestEveryEnvNameIsReadByTheCode checks each variable a function part gets
// against the source that part runs: the `env` tags, and the variable
// names spelled as string constants, of every package of this repository
// the part's main package links (catalog.LambdaMain on Lambda:
// functions/<name>/lambda, or functions/<name>/lambdahybrid over Firestore;
// on Cloud Functions, functions/<name>, shared/gcpfn, functions/gcp/unit and
// shared/gcpfn/pubsubbus if the function publishes, as its unit does). A key set's "env:NAME" reference counts as a read of
// NAME.
func TestEveryEnvNameIsReadByTheCode(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		for _, p := range d.parts(t) {
			var reads map[string]bool
			switch p.cloud {
			case AWS:
				reads = codeReads(t, catalog.LambdaMain(p.fn.Name, d.layout.Store))
			case GCP:
				// What the function's deploy unit links (functions/gcp/source):
				// the Pub/Sub bus only when it publishes.
				reads = union(codeReads(t, "functions/"+p.fn.Name), codeReads(t, "shared/gcpfn"), codeReads(t, "functions/gcp/unit"))
				if len(p.fn.Publishes) > 0 {
					reads = union(reads, codeReads(t, "shared/gcpfn/pubsubbus"))
				}
			}
			for name, value := range p.env {
				for ref := range strings.SplitSeq(value, ",") {
					if _, target, ok := strings.Cut(ref, "=env:"); ok && reads[name] {
						reads = union(reads, map[string]bool{target: true})
					}
				}
			}
			for name := range p.env {
				gap := knownGaps[d.layout.Name+" "+string(p.cloud)+" "+p.fn.Name+" "+name]
				switch {
				case !reads[name] && gap == "":
					t.Errorf("%s sets %s on %s, which its code does not read", d.layout.Name, name, p.name)
				case reads[name] && gap != "":
					t.Errorf("%s: the code of %s now reads %s; remove it from knownGaps", d.layout.Name, p.name, name)
				}
			}
		}
	})
}

// The reader must see what the code reads and nothing it does not, or the
// test above could not fail.
func TestCodeReadsFindsTheFunctionsVariables(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		reads     map[string]bool
		want, not []string
	}{
		{name: "signurl on Lambda", reads: codeReads(t, "functions/signurl/lambda"),
			want: []string{"SIGNURL_CDN_BASES", "CLOUDFRONT_KEYS", "DYNAMO_TABLE", "DYNAMODB_TABLE", "SQS_QUEUE_URLS", "PLAYBACK_TOKEN_KEYS",
				"PLAYBACK_TOKEN_KEYS_SECRET_ARN", "CLOUDFRONT_PRIVATE_KEY_SECRET_ARN"},
			not: []string{"FIRESTORE_PROJECT_ID", "STRIPE_PRICE_PLANS", "PLAYBACK_TOKEN_KEYS_ARN"}},
		{name: "pickedge steering prefix", reads: codeReads(t, "functions/pickedge"),
			want: []string{"STEERING_TTL", "PICKEDGE_TRUSTED_PROXIES", "EDGE_HMAC_KEYS"},
			not:  []string{"TTL_TTL", "LEASE_TTL"}},
		{name: "paymentwebhook on Lambda over Firestore", reads: codeReads(t, catalog.LambdaMain("paymentwebhook", catalog.StoreFirestore)),
			want: []string{"GCP_CREDENTIALS_JSON", "PUBSUB_TOPICS", "FIRESTORE_PROJECT_ID", "FIRESTORE_DATABASE", "STRIPE_WEBHOOK_SECRETS"},
			not:  []string{"CLOUDFRONT_KEYS", "SIGNURL_CDN_BASES"}},
		{name: "gcp wiring", reads: codeReads(t, "shared/gcpfn"),
			want: []string{"FIRESTORE_DATABASE", "JWT_ISSUER"},
			not:  []string{"DYNAMODB_TABLE", "STORE", "BUS", "PUBSUB_TOPICS"}},
		// Names taken from the catalogue (awsfn.EnvTrigger =
		// catalog.EnvTrigger) and the secrets' ARN variables named by its
		// rule (catalog.SecretARNEnv) are read as spelled ones are.
		{name: "Lambda wiring's names from the catalogue", reads: codeReads(t, "shared/awsfn"),
			want: []string{"PLAYPLANE_TRIGGER", "PLAYPLANE_TOPIC", "DYNAMODB_TABLE", "STRIPE_API_KEY_SECRET_ARN", "EDGE_HMAC_KEYS_SECRET_ARN"},
			not:  []string{"SIGNURL_CDN_BASES", "STRIPE_PRICE_PLANS", "CLOUDCDN_SIGNING_KEY_SECRET_ARN"}},
		{name: "gcp bus", reads: codeReads(t, "shared/gcpfn/pubsubbus"),
			want: []string{"PUBSUB_TOPICS", "PUBSUB_PROJECT_ID"},
			not:  []string{"DYNAMODB_TABLE", "SQS_QUEUE_URLS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range tc.want {
				if !tc.reads[name] {
					t.Errorf("does not find %s", name)
				}
			}
			for _, name := range tc.not {
				if tc.reads[name] {
					t.Errorf("finds %s", name)
				}
			}
		})
	}
}

const (
	repoRoot   = "../.."
	modulePath = "github.com/playplane/playplane"
	catalogDir = "functions/catalog"
)

var envNamePattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// pkgNames is what one package spells: env tag names, env tag prefixes,
// variable-like string constants, and its imports in this module.
type pkgNames struct {
	tags, prefixes, literals map[string]bool
	imports                  []string // directories relative to repoRoot
}

var packages sync.Map // dir -> *pkgNames

func scan(t *testing.T, dir string) *pkgNames {
	t.Helper()
	if p, ok := packages.Load(dir); ok {
		return p.(*pkgNames)
	}
	paths, err := filepath.Glob(filepath.Join(repoRoot, dir, "*.go"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Go files in %s (%v)", dir, err)
	}
	p := &pkgNames{tags: map[string]bool{}, prefixes: map[string]bool{}, literals: map[string]bool{}}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		catalogName := "" // the file's name of the catalogue package
		for _, imp := range f.Imports {
			v, _ := strconv.Unquote(imp.Path.Value)
			if rest, ok := strings.CutPrefix(v, modulePath+"/"); ok {
				p.imports = append(p.imports, rest)
			}
			if v == modulePath+"/"+catalogDir {
				catalogName = catalogDir[strings.LastIndex(catalogDir, "/")+1:]
				if imp.Name != nil {
					catalogName = imp.Name.Name
				}
			}
		}
		// catalogValue is the value of e if it names a string constant of
		// the catalogue (catalog.EnvTrigger), or is a string literal.
		catalogValue := func(e ast.Expr) (string, bool) {
			switch e := e.(type) {
			case *ast.BasicLit:
				s, err := strconv.Unquote(e.Value)
				return s, err == nil && e.Kind == token.STRING
			case *ast.SelectorExpr:
				if x, ok := e.X.(*ast.Ident); ok && catalogName != "" && x.Name == catalogName {
					v, ok := catalogConsts(t)[e.Sel.Name]
					return v, ok
				}
			}
			return "", false
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				if n.Tag == nil {
					return true
				}
				raw, _ := strconv.Unquote(n.Tag.Value)
				tag, ok := reflect.StructTag(raw).Lookup("env")
				if !ok {
					return true
				}
				parts := strings.Split(tag, ",")
				if name := strings.TrimSpace(parts[0]); name != "" {
					p.tags[name] = true
				}
				for _, opt := range parts[1:] {
					if prefix, ok := strings.CutPrefix(strings.TrimSpace(opt), "prefix="); ok {
						p.prefixes[prefix] = true
					}
				}
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && envNamePattern.MatchString(s) {
					p.literals[s] = true
				}
			case *ast.SelectorExpr:
				// A name the package takes from the catalogue, where it is
				// spelled once (awsfn.EnvTrigger = catalog.EnvTrigger), is
				// one it spells.
				if v, ok := catalogValue(n); ok && envNamePattern.MatchString(v) {
					p.literals[v] = true
				}
			case *ast.CallExpr:
				// The variable holding a secret's ARN, named by the
				// catalogue's rule (shared/awsfn.SecretARNs).
				if fn, ok := n.Fun.(*ast.SelectorExpr); ok && len(n.Args) == 1 && fn.Sel.Name == "SecretARNEnv" {
					if x, ok := fn.X.(*ast.Ident); ok && catalogName != "" && x.Name == catalogName {
						if v, ok := catalogValue(n.Args[0]); ok {
							p.literals[catalog.SecretARNEnv(v)] = true
						}
					}
				}
			}
			return true
		})
	}
	actual, _ := packages.LoadOrStore(dir, p)
	return actual.(*pkgNames)
}

// catalogConsts maps the names of the catalogue's string constants to
// their values, read from its source as the packages naming them are.
func catalogConsts(t *testing.T) map[string]string {
	t.Helper()
	if c, ok := packages.Load("catalog consts"); ok {
		return c.(map[string]string)
	}
	out := map[string]string{}
	paths, err := filepath.Glob(filepath.Join(repoRoot, catalogDir, "*.go"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Go files in %s (%v)", catalogDir, err)
	}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range spec.Names {
				if lit, ok := valueAt(spec, i).(*ast.BasicLit); ok && lit.Kind == token.STRING {
					out[name.Name], _ = strconv.Unquote(lit.Value)
				}
			}
			return true
		})
	}
	actual, _ := packages.LoadOrStore("catalog consts", out)
	return actual.(map[string]string)
}

func valueAt(spec *ast.ValueSpec, i int) ast.Expr {
	if i < len(spec.Values) {
		return spec.Values[i]
	}
	return nil
}

// codeReads returns the names read by dir and every package of this module
// it links.
func codeReads(t *testing.T, dir string) map[string]bool {
	t.Helper()
	var pkgs []*pkgNames
	seen := map[string]bool{dir: true}
	queue := []string{dir}
	for len(queue) > 0 {
		p := scan(t, queue[0])
		queue = queue[1:]
		pkgs = append(pkgs, p)
		for _, imp := range p.imports {
			// The catalogue spells every variable the stacks set: a package
			// linking it (events names its topics after it) reads none of
			// them for that.
			if imp == catalogDir {
				continue
			}
			if !seen[imp] {
				seen[imp] = true
				queue = append(queue, imp)
			}
		}
	}
	return readsOf(pkgs)
}

func readsOf(pkgs []*pkgNames) map[string]bool {
	out := map[string]bool{}
	tags := map[string]bool{}
	for _, p := range pkgs {
		maps.Copy(tags, p.tags)
		maps.Copy(out, p.literals)
	}
	maps.Copy(out, tags)
	// A nested Config under `env:", prefix=X_"` reads X_ + its fields' names.
	for _, p := range pkgs {
		for prefix := range p.prefixes {
			for name := range tags {
				out[prefix+name] = true
			}
		}
	}
	return out
}

func union(sets ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, s := range sets {
		maps.Copy(out, s)
	}
	return out
}

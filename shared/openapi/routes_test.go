package openapi_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/openapi"
	"github.com/playplane/playplane/shared/openapi/openapitest"
)

// repoRoot is the main module's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if raw, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(raw), "module github.com/playplane/playplane\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("main module not found")
		}
		dir = parent
	}
}

// parseDir parses the non-test Go files of dir; a missing dir is none.
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// knownConsts are the constants route patterns may be built from.
var knownConsts = map[string]string{"openapi.Path": openapi.Path}

// stringValue evaluates a string literal, a known constant or a
// concatenation of them.
func stringValue(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok {
			v, ok := knownConsts[x.Name+"."+e.Sel.Name]
			return v, ok
		}
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			l, ok1 := stringValue(e.X)
			r, ok2 := stringValue(e.Y)
			return l + r, ok1 && ok2
		}
	}
	return "", false
}

// servedRoutes are the "METHOD /path" patterns the functions' Register
// methods and the local runner mount (patterns without a method, such as
// the local edge's /titles/, are not API routes).
func servedRoutes(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(root, "functions", e.Name()))
		}
	}
	dirs = append(dirs, filepath.Join(root, "cmd", "playplane"))
	var served []string
	for _, dir := range dirs {
		for _, f := range parseDir(t, dir) {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 2 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
					return true
				}
				pattern, ok := stringValue(call.Args[0])
				if !ok {
					t.Errorf("%s: a route pattern this test cannot read (%T)", dir, call.Args[0])
					return true
				}
				if method, path, ok := strings.Cut(pattern, " "); ok && strings.HasPrefix(path, "/") && method == strings.ToUpper(method) {
					served = append(served, pattern)
				}
				return true
			})
		}
	}
	slices.Sort(served)
	return served
}

// catalogueRoute is one Route literal of the function catalogue.
type catalogueRoute struct{ key, auth string }

// catalogueRoutes reads the Route literals of the catalogue (infra/catalog,
// or functions/catalog once it moves into this module): the table the
// clouds' routes are built from.
func catalogueRoutes(t *testing.T, root string) []catalogueRoute {
	t.Helper()
	var out []catalogueRoute
	for _, dir := range []string{"infra/catalog", "functions/catalog"} {
		for _, f := range parseDir(t, filepath.Join(root, dir)) {
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.CompositeLit)
				if !ok {
					return true
				}
				var routes []*ast.CompositeLit
				switch typ := lit.Type.(type) {
				case *ast.ArrayType: // []Route{{...}, ...}: the elements' type is elided
					if !isRoute(typ.Elt) {
						return true
					}
					for _, elt := range lit.Elts {
						if r, ok := elt.(*ast.CompositeLit); ok {
							routes = append(routes, r)
						}
					}
				default:
					if !isRoute(typ) {
						return true
					}
					routes = append(routes, lit)
				}
				for _, r := range routes {
					fields := map[string]ast.Expr{}
					for _, elt := range r.Elts {
						if kv, ok := elt.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok {
								fields[k.Name] = kv.Value
							}
						}
					}
					method, ok1 := stringValue(fields["Method"])
					path, ok2 := stringValue(fields["Path"])
					if !ok1 || !ok2 {
						t.Errorf("%s: a Route literal this test cannot read", dir)
						continue
					}
					auth := ""
					switch a := fields["Auth"].(type) {
					case *ast.Ident:
						auth = a.Name
					case *ast.SelectorExpr:
						auth = a.Sel.Name
					}
					out = append(out, catalogueRoute{key: method + " " + path, auth: auth})
				}
				return false
			})
		}
	}
	return out
}

func isRoute(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "Route"
	case *ast.SelectorExpr:
		return e.Sel.Name == "Route"
	}
	return false
}

// catalogueSecurity is the security requirement each catalogue Auth kind
// must be documented with.
var catalogueSecurity = map[string][]string{
	"AuthJWT":                {"callerJWT"},
	"AuthPlaybackToken":      {"playbackToken"},
	"AuthManifestCredential": {"manifestCredential"},
	"AuthStripeSignature":    {"stripeSignature"},
	"AuthEdgeHMAC":           {"edgeID", "edgeSignature"},
}

// runnerOnly are the operations only the local runners serve (tag runner).
func runnerOnly(spec *openapitest.Spec) map[string]bool {
	out := map[string]bool{}
	for _, o := range spec.Operations() {
		if slices.Contains(o.Tags(), "runner") {
			out[o.Key()] = true
		}
	}
	return out
}

// TestDocumentCoversEveryRoute keeps the document and the code in step:
// every route the functions and the runner mount is an operation and every
// operation is mounted; the catalogue's routes are the operations not
// tagged runner, each documented with its Auth kind's security scheme.
func TestDocumentCoversEveryRoute(t *testing.T) {
	t.Parallel()
	spec, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	root := repoRoot(t)
	var documented []string
	for _, o := range spec.Operations() {
		documented = append(documented, o.Key())
	}
	served := servedRoutes(t, root)
	if len(served) == 0 || !slices.Equal(served, documented) {
		t.Errorf("the code mounts\n  %q\nthe document has\n  %q", served, documented)
	}

	catalogue := catalogueRoutes(t, root)
	if len(catalogue) == 0 {
		t.Fatal("no Route literal found in infra/catalog or functions/catalog")
	}
	runner := runnerOnly(spec)
	var routed []string
	for _, r := range catalogue {
		routed = append(routed, r.key)
		method, path, _ := strings.Cut(r.key, " ")
		op, _, ok := spec.Match(method, path)
		if !ok || op.Key() != r.key {
			continue // reported below
		}
		want, ok := catalogueSecurity[r.auth]
		if !ok {
			t.Errorf("%s: catalogue Auth %q has no security scheme in this test's table", r.key, r.auth)
			continue
		}
		if !slices.ContainsFunc(op.Security(), func(names []string) bool { return slices.Equal(names, want) }) {
			t.Errorf("%s: the catalogue says %s, the document's security is %q, want one requirement of %q", r.key, r.auth, op.Security(), want)
		}
	}
	var apiOps []string
	for _, key := range documented {
		if !runner[key] {
			apiOps = append(apiOps, key)
		}
	}
	slices.Sort(routed)
	if !slices.Equal(routed, apiOps) {
		t.Errorf("the catalogue routes\n  %q\nthe document (runner-only operations aside) has\n  %q", routed, apiOps)
	}
}

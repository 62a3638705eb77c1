// Package providercheck holds the resources infra/awsres and infra/gcpres
// declare by hand (instead of compiling a provider's generated Go SDK) to
// the pinned provider's generated source, parsed from the module cache:
// type tokens, property names and pulumi tags, Go types (nested objects
// included) and the input types of the Args, secret outputs and inputs,
// aliases, required arguments, the plugin version, and invokes. A
// difference would pass the stack tests on pulumi.WithMocks and fail, or
// leak a secret, in a real `pulumi up`.
//
// It is test support: only the two packages' tests import it
// (TestOnlyTestsImportIt).
package providercheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/playplane/playplane/infra/internal/customres"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Provider is one provider's generated Go SDK and what a package declares
// of it.
type Provider struct {
	Module    string // "github.com/pulumi/pulumi-aws/sdk/v6"
	Root      string // the generated packages' folder in the module: "go/aws"
	Version   string // the package's ProviderVersion
	Resources []Resource
	Invokes   []Invoke
	// Renamed gives the provider's name of a declared type that cannot
	// have it: two generated packages declare the same names (pulumi-gcp's
	// projects.IAMMember and serviceaccount.IAMMember), one declaring
	// package cannot. Every other declared type has the provider's name.
	Renamed map[string]string

	once sync.Once
	src  *Source
	err  error
}

// Resource is a declared resource and the generated file (below Root)
// whose constructor it stands for.
type Resource struct {
	File     string // "sqs/queue.go"
	Spec     customres.Spec
	Args     pulumi.Input // the Args type
	Resource any          // the resource type
}

// Invoke is a declared data source: the generated file, function and
// token, and the plain Args and Result types.
type Invoke struct {
	File, Fn, Token string
	Args, Result    reflect.Type
}

// VersionFile sets the plugin version of every generated constructor and
// invoke (internal.PkgResourceDefaultOpts, PkgInvokeDefaultOpts).
const VersionFile = "internal/pulumiUtilities.go"

// Source is the provider's generated packages as parsed source: the files
// of the declared resources and invokes, their packages' pulumiTypes
// files and VersionFile.
type Source struct {
	files   map[string]*ast.File       // by path below Root
	structs map[string]*ast.StructType // by package path and name: "lambda.FunctionArgs"
	renamed map[string]string          // Provider.Renamed
}

// structOf is the generated struct in pkg (below Root) that the declared
// type ours stands for.
func (s *Source) structOf(pkg string, ours reflect.Type) (*ast.StructType, string, bool) {
	name := ours.Name()
	if theirs, ok := s.renamed[name]; ok {
		name = theirs
	}
	st, ok := s.structs[pkg+"."+name]
	return st, name, ok
}

// File is a parsed file by its path below Root; nil if it was not parsed.
func (s *Source) File(rel string) *ast.File { return s.files[rel] }

// Source parses the generated packages of the version the module's go.mod
// requires, once. Parsing takes seconds; compiling them is what the
// declaring packages avoid.
func (p *Provider) Source() (*Source, error) {
	p.once.Do(func() { p.src, p.err = p.parse() })
	return p.src, p.err
}

func (p *Provider) parse() (*Source, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}} {{.Dir}}", p.Module).Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m %s: %w", p.Module, err)
	}
	version, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if version != "v"+p.Version {
		return nil, fmt.Errorf("go.mod requires %s %s, ProviderVersion is %s", p.Module, version, p.Version)
	}
	if dir == "" {
		// On a fresh machine nothing else downloads it: no package of the
		// provider SDK is compiled, so no build asks for the module.
		if dir, err = download(p.Module); err != nil {
			return nil, err
		}
	}
	dir = filepath.Join(dir, filepath.FromSlash(p.Root))
	files := []string{VersionFile}
	for _, r := range p.Resources {
		files = append(files, r.File)
	}
	for _, i := range p.Invokes {
		files = append(files, i.File)
	}
	var names []string
	seen := map[string]bool{}
	for _, file := range files {
		names = append(names, filepath.Join(dir, filepath.FromSlash(file)))
		pkg := path.Dir(file)
		if seen[pkg] || file == VersionFile {
			continue
		}
		seen[pkg] = true
		// Nested types live there; a package without any (aws's sqs,
		// sns) has none.
		typeFiles, err := filepath.Glob(filepath.Join(dir, pkg, "pulumiTypes*.go"))
		if err != nil {
			return nil, err
		}
		names = append(names, typeFiles...)
	}
	s := &Source{files: map[string]*ast.File{}, structs: map[string]*ast.StructType{}, renamed: p.Renamed}
	fset := token.NewFileSet()
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, name)
		rel = filepath.ToSlash(rel)
		s.files[rel] = f
		pkg := path.Dir(rel)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				if st, ok := ts.Type.(*ast.StructType); ok {
					s.structs[pkg+"."+ts.Name.Name] = st
				}
			}
		}
	}
	return s, nil
}

// CheckVersion: every generated constructor and invoke asks for the
// plugin version the package asks for.
func (p *Provider) CheckVersion(s *Source) []string {
	got := PluginVersions(s.files[VersionFile])
	if len(got) == 0 || slices.ContainsFunc(got, func(v string) bool { return v != p.Version }) {
		return []string{fmt.Sprintf("the provider's constructors ask for plugin versions %v, this package %s", got, p.Version)}
	}
	return nil
}

// CheckResource holds one declaration to the generated constructor and
// types: token, default options, secrets, aliases, required arguments,
// the plain Args, Args and resource types.
func (s *Source) CheckResource(r Resource) (problems []string) {
	f := s.files[r.File]
	if f == nil {
		return []string{r.File + " was not parsed"}
	}
	want := Constructor(f)
	if want.Token != r.Spec.Token {
		problems = append(problems, fmt.Sprintf("%s registers %q, this package %q", r.File, want.Token, r.Spec.Token))
	}
	if !want.Versioned {
		problems = append(problems, r.File+" does not take the package's default options")
	}
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"secret outputs", r.Spec.Secrets, want.Secrets},
		{"aliases", r.Spec.Aliases, want.Aliases},
		{"required arguments", r.Spec.Required, want.Required},
		{"secret inputs", r.Spec.ToSecret, want.ToSecret},
	} {
		if !slices.Equal(c.got, c.want) {
			problems = append(problems, fmt.Sprintf("%s: %v, the provider's %v", c.what, c.got, c.want))
		}
	}
	args := reflect.TypeOf(r.Args)
	plain := r.Args.ElementType()
	res := reflect.TypeOf(r.Resource)
	pkg := path.Dir(r.File)
	problems = slices.Concat(problems, s.CheckStruct(pkg, plain), s.CheckInputs(pkg, args, plain), s.CheckStruct(pkg, res))
	if res.Name()+"Args" != args.Name() {
		problems = append(problems, fmt.Sprintf("%s's Args are %s", res.Name(), args.Name()))
	}
	// Every required argument is declared (or none could be set).
	for _, req := range r.Spec.Required {
		if _, ok := args.FieldByName(req); !ok {
			problems = append(problems, fmt.Sprintf("required argument %s is not declared", req))
		}
	}
	return problems
}

// CheckInvoke holds one declared data source to the generated function:
// token, default options, the plain Args and Result types.
func (s *Source) CheckInvoke(i Invoke) []string {
	f := s.files[i.File]
	if f == nil {
		return []string{i.File + " was not parsed"}
	}
	var problems []string
	if tok, versioned := InvokeOf(f, i.Fn); tok != i.Token || !versioned {
		problems = append(problems, fmt.Sprintf("%s invokes %q (default options: %v), this package %q", i.Fn, tok, versioned, i.Token))
	}
	pkg := path.Dir(i.File)
	return slices.Concat(problems, s.CheckStruct(pkg, i.Args), s.CheckStruct(pkg, i.Result))
}

// fieldsOf returns a generated struct's fields by name: type and pulumi tag.
func fieldsOf(st *ast.StructType) map[string][2]string {
	fields := map[string][2]string{}
	for _, f := range st.Fields.List {
		tag := ""
		if f.Tag != nil {
			raw, _ := strconv.Unquote(f.Tag.Value)
			tag = reflect.StructTag(raw).Get("pulumi")
		}
		for _, n := range f.Names {
			fields[n.Name] = [2]string{types.ExprString(f.Type), tag}
		}
	}
	return fields
}

// goType spells t, a field type of a type of package ours, as the
// generated source does: ours's types without qualifier, pulumi's with it
// (pulumi.Input is an alias of the SDK's internal.Input).
// A renamed type (Provider.Renamed) is spelt with the provider's name.
func (s *Source) goType(t reflect.Type, ours string) string {
	spelt := strings.NewReplacer(ours+".", "", "internal.", "pulumi.", "interface {}", "interface{}").Replace(t.String())
	if len(s.renamed) == 0 {
		return spelt
	}
	return identifier.ReplaceAllStringFunc(spelt, func(id string) string {
		if theirs, ok := s.renamed[id]; ok {
			return theirs
		}
		return id
	})
}

var identifier = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// pkgName is the name reflect qualifies t's package's types with.
func pkgName(t reflect.Type) string { return path.Base(t.PkgPath()) }

// CheckStruct holds a declared type, every field with its pulumi tag, to
// the generated struct of the same name in pkg (below Root), and recurses
// into nested types of the declaring package.
func (s *Source) CheckStruct(pkg string, ours reflect.Type) (problems []string) {
	st, name, ok := s.structOf(pkg, ours)
	if !ok {
		return []string{"the provider's " + pkg + " has no type " + name}
	}
	theirs := fieldsOf(st)
	for f := range ours.Fields() {
		tag := f.Tag.Get("pulumi")
		if f.Anonymous {
			continue // pulumi.CustomResourceState
		}
		if tag == "" {
			// The SDK skips an untagged field: an input never sent, an
			// output never resolved.
			problems = append(problems, fmt.Sprintf("%s.%s has no pulumi tag", ours.Name(), f.Name))
			continue
		}
		got, want := [2]string{s.goType(f.Type, pkgName(ours)), tag}, theirs[f.Name]
		if got != want {
			problems = append(problems, fmt.Sprintf("%s.%s is %s `pulumi:%q`, the provider's is %s `pulumi:%q`", ours.Name(), f.Name, got[0], got[1], want[0], want[1]))
		}
		elem := f.Type
		for elem.Kind() == reflect.Pointer || elem.Kind() == reflect.Slice {
			elem = elem.Elem()
		}
		if elem.Kind() == reflect.Struct && elem.PkgPath() == ours.PkgPath() {
			problems = append(problems, s.CheckStruct(pkg, elem)...)
		}
	}
	return problems
}

// CheckInputs holds an Args type to its plain type (the SDK pairs their
// fields by name, and each input must resolve to the plain field's type)
// and to the provider's Args of the same name, whose input types it must
// use. A nested object is *XArgs (the caller passes &XArgs{}) for X or *X,
// and []XArgs for []X.
func (s *Source) CheckInputs(pkg string, args, plain reflect.Type) (problems []string) {
	st, name, ok := s.structOf(pkg, args)
	if !ok {
		return []string{"the provider's " + pkg + " has no type " + name}
	}
	theirs := fieldsOf(st)
	for f := range args.Fields() {
		pf, ok := plain.FieldByName(f.Name)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s.%s has no field in %s", args.Name(), f.Name, plain.Name()))
			continue
		}
		elem, pelem := f.Type, pf.Type
		if elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
			if pelem.Kind() == reflect.Pointer {
				pelem = pelem.Elem()
			}
		} else if elem.Kind() == reflect.Slice && pelem.Kind() == reflect.Slice {
			elem, pelem = elem.Elem(), pelem.Elem()
		}
		if elem.Kind() == reflect.Struct && elem.PkgPath() == args.PkgPath() {
			in, ok := reflect.New(elem).Elem().Interface().(pulumi.Input)
			if !ok || in.ElementType() != pelem {
				problems = append(problems, fmt.Sprintf("%s.%s is %s, which does not resolve to %s", args.Name(), f.Name, f.Type, pf.Type))
				continue
			}
			problems = append(problems, s.CheckInputs(pkg, elem, pelem)...)
			continue
		}
		// Otherwise the provider's Args' own input type for the property.
		if want := theirs[f.Name][0]; s.goType(f.Type, pkgName(args)) != want {
			problems = append(problems, fmt.Sprintf("%s.%s is %s, the provider's is %q", args.Name(), f.Name, f.Type, want))
		}
	}
	for f := range plain.Fields() {
		if _, ok := args.FieldByName(f.Name); !ok {
			problems = append(problems, fmt.Sprintf("%s has no input for %s.%s", args.Name(), plain.Name(), f.Name))
		}
	}
	return problems
}

// Ctor is what a generated NewX adds to a resource: the token it
// registers, its secret outputs, aliases, required and secret inputs, and
// whether it takes the package's default options (the plugin version).
type Ctor struct {
	customres.Spec
	Versioned bool
}

// Constructor reads the generated constructor of f.
func Constructor(f *ast.File) (got Ctor) {
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "New") {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				switch types.ExprString(n.Fun) {
				case "ctx.RegisterResource":
					got.Token = literal(n.Args[0])
				case "internal.PkgResourceDefaultOpts":
					got.Versioned = true
				case "pulumi.AdditionalSecretOutputs":
					got.Secrets = literals(n.Args[0])
				case "pulumi.ToSecret":
					got.ToSecret = append(got.ToSecret, strings.TrimPrefix(types.ExprString(n.Args[0]), "args."))
				case "errors.New":
					msg := literal(n.Args[0])
					if field, ok := strings.CutPrefix(msg, "invalid value for required argument '"); ok {
						got.Required = append(got.Required, strings.TrimSuffix(field, "'"))
					}
				}
			case *ast.KeyValueExpr:
				if types.ExprString(n.Key) == "Type" {
					if c, ok := n.Value.(*ast.CallExpr); ok && types.ExprString(c.Fun) == "pulumi.String" {
						got.Aliases = append(got.Aliases, literal(c.Args[0]))
					}
				}
			}
			return true
		})
		return false
	})
	return got
}

// InvokeOf reads the token the generated function fn invokes and whether
// it takes the package's default options (the plugin version).
func InvokeOf(f *ast.File, fn string) (tok string, versioned bool) {
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || fd.Name.Name != fn {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				switch types.ExprString(c.Fun) {
				case "ctx.Invoke":
					tok = literal(c.Args[0])
				case "internal.PkgInvokeDefaultOpts":
					versioned = true
				}
			}
			return true
		})
	}
	return tok, versioned
}

// PluginVersions are the versions the generated default options ask for.
func PluginVersions(f *ast.File) (out []string) {
	if f == nil {
		return nil
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok && types.ExprString(c.Fun) == "semver.MustParse" {
			if v := literal(c.Args[0]); v != "" {
				out = append(out, v)
			}
		}
		return true
	})
	return out
}

func literal(e ast.Expr) string {
	if bl, ok := e.(*ast.BasicLit); ok && bl.Kind == token.STRING {
		s, _ := strconv.Unquote(bl.Value)
		return s
	}
	return ""
}

// download fetches module at the version go.mod requires into the module
// cache and returns its directory there.
func download(module string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	var got struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &got); jerr != nil || got.Error != "" || got.Dir == "" {
		// A go command that fails before writing its JSON (a bad go.mod
		// or GOFLAGS) says why on its standard error only.
		var stderr []byte
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			stderr = ee.Stderr
		}
		return "", fmt.Errorf("go mod download %s: %v %s %s %s", module, err, got.Error, out, bytes.TrimSpace(stderr))
	}
	return got.Dir, nil
}

func literals(e ast.Expr) []string {
	var out []string
	if cl, ok := e.(*ast.CompositeLit); ok {
		for _, el := range cl.Elts {
			out = append(out, literal(el))
		}
	}
	return out
}

// SourceFor is p.Source, failing t on an error.
func (p *Provider) SourceFor(t testing.TB) *Source {
	t.Helper()
	s, err := p.Source()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDeclarations runs CheckVersion, and CheckResource and CheckInvoke
// as a subtest each, on every declaration.
func (p *Provider) TestDeclarations(t *testing.T) {
	s := p.SourceFor(t)
	for _, problem := range p.CheckVersion(s) {
		t.Error(problem)
	}
	for _, r := range p.Resources {
		t.Run(r.Spec.Token, func(t *testing.T) {
			for _, problem := range s.CheckResource(r) {
				t.Error(problem)
			}
		})
	}
	for _, i := range p.Invokes {
		t.Run(i.Token, func(t *testing.T) {
			for _, problem := range s.CheckInvoke(i) {
				t.Error(problem)
			}
		})
	}
}

// TestMissed fails t unless CheckResource reports exactly one problem,
// about what, for the declaration of file with miss applied to its spec
// (a copy): the check is not blind to what miss leaves out.
func (p *Provider) TestMissed(t *testing.T, file, what string, miss func(*customres.Spec)) {
	t.Helper()
	i := slices.IndexFunc(p.Resources, func(r Resource) bool { return r.File == file })
	if i < 0 {
		t.Fatalf("%s is not declared", file)
	}
	r := p.Resources[i]
	miss(&r.Spec)
	if got := p.SourceFor(t).CheckResource(r); len(got) != 1 || !strings.Contains(got[0], what) {
		t.Errorf("%s without its %s: %q", file, what, got)
	}
}

// TestEveryResourceIsDeclared fails t for each constructor (NewX) of the
// package being tested that is not among p.Resources: one added without
// a declaration would escape CheckResource.
func (p *Provider) TestEveryResourceIsDeclared(t *testing.T) {
	t.Helper()
	listed := map[string]bool{}
	for _, r := range p.Resources {
		listed["New"+reflect.TypeOf(r.Resource).Name()] = true
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Recv == nil && strings.HasPrefix(fd.Name.Name, "New") {
				n++
				if !listed[fd.Name.Name] {
					t.Errorf("%s (%s) is not declared", fd.Name.Name, name)
				}
			}
		}
	}
	if n != len(p.Resources) {
		t.Errorf("%d constructors, %d declarations", n, len(p.Resources))
	}
}

// TestNotCompiled fails t for each package below any of prefixes that a
// package of infra/ or pulumi/ compiles, their tests included.
func TestNotCompiled(t *testing.T, prefixes ...string) {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	infra := filepath.Dir(strings.TrimSpace(string(gomod)))
	for _, dir := range []string{infra, filepath.Join(infra, "..", "pulumi")} {
		cmd := exec.Command("go", "list", "-deps", "-test", "./...")
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, ee.Stderr)
			}
			t.Fatalf("go list in %s: %v", dir, err)
		}
		for _, pkg := range strings.Fields(string(out)) {
			if slices.ContainsFunc(prefixes, func(p string) bool { return pkg == p || strings.HasPrefix(pkg, p+"/") }) {
				t.Errorf("%s compiles %s", dir, pkg)
			}
		}
	}
}

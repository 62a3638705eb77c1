package gcpres

import (
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const providerModule = "github.com/pulumi/pulumi-gcp/sdk/v9"

// declarations are the resources of this package with the generated file
// that declares each: the provider's package (below go/gcp) and file.
var declarations = []struct {
	file     string
	spec     spec
	args     pulumi.Input // the Args type
	resource any          // the resource type
}{
	{"compute/globalAddress.go", globalAddressSpec, GlobalAddressArgs{}, GlobalAddress{}},
	{"compute/managedSslCertificate.go", managedSslCertificateSpec, ManagedSslCertificateArgs{}, ManagedSslCertificate{}},
	{"compute/urlmap.go", urlMapSpec, URLMapArgs{}, URLMap{}},
	{"compute/targetHttpsProxy.go", targetHttpsProxySpec, TargetHttpsProxyArgs{}, TargetHttpsProxy{}},
	{"compute/targetHttpProxy.go", targetHttpProxySpec, TargetHttpProxyArgs{}, TargetHttpProxy{}},
	{"compute/globalForwardingRule.go", globalForwardingRuleSpec, GlobalForwardingRuleArgs{}, GlobalForwardingRule{}},
	{"compute/backendBucket.go", backendBucketSpec, BackendBucketArgs{}, BackendBucket{}},
	{"compute/backendBucketSignedUrlKey.go", backendBucketSignedUrlKeySpec, BackendBucketSignedUrlKeyArgs{}, BackendBucketSignedUrlKey{}},
	{"compute/regionNetworkEndpointGroup.go", regionNetworkEndpointGroupSpec, RegionNetworkEndpointGroupArgs{}, RegionNetworkEndpointGroup{}},
	{"compute/backendService.go", backendServiceSpec, BackendServiceArgs{}, BackendService{}},
	{"cloudrunv2/serviceIamMember.go", serviceIamMemberSpec, ServiceIamMemberArgs{}, ServiceIamMember{}},
	{"bigquery/dataset.go", datasetSpec, DatasetArgs{}, Dataset{}},
	{"bigquery/table.go", tableSpec, TableArgs{}, Table{}},
	{"bigquery/datasetIamMember.go", datasetIamMemberSpec, DatasetIamMemberArgs{}, DatasetIamMember{}},
	{"storage/bucket.go", bucketSpec, BucketArgs{}, Bucket{}},
	{"storage/bucketObject.go", bucketObjectSpec, BucketObjectArgs{}, BucketObject{}},
	{"storage/bucketIAMMember.go", bucketIAMMemberSpec, BucketIAMMemberArgs{}, BucketIAMMember{}},
}

// generated is the provider's compute package as parsed source.
type generated struct {
	files   map[string]*ast.File       // by file name
	structs map[string]*ast.StructType // every struct type of the parsed files
}

var (
	genOnce sync.Once
	gen     *generated
	genErr  error
)

// providerSource parses the generated packages of the pulumi-gcp version
// infra/go.mod requires: the files of the declared resources and their
// packages' pulumiTypes files. Parsing takes seconds; compiling them is
// what the package avoids.
func providerSource(t *testing.T) *generated {
	t.Helper()
	genOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}} {{.Dir}}", providerModule).Output()
		if err != nil {
			genErr = err
			return
		}
		version, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
		if version != "v"+ProviderVersion {
			genErr = &mismatch{"go.mod requires " + providerModule + " " + version + ", ProviderVersion is " + ProviderVersion}
			return
		}
		if dir == "" {
			genErr = &mismatch{providerModule + " is not in the module cache (go mod download)"}
			return
		}
		dir = filepath.Join(dir, "go", "gcp")
		var names []string
		seen := map[string]bool{}
		for _, d := range declarations {
			names = append(names, filepath.Join(dir, filepath.FromSlash(d.file)))
			pkg := path.Dir(d.file)
			if seen[pkg] {
				continue
			}
			seen[pkg] = true
			typeFiles, err := filepath.Glob(filepath.Join(dir, pkg, "pulumiTypes*.go"))
			if err != nil || len(typeFiles) == 0 {
				genErr = &mismatch{"no pulumiTypes files in " + filepath.Join(dir, pkg)}
				return
			}
			names = append(names, typeFiles...)
		}
		g := &generated{files: map[string]*ast.File{}, structs: map[string]*ast.StructType{}}
		fset := token.NewFileSet()
		for _, name := range names {
			src, err := os.ReadFile(name)
			if err != nil {
				genErr = err
				return
			}
			f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
			if err != nil {
				genErr = err
				return
			}
			rel, _ := filepath.Rel(dir, name)
			rel = filepath.ToSlash(rel)
			g.files[rel] = f
			pkg := path.Dir(rel)
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.TYPE {
					continue
				}
				for _, s := range gd.Specs {
					ts := s.(*ast.TypeSpec)
					if st, ok := ts.Type.(*ast.StructType); ok {
						g.structs[pkg+"."+ts.Name.Name] = st
					}
				}
			}
		}
		gen = g
	})
	if genErr != nil {
		t.Fatal(genErr)
	}
	return gen
}

type mismatch struct{ s string }

func (m *mismatch) Error() string { return m.s }

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

// goType spells t as the generated source does: this package's types
// without qualifier, pulumi's with it.
func goType(t reflect.Type) string {
	return strings.ReplaceAll(t.String(), "gcpres.", "")
}

// checkStruct holds one of this package's types, every field with its
// pulumi tag, to the generated struct of the same name, and recurses into
// nested types of this package.
func checkStruct(g *generated, pkg string, ours reflect.Type) (problems []string) {
	st, ok := g.structs[pkg+"."+ours.Name()]
	if !ok {
		return []string{"the provider's " + pkg + " has no type " + ours.Name()}
	}
	theirs := fieldsOf(st)
	for f := range ours.Fields() {
		tag := f.Tag.Get("pulumi")
		if tag == "" {
			continue
		}
		got, want := [2]string{goType(f.Type), tag}, theirs[f.Name]
		if got != want {
			problems = append(problems, fmt.Sprintf("%s.%s is %s `pulumi:%q`, the provider's is %s `pulumi:%q`", ours.Name(), f.Name, got[0], got[1], want[0], want[1]))
		}
		elem := f.Type
		for elem.Kind() == reflect.Pointer || elem.Kind() == reflect.Slice {
			elem = elem.Elem()
		}
		if elem.Kind() == reflect.Struct && elem.PkgPath() == ours.PkgPath() {
			problems = append(problems, checkStruct(g, pkg, elem)...)
		}
	}
	return problems
}

// checkInputs holds an Args type to its plain type: the SDK pairs their
// fields by name, and each input must resolve to the plain field's type.
func checkInputs(args reflect.Type, plain reflect.Type) (problems []string) {
	for f := range args.Fields() {
		pf, ok := plain.FieldByName(f.Name)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s.%s has no field in %s", args.Name(), f.Name, plain.Name()))
			continue
		}
		elem, pelem := f.Type, pf.Type
		for (elem.Kind() == reflect.Pointer || elem.Kind() == reflect.Slice) && elem.Kind() == pelem.Kind() {
			elem, pelem = elem.Elem(), pelem.Elem()
		}
		if elem.PkgPath() == args.PkgPath() {
			in, ok := reflect.New(elem).Elem().Interface().(pulumi.Input)
			if !ok || in.ElementType() != pelem {
				problems = append(problems, fmt.Sprintf("%s.%s is %s, which does not resolve to %s", args.Name(), f.Name, f.Type, pf.Type))
				continue
			}
			problems = append(problems, checkInputs(elem, pelem)...)
			continue
		}
		// Otherwise the generated Args' own input type for the property.
		if want := inputTypeFor(pf.Type); f.Type.String() != want {
			problems = append(problems, fmt.Sprintf("%s.%s is %s, want %q for %s", args.Name(), f.Name, f.Type, want, pf.Type))
		}
	}
	for f := range plain.Fields() {
		if _, ok := args.FieldByName(f.Name); !ok {
			problems = append(problems, fmt.Sprintf("%s has no input for %s.%s", args.Name(), plain.Name(), f.Name))
		}
	}
	return problems
}

// inputTypeFor names the pulumi input type the generated Args use for a
// scalar property type.
func inputTypeFor(t reflect.Type) string {
	return map[string]string{
		"string": "pulumi.StringInput", "*string": "pulumi.StringPtrInput", "[]string": "pulumi.StringArrayInput",
		"bool": "pulumi.BoolInput", "*bool": "pulumi.BoolPtrInput",
		"int": "pulumi.IntInput", "*int": "pulumi.IntPtrInput",
		"float64": "pulumi.Float64Input", "*float64": "pulumi.Float64PtrInput",
		"map[string]string": "pulumi.StringMapInput", "pulumi.AssetOrArchive": "pulumi.AssetOrArchiveInput",
	}[t.String()]
}

// constructor reads what the generated NewX adds to a resource: the token
// it registers, its secret outputs, aliases, required and secret inputs.
func constructor(f *ast.File) (got spec) {
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "New") {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				name := types.ExprString(n.Fun)
				switch name {
				case "ctx.RegisterResource":
					got.Token = literal(n.Args[0])
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

func literal(e ast.Expr) string {
	if bl, ok := e.(*ast.BasicLit); ok && bl.Kind == token.STRING {
		s, _ := strconv.Unquote(bl.Value)
		return s
	}
	return ""
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

// TestDeclarationsMatchTheProvider holds every declaration to the pinned
// provider's generated code: a misspelt property, a wrong type or a missed
// secret would otherwise pass the mock tests and fail (or leak) in a real
// `pulumi up`.
func TestDeclarationsMatchTheProvider(t *testing.T) {
	g := providerSource(t)
	for _, d := range declarations {
		t.Run(d.spec.Token, func(t *testing.T) {
			f := g.files[d.file]
			want := constructor(f)
			if want.Token != d.spec.Token {
				t.Errorf("%s registers %q, this package %q", d.file, want.Token, d.spec.Token)
			}
			for _, c := range []struct {
				what      string
				got, want []string
			}{
				{"secret outputs", d.spec.Secrets, want.Secrets},
				{"aliases", d.spec.Aliases, want.Aliases},
				{"required arguments", d.spec.Required, want.Required},
				{"secret inputs", d.spec.ToSecret, want.ToSecret},
			} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s: %v, the provider's %v", c.what, c.got, c.want)
				}
			}
			args := reflect.TypeOf(d.args)
			plain := d.args.ElementType()
			res := reflect.TypeOf(d.resource)
			pkg := path.Dir(d.file)
			for _, p := range slices.Concat(checkStruct(g, pkg, plain), checkInputs(args, plain), checkStruct(g, pkg, res)) {
				t.Error(p)
			}
			if res.Name()+"Args" != args.Name() {
				t.Errorf("%s's Args are %s", res.Name(), args.Name())
			}
		})
	}
}

// TestProviderCheckIsNotBlind: the comparison catches a renamed property,
// a changed type and a missing secret.
func TestProviderCheckIsNotBlind(t *testing.T) {
	g := providerSource(t)
	type globalAddressArgs struct {
		Name    *string `pulumi:"nom"`
		Project string  `pulumi:"project"`
	}
	if got := checkStruct(g, "compute", reflect.TypeFor[globalAddressArgs]()); len(got) != 2 {
		t.Errorf("a misspelt property and a wrong type: %q", got)
	}
	type GlobalAddressArgs struct {
		Name    pulumi.StringInput
		Project pulumi.StringPtrInput
	}
	if got := checkInputs(reflect.TypeFor[GlobalAddressArgs](), reflect.TypeFor[globalAddressArgs]()); len(got) != 2 {
		t.Errorf("inputs of the wrong types: %q", got)
	}
	got := constructor(g.files["compute/backendBucketSignedUrlKey.go"])
	if !slices.Contains(got.Secrets, "keyValue") || !slices.Contains(got.ToSecret, "KeyValue") {
		t.Errorf("the signed URL key's secrets were not read: %+v", got)
	}
}

type mocks struct {
	mu     sync.Mutex
	inputs map[string]resource.PropertyMap // by type token
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inputs[args.TypeToken] = args.Inputs
	outs := args.Inputs.Copy()
	outs["address"] = resource.NewStringProperty("203.0.113.7")
	return args.Name + "-id", outs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

// TestResourcesRegisterTheirProperties registers nested and secret
// properties on pulumi.WithMocks and reads back what the engine got.
func TestResourcesRegisterTheirProperties(t *testing.T) {
	m := &mocks{inputs: map[string]resource.PropertyMap{}}
	var address string
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		addr, err := NewGlobalAddress(ctx, "lb", &GlobalAddressArgs{Name: pulumi.String("lb")})
		if err != nil {
			return err
		}
		addr.Address.ApplyT(func(a string) string { address = a; return a })
		bucket, err := NewBackendBucket(ctx, "video", &BackendBucketArgs{
			BucketName: pulumi.String("videos"),
			CdnPolicy:  &BackendBucketCdnPolicyArgs{SignedUrlCacheMaxAgeSec: pulumi.Int(3600)},
		})
		if err != nil {
			return err
		}
		if _, err := NewBackendBucketSignedUrlKey(ctx, "key", &BackendBucketSignedUrlKeyArgs{
			BackendBucket: bucket.Name, KeyValue: pulumi.String("c2VjcmV0"),
		}); err != nil {
			return err
		}
		_, err = NewURLMap(ctx, "lb", &URLMapArgs{
			DefaultService: bucket.ID(),
			PathMatchers: []URLMapPathMatcherArgs{{
				Name: pulumi.String("m"),
				RouteRules: []URLMapPathMatcherRouteRuleArgs{{
					Priority:   pulumi.Int(1),
					MatchRules: []URLMapPathMatcherRouteRuleMatchRuleArgs{{PathTemplateMatch: pulumi.String("/v1/{id=*}")}},
				}},
			}},
		})
		return err
	}, pulumi.WithMocks("p", "s", m))
	if err != nil {
		t.Fatal(err)
	}
	if address != "203.0.113.7" {
		t.Errorf("address output %q", address)
	}
	key := m.inputs[backendBucketSignedUrlKeySpec.Token]["keyValue"]
	if !key.ContainsSecrets() {
		t.Errorf("keyValue %v is not secret", key)
	}
	if got := m.inputs[backendBucketSpec.Token]["cdnPolicy"].ObjectValue()["signedUrlCacheMaxAgeSec"].NumberValue(); got != 3600 {
		t.Errorf("signedUrlCacheMaxAgeSec %v", got)
	}
	rule := m.inputs[urlMapSpec.Token]["pathMatchers"].ArrayValue()[0].ObjectValue()["routeRules"].ArrayValue()[0].ObjectValue()
	if got := rule["matchRules"].ArrayValue()[0].ObjectValue()["pathTemplateMatch"].StringValue(); got != "/v1/{id=*}" {
		t.Errorf("pathTemplateMatch %q", got)
	}
	if got := m.inputs[urlMapSpec.Token]["defaultService"].StringValue(); got != "video-id" {
		t.Errorf("defaultService %q", got)
	}
}

// TestRequiredArgumentsAreRefused as the provider's constructors refuse them.
func TestRequiredArgumentsAreRefused(t *testing.T) {
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		if _, err := NewTargetHttpsProxy(ctx, "p", &TargetHttpsProxyArgs{}); err == nil || !strings.Contains(err.Error(), "'UrlMap'") {
			t.Errorf("no UrlMap: %v", err)
		}
		if _, err := NewBackendBucketSignedUrlKey(ctx, "k", nil); err == nil {
			t.Error("nil args accepted")
		}
		return nil
	}, pulumi.WithMocks("p", "s", &mocks{inputs: map[string]resource.PropertyMap{}}))
	if err != nil {
		t.Fatal(err)
	}
}

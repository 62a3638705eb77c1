package awsres

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

const providerModule = "github.com/pulumi/pulumi-aws/sdk/v6"

// declarations are the resources of this package with the generated file
// that declares each: the provider's package (below go/aws) and file.
var declarations = []struct {
	file     string
	spec     spec
	args     pulumi.Input // the Args type
	resource any          // the resource type
}{
	{"sqs/queue.go", queueSpec, QueueArgs{}, Queue{}},
	{"sqs/redriveAllowPolicy.go", redriveAllowPolicySpec, RedriveAllowPolicyArgs{}, RedriveAllowPolicy{}},
	{"s3/bucketV2.go", bucketV2Spec, BucketV2Args{}, BucketV2{}},
	{"s3/bucketPublicAccessBlock.go", bucketPublicAccessBlockSpec, BucketPublicAccessBlockArgs{}, BucketPublicAccessBlock{}},
	{"s3/bucketOwnershipControls.go", bucketOwnershipControlsSpec, BucketOwnershipControlsArgs{}, BucketOwnershipControls{}},
	{"s3/bucketServerSideEncryptionConfigurationV2.go", bucketServerSideEncryptionConfigurationV2Spec, BucketServerSideEncryptionConfigurationV2Args{}, BucketServerSideEncryptionConfigurationV2{}},
	{"s3/bucketPolicy.go", bucketPolicySpec, BucketPolicyArgs{}, BucketPolicy{}},
	{"lambda/function.go", functionSpec, FunctionArgs{}, Function{}},
	{"lambda/eventSourceMapping.go", eventSourceMappingSpec, EventSourceMappingArgs{}, EventSourceMapping{}},
	{"lambda/permission.go", permissionSpec, PermissionArgs{}, Permission{}},
	{"iam/role.go", roleSpec, RoleArgs{}, Role{}},
	{"iam/rolePolicy.go", rolePolicySpec, RolePolicyArgs{}, RolePolicy{}},
	{"sns/topic.go", topicSpec, TopicArgs{}, Topic{}},
	{"secretsmanager/secret.go", secretSpec, SecretArgs{}, Secret{}},
	{"secretsmanager/secretVersion.go", secretVersionSpec, SecretVersionArgs{}, SecretVersion{}},
	{"kinesis/firehoseDeliveryStream.go", firehoseDeliveryStreamSpec, FirehoseDeliveryStreamArgs{}, FirehoseDeliveryStream{}},
	{"glue/catalogDatabase.go", catalogDatabaseSpec, CatalogDatabaseArgs{}, CatalogDatabase{}},
	{"glue/catalogTable.go", catalogTableSpec, CatalogTableArgs{}, CatalogTable{}},
	{"dynamodb/table.go", tableSpec, TableArgs{}, Table{}},
	{"cloudwatch/logGroup.go", logGroupSpec, LogGroupArgs{}, LogGroup{}},
	{"cloudwatch/eventRule.go", eventRuleSpec, EventRuleArgs{}, EventRule{}},
	{"cloudwatch/eventTarget.go", eventTargetSpec, EventTargetArgs{}, EventTarget{}},
	{"cloudwatch/metricAlarm.go", metricAlarmSpec, MetricAlarmArgs{}, MetricAlarm{}},
	{"cloudfront/originAccessControl.go", originAccessControlSpec, OriginAccessControlArgs{}, OriginAccessControl{}},
	{"cloudfront/publicKey.go", publicKeySpec, PublicKeyArgs{}, PublicKey{}},
	{"cloudfront/keyGroup.go", keyGroupSpec, KeyGroupArgs{}, KeyGroup{}},
	{"cloudfront/distribution.go", distributionSpec, DistributionArgs{}, Distribution{}},
	{"apigatewayv2/api.go", apiSpec, ApiArgs{}, Api{}},
	{"apigatewayv2/stage.go", stageSpec, StageArgs{}, Stage{}},
	{"apigatewayv2/authorizer.go", authorizerSpec, AuthorizerArgs{}, Authorizer{}},
	{"apigatewayv2/integration.go", integrationSpec, IntegrationArgs{}, Integration{}},
	{"apigatewayv2/route.go", routeSpec, RouteArgs{}, Route{}},
}

// invokes are the data sources of this package: the generated file, the
// token, and the plain Args and Result types.
var invokes = []struct {
	file, fn, token string
	args, result    reflect.Type
}{
	{"getCallerIdentity.go", "GetCallerIdentity", getCallerIdentityToken, reflect.TypeFor[GetCallerIdentityArgs](), reflect.TypeFor[GetCallerIdentityResult]()},
}

// versionFile sets the plugin version of every generated constructor and
// invoke (internal.PkgResourceDefaultOpts, PkgInvokeDefaultOpts).
const versionFile = "internal/pulumiUtilities.go"

// generated is the provider's packages as parsed source.
type generated struct {
	files   map[string]*ast.File       // by path below go/aws
	structs map[string]*ast.StructType // by package path and name: "lambda.FunctionArgs"
}

var (
	genOnce sync.Once
	gen     *generated
	genErr  error
)

// providerSource parses the generated packages of the pulumi-aws version
// infra/go.mod requires: the files of the declared resources and invokes,
// and their packages' pulumiTypes files. Parsing takes seconds; compiling
// them is what the package avoids.
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
		dir = filepath.Join(dir, "go", "aws")
		files := []string{versionFile}
		for _, d := range declarations {
			files = append(files, d.file)
		}
		for _, i := range invokes {
			files = append(files, i.file)
		}
		var names []string
		seen := map[string]bool{}
		for _, file := range files {
			names = append(names, filepath.Join(dir, filepath.FromSlash(file)))
			pkg := path.Dir(file)
			if seen[pkg] || file == versionFile {
				continue
			}
			seen[pkg] = true
			// Nested types live there; a package without any (sqs, sns)
			// has none.
			typeFiles, err := filepath.Glob(filepath.Join(dir, pkg, "pulumiTypes*.go"))
			if err != nil {
				genErr = err
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
// without qualifier, pulumi's with it (pulumi.Input is an alias of the
// SDK's internal.Input).
func goType(t reflect.Type) string {
	return strings.NewReplacer("awsres.", "", "internal.", "pulumi.", "interface {}", "interface{}").Replace(t.String())
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
		if f.Anonymous {
			continue // pulumi.CustomResourceState
		}
		if tag == "" {
			// The SDK skips an untagged field: an input never sent, an
			// output never resolved.
			problems = append(problems, fmt.Sprintf("%s.%s has no pulumi tag", ours.Name(), f.Name))
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

// checkInputs holds an Args type to its plain type (the SDK pairs their
// fields by name, and each input must resolve to the plain field's type)
// and to the provider's Args of the same name, whose input types it must
// use. A nested object is *XArgs (the caller passes &XArgs{}) for X or *X,
// and []XArgs for []X.
func checkInputs(g *generated, pkg string, args, plain reflect.Type) (problems []string) {
	st, ok := g.structs[pkg+"."+args.Name()]
	if !ok {
		return []string{"the provider's " + pkg + " has no type " + args.Name()}
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
			problems = append(problems, checkInputs(g, pkg, elem, pelem)...)
			continue
		}
		// Otherwise the provider's Args' own input type for the property.
		if want := theirs[f.Name][0]; goType(f.Type) != want {
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

// ctor is what a generated NewX adds to a resource: the token it
// registers, its secret outputs, aliases, required and secret inputs,
// and whether it takes the package's default options (the plugin version).
type ctor struct {
	spec
	versioned bool
}

func constructor(f *ast.File) (got ctor) {
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
				case "internal.PkgResourceDefaultOpts":
					got.versioned = true
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

// invoke reads the token the generated function fn invokes and whether it
// takes the package's default options (the plugin version).
func invoke(f *ast.File, fn string) (tok string, versioned bool) {
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

// pluginVersions are the versions the generated default options ask for.
func pluginVersions(f *ast.File) (out []string) {
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
	if got := pluginVersions(g.files[versionFile]); len(got) == 0 || slices.ContainsFunc(got, func(v string) bool { return v != ProviderVersion }) {
		t.Errorf("the provider's constructors ask for plugin versions %v, this package %s", got, ProviderVersion)
	}
	for _, d := range declarations {
		t.Run(d.spec.Token, func(t *testing.T) {
			f := g.files[d.file]
			want := constructor(f)
			if want.Token != d.spec.Token {
				t.Errorf("%s registers %q, this package %q", d.file, want.Token, d.spec.Token)
			}
			if !want.versioned {
				t.Errorf("%s does not take the package's default options", d.file)
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
			for _, p := range slices.Concat(checkStruct(g, pkg, plain), checkInputs(g, pkg, args, plain), checkStruct(g, pkg, res)) {
				t.Error(p)
			}
			if res.Name()+"Args" != args.Name() {
				t.Errorf("%s's Args are %s", res.Name(), args.Name())
			}
			// Every required argument is declared (or none could be set).
			for _, r := range d.spec.Required {
				if _, ok := args.FieldByName(r); !ok {
					t.Errorf("required argument %s is not declared", r)
				}
			}
		})
	}
	for _, i := range invokes {
		t.Run(i.token, func(t *testing.T) {
			tok, versioned := invoke(g.files[i.file], i.fn)
			if tok != i.token || !versioned {
				t.Errorf("%s invokes %q (default options: %v), this package %q", i.fn, tok, versioned, i.token)
			}
			pkg := path.Dir(i.file)
			for _, p := range slices.Concat(checkStruct(g, pkg, i.args), checkStruct(g, pkg, i.result)) {
				t.Error(p)
			}
		})
	}
}

// TestProviderCheckIsNotBlind: the comparison catches a renamed property,
// a changed type, an input of the wrong type or shape and a missing secret
// or alias.
func TestProviderCheckIsNotBlind(t *testing.T) {
	g := providerSource(t)
	type roleArgs struct {
		Name             *string `pulumi:"nom"`
		AssumeRolePolicy string  `pulumi:"assumeRolePolicy"`
	}
	if got := checkStruct(g, "iam", reflect.TypeFor[roleArgs]()); len(got) != 2 {
		t.Errorf("a misspelt property and a wrong type: %q", got)
	}
	type rolePolicyArgs struct {
		Policy string
		Name   *string `pulumi:"name"`
	}
	if got := checkStruct(g, "iam", reflect.TypeFor[rolePolicyArgs]()); len(got) != 1 || !strings.Contains(got[0], "Policy") {
		t.Errorf("a property without a tag: %q", got)
	}
	type RoleArgs struct {
		Name             pulumi.StringInput
		AssumeRolePolicy pulumi.StringInput
	}
	if got := checkInputs(g, "iam", reflect.TypeFor[RoleArgs](), reflect.TypeFor[roleArgs]()); len(got) != 2 {
		t.Errorf("inputs of the wrong types: %q", got)
	}
	type FunctionArgs struct {
		Environment []FunctionEnvironmentArgs
		Role        pulumi.StringInput
	}
	type functionArgs struct {
		Environment *FunctionEnvironment `pulumi:"environment"`
		Role        string               `pulumi:"role"`
	}
	if got := checkInputs(g, "lambda", reflect.TypeFor[FunctionArgs](), reflect.TypeFor[functionArgs]()); len(got) != 1 || !strings.Contains(got[0], "Environment") {
		t.Errorf("a nested object of the wrong shape: %q", got)
	}
	if got := constructor(g.files["secretsmanager/secretVersion.go"]); !slices.Contains(got.Secrets, "secretString") || !slices.Contains(got.ToSecret, "SecretString") {
		t.Errorf("the secret version's secrets were not read: %+v", got)
	}
	if got := constructor(g.files["s3/bucketV2.go"]); !slices.Contains(got.Aliases, "aws:s3/bucket:Bucket") {
		t.Errorf("the bucket's alias was not read: %+v", got)
	}
	if tok, versioned := invoke(g.files["getCallerIdentity.go"], "GetCallerIdentity"); tok == "" || !versioned {
		t.Errorf("the invoke was not read: %q %v", tok, versioned)
	}
}

type mocks struct {
	mu     sync.Mutex
	inputs map[string]resource.PropertyMap // by type token
	rpcs   map[string]pulumi.MockResourceArgs
	calls  map[string]resource.PropertyMap
}

func newMocks() *mocks {
	return &mocks{inputs: map[string]resource.PropertyMap{}, rpcs: map[string]pulumi.MockResourceArgs{}, calls: map[string]resource.PropertyMap{}}
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inputs[args.TypeToken] = args.Inputs
	m.rpcs[args.TypeToken] = args
	outs := args.Inputs.Copy()
	outs["domainName"] = resource.NewStringProperty("d111111abcdef8.cloudfront.net")
	outs["arn"] = resource.NewStringProperty("arn:aws:test:::" + args.Name)
	outs["bucketRegionalDomainName"] = resource.NewStringProperty(args.Name + ".s3.eu-west-1.amazonaws.com")
	return args.Name + "-id", outs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[args.Token] = args.Args
	return resource.PropertyMap{
		"accountId": resource.NewStringProperty("123456789012"),
		"arn":       resource.NewStringProperty("arn:aws:iam::123456789012:user/deployer"),
		"id":        resource.NewStringProperty("123456789012"),
		"userId":    resource.NewStringProperty("AIDA"),
	}, nil
}

// TestResourcesRegisterTheirProperties registers nested and secret
// properties on pulumi.WithMocks and reads back what the engine got.
func TestResourcesRegisterTheirProperties(t *testing.T) {
	m := newMocks()
	var domain, account, queueArn string
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		caller, err := GetCallerIdentity(ctx, &GetCallerIdentityArgs{})
		if err != nil {
			return err
		}
		account = caller.AccountId
		// No arguments are empty ones, as in the provider's constructors.
		q, err := NewQueue(ctx, "q", nil)
		if err != nil {
			return err
		}
		q.Arn.ApplyT(func(a string) string { queueArn = a; return a })
		bucket, err := NewBucketV2(ctx, "video", &BucketV2Args{BucketPrefix: pulumi.String("video-")})
		if err != nil {
			return err
		}
		dist, err := NewDistribution(ctx, "video", &DistributionArgs{
			Enabled: pulumi.Bool(true),
			Origins: []DistributionOriginArgs{{OriginId: pulumi.String("video"), DomainName: bucket.BucketRegionalDomainName}},
			DefaultCacheBehavior: &DistributionDefaultCacheBehaviorArgs{
				TargetOriginId: pulumi.String("video"), ViewerProtocolPolicy: pulumi.String("https-only"),
				AllowedMethods: pulumi.ToStringArray([]string{"GET", "HEAD"}), CachedMethods: pulumi.ToStringArray([]string{"GET", "HEAD"}),
			},
			Restrictions: &DistributionRestrictionsArgs{
				GeoRestriction: &DistributionRestrictionsGeoRestrictionArgs{RestrictionType: pulumi.String("none")},
			},
			ViewerCertificate: &DistributionViewerCertificateArgs{CloudfrontDefaultCertificate: pulumi.Bool(true)},
		})
		if err != nil {
			return err
		}
		dist.DomainName.ApplyT(func(d string) string { domain = d; return d })
		if _, err := NewSecretVersion(ctx, "key", &SecretVersionArgs{SecretId: pulumi.String("s"), SecretString: pulumi.String("sekret")}); err != nil {
			return err
		}
		_, err = NewMetricAlarm(ctx, "rate", &MetricAlarmArgs{
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
			EvaluationPeriods:  pulumi.Int(5),
			AlarmActions:       pulumi.Array{q.Arn},
			MetricQueries: []MetricAlarmMetricQueryArgs{{
				Id: pulumi.String("errors"),
				Metric: &MetricAlarmMetricQueryMetricArgs{
					MetricName: pulumi.String("5xx"), Period: pulumi.Int(60), Stat: pulumi.String("Sum"),
					Dimensions: pulumi.StringMap{"ApiId": pulumi.String("api")},
				},
			}},
		})
		return err
	}, pulumi.WithMocks("p", "s", m))
	if err != nil {
		t.Fatal(err)
	}
	if account != "123456789012" {
		t.Errorf("accountId %q", account)
	}
	if _, ok := m.calls[getCallerIdentityToken]; !ok {
		t.Errorf("no %s call: %v", getCallerIdentityToken, m.calls)
	}
	if domain != "d111111abcdef8.cloudfront.net" || queueArn != "arn:aws:test:::q" {
		t.Errorf("outputs: domainName %q, arn %q", domain, queueArn)
	}
	for token, rpc := range m.rpcs {
		if got := rpc.RegisterRPC.GetVersion(); got != ProviderVersion {
			t.Errorf("%s asks for plugin %q", token, got)
		}
	}
	// The mock monitor takes aliases as specs or as URNs.
	if got := m.rpcs[bucketV2Spec.Token].RegisterRPC.GetAliases(); len(got) != 1 ||
		got[0].GetSpec().GetType() != "aws:s3/bucket:Bucket" && !strings.Contains(got[0].GetUrn(), "::aws:s3/bucket:Bucket::") {
		t.Errorf("bucket aliases %v", got)
	}
	sv := m.rpcs[secretVersionSpec.Token]
	if !sv.Inputs["secretString"].ContainsSecrets() || !slices.Equal(sv.RegisterRPC.GetAdditionalSecretOutputs(), secretVersionSpec.Secrets) {
		t.Errorf("secretString %v is not secret, or secret outputs %v", sv.Inputs["secretString"], sv.RegisterRPC.GetAdditionalSecretOutputs())
	}
	origin := m.inputs[distributionSpec.Token]["origins"].ArrayValue()[0].ObjectValue()
	if got := origin["domainName"].StringValue(); got != "video.s3.eu-west-1.amazonaws.com" {
		t.Errorf("origin domainName %q", got)
	}
	if got := m.inputs[distributionSpec.Token]["restrictions"].ObjectValue()["geoRestriction"].ObjectValue()["restrictionType"].StringValue(); got != "none" {
		t.Errorf("restrictionType %q", got)
	}
	query := m.inputs[metricAlarmSpec.Token]["metricQueries"].ArrayValue()[0].ObjectValue()
	if got := query["metric"].ObjectValue()["dimensions"].ObjectValue()["ApiId"].StringValue(); got != "api" {
		t.Errorf("metric dimensions ApiId %q", got)
	}
	if got := m.inputs[metricAlarmSpec.Token]["alarmActions"].ArrayValue()[0].StringValue(); got != "arn:aws:test:::q" {
		t.Errorf("alarmActions %q", got)
	}
}

// TestRequiredArgumentsAreRefused as the provider's constructors refuse them.
func TestRequiredArgumentsAreRefused(t *testing.T) {
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		if _, err := NewRolePolicy(ctx, "p", &RolePolicyArgs{Policy: pulumi.String("{}")}); err == nil || !strings.Contains(err.Error(), "'Role'") {
			t.Errorf("no Role: %v", err)
		}
		if _, err := NewDistribution(ctx, "d", &DistributionArgs{Enabled: pulumi.Bool(true)}); err == nil || !strings.Contains(err.Error(), "'DefaultCacheBehavior'") {
			t.Errorf("no DefaultCacheBehavior: %v", err)
		}
		if _, err := NewSecretVersion(ctx, "v", nil); err == nil {
			t.Error("nil args accepted")
		}
		return nil
	}, pulumi.WithMocks("p", "s", newMocks()))
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoPackageImportsTheProvider: the point of this package is that
// infra-test compiles no package of pulumi-aws; one import of it, in
// infra/ or pulumi/, a test included, would bring back the provider's
// root package and every service package it names.
func TestNoPackageImportsTheProvider(t *testing.T) {
	t.Parallel()
	for _, mod := range []string{"..", filepath.Join("..", "..", "pulumi")} {
		cmd := exec.Command("go", "list", "-deps", "-test", "./...")
		cmd.Dir = mod
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list in %s: %v", mod, err)
		}
		for _, pkg := range strings.Fields(string(out)) {
			if strings.HasPrefix(pkg, providerModule+"/") {
				t.Errorf("%s compiles %s", mod, pkg)
			}
		}
	}
}

// TestEveryResourceIsDeclared: a constructor added to this package without
// an entry in declarations would escape TestDeclarationsMatchTheProvider.
func TestEveryResourceIsDeclared(t *testing.T) {
	t.Parallel()
	listed := map[string]bool{}
	for _, d := range declarations {
		listed["New"+reflect.TypeOf(d.resource).Name()] = true
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
					t.Errorf("%s (%s) is not in declarations", fd.Name.Name, name)
				}
			}
		}
	}
	if n != len(declarations) {
		t.Errorf("%d constructors, %d declarations", n, len(declarations))
	}
}

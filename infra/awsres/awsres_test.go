package awsres

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/playplane/playplane/infra/internal/providercheck"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// provider is pulumi-aws as this package declares it: every resource
// with the generated file (below go/aws) that declares it, and the
// invokes.
var provider = &providercheck.Provider{
	Module:  "github.com/pulumi/pulumi-aws/sdk/v6",
	Root:    "go/aws",
	Version: ProviderVersion,
	Resources: []providercheck.Resource{
		{File: "sqs/queue.go", Spec: queueSpec, Args: QueueArgs{}, Resource: Queue{}},
		{File: "sqs/redriveAllowPolicy.go", Spec: redriveAllowPolicySpec, Args: RedriveAllowPolicyArgs{}, Resource: RedriveAllowPolicy{}},
		{File: "s3/bucketV2.go", Spec: bucketV2Spec, Args: BucketV2Args{}, Resource: BucketV2{}},
		{File: "s3/bucketPublicAccessBlock.go", Spec: bucketPublicAccessBlockSpec, Args: BucketPublicAccessBlockArgs{}, Resource: BucketPublicAccessBlock{}},
		{File: "s3/bucketOwnershipControls.go", Spec: bucketOwnershipControlsSpec, Args: BucketOwnershipControlsArgs{}, Resource: BucketOwnershipControls{}},
		{File: "s3/bucketServerSideEncryptionConfigurationV2.go", Spec: bucketServerSideEncryptionConfigurationV2Spec, Args: BucketServerSideEncryptionConfigurationV2Args{}, Resource: BucketServerSideEncryptionConfigurationV2{}},
		{File: "s3/bucketPolicy.go", Spec: bucketPolicySpec, Args: BucketPolicyArgs{}, Resource: BucketPolicy{}},
		{File: "s3/bucketCorsConfigurationV2.go", Spec: bucketCorsConfigurationV2Spec, Args: BucketCorsConfigurationV2Args{}, Resource: BucketCorsConfigurationV2{}},
		{File: "lambda/function.go", Spec: functionSpec, Args: FunctionArgs{}, Resource: Function{}},
		{File: "lambda/eventSourceMapping.go", Spec: eventSourceMappingSpec, Args: EventSourceMappingArgs{}, Resource: EventSourceMapping{}},
		{File: "lambda/permission.go", Spec: permissionSpec, Args: PermissionArgs{}, Resource: Permission{}},
		{File: "iam/role.go", Spec: roleSpec, Args: RoleArgs{}, Resource: Role{}},
		{File: "iam/rolePolicy.go", Spec: rolePolicySpec, Args: RolePolicyArgs{}, Resource: RolePolicy{}},
		{File: "sns/topic.go", Spec: topicSpec, Args: TopicArgs{}, Resource: Topic{}},
		{File: "secretsmanager/secret.go", Spec: secretSpec, Args: SecretArgs{}, Resource: Secret{}},
		{File: "secretsmanager/secretVersion.go", Spec: secretVersionSpec, Args: SecretVersionArgs{}, Resource: SecretVersion{}},
		{File: "kinesis/firehoseDeliveryStream.go", Spec: firehoseDeliveryStreamSpec, Args: FirehoseDeliveryStreamArgs{}, Resource: FirehoseDeliveryStream{}},
		{File: "glue/catalogDatabase.go", Spec: catalogDatabaseSpec, Args: CatalogDatabaseArgs{}, Resource: CatalogDatabase{}},
		{File: "glue/catalogTable.go", Spec: catalogTableSpec, Args: CatalogTableArgs{}, Resource: CatalogTable{}},
		{File: "dynamodb/table.go", Spec: tableSpec, Args: TableArgs{}, Resource: Table{}},
		{File: "cloudwatch/logGroup.go", Spec: logGroupSpec, Args: LogGroupArgs{}, Resource: LogGroup{}},
		{File: "cloudwatch/eventRule.go", Spec: eventRuleSpec, Args: EventRuleArgs{}, Resource: EventRule{}},
		{File: "cloudwatch/eventTarget.go", Spec: eventTargetSpec, Args: EventTargetArgs{}, Resource: EventTarget{}},
		{File: "cloudwatch/metricAlarm.go", Spec: metricAlarmSpec, Args: MetricAlarmArgs{}, Resource: MetricAlarm{}},
		{File: "cloudfront/originAccessControl.go", Spec: originAccessControlSpec, Args: OriginAccessControlArgs{}, Resource: OriginAccessControl{}},
		{File: "cloudfront/publicKey.go", Spec: publicKeySpec, Args: PublicKeyArgs{}, Resource: PublicKey{}},
		{File: "cloudfront/keyGroup.go", Spec: keyGroupSpec, Args: KeyGroupArgs{}, Resource: KeyGroup{}},
		{File: "cloudfront/distribution.go", Spec: distributionSpec, Args: DistributionArgs{}, Resource: Distribution{}},
		{File: "cloudfront/responseHeadersPolicy.go", Spec: responseHeadersPolicySpec, Args: ResponseHeadersPolicyArgs{}, Resource: ResponseHeadersPolicy{}},
		{File: "cloudfront/cachePolicy.go", Spec: cachePolicySpec, Args: CachePolicyArgs{}, Resource: CachePolicy{}},
		{File: "apigatewayv2/api.go", Spec: apiSpec, Args: ApiArgs{}, Resource: Api{}},
		{File: "apigatewayv2/stage.go", Spec: stageSpec, Args: StageArgs{}, Resource: Stage{}},
		{File: "apigatewayv2/authorizer.go", Spec: authorizerSpec, Args: AuthorizerArgs{}, Resource: Authorizer{}},
		{File: "apigatewayv2/integration.go", Spec: integrationSpec, Args: IntegrationArgs{}, Resource: Integration{}},
		{File: "apigatewayv2/route.go", Spec: routeSpec, Args: RouteArgs{}, Resource: Route{}},
	},
	Invokes: []providercheck.Invoke{
		{File: "getCallerIdentity.go", Fn: "GetCallerIdentity", Token: getCallerIdentityToken,
			Args: reflect.TypeFor[GetCallerIdentityArgs](), Result: reflect.TypeFor[GetCallerIdentityResult]()},
	},
}

// TestDeclarationsMatchTheProvider holds every declaration to the pinned
// provider's generated code: a misspelt property, a wrong type or a missed
// secret would otherwise pass the mock tests and fail (or leak) in a real
// `pulumi up`.
func TestDeclarationsMatchTheProvider(t *testing.T) { provider.TestDeclarations(t) }

// TestProviderCheckIsNotBlind: the comparison catches a renamed property,
// a changed type, an untagged field, an input of the wrong type or shape
// and a missing secret, alias or invoke.
func TestProviderCheckIsNotBlind(t *testing.T) {
	s := provider.SourceFor(t)
	type roleArgs struct {
		Name             *string `pulumi:"nom"`
		AssumeRolePolicy string  `pulumi:"assumeRolePolicy"`
	}
	if got := s.CheckStruct("iam", reflect.TypeFor[roleArgs]()); len(got) != 2 {
		t.Errorf("a misspelt property and a wrong type: %q", got)
	}
	type rolePolicyArgs struct {
		Policy string
		Name   *string `pulumi:"name"`
	}
	if got := s.CheckStruct("iam", reflect.TypeFor[rolePolicyArgs]()); len(got) != 1 || !strings.Contains(got[0], "Policy") {
		t.Errorf("a property without a tag: %q", got)
	}
	type RoleArgs struct {
		Name             pulumi.StringInput
		AssumeRolePolicy pulumi.StringInput
	}
	if got := s.CheckInputs("iam", reflect.TypeFor[RoleArgs](), reflect.TypeFor[roleArgs]()); len(got) != 2 {
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
	if got := s.CheckInputs("lambda", reflect.TypeFor[FunctionArgs](), reflect.TypeFor[functionArgs]()); len(got) != 1 || !strings.Contains(got[0], "Environment") {
		t.Errorf("a nested object of the wrong shape: %q", got)
	}
	if got := providercheck.Constructor(s.File("secretsmanager/secretVersion.go")); !slices.Contains(got.Secrets, "secretString") || !slices.Contains(got.ToSecret, "SecretString") {
		t.Errorf("the secret version's secrets were not read: %+v", got)
	}
	if got := providercheck.Constructor(s.File("s3/bucketV2.go")); !slices.Contains(got.Aliases, "aws:s3/bucket:Bucket") {
		t.Errorf("the bucket's alias was not read: %+v", got)
	}
	if tok, versioned := providercheck.InvokeOf(s.File("getCallerIdentity.go"), "GetCallerIdentity"); tok == "" || !versioned {
		t.Errorf("the invoke was not read: %q %v", tok, versioned)
	}
	provider.TestMissed(t, "secretsmanager/secretVersion.go", "secret outputs", func(s *spec) { s.Secrets = nil })
	provider.TestMissed(t, "secretsmanager/secretVersion.go", "secret inputs", func(s *spec) { s.ToSecret = nil })
	provider.TestMissed(t, "s3/bucketV2.go", "aliases", func(s *spec) { s.Aliases = nil })
	i := provider.Invokes[0]
	i.Token = "aws:index/getCallerIdentity:getCallerIdentities"
	if got := s.CheckInvoke(i); len(got) != 1 {
		t.Errorf("an invoke of the wrong token: %q", got)
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
	providercheck.TestNotCompiled(t, provider.Module)
}

// TestEveryResourceIsDeclared: a constructor added to this package without
// an entry in provider.Resources would escape TestDeclarationsMatchTheProvider.
func TestEveryResourceIsDeclared(t *testing.T) {
	t.Parallel()
	provider.TestEveryResourceIsDeclared(t)
}

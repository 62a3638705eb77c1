package gcpres

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

// provider is pulumi-gcp as this package declares it: every resource with
// the generated file (below go/gcp) that declares it.
var provider = &providercheck.Provider{
	Module:  "github.com/pulumi/pulumi-gcp/sdk/v9",
	Root:    "go/gcp",
	Version: ProviderVersion,
	Resources: []providercheck.Resource{
		{File: "compute/globalAddress.go", Spec: globalAddressSpec, Args: GlobalAddressArgs{}, Resource: GlobalAddress{}},
		{File: "compute/managedSslCertificate.go", Spec: managedSslCertificateSpec, Args: ManagedSslCertificateArgs{}, Resource: ManagedSslCertificate{}},
		{File: "compute/urlmap.go", Spec: urlMapSpec, Args: URLMapArgs{}, Resource: URLMap{}},
		{File: "compute/targetHttpsProxy.go", Spec: targetHttpsProxySpec, Args: TargetHttpsProxyArgs{}, Resource: TargetHttpsProxy{}},
		{File: "compute/targetHttpProxy.go", Spec: targetHttpProxySpec, Args: TargetHttpProxyArgs{}, Resource: TargetHttpProxy{}},
		{File: "compute/globalForwardingRule.go", Spec: globalForwardingRuleSpec, Args: GlobalForwardingRuleArgs{}, Resource: GlobalForwardingRule{}},
		{File: "compute/backendBucket.go", Spec: backendBucketSpec, Args: BackendBucketArgs{}, Resource: BackendBucket{}},
		{File: "compute/backendBucketSignedUrlKey.go", Spec: backendBucketSignedUrlKeySpec, Args: BackendBucketSignedUrlKeyArgs{}, Resource: BackendBucketSignedUrlKey{}},
		{File: "compute/regionNetworkEndpointGroup.go", Spec: regionNetworkEndpointGroupSpec, Args: RegionNetworkEndpointGroupArgs{}, Resource: RegionNetworkEndpointGroup{}},
		{File: "compute/backendService.go", Spec: backendServiceSpec, Args: BackendServiceArgs{}, Resource: BackendService{}},
		{File: "cloudrunv2/serviceIamMember.go", Spec: serviceIamMemberSpec, Args: ServiceIamMemberArgs{}, Resource: ServiceIamMember{}},
		{File: "bigquery/dataset.go", Spec: datasetSpec, Args: DatasetArgs{}, Resource: Dataset{}},
		{File: "bigquery/table.go", Spec: tableSpec, Args: TableArgs{}, Resource: Table{}},
		{File: "bigquery/datasetIamMember.go", Spec: datasetIamMemberSpec, Args: DatasetIamMemberArgs{}, Resource: DatasetIamMember{}},
		{File: "storage/bucket.go", Spec: bucketSpec, Args: BucketArgs{}, Resource: Bucket{}},
		{File: "storage/bucketObject.go", Spec: bucketObjectSpec, Args: BucketObjectArgs{}, Resource: BucketObject{}},
		{File: "storage/bucketIAMMember.go", Spec: bucketIAMMemberSpec, Args: BucketIAMMemberArgs{}, Resource: BucketIAMMember{}},
		{File: "cloudfunctionsv2/function.go", Spec: functionSpec, Args: FunctionArgs{}, Resource: Function{}},
		{File: "cloudscheduler/job.go", Spec: jobSpec, Args: JobArgs{}, Resource: Job{}},
		{File: "projects/iammember.go", Spec: projectIAMMemberSpec, Args: ProjectIAMMemberArgs{}, Resource: ProjectIAMMember{}},
		{File: "pubsub/topic.go", Spec: topicSpec, Args: TopicArgs{}, Resource: Topic{}},
		{File: "pubsub/subscription.go", Spec: subscriptionSpec, Args: SubscriptionArgs{}, Resource: Subscription{}},
		{File: "pubsub/topicIAMMember.go", Spec: topicIAMMemberSpec, Args: TopicIAMMemberArgs{}, Resource: TopicIAMMember{}},
		{File: "pubsub/subscriptionIAMMember.go", Spec: subscriptionIAMMemberSpec, Args: SubscriptionIAMMemberArgs{}, Resource: SubscriptionIAMMember{}},
		{File: "secretmanager/secret.go", Spec: secretSpec, Args: SecretArgs{}, Resource: Secret{}},
		{File: "secretmanager/secretVersion.go", Spec: secretVersionSpec, Args: SecretVersionArgs{}, Resource: SecretVersion{}},
		{File: "secretmanager/secretIamMember.go", Spec: secretIamMemberSpec, Args: SecretIamMemberArgs{}, Resource: SecretIamMember{}},
		{File: "serviceaccount/account.go", Spec: accountSpec, Args: AccountArgs{}, Resource: Account{}},
		{File: "serviceaccount/iammember.go", Spec: serviceAccountIAMMemberSpec, Args: ServiceAccountIAMMemberArgs{}, Resource: ServiceAccountIAMMember{}},
		{File: "firestore/database.go", Spec: databaseSpec, Args: DatabaseArgs{}, Resource: Database{}},
		{File: "firestore/field.go", Spec: fieldSpec, Args: FieldArgs{}, Resource: Field{}},
		{File: "iam/workloadIdentityPool.go", Spec: workloadIdentityPoolSpec, Args: WorkloadIdentityPoolArgs{}, Resource: WorkloadIdentityPool{}},
		{File: "iam/workloadIdentityPoolProvider.go", Spec: workloadIdentityPoolProviderSpec, Args: WorkloadIdentityPoolProviderArgs{}, Resource: WorkloadIdentityPoolProvider{}},
		{File: "monitoring/alertPolicy.go", Spec: alertPolicySpec, Args: AlertPolicyArgs{}, Resource: AlertPolicy{}},
	},
	Invokes: []providercheck.Invoke{
		{File: "organizations/getProject.go", Fn: "LookupProject", Token: lookupProjectToken,
			Args: reflect.TypeFor[LookupProjectArgs](), Result: reflect.TypeFor[LookupProjectResult]()},
	},
	// projects.IAMMember and serviceaccount.IAMMember share their names.
	Renamed: map[string]string{
		"ProjectIAMMember":              "IAMMember",
		"ProjectIAMMemberArgs":          "IAMMemberArgs",
		"projectIAMMemberArgs":          "iammemberArgs",
		"ProjectIAMMemberCondition":     "IAMMemberCondition",
		"ProjectIAMMemberConditionArgs": "IAMMemberConditionArgs",
		"ServiceAccountIAMMember":       "IAMMember",
		"ServiceAccountIAMMemberArgs":   "IAMMemberArgs",
		"serviceAccountIAMMemberArgs":   "iammemberArgs",
	},
}

// TestDeclarationsMatchTheProvider holds every declaration to the pinned
// provider's generated code: a misspelt property, a wrong type or a missed
// secret would otherwise pass the mock tests and fail (or leak) in a real
// `pulumi up`.
func TestDeclarationsMatchTheProvider(t *testing.T) { provider.TestDeclarations(t) }

// TestProviderCheckIsNotBlind: the comparison catches a renamed property,
// a changed type, an untagged field, an input of the wrong type or shape
// and a missing secret.
func TestProviderCheckIsNotBlind(t *testing.T) {
	s := provider.SourceFor(t)
	type globalAddressArgs struct {
		Name    *string `pulumi:"nom"`
		Project string  `pulumi:"project"`
	}
	if got := s.CheckStruct("compute", reflect.TypeFor[globalAddressArgs]()); len(got) != 2 {
		t.Errorf("a misspelt property and a wrong type: %q", got)
	}
	type managedSslCertificateArgs struct {
		Name    *string
		Project *string `pulumi:"project"`
	}
	if got := s.CheckStruct("compute", reflect.TypeFor[managedSslCertificateArgs]()); len(got) != 1 || !strings.Contains(got[0], "Name") {
		t.Errorf("a property without a tag: %q", got)
	}
	type GlobalAddressArgs struct {
		Name    pulumi.StringInput
		Project pulumi.IntPtrInput
	}
	if got := s.CheckInputs("compute", reflect.TypeFor[GlobalAddressArgs](), reflect.TypeFor[globalAddressArgs]()); len(got) != 2 {
		t.Errorf("inputs of the wrong types: %q", got)
	}
	type BackendBucketArgs struct {
		BucketName pulumi.StringInput
		CdnPolicy  []BackendBucketCdnPolicyArgs
	}
	type backendBucketArgs struct {
		BucketName string                  `pulumi:"bucketName"`
		CdnPolicy  *BackendBucketCdnPolicy `pulumi:"cdnPolicy"`
	}
	if got := s.CheckInputs("compute", reflect.TypeFor[BackendBucketArgs](), reflect.TypeFor[backendBucketArgs]()); len(got) != 1 || !strings.Contains(got[0], "CdnPolicy") {
		t.Errorf("a nested object of the wrong shape: %q", got)
	}
	got := providercheck.Constructor(s.File("compute/backendBucketSignedUrlKey.go"))
	if !slices.Contains(got.Secrets, "keyValue") || !slices.Contains(got.ToSecret, "KeyValue") {
		t.Errorf("the signed URL key's secrets were not read: %+v", got)
	}
	provider.TestMissed(t, "compute/backendBucketSignedUrlKey.go", "secret outputs", func(s *spec) { s.Secrets = nil })
	provider.TestMissed(t, "compute/backendBucketSignedUrlKey.go", "secret inputs", func(s *spec) { s.ToSecret = nil })
	provider.TestMissed(t, "compute/backendBucketSignedUrlKey.go", "required arguments", func(s *spec) { s.Required = nil })

	// The declarations of the other packages (Pub/Sub, Cloud Functions,
	// IAM, Monitoring...): the same holds for them.
	type subscriptionArgs struct {
		Topic string  `pulumi:"topik"`
		Name  *string `pulumi:"name"`
	}
	if got := s.CheckStruct("pubsub", reflect.TypeFor[subscriptionArgs]()); len(got) != 1 || !strings.Contains(got[0], "topik") {
		t.Errorf("a misspelt property of a subscription: %q", got)
	}
	type Function struct {
		pulumi.CustomResourceState
		ServiceConfig pulumi.StringOutput `pulumi:"serviceConfig"`
	}
	if got := s.CheckStruct("cloudfunctionsv2", reflect.TypeFor[Function]()); len(got) != 1 || !strings.Contains(got[0], "ServiceConfig") {
		t.Errorf("a nested output of the wrong type: %q", got)
	}
	type AlertPolicyConditionConditionThresholdArgs struct {
		Aggregations []AlertPolicyConditionConditionThresholdDenominatorAggregationArgs
	}
	type AlertPolicyConditionConditionThreshold struct {
		Aggregations []AlertPolicyConditionConditionThresholdAggregation `pulumi:"aggregations"`
	}
	if got := s.CheckInputs("monitoring", reflect.TypeFor[AlertPolicyConditionConditionThresholdArgs](), reflect.TypeFor[AlertPolicyConditionConditionThreshold]()); len(got) != 1 || !strings.Contains(got[0], "Aggregations") {
		t.Errorf("a list of the wrong nested objects: %q", got)
	}
	// A renamed type is held to the provider's type of its Renamed name,
	// its fields' types spelt with the provider's names.
	type ProjectIAMMemberCondition struct {
		Expression string `pulumi:"expression"`
		Title      string `pulumi:"titel"`
	}
	if got := s.CheckStruct("projects", reflect.TypeFor[ProjectIAMMemberCondition]()); len(got) != 1 || !strings.Contains(got[0], "titel") {
		t.Errorf("a misspelt property of a renamed type: %q", got)
	}
	type projectIAMMemberArgs struct {
		Condition *ServiceAccountIAMMember `pulumi:"condition"`
		Member    string                   `pulumi:"member"`
	}
	if got := s.CheckStruct("projects", reflect.TypeFor[projectIAMMemberArgs]()); len(got) != 1 || !strings.Contains(got[0], "Condition") {
		t.Errorf("a renamed field type: %q", got)
	}
	type iamMemberArgs struct {
		Member string `pulumi:"member"`
	}
	if got := s.CheckStruct("projects", reflect.TypeFor[iamMemberArgs]()); len(got) != 1 || !strings.Contains(got[0], "no type iamMemberArgs") {
		t.Errorf("a type of a name the provider does not have: %q", got)
	}
	provider.TestMissed(t, "secretmanager/secretVersion.go", "secret inputs", func(s *spec) { s.ToSecret = []string{"SecretData"} })
	provider.TestMissed(t, "serviceaccount/account.go", "aliases", func(s *spec) { s.Aliases = nil })
	provider.TestMissed(t, "pubsub/subscription.go", "secret outputs", func(s *spec) { s.Secrets = nil })
	lookup := provider.Invokes[0]
	lookup.Token = "gcp:organizations/getProject:getProjects"
	if got := s.CheckInvoke(lookup); len(got) != 1 || !strings.Contains(got[0], "LookupProject") {
		t.Errorf("an invoke of the wrong token: %q", got)
	}
	type LookupProjectResult struct {
		Number int `pulumi:"number"`
	}
	lookup = provider.Invokes[0]
	lookup.Result = reflect.TypeFor[LookupProjectResult]()
	if got := s.CheckInvoke(lookup); len(got) != 1 || !strings.Contains(got[0], "Number") {
		t.Errorf("an invoke result of the wrong type: %q", got)
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
	if args.TypeToken == functionSpec.Token {
		sc := outs["serviceConfig"].ObjectValue().Copy()
		sc["uri"] = resource.NewStringProperty("https://" + args.Name + "-x.a.run.app")
		outs["serviceConfig"] = resource.NewObjectProperty(sc)
	}
	return args.Name + "-id", outs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if args.Token == lookupProjectToken && args.Args["projectId"].StringValue() == "p" {
		return resource.PropertyMap{"number": resource.NewStringProperty("123456789012")}, nil
	}
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

// TestNestedOutputsAndInvokes: a nested output (a function's service
// configuration, whose run.app URI the Pub/Sub push and Cloud Scheduler
// targets use) resolves through the declared plain type; a secret input
// is registered as a secret, an empty nested object as an object; the
// project lookup invokes with the plugin version.
func TestNestedOutputsAndInvokes(t *testing.T) {
	m := &mocks{inputs: map[string]resource.PropertyMap{}}
	var uri, number string
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		project, err := LookupProject(ctx, &LookupProjectArgs{ProjectId: pulumi.StringRef("p")})
		if err != nil {
			return err
		}
		number = project.Number
		fn, err := NewFunction(ctx, "fn", &FunctionArgs{
			Location: pulumi.String("europe-west1"),
			ServiceConfig: &FunctionServiceConfigArgs{
				SecretEnvironmentVariables: []FunctionServiceConfigSecretEnvironmentVariableArgs{{
					Key: pulumi.String("K"), ProjectId: pulumi.String("p"), Secret: pulumi.String("s"), Version: pulumi.String("1"),
				}},
			},
		})
		if err != nil {
			return err
		}
		fn.ServiceConfig.Uri().Elem().ApplyT(func(u string) string { uri = u; return u })
		if _, err := NewSecretVersion(ctx, "v", &SecretVersionArgs{Secret: pulumi.String("s"), SecretData: pulumi.String("hunter2")}); err != nil {
			return err
		}
		_, err = NewField(ctx, "ttl", &FieldArgs{Collection: pulumi.String("c"), Field: pulumi.String("expiresAt"), TtlConfig: &FieldTtlConfigArgs{}})
		return err
	}, pulumi.WithMocks("p", "s", m))
	if err != nil {
		t.Fatal(err)
	}
	if number != "123456789012" {
		t.Errorf("project number %q", number)
	}
	if uri != "https://fn-x.a.run.app" {
		t.Errorf("serviceConfig.uri %q", uri)
	}
	env := m.inputs[functionSpec.Token]["serviceConfig"].ObjectValue()["secretEnvironmentVariables"].ArrayValue()
	if len(env) != 1 || env[0].ObjectValue()["key"].StringValue() != "K" {
		t.Errorf("secretEnvironmentVariables %v", env)
	}
	if data := m.inputs[secretVersionSpec.Token]["secretData"]; !data.ContainsSecrets() {
		t.Errorf("secretData %v is not secret", data)
	}
	if ttl := m.inputs[fieldSpec.Token]["ttlConfig"]; !ttl.IsObject() {
		t.Errorf("ttlConfig %v is not an object", ttl)
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

// TestNoPackageImportsTheDeclaredPackages: the point of this package is
// that infra-test compiles no package of pulumi-gcp, those it declares
// from or any other (their go/gcp/internal included); one import of one,
// in infra/ or pulumi/, a test included, would bring it back.
func TestNoPackageImportsTheDeclaredPackages(t *testing.T) {
	t.Parallel()
	providercheck.TestNotCompiled(t, provider.Module)
}

// TestEveryResourceIsDeclared: a constructor added to this package without
// an entry in provider.Resources would escape TestDeclarationsMatchTheProvider.
func TestEveryResourceIsDeclared(t *testing.T) {
	t.Parallel()
	provider.TestEveryResourceIsDeclared(t)
}

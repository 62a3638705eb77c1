// Package pulumimock is a pulumi.MockResourceMonitor that records every
// resource a program registers and answers with the outputs the real
// providers compute (ARNs, URLs, e-mails, ids) in their real formats, so
// tests can follow references between resources the way the clouds do.
package pulumimock

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Account and project facts the mock answers with.
const (
	AWSAccountID     = "123456789012"
	AWSRegion        = "eu-west-1"
	GCPProjectNumber = "987654321098"
)

// CloudFunctionsURL is the url output of a Cloud Functions gen2 function.
func CloudFunctionsURL(region, project, name string) string {
	return fmt.Sprintf("https://%s-%s.cloudfunctions.net/%s", region, project, name)
}

// RunURI is the serviceConfig.uri output of a Cloud Functions gen2
// function: its Cloud Run service's run.app address.
func RunURI(name string) string { return fmt.Sprintf("https://%s-k3x7q2mzla-ew.a.run.app", name) }

// Resource is one registered resource.
type Resource struct {
	Type    string // e.g. aws:lambda/function:Function
	Name    string // logical name
	ID      string
	Custom  bool
	Parent  string // parent URN, empty for the stack's children
	Inputs  resource.PropertyMap
	Outputs resource.PropertyMap
	// Deps are the URNs the resource waits for: its explicit DependsOn and
	// the resources whose outputs its inputs use.
	Deps []resource.URN
}

// DependsOn says whether r waits for other.
func (r Resource) DependsOn(other Resource) bool {
	return slices.ContainsFunc(r.Deps, func(u resource.URN) bool {
		return u.Name() == other.Name && u.Type() == tokens.Type(other.Type)
	})
}

// Str returns the output property key as a string ("" when absent or not a
// string). Secret values are unwrapped.
func (r Resource) Str(key string) string { return str(r.Outputs[resource.PropertyKey(key)]) }

// Get returns the output property key, unwrapping secrets.
func (r Resource) Get(key string) resource.PropertyValue {
	return unwrap(r.Outputs[resource.PropertyKey(key)])
}

// Monitor records resources. The zero value is not usable: call New.
type Monitor struct {
	GCPProject string

	mu        sync.Mutex
	resources []Resource
	serial    int
}

// New returns a Monitor whose GCP resources live in project.
func New(gcpProject string) *Monitor { return &Monitor{GCPProject: gcpProject} }

var _ pulumi.MockResourceMonitor = (*Monitor)(nil)

// Resources returns every registered resource in registration order.
func (m *Monitor) Resources() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.resources)
}

// OfType returns the registered resources of type token.
func (m *Monitor) OfType(token string) []Resource {
	var out []Resource
	for _, r := range m.Resources() {
		if r.Type == token {
			out = append(out, r)
		}
	}
	return out
}

// Call answers the provider functions the programs invoke.
func (m *Monitor) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	switch args.Token {
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": AWSAccountID,
			"arn":       "arn:aws:iam::" + AWSAccountID + ":user/deployer",
			"id":        AWSAccountID,
			"userId":    "AIDAMOCK",
		}), nil
	case "gcp:organizations/getProject:getProject":
		return resource.NewPropertyMapFromMap(map[string]any{
			"number":    GCPProjectNumber,
			"projectId": m.GCPProject,
			"name":      m.GCPProject,
			"id":        "projects/" + m.GCPProject,
		}), nil
	}
	return nil, fmt.Errorf("pulumimock: unexpected call %s", args.Token)
}

// NewResource records the resource and returns provider-like outputs.
func (m *Monitor) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	m.serial++
	serial := m.serial
	m.mu.Unlock()

	out := args.Inputs.Copy()
	set := func(key string, v any) { out[resource.PropertyKey(key)] = resource.NewPropertyValue(v) }
	in := func(key string) string { return str(args.Inputs[resource.PropertyKey(key)]) }
	name := in("name")
	if name == "" {
		name = args.Name
	}
	id := args.Name + "-id"
	p := m.GCPProject
	awsArn := func(service, rest string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, AWSRegion, AWSAccountID, rest)
	}

	switch args.TypeToken {
	// AWS
	case "aws:iam/role:Role":
		id = name
		set("arn", "arn:aws:iam::"+AWSAccountID+":role/"+name)
		set("name", name)
	case "aws:iam/rolePolicy:RolePolicy":
		id = in("role") + ":" + name
	case "aws:cloudwatch/logGroup:LogGroup":
		id = name
		set("arn", awsArn("logs", "log-group:"+name))
	case "aws:lambda/function:Function":
		id = name
		arn := awsArn("lambda", "function:"+name)
		set("arn", arn)
		set("invokeArn", fmt.Sprintf("arn:aws:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations", AWSRegion, arn))
	case "aws:sqs/queue:Queue":
		url := fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", AWSRegion, AWSAccountID, name)
		id = url
		set("arn", awsArn("sqs", name))
		set("url", url)
	case "aws:dynamodb/table:Table":
		id = name
		set("arn", awsArn("dynamodb", "table/"+name))
	case "aws:secretsmanager/secret:Secret":
		arn := awsArn("secretsmanager", "secret:"+name+"-AbC123")
		id = arn
		set("arn", arn)
	case "aws:apigatewayv2/api:Api":
		id = fmt.Sprintf("api%04d", serial)
		set("apiEndpoint", fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com", id, AWSRegion))
		set("executionArn", awsArn("execute-api", id))
	case "aws:s3/bucketV2:BucketV2":
		bucket := in("bucket")
		if bucket == "" {
			bucket = in("bucketPrefix") + "20240101000000000000000001"
		}
		id = bucket
		set("bucket", bucket)
		set("arn", "arn:aws:s3:::"+bucket)
		set("bucketRegionalDomainName", bucket+".s3."+AWSRegion+".amazonaws.com")
	case "aws:cloudfront/distribution:Distribution":
		id = fmt.Sprintf("E%012d", serial)
		set("arn", "arn:aws:cloudfront::"+AWSAccountID+":distribution/"+id)
		set("domainName", fmt.Sprintf("d%05d.cloudfront.net", serial))
	case "aws:cloudfront/publicKey:PublicKey":
		id = fmt.Sprintf("K%012d", serial)
	case "aws:cloudwatch/eventRule:EventRule":
		id = name
		set("arn", awsArn("events", "rule/"+name))
	// GCP
	case "gcp:serviceaccount/account:Account":
		email := in("accountId") + "@" + p + ".iam.gserviceaccount.com"
		id = "projects/" + p + "/serviceAccounts/" + email
		set("email", email)
		set("name", id)
		set("member", "serviceAccount:"+email)
	case "gcp:cloudfunctionsv2/function:Function":
		id = fmt.Sprintf("projects/%s/locations/%s/functions/%s", p, in("location"), name)
		// As the provider reports them: url is the cloudfunctions.net
		// address, serviceConfig.uri the Cloud Run service's run.app one.
		set("url", CloudFunctionsURL(in("location"), p, name))
		serviceConfig := resource.PropertyMap{}
		if v := unwrap(args.Inputs["serviceConfig"]); v.IsObject() {
			serviceConfig = v.ObjectValue().Copy()
		}
		serviceConfig["uri"] = resource.NewStringProperty(RunURI(name))
		out["serviceConfig"] = resource.NewObjectProperty(serviceConfig)
	case "gcp:pubsub/topic:Topic":
		id = "projects/" + p + "/topics/" + name
	case "gcp:pubsub/subscription:Subscription":
		id = "projects/" + p + "/subscriptions/" + name
	case "gcp:secretmanager/secret:Secret":
		id = "projects/" + p + "/secrets/" + in("secretId")
		set("name", "projects/"+GCPProjectNumber+"/secrets/"+in("secretId"))
	case "gcp:secretmanager/secretVersion:SecretVersion":
		id = in("secret") + "/versions/1"
		set("name", id)
		set("version", "1")
	case "gcp:storage/bucket:Bucket":
		if in("name") == "" {
			name = args.Name + "-a1b2c3"
		}
		id = name
		set("name", name)
		set("url", "gs://"+name)
	case "gcp:storage/bucketObject:BucketObject":
		id = in("bucket") + "/" + name
		set("generation", 1700000000000000)
	case "gcp:compute/globalAddress:GlobalAddress":
		id = "projects/" + p + "/global/addresses/" + name
		set("address", "203.0.113.10")
	case "gcp:compute/backendService:BackendService":
		id = "projects/" + p + "/global/backendServices/" + name
	case "gcp:compute/backendBucket:BackendBucket":
		id = "projects/" + p + "/global/backendBuckets/" + name
	case "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup":
		id = fmt.Sprintf("projects/%s/regions/%s/networkEndpointGroups/%s", p, in("region"), name)
	case "gcp:compute/uRLMap:URLMap":
		id = "projects/" + p + "/global/urlMaps/" + name
	case "gcp:cloudscheduler/job:Job":
		id = fmt.Sprintf("projects/%s/locations/%s/jobs/%s", p, in("region"), name)
	case "gcp:firestore/database:Database":
		id = "projects/" + p + "/databases/" + name
	case "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
		id = fmt.Sprintf("projects/%s/locations/global/workloadIdentityPools/%s", GCPProjectNumber, in("workloadIdentityPoolId"))
		set("name", id)
	case "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
		id = fmt.Sprintf("projects/%s/locations/global/workloadIdentityPools/%s/providers/%s",
			GCPProjectNumber, in("workloadIdentityPoolId"), in("workloadIdentityPoolProviderId"))
		set("name", id)
	}
	if _, ok := out["name"]; !ok && args.Custom {
		set("name", name)
	}
	if strings.HasPrefix(args.TypeToken, "aws:") && args.Custom {
		if _, ok := out["arn"]; !ok {
			set("arn", awsArn(strings.SplitN(strings.TrimPrefix(args.TypeToken, "aws:"), "/", 2)[0], id))
		}
	}
	if !args.Custom {
		id = ""
	}

	var parent string
	var deps []resource.URN
	if args.RegisterRPC != nil {
		parent = args.RegisterRPC.GetParent()
		for _, d := range args.RegisterRPC.GetDependencies() {
			deps = append(deps, resource.URN(d))
		}
	}
	m.mu.Lock()
	m.resources = append(m.resources, Resource{
		Type: args.TypeToken, Name: args.Name, ID: id, Custom: args.Custom, Parent: parent,
		Inputs: args.Inputs, Outputs: out, Deps: deps,
	})
	m.mu.Unlock()
	return id, out, nil
}

func unwrap(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsOutput() {
		v = v.OutputValue().Element
	}
	return v
}

func str(v resource.PropertyValue) string {
	v = unwrap(v)
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// In returns the input at path as plain Go values (see Plain).
func (r Resource) In(path ...string) any {
	return lookup(Plain(resource.NewObjectProperty(r.Inputs)), path)
}

// Out returns the output at path as plain Go values (see Plain).
func (r Resource) Out(path ...string) any {
	return lookup(Plain(resource.NewObjectProperty(r.Outputs)), path)
}

// InStr is In for strings ("" when absent or not a string).
func (r Resource) InStr(path ...string) string {
	s, _ := r.In(path...).(string)
	return s
}

// Plain converts v to map[string]any, []any, string, float64, bool or nil,
// unwrapping secrets; assets and archives become their paths.
func Plain(v resource.PropertyValue) any {
	v = unwrap(v)
	switch {
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = Plain(e)
		}
		return out
	case v.IsArray():
		var out []any
		for _, e := range v.ArrayValue() {
			out = append(out, Plain(e))
		}
		return out
	case v.IsString():
		return v.StringValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsBool():
		return v.BoolValue()
	case v.IsArchive():
		return v.ArchiveValue().Path
	case v.IsAsset():
		return v.AssetValue().Path
	}
	return nil
}

// Walk calls visit for every string inside v, saying whether it sits
// inside a secret.
func Walk(v resource.PropertyValue, visit func(path, s string, secret bool)) {
	walk(v, "", false, visit)
}

func walk(v resource.PropertyValue, path string, secret bool, visit func(path, s string, secret bool)) {
	switch {
	case v.IsSecret():
		walk(v.SecretValue().Element, path, true, visit)
	case v.IsOutput():
		walk(v.OutputValue().Element, path, secret || v.OutputValue().Secret, visit)
	case v.IsObject():
		for k, e := range v.ObjectValue() {
			walk(e, path+"."+string(k), secret, visit)
		}
	case v.IsArray():
		for i, e := range v.ArrayValue() {
			walk(e, path+"["+strconv.Itoa(i)+"]", secret, visit)
		}
	case v.IsString():
		visit(path, v.StringValue(), secret)
	}
}

func lookup(v any, path []string) any {
	for _, key := range path {
		switch c := v.(type) {
		case map[string]any:
			v = c[key]
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

// Files returns the paths of the file assets and archives among the
// resource's inputs: what `pulumi up` reads from the deployer's disk.
func (r Resource) Files() []string {
	var out []string
	var visit func(v resource.PropertyValue)
	visit = func(v resource.PropertyValue) {
		v = unwrap(v)
		switch {
		case v.IsAsset():
			if p := v.AssetValue().Path; p != "" {
				out = append(out, p)
			}
		case v.IsArchive():
			if p := v.ArchiveValue().Path; p != "" {
				out = append(out, p)
			}
		case v.IsObject():
			for _, e := range v.ObjectValue() {
				visit(e)
			}
		case v.IsArray():
			for _, e := range v.ArrayValue() {
				visit(e)
			}
		}
	}
	visit(resource.NewObjectProperty(r.Inputs))
	return out
}

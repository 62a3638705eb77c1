package gcpres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Each resource below is three types, as in the generated package: the
// resource with the outputs read here, its Args of inputs, and the plain
// struct whose pulumi tags name the properties (the Args' ElementType;
// fields are matched by name). Nested objects are an Args type (whose
// ElementType is the plain type) inside the parent's Args.

// GlobalAddress is gcp:compute/globalAddress:GlobalAddress.
type GlobalAddress struct {
	pulumi.CustomResourceState
	Address pulumi.StringOutput `pulumi:"address"`
}

type GlobalAddressArgs struct {
	Name    pulumi.StringPtrInput
	Project pulumi.StringPtrInput
}

type globalAddressArgs struct {
	Name    *string `pulumi:"name"`
	Project *string `pulumi:"project"`
}

func (GlobalAddressArgs) ElementType() reflect.Type { return reflect.TypeFor[globalAddressArgs]() }

var globalAddressSpec = spec{
	Token:   "gcp:compute/globalAddress:GlobalAddress",
	Secrets: []string{"effectiveLabels", "pulumiLabels"},
}

func NewGlobalAddress(ctx *pulumi.Context, name string, args *GlobalAddressArgs, opts ...pulumi.ResourceOption) (*GlobalAddress, error) {
	return newResource[GlobalAddress](ctx, globalAddressSpec, name, args, opts)
}

// ManagedSslCertificate is gcp:compute/managedSslCertificate:ManagedSslCertificate.
type ManagedSslCertificate struct {
	pulumi.CustomResourceState
}

type ManagedSslCertificateArgs struct {
	Managed *ManagedSslCertificateManagedArgs
	Name    pulumi.StringPtrInput
	Project pulumi.StringPtrInput
}

type managedSslCertificateArgs struct {
	Managed *ManagedSslCertificateManaged `pulumi:"managed"`
	Name    *string                       `pulumi:"name"`
	Project *string                       `pulumi:"project"`
}

func (ManagedSslCertificateArgs) ElementType() reflect.Type {
	return reflect.TypeFor[managedSslCertificateArgs]()
}

type ManagedSslCertificateManagedArgs struct {
	Domains pulumi.StringArrayInput
}

type ManagedSslCertificateManaged struct {
	Domains []string `pulumi:"domains"`
}

func (ManagedSslCertificateManagedArgs) ElementType() reflect.Type {
	return reflect.TypeFor[ManagedSslCertificateManaged]()
}

var managedSslCertificateSpec = spec{
	Token:   "gcp:compute/managedSslCertificate:ManagedSslCertificate",
	Aliases: []string{"gcp:compute/mangedSslCertificate:MangedSslCertificate"},
}

func NewManagedSslCertificate(ctx *pulumi.Context, name string, args *ManagedSslCertificateArgs, opts ...pulumi.ResourceOption) (*ManagedSslCertificate, error) {
	return newResource[ManagedSslCertificate](ctx, managedSslCertificateSpec, name, args, opts)
}

// URLMap is gcp:compute/uRLMap:URLMap.
type URLMap struct {
	pulumi.CustomResourceState
}

type URLMapArgs struct {
	DefaultService     pulumi.StringPtrInput
	DefaultUrlRedirect *URLMapDefaultUrlRedirectArgs
	HostRules          []URLMapHostRuleArgs
	Name               pulumi.StringPtrInput
	PathMatchers       []URLMapPathMatcherArgs
	Project            pulumi.StringPtrInput
}

type urlmapArgs struct {
	DefaultService     *string                   `pulumi:"defaultService"`
	DefaultUrlRedirect *URLMapDefaultUrlRedirect `pulumi:"defaultUrlRedirect"`
	HostRules          []URLMapHostRule          `pulumi:"hostRules"`
	Name               *string                   `pulumi:"name"`
	PathMatchers       []URLMapPathMatcher       `pulumi:"pathMatchers"`
	Project            *string                   `pulumi:"project"`
}

func (URLMapArgs) ElementType() reflect.Type { return reflect.TypeFor[urlmapArgs]() }

type URLMapDefaultUrlRedirectArgs struct {
	HttpsRedirect        pulumi.BoolPtrInput
	RedirectResponseCode pulumi.StringPtrInput
	StripQuery           pulumi.BoolInput
}

type URLMapDefaultUrlRedirect struct {
	HttpsRedirect        *bool   `pulumi:"httpsRedirect"`
	RedirectResponseCode *string `pulumi:"redirectResponseCode"`
	StripQuery           bool    `pulumi:"stripQuery"`
}

func (URLMapDefaultUrlRedirectArgs) ElementType() reflect.Type {
	return reflect.TypeFor[URLMapDefaultUrlRedirect]()
}

type URLMapHostRuleArgs struct {
	Hosts       pulumi.StringArrayInput
	PathMatcher pulumi.StringInput
}

type URLMapHostRule struct {
	Hosts       []string `pulumi:"hosts"`
	PathMatcher string   `pulumi:"pathMatcher"`
}

func (URLMapHostRuleArgs) ElementType() reflect.Type { return reflect.TypeFor[URLMapHostRule]() }

type URLMapPathMatcherArgs struct {
	DefaultService pulumi.StringPtrInput
	Name           pulumi.StringInput
	RouteRules     []URLMapPathMatcherRouteRuleArgs
}

type URLMapPathMatcher struct {
	DefaultService *string                      `pulumi:"defaultService"`
	Name           string                       `pulumi:"name"`
	RouteRules     []URLMapPathMatcherRouteRule `pulumi:"routeRules"`
}

func (URLMapPathMatcherArgs) ElementType() reflect.Type { return reflect.TypeFor[URLMapPathMatcher]() }

type URLMapPathMatcherRouteRuleArgs struct {
	MatchRules []URLMapPathMatcherRouteRuleMatchRuleArgs
	Priority   pulumi.IntInput
	Service    pulumi.StringPtrInput
}

type URLMapPathMatcherRouteRule struct {
	MatchRules []URLMapPathMatcherRouteRuleMatchRule `pulumi:"matchRules"`
	Priority   int                                   `pulumi:"priority"`
	Service    *string                               `pulumi:"service"`
}

func (URLMapPathMatcherRouteRuleArgs) ElementType() reflect.Type {
	return reflect.TypeFor[URLMapPathMatcherRouteRule]()
}

type URLMapPathMatcherRouteRuleMatchRuleArgs struct {
	PathTemplateMatch pulumi.StringPtrInput
}

type URLMapPathMatcherRouteRuleMatchRule struct {
	PathTemplateMatch *string `pulumi:"pathTemplateMatch"`
}

func (URLMapPathMatcherRouteRuleMatchRuleArgs) ElementType() reflect.Type {
	return reflect.TypeFor[URLMapPathMatcherRouteRuleMatchRule]()
}

var urlMapSpec = spec{Token: "gcp:compute/uRLMap:URLMap"}

func NewURLMap(ctx *pulumi.Context, name string, args *URLMapArgs, opts ...pulumi.ResourceOption) (*URLMap, error) {
	return newResource[URLMap](ctx, urlMapSpec, name, args, opts)
}

// TargetHttpsProxy is gcp:compute/targetHttpsProxy:TargetHttpsProxy.
type TargetHttpsProxy struct {
	pulumi.CustomResourceState
}

type TargetHttpsProxyArgs struct {
	Name            pulumi.StringPtrInput
	Project         pulumi.StringPtrInput
	SslCertificates pulumi.StringArrayInput
	UrlMap          pulumi.StringInput
}

type targetHttpsProxyArgs struct {
	Name            *string  `pulumi:"name"`
	Project         *string  `pulumi:"project"`
	SslCertificates []string `pulumi:"sslCertificates"`
	UrlMap          string   `pulumi:"urlMap"`
}

func (TargetHttpsProxyArgs) ElementType() reflect.Type {
	return reflect.TypeFor[targetHttpsProxyArgs]()
}

var targetHttpsProxySpec = spec{
	Token:    "gcp:compute/targetHttpsProxy:TargetHttpsProxy",
	Required: []string{"UrlMap"},
}

func NewTargetHttpsProxy(ctx *pulumi.Context, name string, args *TargetHttpsProxyArgs, opts ...pulumi.ResourceOption) (*TargetHttpsProxy, error) {
	return newResource[TargetHttpsProxy](ctx, targetHttpsProxySpec, name, args, opts)
}

// TargetHttpProxy is gcp:compute/targetHttpProxy:TargetHttpProxy.
type TargetHttpProxy struct {
	pulumi.CustomResourceState
}

type TargetHttpProxyArgs struct {
	Name    pulumi.StringPtrInput
	Project pulumi.StringPtrInput
	UrlMap  pulumi.StringInput
}

type targetHttpProxyArgs struct {
	Name    *string `pulumi:"name"`
	Project *string `pulumi:"project"`
	UrlMap  string  `pulumi:"urlMap"`
}

func (TargetHttpProxyArgs) ElementType() reflect.Type { return reflect.TypeFor[targetHttpProxyArgs]() }

var targetHttpProxySpec = spec{
	Token:    "gcp:compute/targetHttpProxy:TargetHttpProxy",
	Required: []string{"UrlMap"},
}

func NewTargetHttpProxy(ctx *pulumi.Context, name string, args *TargetHttpProxyArgs, opts ...pulumi.ResourceOption) (*TargetHttpProxy, error) {
	return newResource[TargetHttpProxy](ctx, targetHttpProxySpec, name, args, opts)
}

// GlobalForwardingRule is gcp:compute/globalForwardingRule:GlobalForwardingRule.
type GlobalForwardingRule struct {
	pulumi.CustomResourceState
}

type GlobalForwardingRuleArgs struct {
	IpAddress           pulumi.StringPtrInput
	IpProtocol          pulumi.StringPtrInput
	LoadBalancingScheme pulumi.StringPtrInput
	Name                pulumi.StringPtrInput
	PortRange           pulumi.StringPtrInput
	Project             pulumi.StringPtrInput
	Target              pulumi.StringInput
}

type globalForwardingRuleArgs struct {
	IpAddress           *string `pulumi:"ipAddress"`
	IpProtocol          *string `pulumi:"ipProtocol"`
	LoadBalancingScheme *string `pulumi:"loadBalancingScheme"`
	Name                *string `pulumi:"name"`
	PortRange           *string `pulumi:"portRange"`
	Project             *string `pulumi:"project"`
	Target              string  `pulumi:"target"`
}

func (GlobalForwardingRuleArgs) ElementType() reflect.Type {
	return reflect.TypeFor[globalForwardingRuleArgs]()
}

var globalForwardingRuleSpec = spec{
	Token:    "gcp:compute/globalForwardingRule:GlobalForwardingRule",
	Secrets:  []string{"effectiveLabels", "pulumiLabels"},
	Required: []string{"Target"},
}

func NewGlobalForwardingRule(ctx *pulumi.Context, name string, args *GlobalForwardingRuleArgs, opts ...pulumi.ResourceOption) (*GlobalForwardingRule, error) {
	return newResource[GlobalForwardingRule](ctx, globalForwardingRuleSpec, name, args, opts)
}

// BackendBucket is gcp:compute/backendBucket:BackendBucket.
type BackendBucket struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type BackendBucketArgs struct {
	BucketName pulumi.StringInput
	CdnPolicy  *BackendBucketCdnPolicyArgs
	EnableCdn  pulumi.BoolPtrInput
	Name       pulumi.StringPtrInput
	Project    pulumi.StringPtrInput
}

type backendBucketArgs struct {
	BucketName string                  `pulumi:"bucketName"`
	CdnPolicy  *BackendBucketCdnPolicy `pulumi:"cdnPolicy"`
	EnableCdn  *bool                   `pulumi:"enableCdn"`
	Name       *string                 `pulumi:"name"`
	Project    *string                 `pulumi:"project"`
}

func (BackendBucketArgs) ElementType() reflect.Type { return reflect.TypeFor[backendBucketArgs]() }

type BackendBucketCdnPolicyArgs struct {
	CacheMode               pulumi.StringPtrInput
	SignedUrlCacheMaxAgeSec pulumi.IntPtrInput
}

type BackendBucketCdnPolicy struct {
	CacheMode               *string `pulumi:"cacheMode"`
	SignedUrlCacheMaxAgeSec *int    `pulumi:"signedUrlCacheMaxAgeSec"`
}

func (BackendBucketCdnPolicyArgs) ElementType() reflect.Type {
	return reflect.TypeFor[BackendBucketCdnPolicy]()
}

var backendBucketSpec = spec{
	Token:    "gcp:compute/backendBucket:BackendBucket",
	Required: []string{"BucketName"},
}

func NewBackendBucket(ctx *pulumi.Context, name string, args *BackendBucketArgs, opts ...pulumi.ResourceOption) (*BackendBucket, error) {
	return newResource[BackendBucket](ctx, backendBucketSpec, name, args, opts)
}

// BackendBucketSignedUrlKey is gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey.
type BackendBucketSignedUrlKey struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type BackendBucketSignedUrlKeyArgs struct {
	BackendBucket pulumi.StringInput
	KeyValue      pulumi.StringInput
	Name          pulumi.StringPtrInput
	Project       pulumi.StringPtrInput
}

type backendBucketSignedUrlKeyArgs struct {
	BackendBucket string  `pulumi:"backendBucket"`
	KeyValue      string  `pulumi:"keyValue"`
	Name          *string `pulumi:"name"`
	Project       *string `pulumi:"project"`
}

func (BackendBucketSignedUrlKeyArgs) ElementType() reflect.Type {
	return reflect.TypeFor[backendBucketSignedUrlKeyArgs]()
}

var backendBucketSignedUrlKeySpec = spec{
	Token:    "gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey",
	Secrets:  []string{"keyValue"},
	Required: []string{"BackendBucket", "KeyValue"},
	ToSecret: []string{"KeyValue"},
}

func NewBackendBucketSignedUrlKey(ctx *pulumi.Context, name string, args *BackendBucketSignedUrlKeyArgs, opts ...pulumi.ResourceOption) (*BackendBucketSignedUrlKey, error) {
	return newResource[BackendBucketSignedUrlKey](ctx, backendBucketSignedUrlKeySpec, name, args, opts)
}

// RegionNetworkEndpointGroup is gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup.
type RegionNetworkEndpointGroup struct {
	pulumi.CustomResourceState
}

type RegionNetworkEndpointGroupArgs struct {
	CloudRun            *RegionNetworkEndpointGroupCloudRunArgs
	Name                pulumi.StringPtrInput
	NetworkEndpointType pulumi.StringPtrInput
	Project             pulumi.StringPtrInput
	Region              pulumi.StringInput
}

type regionNetworkEndpointGroupArgs struct {
	CloudRun            *RegionNetworkEndpointGroupCloudRun `pulumi:"cloudRun"`
	Name                *string                             `pulumi:"name"`
	NetworkEndpointType *string                             `pulumi:"networkEndpointType"`
	Project             *string                             `pulumi:"project"`
	Region              string                              `pulumi:"region"`
}

func (RegionNetworkEndpointGroupArgs) ElementType() reflect.Type {
	return reflect.TypeFor[regionNetworkEndpointGroupArgs]()
}

type RegionNetworkEndpointGroupCloudRunArgs struct {
	Service pulumi.StringPtrInput
}

type RegionNetworkEndpointGroupCloudRun struct {
	Service *string `pulumi:"service"`
}

func (RegionNetworkEndpointGroupCloudRunArgs) ElementType() reflect.Type {
	return reflect.TypeFor[RegionNetworkEndpointGroupCloudRun]()
}

var regionNetworkEndpointGroupSpec = spec{
	Token:    "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup",
	Required: []string{"Region"},
}

func NewRegionNetworkEndpointGroup(ctx *pulumi.Context, name string, args *RegionNetworkEndpointGroupArgs, opts ...pulumi.ResourceOption) (*RegionNetworkEndpointGroup, error) {
	return newResource[RegionNetworkEndpointGroup](ctx, regionNetworkEndpointGroupSpec, name, args, opts)
}

// BackendService is gcp:compute/backendService:BackendService.
type BackendService struct {
	pulumi.CustomResourceState
}

type BackendServiceArgs struct {
	Backends            []BackendServiceBackendArgs
	LoadBalancingScheme pulumi.StringPtrInput
	LogConfig           *BackendServiceLogConfigArgs
	Name                pulumi.StringPtrInput
	Project             pulumi.StringPtrInput
	Protocol            pulumi.StringPtrInput
}

type backendServiceArgs struct {
	Backends            []BackendServiceBackend  `pulumi:"backends"`
	LoadBalancingScheme *string                  `pulumi:"loadBalancingScheme"`
	LogConfig           *BackendServiceLogConfig `pulumi:"logConfig"`
	Name                *string                  `pulumi:"name"`
	Project             *string                  `pulumi:"project"`
	Protocol            *string                  `pulumi:"protocol"`
}

func (BackendServiceArgs) ElementType() reflect.Type { return reflect.TypeFor[backendServiceArgs]() }

type BackendServiceBackendArgs struct {
	Group pulumi.StringInput
}

type BackendServiceBackend struct {
	Group string `pulumi:"group"`
}

func (BackendServiceBackendArgs) ElementType() reflect.Type {
	return reflect.TypeFor[BackendServiceBackend]()
}

type BackendServiceLogConfigArgs struct {
	Enable     pulumi.BoolPtrInput
	SampleRate pulumi.Float64PtrInput
}

type BackendServiceLogConfig struct {
	Enable     *bool    `pulumi:"enable"`
	SampleRate *float64 `pulumi:"sampleRate"`
}

func (BackendServiceLogConfigArgs) ElementType() reflect.Type {
	return reflect.TypeFor[BackendServiceLogConfig]()
}

var backendServiceSpec = spec{Token: "gcp:compute/backendService:BackendService"}

func NewBackendService(ctx *pulumi.Context, name string, args *BackendServiceArgs, opts ...pulumi.ResourceOption) (*BackendService, error) {
	return newResource[BackendService](ctx, backendServiceSpec, name, args, opts)
}

package awsres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// OriginAccessControl is aws:cloudfront/originAccessControl:OriginAccessControl.
type OriginAccessControl struct {
	pulumi.CustomResourceState
}

type OriginAccessControlArgs struct {
	Name                          pulumi.StringPtrInput
	OriginAccessControlOriginType pulumi.StringInput
	SigningBehavior               pulumi.StringInput
	SigningProtocol               pulumi.StringInput
}

type originAccessControlArgs struct {
	Name                          *string `pulumi:"name"`
	OriginAccessControlOriginType string  `pulumi:"originAccessControlOriginType"`
	SigningBehavior               string  `pulumi:"signingBehavior"`
	SigningProtocol               string  `pulumi:"signingProtocol"`
}

func (OriginAccessControlArgs) ElementType() reflect.Type {
	return reflect.TypeFor[originAccessControlArgs]()
}

var originAccessControlSpec = spec{
	Token:    "aws:cloudfront/originAccessControl:OriginAccessControl",
	Required: []string{"OriginAccessControlOriginType", "SigningBehavior", "SigningProtocol"},
}

func NewOriginAccessControl(ctx *pulumi.Context, name string, args *OriginAccessControlArgs, opts ...pulumi.ResourceOption) (*OriginAccessControl, error) {
	return newResource[OriginAccessControl](ctx, originAccessControlSpec, name, args, opts)
}

// PublicKey is aws:cloudfront/publicKey:PublicKey.
type PublicKey struct {
	pulumi.CustomResourceState
}

type PublicKeyArgs struct {
	Comment    pulumi.StringPtrInput
	EncodedKey pulumi.StringInput
	Name       pulumi.StringPtrInput
}

type publicKeyArgs struct {
	Comment    *string `pulumi:"comment"`
	EncodedKey string  `pulumi:"encodedKey"`
	Name       *string `pulumi:"name"`
}

func (PublicKeyArgs) ElementType() reflect.Type { return reflect.TypeFor[publicKeyArgs]() }

var publicKeySpec = spec{
	Token:    "aws:cloudfront/publicKey:PublicKey",
	Required: []string{"EncodedKey"},
}

func NewPublicKey(ctx *pulumi.Context, name string, args *PublicKeyArgs, opts ...pulumi.ResourceOption) (*PublicKey, error) {
	return newResource[PublicKey](ctx, publicKeySpec, name, args, opts)
}

// KeyGroup is aws:cloudfront/keyGroup:KeyGroup.
type KeyGroup struct {
	pulumi.CustomResourceState
}

type KeyGroupArgs struct {
	Items pulumi.StringArrayInput
	Name  pulumi.StringPtrInput
}

type keyGroupArgs struct {
	Items []string `pulumi:"items"`
	Name  *string  `pulumi:"name"`
}

func (KeyGroupArgs) ElementType() reflect.Type { return reflect.TypeFor[keyGroupArgs]() }

var keyGroupSpec = spec{
	Token:    "aws:cloudfront/keyGroup:KeyGroup",
	Required: []string{"Items"},
}

func NewKeyGroup(ctx *pulumi.Context, name string, args *KeyGroupArgs, opts ...pulumi.ResourceOption) (*KeyGroup, error) {
	return newResource[KeyGroup](ctx, keyGroupSpec, name, args, opts)
}

// Distribution is aws:cloudfront/distribution:Distribution.
type Distribution struct {
	pulumi.CustomResourceState
	Arn        pulumi.StringOutput `pulumi:"arn"`
	DomainName pulumi.StringOutput `pulumi:"domainName"`
}

type DistributionArgs struct {
	Comment              pulumi.StringPtrInput
	DefaultCacheBehavior *DistributionDefaultCacheBehaviorArgs
	Enabled              pulumi.BoolInput
	HttpVersion          pulumi.StringPtrInput
	IsIpv6Enabled        pulumi.BoolPtrInput
	Origins              []DistributionOriginArgs
	PriceClass           pulumi.StringPtrInput
	Restrictions         *DistributionRestrictionsArgs
	Tags                 pulumi.StringMapInput
	ViewerCertificate    *DistributionViewerCertificateArgs
}

type distributionArgs struct {
	Comment              *string                          `pulumi:"comment"`
	DefaultCacheBehavior DistributionDefaultCacheBehavior `pulumi:"defaultCacheBehavior"`
	Enabled              bool                             `pulumi:"enabled"`
	HttpVersion          *string                          `pulumi:"httpVersion"`
	IsIpv6Enabled        *bool                            `pulumi:"isIpv6Enabled"`
	Origins              []DistributionOrigin             `pulumi:"origins"`
	PriceClass           *string                          `pulumi:"priceClass"`
	Restrictions         DistributionRestrictions         `pulumi:"restrictions"`
	Tags                 map[string]string                `pulumi:"tags"`
	ViewerCertificate    DistributionViewerCertificate    `pulumi:"viewerCertificate"`
}

func (DistributionArgs) ElementType() reflect.Type { return reflect.TypeFor[distributionArgs]() }

type DistributionDefaultCacheBehaviorArgs struct {
	AllowedMethods          pulumi.StringArrayInput
	CachePolicyId           pulumi.StringPtrInput
	CachedMethods           pulumi.StringArrayInput
	Compress                pulumi.BoolPtrInput
	ResponseHeadersPolicyId pulumi.StringPtrInput
	TargetOriginId          pulumi.StringInput
	TrustedKeyGroups        pulumi.StringArrayInput
	ViewerProtocolPolicy    pulumi.StringInput
}

type DistributionDefaultCacheBehavior struct {
	AllowedMethods          []string `pulumi:"allowedMethods"`
	CachePolicyId           *string  `pulumi:"cachePolicyId"`
	CachedMethods           []string `pulumi:"cachedMethods"`
	Compress                *bool    `pulumi:"compress"`
	ResponseHeadersPolicyId *string  `pulumi:"responseHeadersPolicyId"`
	TargetOriginId          string   `pulumi:"targetOriginId"`
	TrustedKeyGroups        []string `pulumi:"trustedKeyGroups"`
	ViewerProtocolPolicy    string   `pulumi:"viewerProtocolPolicy"`
}

func (DistributionDefaultCacheBehaviorArgs) ElementType() reflect.Type {
	return reflect.TypeFor[DistributionDefaultCacheBehavior]()
}

type DistributionOriginArgs struct {
	DomainName            pulumi.StringInput
	OriginAccessControlId pulumi.StringPtrInput
	OriginId              pulumi.StringInput
}

type DistributionOrigin struct {
	DomainName            string  `pulumi:"domainName"`
	OriginAccessControlId *string `pulumi:"originAccessControlId"`
	OriginId              string  `pulumi:"originId"`
}

func (DistributionOriginArgs) ElementType() reflect.Type {
	return reflect.TypeFor[DistributionOrigin]()
}

type DistributionRestrictionsArgs struct {
	GeoRestriction *DistributionRestrictionsGeoRestrictionArgs
}

type DistributionRestrictions struct {
	GeoRestriction DistributionRestrictionsGeoRestriction `pulumi:"geoRestriction"`
}

func (DistributionRestrictionsArgs) ElementType() reflect.Type {
	return reflect.TypeFor[DistributionRestrictions]()
}

type DistributionViewerCertificateArgs struct {
	CloudfrontDefaultCertificate pulumi.BoolPtrInput
}

type DistributionViewerCertificate struct {
	CloudfrontDefaultCertificate *bool `pulumi:"cloudfrontDefaultCertificate"`
}

func (DistributionViewerCertificateArgs) ElementType() reflect.Type {
	return reflect.TypeFor[DistributionViewerCertificate]()
}

type DistributionRestrictionsGeoRestrictionArgs struct {
	RestrictionType pulumi.StringInput
}

type DistributionRestrictionsGeoRestriction struct {
	RestrictionType string `pulumi:"restrictionType"`
}

func (DistributionRestrictionsGeoRestrictionArgs) ElementType() reflect.Type {
	return reflect.TypeFor[DistributionRestrictionsGeoRestriction]()
}

var distributionSpec = spec{
	Token:    "aws:cloudfront/distribution:Distribution",
	Required: []string{"DefaultCacheBehavior", "Enabled", "Origins", "Restrictions", "ViewerCertificate"},
}

func NewDistribution(ctx *pulumi.Context, name string, args *DistributionArgs, opts ...pulumi.ResourceOption) (*Distribution, error) {
	return newResource[Distribution](ctx, distributionSpec, name, args, opts)
}

// ResponseHeadersPolicy is aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy.
type ResponseHeadersPolicy struct {
	pulumi.CustomResourceState
}

type ResponseHeadersPolicyArgs struct {
	Comment    pulumi.StringPtrInput
	CorsConfig *ResponseHeadersPolicyCorsConfigArgs
	Name       pulumi.StringPtrInput
}

type responseHeadersPolicyArgs struct {
	Comment    *string                          `pulumi:"comment"`
	CorsConfig *ResponseHeadersPolicyCorsConfig `pulumi:"corsConfig"`
	Name       *string                          `pulumi:"name"`
}

func (ResponseHeadersPolicyArgs) ElementType() reflect.Type {
	return reflect.TypeFor[responseHeadersPolicyArgs]()
}

type ResponseHeadersPolicyCorsConfigArgs struct {
	AccessControlAllowCredentials pulumi.BoolInput
	AccessControlAllowHeaders     *ResponseHeadersPolicyCorsConfigAccessControlAllowHeadersArgs
	AccessControlAllowMethods     *ResponseHeadersPolicyCorsConfigAccessControlAllowMethodsArgs
	AccessControlAllowOrigins     *ResponseHeadersPolicyCorsConfigAccessControlAllowOriginsArgs
	AccessControlExposeHeaders    *ResponseHeadersPolicyCorsConfigAccessControlExposeHeadersArgs
	AccessControlMaxAgeSec        pulumi.IntPtrInput
	OriginOverride                pulumi.BoolInput
}

type ResponseHeadersPolicyCorsConfig struct {
	AccessControlAllowCredentials bool                                                       `pulumi:"accessControlAllowCredentials"`
	AccessControlAllowHeaders     ResponseHeadersPolicyCorsConfigAccessControlAllowHeaders   `pulumi:"accessControlAllowHeaders"`
	AccessControlAllowMethods     ResponseHeadersPolicyCorsConfigAccessControlAllowMethods   `pulumi:"accessControlAllowMethods"`
	AccessControlAllowOrigins     ResponseHeadersPolicyCorsConfigAccessControlAllowOrigins   `pulumi:"accessControlAllowOrigins"`
	AccessControlExposeHeaders    *ResponseHeadersPolicyCorsConfigAccessControlExposeHeaders `pulumi:"accessControlExposeHeaders"`
	AccessControlMaxAgeSec        *int                                                       `pulumi:"accessControlMaxAgeSec"`
	OriginOverride                bool                                                       `pulumi:"originOverride"`
}

func (ResponseHeadersPolicyCorsConfigArgs) ElementType() reflect.Type {
	return reflect.TypeFor[ResponseHeadersPolicyCorsConfig]()
}

type ResponseHeadersPolicyCorsConfigAccessControlAllowHeadersArgs struct {
	Items pulumi.StringArrayInput
}

type ResponseHeadersPolicyCorsConfigAccessControlAllowHeaders struct {
	Items []string `pulumi:"items"`
}

func (ResponseHeadersPolicyCorsConfigAccessControlAllowHeadersArgs) ElementType() reflect.Type {
	return reflect.TypeFor[ResponseHeadersPolicyCorsConfigAccessControlAllowHeaders]()
}

type ResponseHeadersPolicyCorsConfigAccessControlAllowMethodsArgs struct {
	Items pulumi.StringArrayInput
}

type ResponseHeadersPolicyCorsConfigAccessControlAllowMethods struct {
	Items []string `pulumi:"items"`
}

func (ResponseHeadersPolicyCorsConfigAccessControlAllowMethodsArgs) ElementType() reflect.Type {
	return reflect.TypeFor[ResponseHeadersPolicyCorsConfigAccessControlAllowMethods]()
}

type ResponseHeadersPolicyCorsConfigAccessControlAllowOriginsArgs struct {
	Items pulumi.StringArrayInput
}

type ResponseHeadersPolicyCorsConfigAccessControlAllowOrigins struct {
	Items []string `pulumi:"items"`
}

func (ResponseHeadersPolicyCorsConfigAccessControlAllowOriginsArgs) ElementType() reflect.Type {
	return reflect.TypeFor[ResponseHeadersPolicyCorsConfigAccessControlAllowOrigins]()
}

type ResponseHeadersPolicyCorsConfigAccessControlExposeHeadersArgs struct {
	Items pulumi.StringArrayInput
}

type ResponseHeadersPolicyCorsConfigAccessControlExposeHeaders struct {
	Items []string `pulumi:"items"`
}

func (ResponseHeadersPolicyCorsConfigAccessControlExposeHeadersArgs) ElementType() reflect.Type {
	return reflect.TypeFor[ResponseHeadersPolicyCorsConfigAccessControlExposeHeaders]()
}

var responseHeadersPolicySpec = spec{
	Token: "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy",
}

func NewResponseHeadersPolicy(ctx *pulumi.Context, name string, args *ResponseHeadersPolicyArgs, opts ...pulumi.ResourceOption) (*ResponseHeadersPolicy, error) {
	return newResource[ResponseHeadersPolicy](ctx, responseHeadersPolicySpec, name, args, opts)
}

// CachePolicy is aws:cloudfront/cachePolicy:CachePolicy.
type CachePolicy struct {
	pulumi.CustomResourceState
}

type CachePolicyArgs struct {
	Comment                                  pulumi.StringPtrInput
	DefaultTtl                               pulumi.IntPtrInput
	MaxTtl                                   pulumi.IntPtrInput
	MinTtl                                   pulumi.IntPtrInput
	Name                                     pulumi.StringPtrInput
	ParametersInCacheKeyAndForwardedToOrigin *CachePolicyParametersInCacheKeyAndForwardedToOriginArgs
}

type cachePolicyArgs struct {
	Comment                                  *string                                             `pulumi:"comment"`
	DefaultTtl                               *int                                                `pulumi:"defaultTtl"`
	MaxTtl                                   *int                                                `pulumi:"maxTtl"`
	MinTtl                                   *int                                                `pulumi:"minTtl"`
	Name                                     *string                                             `pulumi:"name"`
	ParametersInCacheKeyAndForwardedToOrigin CachePolicyParametersInCacheKeyAndForwardedToOrigin `pulumi:"parametersInCacheKeyAndForwardedToOrigin"`
}

func (CachePolicyArgs) ElementType() reflect.Type { return reflect.TypeFor[cachePolicyArgs]() }

type CachePolicyParametersInCacheKeyAndForwardedToOriginArgs struct {
	CookiesConfig              *CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfigArgs
	EnableAcceptEncodingBrotli pulumi.BoolPtrInput
	EnableAcceptEncodingGzip   pulumi.BoolPtrInput
	HeadersConfig              *CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigArgs
	QueryStringsConfig         *CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigArgs
}

type CachePolicyParametersInCacheKeyAndForwardedToOrigin struct {
	CookiesConfig              CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfig      `pulumi:"cookiesConfig"`
	EnableAcceptEncodingBrotli *bool                                                                 `pulumi:"enableAcceptEncodingBrotli"`
	EnableAcceptEncodingGzip   *bool                                                                 `pulumi:"enableAcceptEncodingGzip"`
	HeadersConfig              CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfig      `pulumi:"headersConfig"`
	QueryStringsConfig         CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfig `pulumi:"queryStringsConfig"`
}

func (CachePolicyParametersInCacheKeyAndForwardedToOriginArgs) ElementType() reflect.Type {
	return reflect.TypeFor[CachePolicyParametersInCacheKeyAndForwardedToOrigin]()
}

type CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfigArgs struct {
	CookieBehavior pulumi.StringInput
}

type CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfig struct {
	CookieBehavior string `pulumi:"cookieBehavior"`
}

func (CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfigArgs) ElementType() reflect.Type {
	return reflect.TypeFor[CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfig]()
}

type CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigArgs struct {
	HeaderBehavior pulumi.StringPtrInput
	Headers        *CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigHeadersArgs
}

type CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfig struct {
	HeaderBehavior *string                                                                  `pulumi:"headerBehavior"`
	Headers        *CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigHeaders `pulumi:"headers"`
}

func (CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigArgs) ElementType() reflect.Type {
	return reflect.TypeFor[CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfig]()
}

type CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigHeadersArgs struct {
	Items pulumi.StringArrayInput
}

type CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigHeaders struct {
	Items []string `pulumi:"items"`
}

func (CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigHeadersArgs) ElementType() reflect.Type {
	return reflect.TypeFor[CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigHeaders]()
}

type CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigArgs struct {
	QueryStringBehavior pulumi.StringInput
}

type CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfig struct {
	QueryStringBehavior string `pulumi:"queryStringBehavior"`
}

func (CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigArgs) ElementType() reflect.Type {
	return reflect.TypeFor[CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfig]()
}

var cachePolicySpec = spec{
	Token:    "aws:cloudfront/cachePolicy:CachePolicy",
	Required: []string{"ParametersInCacheKeyAndForwardedToOrigin"},
}

func NewCachePolicy(ctx *pulumi.Context, name string, args *CachePolicyArgs, opts ...pulumi.ResourceOption) (*CachePolicy, error) {
	return newResource[CachePolicy](ctx, cachePolicySpec, name, args, opts)
}

package awsres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Api is aws:apigatewayv2/api:Api.
type Api struct {
	pulumi.CustomResourceState
	ApiEndpoint  pulumi.StringOutput `pulumi:"apiEndpoint"`
	ExecutionArn pulumi.StringOutput `pulumi:"executionArn"`
}

type ApiArgs struct {
	CorsConfiguration *ApiCorsConfigurationArgs
	Name              pulumi.StringPtrInput
	ProtocolType      pulumi.StringInput
	Tags              pulumi.StringMapInput
}

type apiArgs struct {
	CorsConfiguration *ApiCorsConfiguration `pulumi:"corsConfiguration"`
	Name              *string               `pulumi:"name"`
	ProtocolType      string                `pulumi:"protocolType"`
	Tags              map[string]string     `pulumi:"tags"`
}

func (ApiArgs) ElementType() reflect.Type { return reflect.TypeFor[apiArgs]() }

type ApiCorsConfigurationArgs struct {
	AllowCredentials pulumi.BoolPtrInput
	AllowHeaders     pulumi.StringArrayInput
	AllowMethods     pulumi.StringArrayInput
	AllowOrigins     pulumi.StringArrayInput
	ExposeHeaders    pulumi.StringArrayInput
	MaxAge           pulumi.IntPtrInput
}

type ApiCorsConfiguration struct {
	AllowCredentials *bool    `pulumi:"allowCredentials"`
	AllowHeaders     []string `pulumi:"allowHeaders"`
	AllowMethods     []string `pulumi:"allowMethods"`
	AllowOrigins     []string `pulumi:"allowOrigins"`
	ExposeHeaders    []string `pulumi:"exposeHeaders"`
	MaxAge           *int     `pulumi:"maxAge"`
}

func (ApiCorsConfigurationArgs) ElementType() reflect.Type {
	return reflect.TypeFor[ApiCorsConfiguration]()
}

var apiSpec = spec{
	Token:    "aws:apigatewayv2/api:Api",
	Required: []string{"ProtocolType"},
}

func NewApi(ctx *pulumi.Context, name string, args *ApiArgs, opts ...pulumi.ResourceOption) (*Api, error) {
	return newResource[Api](ctx, apiSpec, name, args, opts)
}

// Stage is aws:apigatewayv2/stage:Stage.
type Stage struct {
	pulumi.CustomResourceState
}

type StageArgs struct {
	ApiId                pulumi.StringInput
	AutoDeploy           pulumi.BoolPtrInput
	DefaultRouteSettings *StageDefaultRouteSettingsArgs
	Name                 pulumi.StringPtrInput
	Tags                 pulumi.StringMapInput
}

type stageArgs struct {
	ApiId                string                     `pulumi:"apiId"`
	AutoDeploy           *bool                      `pulumi:"autoDeploy"`
	DefaultRouteSettings *StageDefaultRouteSettings `pulumi:"defaultRouteSettings"`
	Name                 *string                    `pulumi:"name"`
	Tags                 map[string]string          `pulumi:"tags"`
}

func (StageArgs) ElementType() reflect.Type { return reflect.TypeFor[stageArgs]() }

type StageDefaultRouteSettingsArgs struct {
	ThrottlingBurstLimit pulumi.IntPtrInput
	ThrottlingRateLimit  pulumi.Float64PtrInput
}

type StageDefaultRouteSettings struct {
	ThrottlingBurstLimit *int     `pulumi:"throttlingBurstLimit"`
	ThrottlingRateLimit  *float64 `pulumi:"throttlingRateLimit"`
}

func (StageDefaultRouteSettingsArgs) ElementType() reflect.Type {
	return reflect.TypeFor[StageDefaultRouteSettings]()
}

var stageSpec = spec{
	Token:    "aws:apigatewayv2/stage:Stage",
	Required: []string{"ApiId"},
}

func NewStage(ctx *pulumi.Context, name string, args *StageArgs, opts ...pulumi.ResourceOption) (*Stage, error) {
	return newResource[Stage](ctx, stageSpec, name, args, opts)
}

// Authorizer is aws:apigatewayv2/authorizer:Authorizer.
type Authorizer struct {
	pulumi.CustomResourceState
}

type AuthorizerArgs struct {
	ApiId            pulumi.StringInput
	AuthorizerType   pulumi.StringInput
	IdentitySources  pulumi.StringArrayInput
	JwtConfiguration *AuthorizerJwtConfigurationArgs
	Name             pulumi.StringPtrInput
}

type authorizerArgs struct {
	ApiId            string                      `pulumi:"apiId"`
	AuthorizerType   string                      `pulumi:"authorizerType"`
	IdentitySources  []string                    `pulumi:"identitySources"`
	JwtConfiguration *AuthorizerJwtConfiguration `pulumi:"jwtConfiguration"`
	Name             *string                     `pulumi:"name"`
}

func (AuthorizerArgs) ElementType() reflect.Type { return reflect.TypeFor[authorizerArgs]() }

type AuthorizerJwtConfigurationArgs struct {
	Audiences pulumi.StringArrayInput
	Issuer    pulumi.StringPtrInput
}

type AuthorizerJwtConfiguration struct {
	Audiences []string `pulumi:"audiences"`
	Issuer    *string  `pulumi:"issuer"`
}

func (AuthorizerJwtConfigurationArgs) ElementType() reflect.Type {
	return reflect.TypeFor[AuthorizerJwtConfiguration]()
}

var authorizerSpec = spec{
	Token:    "aws:apigatewayv2/authorizer:Authorizer",
	Required: []string{"ApiId", "AuthorizerType"},
}

func NewAuthorizer(ctx *pulumi.Context, name string, args *AuthorizerArgs, opts ...pulumi.ResourceOption) (*Authorizer, error) {
	return newResource[Authorizer](ctx, authorizerSpec, name, args, opts)
}

// Integration is aws:apigatewayv2/integration:Integration.
type Integration struct {
	pulumi.CustomResourceState
}

type IntegrationArgs struct {
	ApiId                pulumi.StringInput
	IntegrationType      pulumi.StringInput
	IntegrationUri       pulumi.StringPtrInput
	PayloadFormatVersion pulumi.StringPtrInput
}

type integrationArgs struct {
	ApiId                string  `pulumi:"apiId"`
	IntegrationType      string  `pulumi:"integrationType"`
	IntegrationUri       *string `pulumi:"integrationUri"`
	PayloadFormatVersion *string `pulumi:"payloadFormatVersion"`
}

func (IntegrationArgs) ElementType() reflect.Type { return reflect.TypeFor[integrationArgs]() }

var integrationSpec = spec{
	Token:    "aws:apigatewayv2/integration:Integration",
	Required: []string{"ApiId", "IntegrationType"},
}

func NewIntegration(ctx *pulumi.Context, name string, args *IntegrationArgs, opts ...pulumi.ResourceOption) (*Integration, error) {
	return newResource[Integration](ctx, integrationSpec, name, args, opts)
}

// Route is aws:apigatewayv2/route:Route.
type Route struct {
	pulumi.CustomResourceState
}

type RouteArgs struct {
	ApiId             pulumi.StringInput
	AuthorizationType pulumi.StringPtrInput
	AuthorizerId      pulumi.StringPtrInput
	RouteKey          pulumi.StringInput
	Target            pulumi.StringPtrInput
}

type routeArgs struct {
	ApiId             string  `pulumi:"apiId"`
	AuthorizationType *string `pulumi:"authorizationType"`
	AuthorizerId      *string `pulumi:"authorizerId"`
	RouteKey          string  `pulumi:"routeKey"`
	Target            *string `pulumi:"target"`
}

func (RouteArgs) ElementType() reflect.Type { return reflect.TypeFor[routeArgs]() }

var routeSpec = spec{
	Token:    "aws:apigatewayv2/route:Route",
	Required: []string{"ApiId", "RouteKey"},
}

func NewRoute(ctx *pulumi.Context, name string, args *RouteArgs, opts ...pulumi.ResourceOption) (*Route, error) {
	return newResource[Route](ctx, routeSpec, name, args, opts)
}

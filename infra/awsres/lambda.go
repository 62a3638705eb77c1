package awsres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Function is aws:lambda/function:Function.
type Function struct {
	pulumi.CustomResourceState
	Arn       pulumi.StringOutput `pulumi:"arn"`
	InvokeArn pulumi.StringOutput `pulumi:"invokeArn"`
	Name      pulumi.StringOutput `pulumi:"name"`
}

type FunctionArgs struct {
	Architectures pulumi.StringArrayInput
	Code          pulumi.ArchiveInput
	Environment   *FunctionEnvironmentArgs
	Handler       pulumi.StringPtrInput
	LoggingConfig *FunctionLoggingConfigArgs
	MemorySize    pulumi.IntPtrInput
	Name          pulumi.StringPtrInput
	Role          pulumi.StringInput
	Runtime       pulumi.StringPtrInput
	Tags          pulumi.StringMapInput
	Timeout       pulumi.IntPtrInput
}

type functionArgs struct {
	Architectures []string               `pulumi:"architectures"`
	Code          pulumi.Archive         `pulumi:"code"`
	Environment   *FunctionEnvironment   `pulumi:"environment"`
	Handler       *string                `pulumi:"handler"`
	LoggingConfig *FunctionLoggingConfig `pulumi:"loggingConfig"`
	MemorySize    *int                   `pulumi:"memorySize"`
	Name          *string                `pulumi:"name"`
	Role          string                 `pulumi:"role"`
	Runtime       *string                `pulumi:"runtime"`
	Tags          map[string]string      `pulumi:"tags"`
	Timeout       *int                   `pulumi:"timeout"`
}

func (FunctionArgs) ElementType() reflect.Type { return reflect.TypeFor[functionArgs]() }

type FunctionEnvironmentArgs struct {
	Variables pulumi.StringMapInput
}

type FunctionEnvironment struct {
	Variables map[string]string `pulumi:"variables"`
}

func (FunctionEnvironmentArgs) ElementType() reflect.Type {
	return reflect.TypeFor[FunctionEnvironment]()
}

type FunctionLoggingConfigArgs struct {
	LogFormat pulumi.StringInput
	LogGroup  pulumi.StringPtrInput
}

type FunctionLoggingConfig struct {
	LogFormat string  `pulumi:"logFormat"`
	LogGroup  *string `pulumi:"logGroup"`
}

func (FunctionLoggingConfigArgs) ElementType() reflect.Type {
	return reflect.TypeFor[FunctionLoggingConfig]()
}

var functionSpec = spec{
	Token:    "aws:lambda/function:Function",
	Required: []string{"Role"},
}

func NewFunction(ctx *pulumi.Context, name string, args *FunctionArgs, opts ...pulumi.ResourceOption) (*Function, error) {
	return newResource[Function](ctx, functionSpec, name, args, opts)
}

// EventSourceMapping is aws:lambda/eventSourceMapping:EventSourceMapping.
type EventSourceMapping struct {
	pulumi.CustomResourceState
}

type EventSourceMappingArgs struct {
	BatchSize                      pulumi.IntPtrInput
	EventSourceArn                 pulumi.StringPtrInput
	FunctionName                   pulumi.StringInput
	FunctionResponseTypes          pulumi.StringArrayInput
	MaximumBatchingWindowInSeconds pulumi.IntPtrInput
}

type eventSourceMappingArgs struct {
	BatchSize                      *int     `pulumi:"batchSize"`
	EventSourceArn                 *string  `pulumi:"eventSourceArn"`
	FunctionName                   string   `pulumi:"functionName"`
	FunctionResponseTypes          []string `pulumi:"functionResponseTypes"`
	MaximumBatchingWindowInSeconds *int     `pulumi:"maximumBatchingWindowInSeconds"`
}

func (EventSourceMappingArgs) ElementType() reflect.Type {
	return reflect.TypeFor[eventSourceMappingArgs]()
}

var eventSourceMappingSpec = spec{
	Token:    "aws:lambda/eventSourceMapping:EventSourceMapping",
	Required: []string{"FunctionName"},
}

func NewEventSourceMapping(ctx *pulumi.Context, name string, args *EventSourceMappingArgs, opts ...pulumi.ResourceOption) (*EventSourceMapping, error) {
	return newResource[EventSourceMapping](ctx, eventSourceMappingSpec, name, args, opts)
}

// Permission is aws:lambda/permission:Permission.
type Permission struct {
	pulumi.CustomResourceState
}

type PermissionArgs struct {
	Action    pulumi.StringInput
	Function  pulumi.Input
	Principal pulumi.StringInput
	SourceArn pulumi.StringPtrInput
}

type permissionArgs struct {
	Action    string      `pulumi:"action"`
	Function  interface{} `pulumi:"function"`
	Principal string      `pulumi:"principal"`
	SourceArn *string     `pulumi:"sourceArn"`
}

func (PermissionArgs) ElementType() reflect.Type { return reflect.TypeFor[permissionArgs]() }

var permissionSpec = spec{
	Token:    "aws:lambda/permission:Permission",
	Required: []string{"Action", "Function", "Principal"},
}

func NewPermission(ctx *pulumi.Context, name string, args *PermissionArgs, opts ...pulumi.ResourceOption) (*Permission, error) {
	return newResource[Permission](ctx, permissionSpec, name, args, opts)
}

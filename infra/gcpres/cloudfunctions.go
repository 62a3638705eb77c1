package gcpres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Function is gcp:cloudfunctionsv2/function:Function (Cloud Functions gen2).
type Function struct {
	pulumi.CustomResourceState
	Name          pulumi.StringOutput            `pulumi:"name"`
	ServiceConfig FunctionServiceConfigPtrOutput `pulumi:"serviceConfig"`
}

type FunctionArgs struct {
	BuildConfig   *FunctionBuildConfigArgs
	Labels        pulumi.StringMapInput
	Location      pulumi.StringInput
	Name          pulumi.StringPtrInput
	Project       pulumi.StringPtrInput
	ServiceConfig *FunctionServiceConfigArgs
}

type functionArgs struct {
	BuildConfig   *FunctionBuildConfig   `pulumi:"buildConfig"`
	Labels        map[string]string      `pulumi:"labels"`
	Location      string                 `pulumi:"location"`
	Name          *string                `pulumi:"name"`
	Project       *string                `pulumi:"project"`
	ServiceConfig *FunctionServiceConfig `pulumi:"serviceConfig"`
}

func (FunctionArgs) ElementType() reflect.Type { return reflect.TypeFor[functionArgs]() }

type FunctionBuildConfigArgs struct {
	EntryPoint pulumi.StringPtrInput
	Runtime    pulumi.StringPtrInput
	Source     *FunctionBuildConfigSourceArgs
}

type FunctionBuildConfig struct {
	EntryPoint *string                    `pulumi:"entryPoint"`
	Runtime    *string                    `pulumi:"runtime"`
	Source     *FunctionBuildConfigSource `pulumi:"source"`
}

func (FunctionBuildConfigArgs) ElementType() reflect.Type {
	return reflect.TypeFor[FunctionBuildConfig]()
}

type FunctionBuildConfigSourceArgs struct {
	StorageSource *FunctionBuildConfigSourceStorageSourceArgs
}

type FunctionBuildConfigSource struct {
	StorageSource *FunctionBuildConfigSourceStorageSource `pulumi:"storageSource"`
}

func (FunctionBuildConfigSourceArgs) ElementType() reflect.Type {
	return reflect.TypeFor[FunctionBuildConfigSource]()
}

type FunctionBuildConfigSourceStorageSourceArgs struct {
	Bucket     pulumi.StringPtrInput
	Generation pulumi.IntPtrInput
	Object     pulumi.StringPtrInput
}

type FunctionBuildConfigSourceStorageSource struct {
	Bucket     *string `pulumi:"bucket"`
	Generation *int    `pulumi:"generation"`
	Object     *string `pulumi:"object"`
}

func (FunctionBuildConfigSourceStorageSourceArgs) ElementType() reflect.Type {
	return reflect.TypeFor[FunctionBuildConfigSourceStorageSource]()
}

// FunctionServiceConfigArgs has Uri, an output the provider accepts as an
// input, because the resource reads it back through the same plain type.
type FunctionServiceConfigArgs struct {
	AllTrafficOnLatestRevision pulumi.BoolPtrInput
	AvailableMemory            pulumi.StringPtrInput
	EnvironmentVariables       pulumi.StringMapInput
	IngressSettings            pulumi.StringPtrInput
	MaxInstanceCount           pulumi.IntPtrInput
	SecretEnvironmentVariables []FunctionServiceConfigSecretEnvironmentVariableArgs
	ServiceAccountEmail        pulumi.StringPtrInput
	TimeoutSeconds             pulumi.IntPtrInput
	Uri                        pulumi.StringPtrInput
}

type FunctionServiceConfig struct {
	AllTrafficOnLatestRevision *bool                                            `pulumi:"allTrafficOnLatestRevision"`
	AvailableMemory            *string                                          `pulumi:"availableMemory"`
	EnvironmentVariables       map[string]string                                `pulumi:"environmentVariables"`
	IngressSettings            *string                                          `pulumi:"ingressSettings"`
	MaxInstanceCount           *int                                             `pulumi:"maxInstanceCount"`
	SecretEnvironmentVariables []FunctionServiceConfigSecretEnvironmentVariable `pulumi:"secretEnvironmentVariables"`
	ServiceAccountEmail        *string                                          `pulumi:"serviceAccountEmail"`
	TimeoutSeconds             *int                                             `pulumi:"timeoutSeconds"`
	// Uri is the Cloud Run service's run.app URI.
	Uri *string `pulumi:"uri"`
}

func (FunctionServiceConfigArgs) ElementType() reflect.Type {
	return reflect.TypeFor[FunctionServiceConfig]()
}

type FunctionServiceConfigSecretEnvironmentVariableArgs struct {
	Key       pulumi.StringInput
	ProjectId pulumi.StringInput
	Secret    pulumi.StringInput
	Version   pulumi.StringInput
}

type FunctionServiceConfigSecretEnvironmentVariable struct {
	Key       string `pulumi:"key"`
	ProjectId string `pulumi:"projectId"`
	Secret    string `pulumi:"secret"`
	Version   string `pulumi:"version"`
}

func (FunctionServiceConfigSecretEnvironmentVariableArgs) ElementType() reflect.Type {
	return reflect.TypeFor[FunctionServiceConfigSecretEnvironmentVariable]()
}

// FunctionServiceConfigPtrOutput is the function's service configuration
// as the provider reports it.
type FunctionServiceConfigPtrOutput struct{ *pulumi.OutputState }

func (FunctionServiceConfigPtrOutput) ElementType() reflect.Type {
	return reflect.TypeFor[*FunctionServiceConfig]()
}

// Uri is the Cloud Run service's run.app URI.
func (o FunctionServiceConfigPtrOutput) Uri() pulumi.StringPtrOutput {
	return o.ApplyT(func(v *FunctionServiceConfig) *string {
		if v == nil {
			return nil
		}
		return v.Uri
	}).(pulumi.StringPtrOutput)
}

func init() { pulumi.RegisterOutputType(FunctionServiceConfigPtrOutput{}) }

var functionSpec = spec{
	Token:    "gcp:cloudfunctionsv2/function:Function",
	Secrets:  []string{"effectiveLabels", "pulumiLabels"},
	Required: []string{"Location"},
}

func NewFunction(ctx *pulumi.Context, name string, args *FunctionArgs, opts ...pulumi.ResourceOption) (*Function, error) {
	return newResource[Function](ctx, functionSpec, name, args, opts)
}

package awsres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Secret is aws:secretsmanager/secret:Secret.
type Secret struct {
	pulumi.CustomResourceState
	Arn pulumi.StringOutput `pulumi:"arn"`
}

type SecretArgs struct {
	Description          pulumi.StringPtrInput
	Name                 pulumi.StringPtrInput
	RecoveryWindowInDays pulumi.IntPtrInput
	Tags                 pulumi.StringMapInput
}

type secretArgs struct {
	Description          *string           `pulumi:"description"`
	Name                 *string           `pulumi:"name"`
	RecoveryWindowInDays *int              `pulumi:"recoveryWindowInDays"`
	Tags                 map[string]string `pulumi:"tags"`
}

func (SecretArgs) ElementType() reflect.Type { return reflect.TypeFor[secretArgs]() }

var secretSpec = spec{
	Token: "aws:secretsmanager/secret:Secret",
}

func NewSecret(ctx *pulumi.Context, name string, args *SecretArgs, opts ...pulumi.ResourceOption) (*Secret, error) {
	return newResource[Secret](ctx, secretSpec, name, args, opts)
}

// SecretVersion is aws:secretsmanager/secretVersion:SecretVersion.
type SecretVersion struct {
	pulumi.CustomResourceState
}

type SecretVersionArgs struct {
	SecretId     pulumi.StringInput
	SecretString pulumi.StringPtrInput
}

type secretVersionArgs struct {
	SecretId     string  `pulumi:"secretId"`
	SecretString *string `pulumi:"secretString"`
}

func (SecretVersionArgs) ElementType() reflect.Type { return reflect.TypeFor[secretVersionArgs]() }

var secretVersionSpec = spec{
	Token:    "aws:secretsmanager/secretVersion:SecretVersion",
	Secrets:  []string{"secretBinary", "secretString"},
	Required: []string{"SecretId"},
	ToSecret: []string{"SecretBinary", "SecretString"},
}

func NewSecretVersion(ctx *pulumi.Context, name string, args *SecretVersionArgs, opts ...pulumi.ResourceOption) (*SecretVersion, error) {
	return newResource[SecretVersion](ctx, secretVersionSpec, name, args, opts)
}

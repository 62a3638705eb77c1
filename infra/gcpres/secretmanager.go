package gcpres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Secret is gcp:secretmanager/secret:Secret.
type Secret struct {
	pulumi.CustomResourceState
	SecretId pulumi.StringOutput `pulumi:"secretId"`
}

type SecretArgs struct {
	Labels      pulumi.StringMapInput
	Project     pulumi.StringPtrInput
	Replication *SecretReplicationArgs
	SecretId    pulumi.StringPtrInput
}

type secretArgs struct {
	Labels      map[string]string `pulumi:"labels"`
	Project     *string           `pulumi:"project"`
	Replication SecretReplication `pulumi:"replication"`
	SecretId    *string           `pulumi:"secretId"`
}

func (SecretArgs) ElementType() reflect.Type { return reflect.TypeFor[secretArgs]() }

type SecretReplicationArgs struct {
	Auto *SecretReplicationAutoArgs
}

type SecretReplication struct {
	Auto *SecretReplicationAuto `pulumi:"auto"`
}

func (SecretReplicationArgs) ElementType() reflect.Type { return reflect.TypeFor[SecretReplication]() }

// SecretReplicationAutoArgs is empty: automatic replication with
// Google-managed keys.
type SecretReplicationAutoArgs struct{}

type SecretReplicationAuto struct{}

func (SecretReplicationAutoArgs) ElementType() reflect.Type {
	return reflect.TypeFor[SecretReplicationAuto]()
}

var secretSpec = spec{
	Token:    "gcp:secretmanager/secret:Secret",
	Secrets:  []string{"effectiveLabels", "pulumiLabels"},
	Required: []string{"Replication"},
}

func NewSecret(ctx *pulumi.Context, name string, args *SecretArgs, opts ...pulumi.ResourceOption) (*Secret, error) {
	return newResource[Secret](ctx, secretSpec, name, args, opts)
}

// SecretVersion is gcp:secretmanager/secretVersion:SecretVersion.
type SecretVersion struct {
	pulumi.CustomResourceState
	Version pulumi.StringOutput `pulumi:"version"`
}

type SecretVersionArgs struct {
	Secret     pulumi.StringInput
	SecretData pulumi.StringPtrInput
}

type secretVersionArgs struct {
	Secret     string  `pulumi:"secret"`
	SecretData *string `pulumi:"secretData"`
}

func (SecretVersionArgs) ElementType() reflect.Type { return reflect.TypeFor[secretVersionArgs]() }

var secretVersionSpec = spec{
	Token:    "gcp:secretmanager/secretVersion:SecretVersion",
	Secrets:  []string{"secretData", "secretDataWo"},
	Required: []string{"Secret"},
	// SecretDataWo is not declared here, so it cannot be set.
	ToSecret: []string{"SecretData", "SecretDataWo"},
}

func NewSecretVersion(ctx *pulumi.Context, name string, args *SecretVersionArgs, opts ...pulumi.ResourceOption) (*SecretVersion, error) {
	return newResource[SecretVersion](ctx, secretVersionSpec, name, args, opts)
}

// SecretIamMember is gcp:secretmanager/secretIamMember:SecretIamMember.
type SecretIamMember struct {
	pulumi.CustomResourceState
}

type SecretIamMemberArgs struct {
	Member   pulumi.StringInput
	Project  pulumi.StringPtrInput
	Role     pulumi.StringInput
	SecretId pulumi.StringInput
}

type secretIamMemberArgs struct {
	Member   string  `pulumi:"member"`
	Project  *string `pulumi:"project"`
	Role     string  `pulumi:"role"`
	SecretId string  `pulumi:"secretId"`
}

func (SecretIamMemberArgs) ElementType() reflect.Type { return reflect.TypeFor[secretIamMemberArgs]() }

var secretIamMemberSpec = spec{
	Token:    "gcp:secretmanager/secretIamMember:SecretIamMember",
	Required: []string{"Member", "Role", "SecretId"},
}

func NewSecretIamMember(ctx *pulumi.Context, name string, args *SecretIamMemberArgs, opts ...pulumi.ResourceOption) (*SecretIamMember, error) {
	return newResource[SecretIamMember](ctx, secretIamMemberSpec, name, args, opts)
}

package awsres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Role is aws:iam/role:Role.
type Role struct {
	pulumi.CustomResourceState
	Arn  pulumi.StringOutput `pulumi:"arn"`
	Name pulumi.StringOutput `pulumi:"name"`
}

type RoleArgs struct {
	AssumeRolePolicy pulumi.Input
	Description      pulumi.StringPtrInput
	Name             pulumi.StringPtrInput
	Tags             pulumi.StringMapInput
}

type roleArgs struct {
	AssumeRolePolicy interface{}       `pulumi:"assumeRolePolicy"`
	Description      *string           `pulumi:"description"`
	Name             *string           `pulumi:"name"`
	Tags             map[string]string `pulumi:"tags"`
}

func (RoleArgs) ElementType() reflect.Type { return reflect.TypeFor[roleArgs]() }

var roleSpec = spec{
	Token:    "aws:iam/role:Role",
	Required: []string{"AssumeRolePolicy"},
}

func NewRole(ctx *pulumi.Context, name string, args *RoleArgs, opts ...pulumi.ResourceOption) (*Role, error) {
	return newResource[Role](ctx, roleSpec, name, args, opts)
}

// RolePolicy is aws:iam/rolePolicy:RolePolicy.
type RolePolicy struct {
	pulumi.CustomResourceState
}

type RolePolicyArgs struct {
	Name   pulumi.StringPtrInput
	Policy pulumi.Input
	Role   pulumi.Input
}

type rolePolicyArgs struct {
	Name   *string     `pulumi:"name"`
	Policy interface{} `pulumi:"policy"`
	Role   interface{} `pulumi:"role"`
}

func (RolePolicyArgs) ElementType() reflect.Type { return reflect.TypeFor[rolePolicyArgs]() }

var rolePolicySpec = spec{
	Token:    "aws:iam/rolePolicy:RolePolicy",
	Required: []string{"Policy", "Role"},
}

func NewRolePolicy(ctx *pulumi.Context, name string, args *RolePolicyArgs, opts ...pulumi.ResourceOption) (*RolePolicy, error) {
	return newResource[RolePolicy](ctx, rolePolicySpec, name, args, opts)
}

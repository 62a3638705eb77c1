package gcpres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ServiceIamMember is gcp:cloudrunv2/serviceIamMember:ServiceIamMember.
type ServiceIamMember struct {
	pulumi.CustomResourceState
}

type ServiceIamMemberArgs struct {
	Location pulumi.StringPtrInput
	Member   pulumi.StringInput
	Name     pulumi.StringPtrInput
	Project  pulumi.StringPtrInput
	Role     pulumi.StringInput
}

type serviceIamMemberArgs struct {
	Location *string `pulumi:"location"`
	Member   string  `pulumi:"member"`
	Name     *string `pulumi:"name"`
	Project  *string `pulumi:"project"`
	Role     string  `pulumi:"role"`
}

func (ServiceIamMemberArgs) ElementType() reflect.Type {
	return reflect.TypeFor[serviceIamMemberArgs]()
}

var serviceIamMemberSpec = spec{
	Token:    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
	Required: []string{"Member", "Role"},
}

func NewServiceIamMember(ctx *pulumi.Context, name string, args *ServiceIamMemberArgs, opts ...pulumi.ResourceOption) (*ServiceIamMember, error) {
	return newResource[ServiceIamMember](ctx, serviceIamMemberSpec, name, args, opts)
}

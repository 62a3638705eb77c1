package gcpres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ProjectIAMMember is gcp:projects/iAMMember:IAMMember, the provider's
// projects.IAMMember: renamed here (providercheck.Provider.Renamed) because
// serviceaccount.IAMMember has the same type names.
type ProjectIAMMember struct {
	pulumi.CustomResourceState
}

type ProjectIAMMemberArgs struct {
	Condition *ProjectIAMMemberConditionArgs
	Member    pulumi.StringInput
	Project   pulumi.StringInput
	Role      pulumi.StringInput
}

type projectIAMMemberArgs struct {
	Condition *ProjectIAMMemberCondition `pulumi:"condition"`
	Member    string                     `pulumi:"member"`
	Project   string                     `pulumi:"project"`
	Role      string                     `pulumi:"role"`
}

func (ProjectIAMMemberArgs) ElementType() reflect.Type {
	return reflect.TypeFor[projectIAMMemberArgs]()
}

type ProjectIAMMemberConditionArgs struct {
	Expression pulumi.StringInput
	Title      pulumi.StringInput
}

type ProjectIAMMemberCondition struct {
	Expression string `pulumi:"expression"`
	Title      string `pulumi:"title"`
}

func (ProjectIAMMemberConditionArgs) ElementType() reflect.Type {
	return reflect.TypeFor[ProjectIAMMemberCondition]()
}

var projectIAMMemberSpec = spec{
	Token:    "gcp:projects/iAMMember:IAMMember",
	Required: []string{"Member", "Project", "Role"},
}

func NewProjectIAMMember(ctx *pulumi.Context, name string, args *ProjectIAMMemberArgs, opts ...pulumi.ResourceOption) (*ProjectIAMMember, error) {
	return newResource[ProjectIAMMember](ctx, projectIAMMemberSpec, name, args, opts)
}

// Account is gcp:serviceaccount/account:Account, a service account.
type Account struct {
	pulumi.CustomResourceState
	Email pulumi.StringOutput `pulumi:"email"`
	Name  pulumi.StringOutput `pulumi:"name"`
}

type AccountArgs struct {
	AccountId   pulumi.StringPtrInput
	Description pulumi.StringPtrInput
	DisplayName pulumi.StringPtrInput
	Project     pulumi.StringPtrInput
}

type accountArgs struct {
	AccountId   *string `pulumi:"accountId"`
	Description *string `pulumi:"description"`
	DisplayName *string `pulumi:"displayName"`
	Project     *string `pulumi:"project"`
}

func (AccountArgs) ElementType() reflect.Type { return reflect.TypeFor[accountArgs]() }

var accountSpec = spec{
	Token:   "gcp:serviceaccount/account:Account",
	Aliases: []string{"gcp:serviceAccount/account:Account"},
}

func NewAccount(ctx *pulumi.Context, name string, args *AccountArgs, opts ...pulumi.ResourceOption) (*Account, error) {
	return newResource[Account](ctx, accountSpec, name, args, opts)
}

// ServiceAccountIAMMember is gcp:serviceaccount/iAMMember:IAMMember, the
// provider's serviceaccount.IAMMember (renamed: see ProjectIAMMember).
type ServiceAccountIAMMember struct {
	pulumi.CustomResourceState
}

type ServiceAccountIAMMemberArgs struct {
	Member           pulumi.StringInput
	Role             pulumi.StringInput
	ServiceAccountId pulumi.StringInput
}

type serviceAccountIAMMemberArgs struct {
	Member           string `pulumi:"member"`
	Role             string `pulumi:"role"`
	ServiceAccountId string `pulumi:"serviceAccountId"`
}

func (ServiceAccountIAMMemberArgs) ElementType() reflect.Type {
	return reflect.TypeFor[serviceAccountIAMMemberArgs]()
}

var serviceAccountIAMMemberSpec = spec{
	Token:    "gcp:serviceaccount/iAMMember:IAMMember",
	Aliases:  []string{"gcp:serviceAccount/iAMMember:IAMMember"},
	Required: []string{"Member", "Role", "ServiceAccountId"},
}

func NewServiceAccountIAMMember(ctx *pulumi.Context, name string, args *ServiceAccountIAMMemberArgs, opts ...pulumi.ResourceOption) (*ServiceAccountIAMMember, error) {
	return newResource[ServiceAccountIAMMember](ctx, serviceAccountIAMMemberSpec, name, args, opts)
}

// WorkloadIdentityPool is gcp:iam/workloadIdentityPool:WorkloadIdentityPool.
type WorkloadIdentityPool struct {
	pulumi.CustomResourceState
	Name                   pulumi.StringOutput `pulumi:"name"`
	WorkloadIdentityPoolId pulumi.StringOutput `pulumi:"workloadIdentityPoolId"`
}

type WorkloadIdentityPoolArgs struct {
	DisplayName            pulumi.StringPtrInput
	Project                pulumi.StringPtrInput
	WorkloadIdentityPoolId pulumi.StringInput
}

type workloadIdentityPoolArgs struct {
	DisplayName            *string `pulumi:"displayName"`
	Project                *string `pulumi:"project"`
	WorkloadIdentityPoolId string  `pulumi:"workloadIdentityPoolId"`
}

func (WorkloadIdentityPoolArgs) ElementType() reflect.Type {
	return reflect.TypeFor[workloadIdentityPoolArgs]()
}

var workloadIdentityPoolSpec = spec{
	Token:    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool",
	Required: []string{"WorkloadIdentityPoolId"},
}

func NewWorkloadIdentityPool(ctx *pulumi.Context, name string, args *WorkloadIdentityPoolArgs, opts ...pulumi.ResourceOption) (*WorkloadIdentityPool, error) {
	return newResource[WorkloadIdentityPool](ctx, workloadIdentityPoolSpec, name, args, opts)
}

// WorkloadIdentityPoolProvider is
// gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider.
type WorkloadIdentityPoolProvider struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type WorkloadIdentityPoolProviderArgs struct {
	AttributeCondition             pulumi.StringPtrInput
	AttributeMapping               pulumi.StringMapInput
	Aws                            *WorkloadIdentityPoolProviderAwsArgs
	Project                        pulumi.StringPtrInput
	WorkloadIdentityPoolId         pulumi.StringInput
	WorkloadIdentityPoolProviderId pulumi.StringInput
}

type workloadIdentityPoolProviderArgs struct {
	AttributeCondition             *string                          `pulumi:"attributeCondition"`
	AttributeMapping               map[string]string                `pulumi:"attributeMapping"`
	Aws                            *WorkloadIdentityPoolProviderAws `pulumi:"aws"`
	Project                        *string                          `pulumi:"project"`
	WorkloadIdentityPoolId         string                           `pulumi:"workloadIdentityPoolId"`
	WorkloadIdentityPoolProviderId string                           `pulumi:"workloadIdentityPoolProviderId"`
}

func (WorkloadIdentityPoolProviderArgs) ElementType() reflect.Type {
	return reflect.TypeFor[workloadIdentityPoolProviderArgs]()
}

type WorkloadIdentityPoolProviderAwsArgs struct {
	AccountId pulumi.StringInput
}

type WorkloadIdentityPoolProviderAws struct {
	AccountId string `pulumi:"accountId"`
}

func (WorkloadIdentityPoolProviderAwsArgs) ElementType() reflect.Type {
	return reflect.TypeFor[WorkloadIdentityPoolProviderAws]()
}

var workloadIdentityPoolProviderSpec = spec{
	Token:    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
	Required: []string{"WorkloadIdentityPoolId", "WorkloadIdentityPoolProviderId"},
}

func NewWorkloadIdentityPoolProvider(ctx *pulumi.Context, name string, args *WorkloadIdentityPoolProviderArgs, opts ...pulumi.ResourceOption) (*WorkloadIdentityPoolProvider, error) {
	return newResource[WorkloadIdentityPoolProvider](ctx, workloadIdentityPoolProviderSpec, name, args, opts)
}

package awsres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Queue is aws:sqs/queue:Queue.
type Queue struct {
	pulumi.CustomResourceState
	Arn  pulumi.StringOutput `pulumi:"arn"`
	Name pulumi.StringOutput `pulumi:"name"`
	Url  pulumi.StringOutput `pulumi:"url"`
}

type QueueArgs struct {
	MessageRetentionSeconds  pulumi.IntPtrInput
	Name                     pulumi.StringPtrInput
	ReceiveWaitTimeSeconds   pulumi.IntPtrInput
	RedrivePolicy            pulumi.StringPtrInput
	SqsManagedSseEnabled     pulumi.BoolPtrInput
	Tags                     pulumi.StringMapInput
	VisibilityTimeoutSeconds pulumi.IntPtrInput
}

type queueArgs struct {
	MessageRetentionSeconds  *int              `pulumi:"messageRetentionSeconds"`
	Name                     *string           `pulumi:"name"`
	ReceiveWaitTimeSeconds   *int              `pulumi:"receiveWaitTimeSeconds"`
	RedrivePolicy            *string           `pulumi:"redrivePolicy"`
	SqsManagedSseEnabled     *bool             `pulumi:"sqsManagedSseEnabled"`
	Tags                     map[string]string `pulumi:"tags"`
	VisibilityTimeoutSeconds *int              `pulumi:"visibilityTimeoutSeconds"`
}

func (QueueArgs) ElementType() reflect.Type { return reflect.TypeFor[queueArgs]() }

var queueSpec = spec{
	Token: "aws:sqs/queue:Queue",
}

func NewQueue(ctx *pulumi.Context, name string, args *QueueArgs, opts ...pulumi.ResourceOption) (*Queue, error) {
	return newResource[Queue](ctx, queueSpec, name, args, opts)
}

// RedriveAllowPolicy is aws:sqs/redriveAllowPolicy:RedriveAllowPolicy.
type RedriveAllowPolicy struct {
	pulumi.CustomResourceState
}

type RedriveAllowPolicyArgs struct {
	QueueUrl           pulumi.StringInput
	RedriveAllowPolicy pulumi.StringInput
}

type redriveAllowPolicyArgs struct {
	QueueUrl           string `pulumi:"queueUrl"`
	RedriveAllowPolicy string `pulumi:"redriveAllowPolicy"`
}

func (RedriveAllowPolicyArgs) ElementType() reflect.Type {
	return reflect.TypeFor[redriveAllowPolicyArgs]()
}

var redriveAllowPolicySpec = spec{
	Token:    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
	Required: []string{"QueueUrl", "RedriveAllowPolicy"},
}

func NewRedriveAllowPolicy(ctx *pulumi.Context, name string, args *RedriveAllowPolicyArgs, opts ...pulumi.ResourceOption) (*RedriveAllowPolicy, error) {
	return newResource[RedriveAllowPolicy](ctx, redriveAllowPolicySpec, name, args, opts)
}

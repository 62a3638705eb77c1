package awsres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Topic is aws:sns/topic:Topic.
type Topic struct {
	pulumi.CustomResourceState
	Arn pulumi.StringOutput `pulumi:"arn"`
}

type TopicArgs struct {
	Name pulumi.StringPtrInput
	Tags pulumi.StringMapInput
}

type topicArgs struct {
	Name *string           `pulumi:"name"`
	Tags map[string]string `pulumi:"tags"`
}

func (TopicArgs) ElementType() reflect.Type { return reflect.TypeFor[topicArgs]() }

var topicSpec = spec{
	Token: "aws:sns/topic:Topic",
}

func NewTopic(ctx *pulumi.Context, name string, args *TopicArgs, opts ...pulumi.ResourceOption) (*Topic, error) {
	return newResource[Topic](ctx, topicSpec, name, args, opts)
}

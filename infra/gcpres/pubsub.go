package gcpres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Topic is gcp:pubsub/topic:Topic.
type Topic struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type TopicArgs struct {
	Labels  pulumi.StringMapInput
	Name    pulumi.StringPtrInput
	Project pulumi.StringPtrInput
}

type topicArgs struct {
	Labels  map[string]string `pulumi:"labels"`
	Name    *string           `pulumi:"name"`
	Project *string           `pulumi:"project"`
}

func (TopicArgs) ElementType() reflect.Type { return reflect.TypeFor[topicArgs]() }

var topicSpec = spec{
	Token:   "gcp:pubsub/topic:Topic",
	Secrets: []string{"effectiveLabels", "pulumiLabels"},
}

func NewTopic(ctx *pulumi.Context, name string, args *TopicArgs, opts ...pulumi.ResourceOption) (*Topic, error) {
	return newResource[Topic](ctx, topicSpec, name, args, opts)
}

// Subscription is gcp:pubsub/subscription:Subscription.
type Subscription struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type SubscriptionArgs struct {
	AckDeadlineSeconds       pulumi.IntPtrInput
	BigqueryConfig           *SubscriptionBigqueryConfigArgs
	DeadLetterPolicy         *SubscriptionDeadLetterPolicyArgs
	ExpirationPolicy         *SubscriptionExpirationPolicyArgs
	Labels                   pulumi.StringMapInput
	MessageRetentionDuration pulumi.StringPtrInput
	Name                     pulumi.StringPtrInput
	Project                  pulumi.StringPtrInput
	PushConfig               *SubscriptionPushConfigArgs
	RetryPolicy              *SubscriptionRetryPolicyArgs
	Topic                    pulumi.StringInput
}

type subscriptionArgs struct {
	AckDeadlineSeconds       *int                          `pulumi:"ackDeadlineSeconds"`
	BigqueryConfig           *SubscriptionBigqueryConfig   `pulumi:"bigqueryConfig"`
	DeadLetterPolicy         *SubscriptionDeadLetterPolicy `pulumi:"deadLetterPolicy"`
	ExpirationPolicy         *SubscriptionExpirationPolicy `pulumi:"expirationPolicy"`
	Labels                   map[string]string             `pulumi:"labels"`
	MessageRetentionDuration *string                       `pulumi:"messageRetentionDuration"`
	Name                     *string                       `pulumi:"name"`
	Project                  *string                       `pulumi:"project"`
	PushConfig               *SubscriptionPushConfig       `pulumi:"pushConfig"`
	RetryPolicy              *SubscriptionRetryPolicy      `pulumi:"retryPolicy"`
	Topic                    string                        `pulumi:"topic"`
}

func (SubscriptionArgs) ElementType() reflect.Type { return reflect.TypeFor[subscriptionArgs]() }

type SubscriptionBigqueryConfigArgs struct {
	DropUnknownFields pulumi.BoolPtrInput
	Table             pulumi.StringInput
	UseTableSchema    pulumi.BoolPtrInput
	WriteMetadata     pulumi.BoolPtrInput
}

type SubscriptionBigqueryConfig struct {
	DropUnknownFields *bool  `pulumi:"dropUnknownFields"`
	Table             string `pulumi:"table"`
	UseTableSchema    *bool  `pulumi:"useTableSchema"`
	WriteMetadata     *bool  `pulumi:"writeMetadata"`
}

func (SubscriptionBigqueryConfigArgs) ElementType() reflect.Type {
	return reflect.TypeFor[SubscriptionBigqueryConfig]()
}

type SubscriptionDeadLetterPolicyArgs struct {
	DeadLetterTopic     pulumi.StringPtrInput
	MaxDeliveryAttempts pulumi.IntPtrInput
}

type SubscriptionDeadLetterPolicy struct {
	DeadLetterTopic     *string `pulumi:"deadLetterTopic"`
	MaxDeliveryAttempts *int    `pulumi:"maxDeliveryAttempts"`
}

func (SubscriptionDeadLetterPolicyArgs) ElementType() reflect.Type {
	return reflect.TypeFor[SubscriptionDeadLetterPolicy]()
}

type SubscriptionExpirationPolicyArgs struct {
	Ttl pulumi.StringInput
}

type SubscriptionExpirationPolicy struct {
	Ttl string `pulumi:"ttl"`
}

func (SubscriptionExpirationPolicyArgs) ElementType() reflect.Type {
	return reflect.TypeFor[SubscriptionExpirationPolicy]()
}

type SubscriptionPushConfigArgs struct {
	OidcToken    *SubscriptionPushConfigOidcTokenArgs
	PushEndpoint pulumi.StringInput
}

type SubscriptionPushConfig struct {
	OidcToken    *SubscriptionPushConfigOidcToken `pulumi:"oidcToken"`
	PushEndpoint string                           `pulumi:"pushEndpoint"`
}

func (SubscriptionPushConfigArgs) ElementType() reflect.Type {
	return reflect.TypeFor[SubscriptionPushConfig]()
}

type SubscriptionPushConfigOidcTokenArgs struct {
	Audience            pulumi.StringPtrInput
	ServiceAccountEmail pulumi.StringInput
}

type SubscriptionPushConfigOidcToken struct {
	Audience            *string `pulumi:"audience"`
	ServiceAccountEmail string  `pulumi:"serviceAccountEmail"`
}

func (SubscriptionPushConfigOidcTokenArgs) ElementType() reflect.Type {
	return reflect.TypeFor[SubscriptionPushConfigOidcToken]()
}

type SubscriptionRetryPolicyArgs struct {
	MaximumBackoff pulumi.StringPtrInput
	MinimumBackoff pulumi.StringPtrInput
}

type SubscriptionRetryPolicy struct {
	MaximumBackoff *string `pulumi:"maximumBackoff"`
	MinimumBackoff *string `pulumi:"minimumBackoff"`
}

func (SubscriptionRetryPolicyArgs) ElementType() reflect.Type {
	return reflect.TypeFor[SubscriptionRetryPolicy]()
}

var subscriptionSpec = spec{
	Token:    "gcp:pubsub/subscription:Subscription",
	Secrets:  []string{"effectiveLabels", "pulumiLabels"},
	Required: []string{"Topic"},
}

func NewSubscription(ctx *pulumi.Context, name string, args *SubscriptionArgs, opts ...pulumi.ResourceOption) (*Subscription, error) {
	return newResource[Subscription](ctx, subscriptionSpec, name, args, opts)
}

// TopicIAMMember is gcp:pubsub/topicIAMMember:TopicIAMMember.
type TopicIAMMember struct {
	pulumi.CustomResourceState
}

type TopicIAMMemberArgs struct {
	Member  pulumi.StringInput
	Project pulumi.StringPtrInput
	Role    pulumi.StringInput
	Topic   pulumi.StringInput
}

type topicIAMMemberArgs struct {
	Member  string  `pulumi:"member"`
	Project *string `pulumi:"project"`
	Role    string  `pulumi:"role"`
	Topic   string  `pulumi:"topic"`
}

func (TopicIAMMemberArgs) ElementType() reflect.Type { return reflect.TypeFor[topicIAMMemberArgs]() }

var topicIAMMemberSpec = spec{
	Token:    "gcp:pubsub/topicIAMMember:TopicIAMMember",
	Required: []string{"Member", "Role", "Topic"},
}

func NewTopicIAMMember(ctx *pulumi.Context, name string, args *TopicIAMMemberArgs, opts ...pulumi.ResourceOption) (*TopicIAMMember, error) {
	return newResource[TopicIAMMember](ctx, topicIAMMemberSpec, name, args, opts)
}

// SubscriptionIAMMember is
// gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember.
type SubscriptionIAMMember struct {
	pulumi.CustomResourceState
}

type SubscriptionIAMMemberArgs struct {
	Member       pulumi.StringInput
	Project      pulumi.StringPtrInput
	Role         pulumi.StringInput
	Subscription pulumi.StringInput
}

type subscriptionIAMMemberArgs struct {
	Member       string  `pulumi:"member"`
	Project      *string `pulumi:"project"`
	Role         string  `pulumi:"role"`
	Subscription string  `pulumi:"subscription"`
}

func (SubscriptionIAMMemberArgs) ElementType() reflect.Type {
	return reflect.TypeFor[subscriptionIAMMemberArgs]()
}

var subscriptionIAMMemberSpec = spec{
	Token:    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
	Required: []string{"Member", "Role", "Subscription"},
}

func NewSubscriptionIAMMember(ctx *pulumi.Context, name string, args *SubscriptionIAMMemberArgs, opts ...pulumi.ResourceOption) (*SubscriptionIAMMember, error) {
	return newResource[SubscriptionIAMMember](ctx, subscriptionIAMMemberSpec, name, args, opts)
}

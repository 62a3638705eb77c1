package awsres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// FirehoseDeliveryStream is aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream.
type FirehoseDeliveryStream struct {
	pulumi.CustomResourceState
	Arn  pulumi.StringOutput `pulumi:"arn"`
	Name pulumi.StringOutput `pulumi:"name"`
}

type FirehoseDeliveryStreamArgs struct {
	Destination             pulumi.StringInput
	ExtendedS3Configuration *FirehoseDeliveryStreamExtendedS3ConfigurationArgs
	Name                    pulumi.StringPtrInput
	Tags                    pulumi.StringMapInput
}

type firehoseDeliveryStreamArgs struct {
	Destination             string                                         `pulumi:"destination"`
	ExtendedS3Configuration *FirehoseDeliveryStreamExtendedS3Configuration `pulumi:"extendedS3Configuration"`
	Name                    *string                                        `pulumi:"name"`
	Tags                    map[string]string                              `pulumi:"tags"`
}

func (FirehoseDeliveryStreamArgs) ElementType() reflect.Type {
	return reflect.TypeFor[firehoseDeliveryStreamArgs]()
}

type FirehoseDeliveryStreamExtendedS3ConfigurationArgs struct {
	BucketArn         pulumi.StringInput
	BufferingInterval pulumi.IntPtrInput
	BufferingSize     pulumi.IntPtrInput
	CompressionFormat pulumi.StringPtrInput
	ErrorOutputPrefix pulumi.StringPtrInput
	Prefix            pulumi.StringPtrInput
	RoleArn           pulumi.StringInput
}

type FirehoseDeliveryStreamExtendedS3Configuration struct {
	BucketArn         string  `pulumi:"bucketArn"`
	BufferingInterval *int    `pulumi:"bufferingInterval"`
	BufferingSize     *int    `pulumi:"bufferingSize"`
	CompressionFormat *string `pulumi:"compressionFormat"`
	ErrorOutputPrefix *string `pulumi:"errorOutputPrefix"`
	Prefix            *string `pulumi:"prefix"`
	RoleArn           string  `pulumi:"roleArn"`
}

func (FirehoseDeliveryStreamExtendedS3ConfigurationArgs) ElementType() reflect.Type {
	return reflect.TypeFor[FirehoseDeliveryStreamExtendedS3Configuration]()
}

var firehoseDeliveryStreamSpec = spec{
	Token:    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
	Required: []string{"Destination"},
}

func NewFirehoseDeliveryStream(ctx *pulumi.Context, name string, args *FirehoseDeliveryStreamArgs, opts ...pulumi.ResourceOption) (*FirehoseDeliveryStream, error) {
	return newResource[FirehoseDeliveryStream](ctx, firehoseDeliveryStreamSpec, name, args, opts)
}

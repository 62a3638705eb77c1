package gcpres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Bucket is gcp:storage/bucket:Bucket.
type Bucket struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type BucketArgs struct {
	Cors                     []BucketCorArgs
	Labels                   pulumi.StringMapInput
	Location                 pulumi.StringInput
	Project                  pulumi.StringPtrInput
	PublicAccessPrevention   pulumi.StringPtrInput
	UniformBucketLevelAccess pulumi.BoolPtrInput
}

type bucketArgs struct {
	Cors                     []BucketCor       `pulumi:"cors"`
	Labels                   map[string]string `pulumi:"labels"`
	Location                 string            `pulumi:"location"`
	Project                  *string           `pulumi:"project"`
	PublicAccessPrevention   *string           `pulumi:"publicAccessPrevention"`
	UniformBucketLevelAccess *bool             `pulumi:"uniformBucketLevelAccess"`
}

func (BucketArgs) ElementType() reflect.Type { return reflect.TypeFor[bucketArgs]() }

type BucketCorArgs struct {
	MaxAgeSeconds   pulumi.IntPtrInput
	Methods         pulumi.StringArrayInput
	Origins         pulumi.StringArrayInput
	ResponseHeaders pulumi.StringArrayInput
}

type BucketCor struct {
	MaxAgeSeconds   *int     `pulumi:"maxAgeSeconds"`
	Methods         []string `pulumi:"methods"`
	Origins         []string `pulumi:"origins"`
	ResponseHeaders []string `pulumi:"responseHeaders"`
}

func (BucketCorArgs) ElementType() reflect.Type { return reflect.TypeFor[BucketCor]() }

var bucketSpec = spec{
	Token:    "gcp:storage/bucket:Bucket",
	Secrets:  []string{"effectiveLabels", "pulumiLabels"},
	Required: []string{"Location"},
}

func NewBucket(ctx *pulumi.Context, name string, args *BucketArgs, opts ...pulumi.ResourceOption) (*Bucket, error) {
	return newResource[Bucket](ctx, bucketSpec, name, args, opts)
}

// BucketObject is gcp:storage/bucketObject:BucketObject.
type BucketObject struct {
	pulumi.CustomResourceState
	Generation pulumi.IntOutput    `pulumi:"generation"`
	Name       pulumi.StringOutput `pulumi:"name"`
}

type BucketObjectArgs struct {
	Bucket pulumi.StringInput
	Name   pulumi.StringPtrInput
	Source pulumi.AssetOrArchiveInput
}

type bucketObjectArgs struct {
	Bucket string                `pulumi:"bucket"`
	Name   *string               `pulumi:"name"`
	Source pulumi.AssetOrArchive `pulumi:"source"`
}

func (BucketObjectArgs) ElementType() reflect.Type { return reflect.TypeFor[bucketObjectArgs]() }

var bucketObjectSpec = spec{
	Token:    "gcp:storage/bucketObject:BucketObject",
	Secrets:  []string{"content", "customerEncryption"},
	Required: []string{"Bucket"},
	// Neither is declared here, so neither can be set.
	ToSecret: []string{"Content", "CustomerEncryption"},
}

func NewBucketObject(ctx *pulumi.Context, name string, args *BucketObjectArgs, opts ...pulumi.ResourceOption) (*BucketObject, error) {
	return newResource[BucketObject](ctx, bucketObjectSpec, name, args, opts)
}

// BucketIAMMember is gcp:storage/bucketIAMMember:BucketIAMMember.
type BucketIAMMember struct {
	pulumi.CustomResourceState
}

type BucketIAMMemberArgs struct {
	Bucket pulumi.StringInput
	Member pulumi.StringInput
	Role   pulumi.StringInput
}

type bucketIAMMemberArgs struct {
	Bucket string `pulumi:"bucket"`
	Member string `pulumi:"member"`
	Role   string `pulumi:"role"`
}

func (BucketIAMMemberArgs) ElementType() reflect.Type { return reflect.TypeFor[bucketIAMMemberArgs]() }

var bucketIAMMemberSpec = spec{
	Token:    "gcp:storage/bucketIAMMember:BucketIAMMember",
	Required: []string{"Bucket", "Member", "Role"},
}

func NewBucketIAMMember(ctx *pulumi.Context, name string, args *BucketIAMMemberArgs, opts ...pulumi.ResourceOption) (*BucketIAMMember, error) {
	return newResource[BucketIAMMember](ctx, bucketIAMMemberSpec, name, args, opts)
}

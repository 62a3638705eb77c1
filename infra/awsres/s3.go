package awsres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// BucketV2 is aws:s3/bucketV2:BucketV2.
type BucketV2 struct {
	pulumi.CustomResourceState
	Arn                      pulumi.StringOutput `pulumi:"arn"`
	Bucket                   pulumi.StringOutput `pulumi:"bucket"`
	BucketRegionalDomainName pulumi.StringOutput `pulumi:"bucketRegionalDomainName"`
}

type BucketV2Args struct {
	BucketPrefix pulumi.StringPtrInput
	Tags         pulumi.StringMapInput
}

type bucketV2Args struct {
	BucketPrefix *string           `pulumi:"bucketPrefix"`
	Tags         map[string]string `pulumi:"tags"`
}

func (BucketV2Args) ElementType() reflect.Type { return reflect.TypeFor[bucketV2Args]() }

var bucketV2Spec = spec{
	Token:   "aws:s3/bucketV2:BucketV2",
	Aliases: []string{"aws:s3/bucket:Bucket"},
}

func NewBucketV2(ctx *pulumi.Context, name string, args *BucketV2Args, opts ...pulumi.ResourceOption) (*BucketV2, error) {
	return newResource[BucketV2](ctx, bucketV2Spec, name, args, opts)
}

// BucketPublicAccessBlock is aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock.
type BucketPublicAccessBlock struct {
	pulumi.CustomResourceState
}

type BucketPublicAccessBlockArgs struct {
	BlockPublicAcls       pulumi.BoolPtrInput
	BlockPublicPolicy     pulumi.BoolPtrInput
	Bucket                pulumi.StringInput
	IgnorePublicAcls      pulumi.BoolPtrInput
	RestrictPublicBuckets pulumi.BoolPtrInput
}

type bucketPublicAccessBlockArgs struct {
	BlockPublicAcls       *bool  `pulumi:"blockPublicAcls"`
	BlockPublicPolicy     *bool  `pulumi:"blockPublicPolicy"`
	Bucket                string `pulumi:"bucket"`
	IgnorePublicAcls      *bool  `pulumi:"ignorePublicAcls"`
	RestrictPublicBuckets *bool  `pulumi:"restrictPublicBuckets"`
}

func (BucketPublicAccessBlockArgs) ElementType() reflect.Type {
	return reflect.TypeFor[bucketPublicAccessBlockArgs]()
}

var bucketPublicAccessBlockSpec = spec{
	Token:    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
	Required: []string{"Bucket"},
}

func NewBucketPublicAccessBlock(ctx *pulumi.Context, name string, args *BucketPublicAccessBlockArgs, opts ...pulumi.ResourceOption) (*BucketPublicAccessBlock, error) {
	return newResource[BucketPublicAccessBlock](ctx, bucketPublicAccessBlockSpec, name, args, opts)
}

// BucketOwnershipControls is aws:s3/bucketOwnershipControls:BucketOwnershipControls.
type BucketOwnershipControls struct {
	pulumi.CustomResourceState
}

type BucketOwnershipControlsArgs struct {
	Bucket pulumi.StringInput
	Rule   *BucketOwnershipControlsRuleArgs
}

type bucketOwnershipControlsArgs struct {
	Bucket string                      `pulumi:"bucket"`
	Rule   BucketOwnershipControlsRule `pulumi:"rule"`
}

func (BucketOwnershipControlsArgs) ElementType() reflect.Type {
	return reflect.TypeFor[bucketOwnershipControlsArgs]()
}

type BucketOwnershipControlsRuleArgs struct {
	ObjectOwnership pulumi.StringInput
}

type BucketOwnershipControlsRule struct {
	ObjectOwnership string `pulumi:"objectOwnership"`
}

func (BucketOwnershipControlsRuleArgs) ElementType() reflect.Type {
	return reflect.TypeFor[BucketOwnershipControlsRule]()
}

var bucketOwnershipControlsSpec = spec{
	Token:    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
	Required: []string{"Bucket", "Rule"},
}

func NewBucketOwnershipControls(ctx *pulumi.Context, name string, args *BucketOwnershipControlsArgs, opts ...pulumi.ResourceOption) (*BucketOwnershipControls, error) {
	return newResource[BucketOwnershipControls](ctx, bucketOwnershipControlsSpec, name, args, opts)
}

// BucketServerSideEncryptionConfigurationV2 is aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2.
type BucketServerSideEncryptionConfigurationV2 struct {
	pulumi.CustomResourceState
}

type BucketServerSideEncryptionConfigurationV2Args struct {
	Bucket pulumi.StringInput
	Rules  []BucketServerSideEncryptionConfigurationV2RuleArgs
}

type bucketServerSideEncryptionConfigurationV2Args struct {
	Bucket string                                          `pulumi:"bucket"`
	Rules  []BucketServerSideEncryptionConfigurationV2Rule `pulumi:"rules"`
}

func (BucketServerSideEncryptionConfigurationV2Args) ElementType() reflect.Type {
	return reflect.TypeFor[bucketServerSideEncryptionConfigurationV2Args]()
}

type BucketServerSideEncryptionConfigurationV2RuleArgs struct {
	ApplyServerSideEncryptionByDefault *BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs
}

type BucketServerSideEncryptionConfigurationV2Rule struct {
	ApplyServerSideEncryptionByDefault *BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefault `pulumi:"applyServerSideEncryptionByDefault"`
}

func (BucketServerSideEncryptionConfigurationV2RuleArgs) ElementType() reflect.Type {
	return reflect.TypeFor[BucketServerSideEncryptionConfigurationV2Rule]()
}

type BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs struct {
	SseAlgorithm pulumi.StringInput
}

type BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefault struct {
	SseAlgorithm string `pulumi:"sseAlgorithm"`
}

func (BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs) ElementType() reflect.Type {
	return reflect.TypeFor[BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefault]()
}

var bucketServerSideEncryptionConfigurationV2Spec = spec{
	Token:    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
	Required: []string{"Bucket", "Rules"},
}

func NewBucketServerSideEncryptionConfigurationV2(ctx *pulumi.Context, name string, args *BucketServerSideEncryptionConfigurationV2Args, opts ...pulumi.ResourceOption) (*BucketServerSideEncryptionConfigurationV2, error) {
	return newResource[BucketServerSideEncryptionConfigurationV2](ctx, bucketServerSideEncryptionConfigurationV2Spec, name, args, opts)
}

// BucketPolicy is aws:s3/bucketPolicy:BucketPolicy.
type BucketPolicy struct {
	pulumi.CustomResourceState
}

type BucketPolicyArgs struct {
	Bucket pulumi.StringInput
	Policy pulumi.Input
}

type bucketPolicyArgs struct {
	Bucket string      `pulumi:"bucket"`
	Policy interface{} `pulumi:"policy"`
}

func (BucketPolicyArgs) ElementType() reflect.Type { return reflect.TypeFor[bucketPolicyArgs]() }

var bucketPolicySpec = spec{
	Token:    "aws:s3/bucketPolicy:BucketPolicy",
	Required: []string{"Bucket", "Policy"},
}

func NewBucketPolicy(ctx *pulumi.Context, name string, args *BucketPolicyArgs, opts ...pulumi.ResourceOption) (*BucketPolicy, error) {
	return newResource[BucketPolicy](ctx, bucketPolicySpec, name, args, opts)
}

// BucketCorsConfigurationV2 is aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2.
type BucketCorsConfigurationV2 struct {
	pulumi.CustomResourceState
}

type BucketCorsConfigurationV2Args struct {
	Bucket    pulumi.StringInput
	CorsRules []BucketCorsConfigurationV2CorsRuleArgs
}

type bucketCorsConfigurationV2Args struct {
	Bucket    string                              `pulumi:"bucket"`
	CorsRules []BucketCorsConfigurationV2CorsRule `pulumi:"corsRules"`
}

func (BucketCorsConfigurationV2Args) ElementType() reflect.Type {
	return reflect.TypeFor[bucketCorsConfigurationV2Args]()
}

type BucketCorsConfigurationV2CorsRuleArgs struct {
	AllowedHeaders pulumi.StringArrayInput
	AllowedMethods pulumi.StringArrayInput
	AllowedOrigins pulumi.StringArrayInput
	ExposeHeaders  pulumi.StringArrayInput
	MaxAgeSeconds  pulumi.IntPtrInput
}

type BucketCorsConfigurationV2CorsRule struct {
	AllowedHeaders []string `pulumi:"allowedHeaders"`
	AllowedMethods []string `pulumi:"allowedMethods"`
	AllowedOrigins []string `pulumi:"allowedOrigins"`
	ExposeHeaders  []string `pulumi:"exposeHeaders"`
	MaxAgeSeconds  *int     `pulumi:"maxAgeSeconds"`
}

func (BucketCorsConfigurationV2CorsRuleArgs) ElementType() reflect.Type {
	return reflect.TypeFor[BucketCorsConfigurationV2CorsRule]()
}

var bucketCorsConfigurationV2Spec = spec{
	Token:    "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2",
	Required: []string{"Bucket", "CorsRules"},
}

func NewBucketCorsConfigurationV2(ctx *pulumi.Context, name string, args *BucketCorsConfigurationV2Args, opts ...pulumi.ResourceOption) (*BucketCorsConfigurationV2, error) {
	return newResource[BucketCorsConfigurationV2](ctx, bucketCorsConfigurationV2Spec, name, args, opts)
}

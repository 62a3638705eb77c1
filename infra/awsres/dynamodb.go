package awsres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Table is aws:dynamodb/table:Table.
type Table struct {
	pulumi.CustomResourceState
	Arn  pulumi.StringOutput `pulumi:"arn"`
	Name pulumi.StringOutput `pulumi:"name"`
}

type TableArgs struct {
	Attributes                []TableAttributeArgs
	BillingMode               pulumi.StringPtrInput
	DeletionProtectionEnabled pulumi.BoolPtrInput
	GlobalSecondaryIndexes    []TableGlobalSecondaryIndexArgs
	HashKey                   pulumi.StringPtrInput
	Name                      pulumi.StringPtrInput
	PointInTimeRecovery       *TablePointInTimeRecoveryArgs
	RangeKey                  pulumi.StringPtrInput
	ServerSideEncryption      *TableServerSideEncryptionArgs
	Tags                      pulumi.StringMapInput
	Ttl                       *TableTtlArgs
}

type tableArgs struct {
	Attributes                []TableAttribute            `pulumi:"attributes"`
	BillingMode               *string                     `pulumi:"billingMode"`
	DeletionProtectionEnabled *bool                       `pulumi:"deletionProtectionEnabled"`
	GlobalSecondaryIndexes    []TableGlobalSecondaryIndex `pulumi:"globalSecondaryIndexes"`
	HashKey                   *string                     `pulumi:"hashKey"`
	Name                      *string                     `pulumi:"name"`
	PointInTimeRecovery       *TablePointInTimeRecovery   `pulumi:"pointInTimeRecovery"`
	RangeKey                  *string                     `pulumi:"rangeKey"`
	ServerSideEncryption      *TableServerSideEncryption  `pulumi:"serverSideEncryption"`
	Tags                      map[string]string           `pulumi:"tags"`
	Ttl                       *TableTtl                   `pulumi:"ttl"`
}

func (TableArgs) ElementType() reflect.Type { return reflect.TypeFor[tableArgs]() }

type TableAttributeArgs struct {
	Name pulumi.StringInput
	Type pulumi.StringInput
}

type TableAttribute struct {
	Name string `pulumi:"name"`
	Type string `pulumi:"type"`
}

func (TableAttributeArgs) ElementType() reflect.Type { return reflect.TypeFor[TableAttribute]() }

type TableGlobalSecondaryIndexArgs struct {
	HashKey        pulumi.StringInput
	Name           pulumi.StringInput
	ProjectionType pulumi.StringInput
	RangeKey       pulumi.StringPtrInput
}

type TableGlobalSecondaryIndex struct {
	HashKey        string  `pulumi:"hashKey"`
	Name           string  `pulumi:"name"`
	ProjectionType string  `pulumi:"projectionType"`
	RangeKey       *string `pulumi:"rangeKey"`
}

func (TableGlobalSecondaryIndexArgs) ElementType() reflect.Type {
	return reflect.TypeFor[TableGlobalSecondaryIndex]()
}

type TablePointInTimeRecoveryArgs struct {
	Enabled pulumi.BoolInput
}

type TablePointInTimeRecovery struct {
	Enabled bool `pulumi:"enabled"`
}

func (TablePointInTimeRecoveryArgs) ElementType() reflect.Type {
	return reflect.TypeFor[TablePointInTimeRecovery]()
}

type TableServerSideEncryptionArgs struct {
	Enabled pulumi.BoolInput
}

type TableServerSideEncryption struct {
	Enabled bool `pulumi:"enabled"`
}

func (TableServerSideEncryptionArgs) ElementType() reflect.Type {
	return reflect.TypeFor[TableServerSideEncryption]()
}

type TableTtlArgs struct {
	AttributeName pulumi.StringPtrInput
	Enabled       pulumi.BoolPtrInput
}

type TableTtl struct {
	AttributeName *string `pulumi:"attributeName"`
	Enabled       *bool   `pulumi:"enabled"`
}

func (TableTtlArgs) ElementType() reflect.Type { return reflect.TypeFor[TableTtl]() }

var tableSpec = spec{
	Token: "aws:dynamodb/table:Table",
}

func NewTable(ctx *pulumi.Context, name string, args *TableArgs, opts ...pulumi.ResourceOption) (*Table, error) {
	return newResource[Table](ctx, tableSpec, name, args, opts)
}

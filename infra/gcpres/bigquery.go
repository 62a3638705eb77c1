package gcpres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Dataset is gcp:bigquery/dataset:Dataset.
type Dataset struct {
	pulumi.CustomResourceState
	DatasetId pulumi.StringOutput `pulumi:"datasetId"`
	Project   pulumi.StringOutput `pulumi:"project"`
}

type DatasetArgs struct {
	DatasetId   pulumi.StringInput
	Description pulumi.StringPtrInput
	Labels      pulumi.StringMapInput
	Location    pulumi.StringPtrInput
	Project     pulumi.StringPtrInput
}

type datasetArgs struct {
	DatasetId   string            `pulumi:"datasetId"`
	Description *string           `pulumi:"description"`
	Labels      map[string]string `pulumi:"labels"`
	Location    *string           `pulumi:"location"`
	Project     *string           `pulumi:"project"`
}

func (DatasetArgs) ElementType() reflect.Type { return reflect.TypeFor[datasetArgs]() }

var datasetSpec = spec{
	Token:    "gcp:bigquery/dataset:Dataset",
	Secrets:  []string{"effectiveLabels", "pulumiLabels"},
	Required: []string{"DatasetId"},
}

func NewDataset(ctx *pulumi.Context, name string, args *DatasetArgs, opts ...pulumi.ResourceOption) (*Dataset, error) {
	return newResource[Dataset](ctx, datasetSpec, name, args, opts)
}

// Table is gcp:bigquery/table:Table.
type Table struct {
	pulumi.CustomResourceState
	DatasetId pulumi.StringOutput `pulumi:"datasetId"`
	Project   pulumi.StringOutput `pulumi:"project"`
	TableId   pulumi.StringOutput `pulumi:"tableId"`
}

type TableArgs struct {
	DatasetId          pulumi.StringInput
	DeletionProtection pulumi.BoolPtrInput
	Labels             pulumi.StringMapInput
	Project            pulumi.StringPtrInput
	Schema             pulumi.StringPtrInput
	TableId            pulumi.StringInput
	TimePartitioning   *TableTimePartitioningArgs
}

type tableArgs struct {
	DatasetId          string                 `pulumi:"datasetId"`
	DeletionProtection *bool                  `pulumi:"deletionProtection"`
	Labels             map[string]string      `pulumi:"labels"`
	Project            *string                `pulumi:"project"`
	Schema             *string                `pulumi:"schema"`
	TableId            string                 `pulumi:"tableId"`
	TimePartitioning   *TableTimePartitioning `pulumi:"timePartitioning"`
}

func (TableArgs) ElementType() reflect.Type { return reflect.TypeFor[tableArgs]() }

type TableTimePartitioningArgs struct {
	Field pulumi.StringPtrInput
	Type  pulumi.StringInput
}

type TableTimePartitioning struct {
	Field *string `pulumi:"field"`
	Type  string  `pulumi:"type"`
}

func (TableTimePartitioningArgs) ElementType() reflect.Type {
	return reflect.TypeFor[TableTimePartitioning]()
}

var tableSpec = spec{
	Token:    "gcp:bigquery/table:Table",
	Secrets:  []string{"effectiveLabels", "pulumiLabels"},
	Required: []string{"DatasetId", "TableId"},
}

func NewTable(ctx *pulumi.Context, name string, args *TableArgs, opts ...pulumi.ResourceOption) (*Table, error) {
	return newResource[Table](ctx, tableSpec, name, args, opts)
}

// DatasetIamMember is gcp:bigquery/datasetIamMember:DatasetIamMember.
type DatasetIamMember struct {
	pulumi.CustomResourceState
}

type DatasetIamMemberArgs struct {
	DatasetId pulumi.StringInput
	Member    pulumi.StringInput
	Project   pulumi.StringPtrInput
	Role      pulumi.StringInput
}

type datasetIamMemberArgs struct {
	DatasetId string  `pulumi:"datasetId"`
	Member    string  `pulumi:"member"`
	Project   *string `pulumi:"project"`
	Role      string  `pulumi:"role"`
}

func (DatasetIamMemberArgs) ElementType() reflect.Type {
	return reflect.TypeFor[datasetIamMemberArgs]()
}

var datasetIamMemberSpec = spec{
	Token:    "gcp:bigquery/datasetIamMember:DatasetIamMember",
	Required: []string{"DatasetId", "Member", "Role"},
}

func NewDatasetIamMember(ctx *pulumi.Context, name string, args *DatasetIamMemberArgs, opts ...pulumi.ResourceOption) (*DatasetIamMember, error) {
	return newResource[DatasetIamMember](ctx, datasetIamMemberSpec, name, args, opts)
}

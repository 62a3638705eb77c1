package awsres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// CatalogDatabase is aws:glue/catalogDatabase:CatalogDatabase.
type CatalogDatabase struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type CatalogDatabaseArgs struct {
	Description pulumi.StringPtrInput
	Name        pulumi.StringPtrInput
}

type catalogDatabaseArgs struct {
	Description *string `pulumi:"description"`
	Name        *string `pulumi:"name"`
}

func (CatalogDatabaseArgs) ElementType() reflect.Type { return reflect.TypeFor[catalogDatabaseArgs]() }

var catalogDatabaseSpec = spec{
	Token: "aws:glue/catalogDatabase:CatalogDatabase",
}

func NewCatalogDatabase(ctx *pulumi.Context, name string, args *CatalogDatabaseArgs, opts ...pulumi.ResourceOption) (*CatalogDatabase, error) {
	return newResource[CatalogDatabase](ctx, catalogDatabaseSpec, name, args, opts)
}

// CatalogTable is aws:glue/catalogTable:CatalogTable.
type CatalogTable struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type CatalogTableArgs struct {
	DatabaseName      pulumi.StringInput
	Name              pulumi.StringPtrInput
	Parameters        pulumi.StringMapInput
	PartitionKeys     []CatalogTablePartitionKeyArgs
	StorageDescriptor *CatalogTableStorageDescriptorArgs
	TableType         pulumi.StringPtrInput
}

type catalogTableArgs struct {
	DatabaseName      string                         `pulumi:"databaseName"`
	Name              *string                        `pulumi:"name"`
	Parameters        map[string]string              `pulumi:"parameters"`
	PartitionKeys     []CatalogTablePartitionKey     `pulumi:"partitionKeys"`
	StorageDescriptor *CatalogTableStorageDescriptor `pulumi:"storageDescriptor"`
	TableType         *string                        `pulumi:"tableType"`
}

func (CatalogTableArgs) ElementType() reflect.Type { return reflect.TypeFor[catalogTableArgs]() }

type CatalogTablePartitionKeyArgs struct {
	Name pulumi.StringInput
	Type pulumi.StringPtrInput
}

type CatalogTablePartitionKey struct {
	Name string  `pulumi:"name"`
	Type *string `pulumi:"type"`
}

func (CatalogTablePartitionKeyArgs) ElementType() reflect.Type {
	return reflect.TypeFor[CatalogTablePartitionKey]()
}

type CatalogTableStorageDescriptorArgs struct {
	Columns      []CatalogTableStorageDescriptorColumnArgs
	Compressed   pulumi.BoolPtrInput
	InputFormat  pulumi.StringPtrInput
	Location     pulumi.StringPtrInput
	OutputFormat pulumi.StringPtrInput
	SerDeInfo    *CatalogTableStorageDescriptorSerDeInfoArgs
}

type CatalogTableStorageDescriptor struct {
	Columns      []CatalogTableStorageDescriptorColumn   `pulumi:"columns"`
	Compressed   *bool                                   `pulumi:"compressed"`
	InputFormat  *string                                 `pulumi:"inputFormat"`
	Location     *string                                 `pulumi:"location"`
	OutputFormat *string                                 `pulumi:"outputFormat"`
	SerDeInfo    *CatalogTableStorageDescriptorSerDeInfo `pulumi:"serDeInfo"`
}

func (CatalogTableStorageDescriptorArgs) ElementType() reflect.Type {
	return reflect.TypeFor[CatalogTableStorageDescriptor]()
}

type CatalogTableStorageDescriptorColumnArgs struct {
	Name pulumi.StringInput
	Type pulumi.StringPtrInput
}

type CatalogTableStorageDescriptorColumn struct {
	Name string  `pulumi:"name"`
	Type *string `pulumi:"type"`
}

func (CatalogTableStorageDescriptorColumnArgs) ElementType() reflect.Type {
	return reflect.TypeFor[CatalogTableStorageDescriptorColumn]()
}

type CatalogTableStorageDescriptorSerDeInfoArgs struct {
	Parameters           pulumi.StringMapInput
	SerializationLibrary pulumi.StringPtrInput
}

type CatalogTableStorageDescriptorSerDeInfo struct {
	Parameters           map[string]string `pulumi:"parameters"`
	SerializationLibrary *string           `pulumi:"serializationLibrary"`
}

func (CatalogTableStorageDescriptorSerDeInfoArgs) ElementType() reflect.Type {
	return reflect.TypeFor[CatalogTableStorageDescriptorSerDeInfo]()
}

var catalogTableSpec = spec{
	Token:    "aws:glue/catalogTable:CatalogTable",
	Required: []string{"DatabaseName"},
}

func NewCatalogTable(ctx *pulumi.Context, name string, args *CatalogTableArgs, opts ...pulumi.ResourceOption) (*CatalogTable, error) {
	return newResource[CatalogTable](ctx, catalogTableSpec, name, args, opts)
}

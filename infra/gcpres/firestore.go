package gcpres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Database is gcp:firestore/database:Database.
type Database struct {
	pulumi.CustomResourceState
	Name pulumi.StringOutput `pulumi:"name"`
}

type DatabaseArgs struct {
	ConcurrencyMode               pulumi.StringPtrInput
	DeleteProtectionState         pulumi.StringPtrInput
	DeletionPolicy                pulumi.StringPtrInput
	LocationId                    pulumi.StringInput
	Name                          pulumi.StringPtrInput
	PointInTimeRecoveryEnablement pulumi.StringPtrInput
	Project                       pulumi.StringPtrInput
	Type                          pulumi.StringInput
}

type databaseArgs struct {
	ConcurrencyMode               *string `pulumi:"concurrencyMode"`
	DeleteProtectionState         *string `pulumi:"deleteProtectionState"`
	DeletionPolicy                *string `pulumi:"deletionPolicy"`
	LocationId                    string  `pulumi:"locationId"`
	Name                          *string `pulumi:"name"`
	PointInTimeRecoveryEnablement *string `pulumi:"pointInTimeRecoveryEnablement"`
	Project                       *string `pulumi:"project"`
	Type                          string  `pulumi:"type"`
}

func (DatabaseArgs) ElementType() reflect.Type { return reflect.TypeFor[databaseArgs]() }

var databaseSpec = spec{
	Token:    "gcp:firestore/database:Database",
	Required: []string{"LocationId", "Type"},
}

func NewDatabase(ctx *pulumi.Context, name string, args *DatabaseArgs, opts ...pulumi.ResourceOption) (*Database, error) {
	return newResource[Database](ctx, databaseSpec, name, args, opts)
}

// Field is gcp:firestore/field:Field (here: a TTL policy).
type Field struct {
	pulumi.CustomResourceState
}

type FieldArgs struct {
	Collection pulumi.StringInput
	Database   pulumi.StringPtrInput
	Field      pulumi.StringInput
	Project    pulumi.StringPtrInput
	TtlConfig  *FieldTtlConfigArgs
}

type fieldArgs struct {
	Collection string          `pulumi:"collection"`
	Database   *string         `pulumi:"database"`
	Field      string          `pulumi:"field"`
	Project    *string         `pulumi:"project"`
	TtlConfig  *FieldTtlConfig `pulumi:"ttlConfig"`
}

func (FieldArgs) ElementType() reflect.Type { return reflect.TypeFor[fieldArgs]() }

// FieldTtlConfigArgs is empty: its one property, state, is an output; an
// empty object turns the TTL policy on.
type FieldTtlConfigArgs struct{}

type FieldTtlConfig struct{}

func (FieldTtlConfigArgs) ElementType() reflect.Type { return reflect.TypeFor[FieldTtlConfig]() }

var fieldSpec = spec{
	Token:    "gcp:firestore/field:Field",
	Required: []string{"Collection", "Field"},
}

func NewField(ctx *pulumi.Context, name string, args *FieldArgs, opts ...pulumi.ResourceOption) (*Field, error) {
	return newResource[Field](ctx, fieldSpec, name, args, opts)
}

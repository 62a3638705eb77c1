package stack

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/playplane/playplane/infra/gcpres"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/awsres"
)

// The QoE warehouse (issue 18): the heartbeat stream lands where each cloud
// keeps analytics, and docs/qoe/*.sql computes the same per-view metrics
// and hourly aggregates as the runner's GET /v1/admin/qoe. DynamoDB and
// Firestore keep no aggregates.
//
// The table columns are derived from the events.Heartbeat message's JSON
// tags (heartbeatColumns), so a renamed or added field reaches the tables
// without a second list to keep in step.

// AWSWarehouse is Kinesis Data Firehose → S3 with a Glue table for Athena.
type AWSWarehouse struct {
	Bucket   *awsres.BucketV2
	Block    *awsres.BucketPublicAccessBlock
	Role     *awsres.Role
	Policy   *awsres.RolePolicy
	Stream   *awsres.FirehoseDeliveryStream
	Database *awsres.CatalogDatabase
	Table    *awsres.CatalogTable
}

// GCPWarehouse is a BigQuery table fed by a BigQuery subscription on the
// heartbeats topic.
type GCPWarehouse struct {
	Dataset      *gcpres.Dataset
	Table        *gcpres.Table
	Writer       *gcpres.DatasetIamMember
	Subscription *gcpres.Subscription
	// DeadLetterAck lets the Pub/Sub service agent ack what it moved to
	// the dead letters.
	DeadLetterAck *gcpres.SubscriptionIAMMember
}

// Warehouse names.
const (
	qoeTable          = "heartbeats"
	qoeS3Prefix       = "heartbeats/"
	qoePartitionStart = "2026/01/01/00"
)

// warehouseName is the Glue database or BigQuery dataset of the stack:
// letters, digits and underscores only.
func warehouseName(prefix string) string { return strings.ReplaceAll(prefix, "-", "_") + "_qoe" }

// column is one warehouse column of the heartbeat message.
type column struct {
	Name   string
	Kind   reflect.Kind // Int64, String, Struct (time.Time is String: RFC 3339)
	Fields []column     // of a Struct
}

var timeType = reflect.TypeFor[time.Time]()

// heartbeatColumns are the columns of events.Heartbeat by JSON name.
func heartbeatColumns() []column { return columnsOf(reflect.TypeFor[events.Heartbeat]()) }

func columnsOf(t reflect.Type) []column {
	var cols []column
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous || name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		c := column{Name: name}
		switch {
		case f.Type == timeType, f.Type.Kind() == reflect.String:
			c.Kind = reflect.String
		case f.Type.Kind() == reflect.Struct:
			c.Kind, c.Fields = reflect.Struct, columnsOf(f.Type)
		case f.Type.Kind() == reflect.Bool:
			c.Kind = reflect.Bool // position_unknown: an integer column would refuse JSON true
		default:
			c.Kind = reflect.Int64 // every other field of the message is an integer
		}
		cols = append(cols, c)
	}
	return cols
}

// hiveType is the Glue (Hive) type of c.
func (c column) hiveType() string {
	switch c.Kind {
	case reflect.String:
		return "string"
	case reflect.Struct:
		parts := make([]string, len(c.Fields))
		for i, f := range c.Fields {
			parts[i] = f.Name + ":" + f.hiveType()
		}
		return "struct<" + strings.Join(parts, ",") + ">"
	case reflect.Bool:
		return "boolean"
	}
	return "bigint"
}

// bigQueryField is c in a BigQuery table schema.
func (c column) bigQueryField() map[string]any {
	f := map[string]any{"name": c.Name, "mode": "NULLABLE"}
	switch c.Kind {
	case reflect.String:
		f["type"] = "STRING"
	case reflect.Struct:
		f["type"] = "RECORD"
		var sub []map[string]any
		for _, s := range c.Fields {
			sub = append(sub, s.bigQueryField())
		}
		f["fields"] = sub
	case reflect.Bool:
		f["type"] = "BOOL"
	default:
		f["type"] = "INT64"
	}
	return f
}

func newAWSWarehouse(ctx *pulumi.Context, cfg Config, tags pulumi.StringMap) (*AWSWarehouse, error) {
	w := &AWSWarehouse{}
	tags = withTag(tags, "role", "qoe-warehouse")
	var err error
	if w.Bucket, err = awsres.NewBucketV2(ctx, "qoe", &awsres.BucketV2Args{BucketPrefix: pulumi.String(cfg.Prefix + "-qoe-"), Tags: tags}); err != nil {
		return nil, fmt.Errorf("qoe bucket: %w", err)
	}
	if w.Block, err = awsres.NewBucketPublicAccessBlock(ctx, "qoe", &awsres.BucketPublicAccessBlockArgs{
		Bucket: w.Bucket.ID(), BlockPublicAcls: pulumi.Bool(true), BlockPublicPolicy: pulumi.Bool(true),
		IgnorePublicAcls: pulumi.Bool(true), RestrictPublicBuckets: pulumi.Bool(true),
	}); err != nil {
		return nil, fmt.Errorf("qoe bucket public access block: %w", err)
	}
	assume, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}}})
	if w.Role, err = awsres.NewRole(ctx, "qoe-firehose", &awsres.RoleArgs{
		Name: pulumi.String(cfg.Prefix + "-qoe-firehose"), AssumeRolePolicy: pulumi.String(string(assume)), Tags: tags,
	}); err != nil {
		return nil, fmt.Errorf("qoe firehose role: %w", err)
	}
	// Firehose writes objects into the bucket and nothing else.
	policy := w.Bucket.Arn.ApplyT(func(arn string) (string, error) {
		b, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Sid": "Deliver", "Effect": "Allow",
				"Action":   []string{"s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"},
				"Resource": []string{arn, arn + "/*"}},
		}})
		return string(b), err
	}).(pulumi.StringOutput)
	if w.Policy, err = awsres.NewRolePolicy(ctx, "qoe-firehose", &awsres.RolePolicyArgs{
		Name: pulumi.String("deliver"), Role: w.Role.ID(), Policy: policy,
	}); err != nil {
		return nil, fmt.Errorf("qoe firehose policy: %w", err)
	}
	// Objects are newline-delimited heartbeat messages, gzipped, in one
	// folder per hour that the Glue table projects as partition dt.
	if w.Stream, err = awsres.NewFirehoseDeliveryStream(ctx, "qoe", &awsres.FirehoseDeliveryStreamArgs{
		Name:        pulumi.String(cfg.Prefix + "-heartbeats"),
		Destination: pulumi.String("extended_s3"),
		ExtendedS3Configuration: &awsres.FirehoseDeliveryStreamExtendedS3ConfigurationArgs{
			RoleArn:           w.Role.Arn,
			BucketArn:         w.Bucket.Arn,
			Prefix:            pulumi.String(qoeS3Prefix + "!{timestamp:yyyy/MM/dd/HH}/"),
			ErrorOutputPrefix: pulumi.String("errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"),
			BufferingInterval: pulumi.Int(60),
			BufferingSize:     pulumi.Int(64),
			CompressionFormat: pulumi.String("GZIP"),
		},
		Tags: tags,
	}, pulumi.DependsOn([]pulumi.Resource{w.Policy})); err != nil {
		return nil, fmt.Errorf("qoe firehose: %w", err)
	}
	if w.Database, err = awsres.NewCatalogDatabase(ctx, "qoe", &awsres.CatalogDatabaseArgs{
		Name:        pulumi.String(warehouseName(cfg.Prefix)),
		Description: pulumi.String("playplane QoE: heartbeat messages from Firehose; query with docs/qoe/athena.sql"),
	}); err != nil {
		return nil, fmt.Errorf("qoe glue database: %w", err)
	}
	var cols []awsres.CatalogTableStorageDescriptorColumnArgs
	for _, c := range heartbeatColumns() {
		cols = append(cols, awsres.CatalogTableStorageDescriptorColumnArgs{Name: pulumi.String(c.Name), Type: pulumi.String(c.hiveType())})
	}
	location := pulumi.Sprintf("s3://%s/%s", w.Bucket.Bucket, qoeS3Prefix)
	if w.Table, err = awsres.NewCatalogTable(ctx, "qoe", &awsres.CatalogTableArgs{
		Name:         pulumi.String(qoeTable),
		DatabaseName: w.Database.Name,
		TableType:    pulumi.String("EXTERNAL_TABLE"),
		// Partition projection: Athena computes the hour folders from dt,
		// so no crawler or MSCK REPAIR is needed as hours arrive.
		Parameters: pulumi.StringMap{
			"classification":              pulumi.String("json"),
			"projection.enabled":          pulumi.String("true"),
			"projection.dt.type":          pulumi.String("date"),
			"projection.dt.format":        pulumi.String("yyyy/MM/dd/HH"),
			"projection.dt.range":         pulumi.String(qoePartitionStart + ",NOW"),
			"projection.dt.interval":      pulumi.String("1"),
			"projection.dt.interval.unit": pulumi.String("HOURS"),
			"storage.location.template":   pulumi.Sprintf("s3://%s/%s${dt}/", w.Bucket.Bucket, qoeS3Prefix),
		},
		PartitionKeys: []awsres.CatalogTablePartitionKeyArgs{{Name: pulumi.String("dt"), Type: pulumi.String("string")}},
		StorageDescriptor: &awsres.CatalogTableStorageDescriptorArgs{
			Location:     location,
			InputFormat:  pulumi.String("org.apache.hadoop.mapred.TextInputFormat"),
			OutputFormat: pulumi.String("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"),
			Compressed:   pulumi.Bool(true),
			SerDeInfo: &awsres.CatalogTableStorageDescriptorSerDeInfoArgs{
				SerializationLibrary: pulumi.String("org.openx.data.jsonserde.JsonSerDe"),
				Parameters:           pulumi.StringMap{"ignore.malformed.json": pulumi.String("true")},
			},
			Columns: cols,
		},
	}); err != nil {
		return nil, fmt.Errorf("qoe glue table: %w", err)
	}
	return w, nil
}

func (g *GCPResources) newWarehouse(ctx *pulumi.Context, cfg Config) (*GCPWarehouse, error) {
	w := &GCPWarehouse{}
	var err error
	if w.Dataset, err = gcpres.NewDataset(ctx, "qoe", &gcpres.DatasetArgs{
		DatasetId:   pulumi.String(warehouseName(cfg.Prefix)),
		Project:     pulumi.String(cfg.GCPProject),
		Location:    pulumi.String(cfg.GCPRegion),
		Description: pulumi.String("playplane QoE: heartbeat messages from the Pub/Sub BigQuery subscription; query with docs/qoe/bigquery.sql"),
		Labels:      g.labels,
	}); err != nil {
		return nil, fmt.Errorf("qoe dataset: %w", err)
	}
	// The message's fields as columns (useTableSchema) plus the
	// subscription's metadata columns (writeMetadata); partitioned by
	// publish time, so a query reads only the days its heartbeats can be
	// delivered in (docs/qoe/bigquery.sql: a day before its range to the
	// late deliveries the runner still counts), not the whole table.
	fields := []map[string]any{
		{"name": "subscription_name", "type": "STRING", "mode": "NULLABLE"},
		{"name": "message_id", "type": "STRING", "mode": "NULLABLE"},
		{"name": "publish_time", "type": "TIMESTAMP", "mode": "NULLABLE"},
		{"name": "attributes", "type": "JSON", "mode": "NULLABLE"},
	}
	for _, c := range heartbeatColumns() {
		fields = append(fields, c.bigQueryField())
	}
	schema, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	if w.Table, err = gcpres.NewTable(ctx, "qoe", &gcpres.TableArgs{
		Project:            w.Dataset.Project,
		DatasetId:          w.Dataset.DatasetId,
		TableId:            pulumi.String(qoeTable),
		Schema:             pulumi.String(string(schema)),
		TimePartitioning:   &gcpres.TableTimePartitioningArgs{Type: pulumi.String("DAY"), Field: pulumi.String("publish_time")},
		DeletionProtection: pulumi.Bool(cfg.DeletionProtection),
		Labels:             g.labels,
	}); err != nil {
		return nil, fmt.Errorf("qoe table: %w", err)
	}
	// Pub/Sub's service agent writes the rows.
	if w.Writer, err = gcpres.NewDatasetIamMember(ctx, "qoe-pubsub-writer", &gcpres.DatasetIamMemberArgs{
		Project:   w.Dataset.Project,
		DatasetId: w.Dataset.DatasetId,
		Role:      pulumi.String("roles/bigquery.dataEditor"),
		Member:    pulumi.Sprintf("serviceAccount:service-%s@gcp-sa-pubsub.iam.gserviceaccount.com", g.ProjectNumber),
	}); err != nil {
		return nil, fmt.Errorf("qoe dataset writer: %w", err)
	}
	t := g.Topics[events.TopicHeartbeats]
	if w.Subscription, err = gcpres.NewSubscription(ctx, "qoe", &gcpres.SubscriptionArgs{
		Project: pulumi.String(cfg.GCPProject),
		Name:    pulumi.String(cfg.Prefix + "-heartbeats-bigquery"),
		Topic:   t.ResourceName,
		// Unset, the policy deletes the subscription after 31 quiet days.
		ExpirationPolicy: &gcpres.SubscriptionExpirationPolicyArgs{Ttl: pulumi.String("")},
		BigqueryConfig: &gcpres.SubscriptionBigqueryConfigArgs{
			Table:             pulumi.Sprintf("%s.%s.%s", w.Table.Project, w.Table.DatasetId, w.Table.TableId),
			UseTableSchema:    pulumi.Bool(true),
			WriteMetadata:     pulumi.Bool(true),
			DropUnknownFields: pulumi.Bool(true),
		},
		// Rows BigQuery refuses go to the topic's dead letters, which the
		// dead-letter alert watches.
		DeadLetterPolicy: &gcpres.SubscriptionDeadLetterPolicyArgs{
			DeadLetterTopic:     t.deadLetterID,
			MaxDeliveryAttempts: pulumi.Int(catalog.MaxDeliveryAttempts),
		},
		Labels: g.labels,
	}, pulumi.DependsOn([]pulumi.Resource{w.Writer})); err != nil {
		return nil, fmt.Errorf("qoe subscription: %w", err)
	}
	if w.DeadLetterAck, err = gcpres.NewSubscriptionIAMMember(ctx, "qoe-dead-letter-ack", &gcpres.SubscriptionIAMMemberArgs{
		Project:      pulumi.String(cfg.GCPProject),
		Subscription: w.Subscription.Name,
		Role:         pulumi.String("roles/pubsub.subscriber"),
		Member:       pulumi.Sprintf("serviceAccount:service-%s@gcp-sa-pubsub.iam.gserviceaccount.com", g.ProjectNumber),
	}); err != nil {
		return nil, fmt.Errorf("qoe dead-letter ack: %w", err)
	}
	return w, nil
}

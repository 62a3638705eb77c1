package stack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/pulumimock"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// jsonName is the JSON name of a Go field of v, as the message carries it.
func jsonName(t *testing.T, v any, field string) string {
	t.Helper()
	f, ok := reflect.TypeOf(v).FieldByName(field)
	if !ok {
		t.Fatalf("%T has no field %s", v, field)
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// TestQoEWarehouse: the heartbeat stream has a warehouse on the cloud whose
// bus carries it, with the message's fields as columns.
func TestQoEWarehouse(t *testing.T) {
	t.Parallel()
	startup := jsonName(t, playback.QoE{}, "StartupMS")
	qoe := jsonName(t, events.Heartbeat{}, "QoE")
	forEachLayout(t, func(t *testing.T, d *deployment) {
		firehoses := d.mock.OfType("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
		subs := 0
		for _, s := range d.mock.OfType("gcp:pubsub/subscription:Subscription") {
			if s.In("bigqueryConfig") != nil {
				subs++
			}
		}
		switch d.layout.Bus {
		case catalog.BusSQS:
			if len(firehoses) != 1 || subs != 0 {
				t.Fatalf("%d Firehose streams and %d BigQuery subscriptions, want 1 and 0", len(firehoses), subs)
			}
			d.checkFirehose(t, firehoses[0], qoe, startup)
		case catalog.BusPubSub:
			if len(firehoses) != 0 || subs != 1 {
				t.Fatalf("%d Firehose streams and %d BigQuery subscriptions, want 0 and 1", len(firehoses), subs)
			}
			d.checkBigQuery(t, qoe, startup)
		}
	})
}

func (d *deployment) checkFirehose(t *testing.T, stream pulumimock.Resource, qoe, startup string) {
	t.Helper()
	bucket, ok := d.byArn("aws:s3/bucketV2:BucketV2", stream.InStr("extendedS3Configuration", "bucketArn"))
	if !ok {
		t.Fatalf("firehose writes to %q, no bucket of the stack", stream.InStr("extendedS3Configuration", "bucketArn"))
	}
	if !strings.HasPrefix(bucket.Str("bucket"), d.prefix()+"-qoe-") || stream.InStr("destination") != "extended_s3" ||
		!strings.HasPrefix(stream.InStr("extendedS3Configuration", "prefix"), qoeS3Prefix+"!{timestamp:") {
		t.Fatalf("firehose %v into bucket %s", stream.In(), bucket.Str("bucket"))
	}
	role, ok := d.byArn("aws:iam/role:Role", stream.InStr("extendedS3Configuration", "roleArn"))
	if !ok || !strings.Contains(role.InStr("assumeRolePolicy"), "firehose.amazonaws.com") {
		t.Fatalf("firehose role %v", role.In())
	}
	var policy struct {
		Statement []struct{ Action, Resource []string }
	}
	for _, p := range d.mock.OfType("aws:iam/rolePolicy:RolePolicy") {
		if p.InStr("role") == role.ID {
			if err := json.Unmarshal([]byte(p.InStr("policy")), &policy); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(policy.Statement) != 1 || !slices.Contains(policy.Statement[0].Action, "s3:PutObject") ||
		!slices.Equal(policy.Statement[0].Resource, []string{bucket.Str("arn"), bucket.Str("arn") + "/*"}) {
		t.Fatalf("firehose role policy %+v: want writes to the QoE bucket only", policy)
	}
	table := d.one(t, "aws:glue/catalogTable:CatalogTable", qoeTable)
	db := d.one(t, "aws:glue/catalogDatabase:CatalogDatabase", table.InStr("databaseName"))
	if db.Str("name") != strings.ReplaceAll(d.prefix(), "-", "_")+"_qoe" {
		t.Fatalf("glue database %q", db.Str("name"))
	}
	cols := map[string]string{}
	for _, c := range table.In("storageDescriptor", "columns").([]any) {
		m := c.(map[string]any)
		cols[m["name"].(string)] = m["type"].(string)
	}
	if cols["session_id"] != "string" || cols["position_ms"] != "bigint" || !strings.Contains(cols[qoe], startup+":bigint") ||
		cols["position_unknown"] != "boolean" || cols["country"] != "string" || cols["asn"] != "bigint" || cols["device_type"] != "string" {
		t.Fatalf("glue columns %v", cols)
	}
	checkSQLReadsColumns(t, "athena.sql", cols, "string")
	// Firehose lands the messages as they are: converting them to Parquet
	// or ORC would parse their times with its deserializer's
	// TimestampFormats, java.sql.Timestamp::valueOf by default, which RFC
	// 3339 is not (Firehose API reference, HiveJsonSerDe).
	if c := stream.In("extendedS3Configuration", "dataFormatConversionConfiguration"); c != nil {
		t.Fatalf("firehose converts the records: %v", c)
	}
	want := "s3://" + bucket.Str("bucket") + "/" + qoeS3Prefix
	if table.InStr("storageDescriptor", "location") != want || table.InStr("parameters", "storage.location.template") != want+"${dt}/" ||
		table.InStr("parameters", "projection.enabled") != "true" {
		t.Fatalf("glue table location %v", table.In())
	}
}

func (d *deployment) checkBigQuery(t *testing.T, qoe, startup string) {
	t.Helper()
	tables := d.mock.OfType("gcp:bigquery/table:Table")
	if len(tables) != 1 || tables[0].InStr("tableId") != qoeTable {
		t.Fatalf("bigquery tables %v", tables)
	}
	table := tables[0]
	var fields []struct {
		Name, Type string
		Fields     []struct{ Name, Type string }
	}
	if err := json.Unmarshal([]byte(table.InStr("schema")), &fields); err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, f := range fields {
		types[f.Name] = f.Type
		if f.Name == qoe {
			for _, s := range f.Fields {
				types[qoe+"."+s.Name] = s.Type
			}
		}
	}
	if types["publish_time"] != "TIMESTAMP" || types["session_id"] != "STRING" || types[qoe+"."+startup] != "INT64" ||
		types["position_unknown"] != "BOOL" || types["country"] != "STRING" || types["asn"] != "INT64" || types["device_type"] != "STRING" {
		t.Fatalf("bigquery schema %v", types)
	}
	checkSQLReadsColumns(t, "bigquery.sql", types, "STRING")
	if table.InStr("timePartitioning", "field") != "publish_time" {
		t.Fatalf("bigquery partitioning %v", table.In("timePartitioning"))
	}
	var sub pulumimock.Resource
	for _, s := range d.mock.OfType("gcp:pubsub/subscription:Subscription") {
		if s.In("bigqueryConfig") != nil {
			sub = s
		}
	}
	topic := d.one(t, "gcp:pubsub/topic:Topic", d.prefix()+"-"+events.TopicHeartbeats)
	wantTable := testProject + "." + table.InStr("datasetId") + "." + qoeTable
	if sub.InStr("topic") != topic.ID || sub.InStr("bigqueryConfig", "table") != wantTable ||
		sub.In("bigqueryConfig", "useTableSchema") != true || sub.In("bigqueryConfig", "writeMetadata") != true ||
		// A message field the table lacks yet (a producer rolled out
		// before the table) is dropped, not held in the backlog.
		sub.In("bigqueryConfig", "dropUnknownFields") != true ||
		!strings.HasSuffix(sub.InStr("deadLetterPolicy", "deadLetterTopic"), "/"+d.prefix()+"-"+events.TopicHeartbeats+"-dlq") {
		t.Fatalf("bigquery subscription %v, topic %s", sub.In(), topic.ID)
	}
	writer := d.one(t, "gcp:bigquery/datasetIamMember:DatasetIamMember", "qoe-pubsub-writer")
	if !strings.HasSuffix(writer.InStr("member"), "@gcp-sa-pubsub.iam.gserviceaccount.com") || writer.InStr("datasetId") != table.InStr("datasetId") {
		t.Fatalf("dataset writer %v", writer.In())
	}
}

// checkSQLReadsColumns: every top-level field the warehouse query
// docs/qoe/<file> reads of the heartbeat (h.<name>) is a column of the
// table the stack declares, the session's lease end among them: the
// query judges silent views by the lease each heartbeat left
// (lease_expires_at, an RFC 3339 string as the other times), not by a
// copy of LEASE_TTL that a stack deployed with another one would get
// wrong. Every time of the message is a timeType column, the text as the
// message carries it, which the query parses
// (TestWarehouseSQLParsesMessageTimes in shared/playback): a Hive
// timestamp column takes java.sql.Timestamp's yyyy-mm-dd hh:mm:ss[.f],
// not RFC 3339, and AWS's advice for ISO 8601 data is a string column
// read with from_iso8601_timestamp
// (https://aws.amazon.com/premiumsupport/knowledge-center/query-table-athena-timestamp-empty/).
func checkSQLReadsColumns(t *testing.T, file string, cols map[string]string, timeType string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "qoe", file))
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bh\.(\w+)`).FindAllStringSubmatch(string(raw), -1) {
		read[m[1]] = true
	}
	lease := jsonName(t, events.Heartbeat{}, "LeaseExpiresAt")
	if !read[lease] {
		t.Errorf("%s does not read h.%s", file, lease)
	}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[events.Heartbeat]()) {
		if name := jsonName(t, events.Heartbeat{}, f.Name); f.Type == reflect.TypeFor[time.Time]() && cols[name] != timeType {
			t.Errorf("the message's time %s is a %q column, want %s", name, cols[name], timeType)
		}
	}
	for name := range read {
		if name != "dt" && cols[name] == "" {
			t.Errorf("%s reads h.%s, which the table does not have: %v", file, name, cols)
		}
	}
}

// TestAlarms: every dead-letter queue, Lambda and API has its alarm on
// AWS, notifying the stack's alarm topic; every dead-letter subscription,
// the functions' 5xx share and 429s have alert policies on GCP; webhook
// lag is watched where Stripe events are applied.
func TestAlarms(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		if d.layout.Uses(AWS) {
			d.checkAWSAlarms(t)
		} else if n := len(d.mock.OfType("aws:cloudwatch/metricAlarm:MetricAlarm")); n != 0 {
			t.Errorf("%d CloudWatch alarms on a stack without AWS", n)
		}
		if d.layout.Uses(GCP) {
			d.checkGCPAlerts(t)
		} else if n := len(d.mock.OfType("gcp:monitoring/alertPolicy:AlertPolicy")); n != 0 {
			t.Errorf("%d alert policies on a stack without GCP", n)
		}
	})
}

func (d *deployment) checkAWSAlarms(t *testing.T) {
	t.Helper()
	topic := d.one(t, "aws:sns/topic:Topic", d.prefix()+"-alarms")
	alarms := d.mock.OfType("aws:cloudwatch/metricAlarm:MetricAlarm")
	find := func(pred func(a pulumimock.Resource) bool) []pulumimock.Resource {
		var out []pulumimock.Resource
		for _, a := range alarms {
			if pred(a) {
				out = append(out, a)
			}
		}
		return out
	}
	for _, a := range alarms {
		if !slices.Contains(stringsOf(a.In("alarmActions")), topic.Str("arn")) || !slices.Contains(stringsOf(a.In("okActions")), topic.Str("arn")) {
			t.Errorf("alarm %s does not notify the alarm topic", a.InStr("name"))
		}
	}
	// Dead letters > 0, one alarm per dead-letter queue.
	for _, q := range d.mock.OfType("aws:sqs/queue:Queue") {
		if q.InStr("tags", "role") != "dead-letter" {
			continue
		}
		got := find(func(a pulumimock.Resource) bool { return a.InStr("dimensions", "QueueName") == q.Str("name") })
		if len(got) != 1 || got[0].InStr("metricName") != "ApproximateNumberOfMessagesVisible" || got[0].InStr("namespace") != "AWS/SQS" ||
			got[0].In("threshold") != 0.0 || got[0].InStr("comparisonOperator") != "GreaterThanThreshold" {
			t.Errorf("dead-letter queue %s: alarms %v", q.Str("name"), got)
		}
	}
	// Errors and throttles of every Lambda.
	for _, l := range d.mock.OfType("aws:lambda/function:Function") {
		for _, metric := range []string{"Errors", "Throttles"} {
			got := find(func(a pulumimock.Resource) bool {
				return a.InStr("dimensions", "FunctionName") == l.Str("name") && a.InStr("metricName") == metric
			})
			if len(got) != 1 || got[0].InStr("namespace") != "AWS/Lambda" || got[0].In("threshold") != 0.0 {
				t.Errorf("Lambda %s: %s alarms %v", l.Str("name"), metric, got)
			}
		}
	}
	// The API's 5xx share.
	for _, api := range d.mock.OfType("aws:apigatewayv2/api:Api") {
		got := find(func(a pulumimock.Resource) bool {
			queries, _ := a.In("metricQueries").([]any)
			hits := 0
			for _, q := range queries {
				m := mapOf(mapOf(q)["metric"])
				if mapOf(m["dimensions"])["ApiId"] == api.ID && m["namespace"] == "AWS/ApiGateway" {
					hits++
				}
			}
			return hits == 2
		})
		if len(got) != 1 || got[0].In("threshold") != Alarm5xxPercent ||
			!strings.Contains(got[0].InStr("metricQueries", "2", "expression"), "100 * errors / requests") {
			t.Errorf("API %s: 5xx alarms %v", api.ID, got)
		}
	}
	lag := find(func(a pulumimock.Resource) bool { return a.InStr("metricName") == MetricWebhookLag })
	if want := d.layout.Compute == AWS; (len(lag) == 1) != want || want && (lag[0].InStr("namespace") != MetricNamespace ||
		lag[0].InStr("extendedStatistic") != "p99" || lag[0].In("threshold") != AlarmWebhookLagSeconds) {
		t.Errorf("webhook lag alarms %v, want one: %v", lag, want)
	}
}

func (d *deployment) checkGCPAlerts(t *testing.T) {
	t.Helper()
	policies := map[string]pulumimock.Resource{}
	for _, p := range d.mock.OfType("gcp:monitoring/alertPolicy:AlertPolicy") {
		policies[strings.TrimPrefix(p.InStr("displayName"), d.prefix()+" ")] = p
	}
	filters := func(p pulumimock.Resource) []string {
		var out []string
		conds, _ := p.In("conditions").([]any)
		for _, c := range conds {
			out = append(out, mapOf(mapOf(c)["conditionThreshold"])["filter"].(string))
		}
		return out
	}
	dead := filters(policies["dead-letters"])
	for _, s := range d.mock.OfType("gcp:pubsub/subscription:Subscription") {
		if !strings.HasSuffix(s.Str("name"), "-dlq") {
			continue
		}
		if !slices.ContainsFunc(dead, func(f string) bool {
			return strings.Contains(f, `subscription_id = "`+s.Str("name")+`"`) && strings.Contains(f, "num_undelivered_messages")
		}) {
			t.Errorf("dead-letter subscription %s has no alert condition: %q", s.Str("name"), dead)
		}
	}
	if len(dead) != len(catalog.Topics) {
		t.Errorf("%d dead-letter conditions, want %d", len(dead), len(catalog.Topics))
	}
	rate := policies["5xx-rate"]
	if f := filters(rate); len(f) != 1 || !strings.Contains(f[0], `response_code_class = "5xx"`) || !strings.Contains(f[0], `starts_with("`+d.prefix()+`")`) ||
		rate.InStr("conditions", "0", "conditionThreshold", "denominatorFilter") == "" {
		t.Errorf("5xx policy %v", rate.In())
	}
	if f := filters(policies["throttles"]); len(f) != 1 || !strings.Contains(f[0], `response_code = "429"`) {
		t.Errorf("throttle policy %q", f)
	}
	lag, ok := policies["webhook-lag"]
	if want := d.layout.Compute == GCP; ok != want {
		t.Errorf("webhook lag policy %v, want one: %v", lag.In(), want)
	}
	// The histogram the Telemetry API writes is a distribution Cloud
	// Monitoring's PromQL reads as a Prometheus histogram, its buckets
	// under the name with _bucket (the OTLP name kept, dots and all, so
	// quoted); the p99 is taken over every instance's series (each writes
	// its own) of the buckets' increase in the window.
	if ok {
		q := lag.InStr("conditions", "0", "conditionPrometheusQueryLanguage", "query")
		m := regexp.MustCompile(`^histogram_quantile\(0\.99, sum by \(le\) \(increase\(\{"([^"]+)"\}\[(\d+)s\]\)\)\) > (\d+)$`).FindStringSubmatch(q)
		if m == nil || m[1] != MetricWebhookLag+"_bucket" || m[2] != strconv.Itoa(AlarmWebhookLagWindowSeconds) ||
			m[3] != strconv.FormatFloat(AlarmWebhookLagSeconds, 'f', -1, 64) {
			t.Errorf("webhook lag query %q, want the p99 of %s_bucket over %d s above %v s", q, MetricWebhookLag,
				AlarmWebhookLagWindowSeconds, AlarmWebhookLagSeconds)
		}
	}
}

// TestAlertConditionsWaitForTheFunctionsMetrics: a metric the functions
// send through the Telemetry API (prometheus.googleapis.com/...) exists in
// Cloud Monitoring once first written, which on a new stack is later than
// the alert policy: telemetry makes each instrument on first use, so the
// webhook lag histogram appears with the first Stripe event applied. Cloud
// Monitoring refuses to create a policy whose filter names a metric it does
// not have ("Error 404: Cannot find metric(s) that match type = ...",
// https://github.com/world-federation-of-advertisers/cross-media-measurement/issues/4350
// for an OpenTelemetry metric a Cloud Function had not sent yet), which
// fails pulumi up. A filter cannot skip that check; a PromQL condition can
// (disableMetricValidation). So no threshold condition filters on such a
// metric, and every PromQL condition skips the check.
func TestAlertConditionsWaitForTheFunctionsMetrics(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		for _, p := range d.mock.OfType("gcp:monitoring/alertPolicy:AlertPolicy") {
			conds, _ := p.In("conditions").([]any)
			for _, c := range conds {
				c := mapOf(c)
				th := mapOf(c["conditionThreshold"])
				for _, key := range []string{"filter", "denominatorFilter"} {
					if f, _ := th[key].(string); strings.Contains(f, `metric.type = "`+telemetry.CloudMonitoringPrefix) {
						t.Errorf("%s: condition %q filters on a metric the functions make on first use: %s",
							p.InStr("displayName"), c["displayName"], f)
					}
				}
				if pq := mapOf(c["conditionPrometheusQueryLanguage"]); pq != nil && pq["disableMetricValidation"] != true {
					t.Errorf("%s: PromQL condition %q checks that its metric exists: %v", p.InStr("displayName"), c["displayName"], pq)
				}
			}
		}
	})
}

// videoBucket is the CloudFront origin bucket (the QoE warehouse has one
// too, tagged role=qoe-warehouse).
func (d *deployment) videoBucket(t *testing.T) pulumimock.Resource {
	t.Helper()
	var found []pulumimock.Resource
	for _, b := range d.mock.OfType("aws:s3/bucketV2:BucketV2") {
		if b.InStr("tags", "role") != "qoe-warehouse" {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d video buckets", len(found))
	}
	return found[0]
}

// publicAccessBlock is the block of bucket.
func (d *deployment) publicAccessBlock(t *testing.T, bucket pulumimock.Resource) pulumimock.Resource {
	t.Helper()
	for _, b := range d.mock.OfType("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock") {
		if b.InStr("bucket") == bucket.ID {
			return b
		}
	}
	t.Fatalf("bucket %s has no public access block", bucket.ID)
	return pulumimock.Resource{}
}

const metricWriter = "roles/telemetry.metricsWriter"

// TestFunctionsWriteMetricsToCloudMonitoring: every Cloud Function is told
// to export its metrics to Cloud Monitoring (through the Telemetry API) in
// the stack's project, with its region on the resource, and the service
// account of each function running there, and no other, may write
// metrics there. Lambdas write EMF lines and are told nothing.
func TestFunctionsWriteMetricsToCloudMonitoring(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		want := map[string]bool{} // members that run a Cloud Function
		for _, p := range d.parts(t) {
			exporter, project := p.env[telemetry.EnvMetricsExporter], p.env[telemetry.EnvGoogleCloudProject]
			attrs := p.env[telemetry.EnvResourceAttributes]
			switch p.cloud {
			case GCP:
				if exporter != telemetry.ExporterGoogleCloud || project != testProject || attrs != "cloud.region="+testRegion {
					t.Errorf("%s: %s=%q %s=%q %s=%q, want %q, %q and cloud.region=%s", p.name, telemetry.EnvMetricsExporter, exporter,
						telemetry.EnvGoogleCloudProject, project, telemetry.EnvResourceAttributes, attrs,
						telemetry.ExporterGoogleCloud, testProject, testRegion)
				}
				want["serviceAccount:"+d.serviceAccountEmail(p.fn.Name)] = true
			case AWS:
				if exporter != "" || project != "" || attrs != "" {
					t.Errorf("Lambda %s is told to export to Cloud Monitoring", p.name)
				}
			}
		}
		got := map[string]int{}
		for _, b := range d.mock.OfType("gcp:projects/iAMMember:IAMMember") {
			if b.InStr("role") != metricWriter {
				continue
			}
			got[b.InStr("member")]++
			if b.InStr("project") != testProject {
				t.Errorf("%s writes metrics to project %q", b.InStr("member"), b.InStr("project"))
			}
		}
		for member := range want {
			if got[member] != 1 {
				t.Errorf("%s runs a Cloud Function and has %d %s bindings, want 1", member, got[member], metricWriter)
			}
		}
		for member := range got {
			if !want[member] {
				t.Errorf("%s has %s but runs no Cloud Function", member, metricWriter)
			}
		}
		if d.layout.Compute == GCP && len(want) == 0 {
			t.Error("no Cloud Function on a stack whose compute is GCP: the test sees nothing")
		}
	})
}

// TestAlertPoliciesNotifyTheConfiguredChannels: a Cloud Monitoring alert
// policy notifies only the channels it names, and a channel added to a
// policy by hand is removed by the next `pulumi up` that refreshes or
// updates it (the program declares none). So the channels are stack
// config, playplane:alertNotificationChannels, named on every policy, as
// the CloudWatch alarms name the alarm topic; a value that is no channel's
// resource name, or the key on a stack without alert policies, fails the
// deployment instead of alerting nobody.
func TestAlertPoliciesNotifyTheConfiguredChannels(t *testing.T) {
	t.Parallel()
	channels := []string{
		"projects/" + testProject + "/notificationChannels/1234567890",
		"projects/" + testProject + "/notificationChannels/987",
	}
	for _, l := range Layouts {
		if !l.Uses(GCP) {
			continue
		}
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			config := baseConfig(l.Name)
			config["playplane:alertNotificationChannels"] = " " + channels[0] + ", " + channels[1]
			d, err := deploy(t, l.Name, config)
			if err != nil {
				t.Fatal(err)
			}
			policies := d.mock.OfType("gcp:monitoring/alertPolicy:AlertPolicy")
			if len(policies) == 0 {
				t.Fatal("no alert policy")
			}
			for _, p := range policies {
				if got := stringsOf(p.In("notificationChannels")); !slices.Equal(got, channels) {
					t.Errorf("alert policy %s notifies %q, want %q", p.InStr("displayName"), got, channels)
				}
			}
		})
	}
	for _, tc := range []struct{ name, layout, value string }{
		{name: "not a channel name", layout: "gcp", value: "oncall@example.com"},
		{name: "a channel id alone", layout: "gcp", value: "1234567890"},
		{name: "a stack without alert policies", layout: "aws", value: channels[0]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			config := baseConfig(tc.layout)
			config["playplane:alertNotificationChannels"] = tc.value
			if _, err := deploy(t, tc.layout, config); err == nil || !strings.Contains(err.Error(), "playplane:alertNotificationChannels") {
				t.Errorf("alertNotificationChannels %q on %s: %v, want an error naming the key", tc.value, tc.layout, err)
			}
		})
	}
}

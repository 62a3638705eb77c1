package stack

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/awsres"
	"github.com/playplane/playplane/infra/gcpres"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// Alarms as code (issue 18): dead letters, the API's 5xx rate, webhook lag,
// plays refused as title_not_signable, and function errors and throttles. On AWS they are CloudWatch alarms that
// notify the stack's alarm topic (subscribe a person or a pager to it); on
// GCP, Cloud Monitoring alert policies that notify the channels of
// playplane:alertNotificationChannels (Config.AlertNotificationChannels).

// Thresholds.
const (
	// Alarm5xxPercent of API requests answered 5xx over AlarmPeriodSeconds,
	// for 3 of 5 periods: one bad minute is noise, three are an outage.
	Alarm5xxPercent = 1.0
	// AlarmWebhookLagSeconds is the p99 time from a Stripe event's creation
	// to its application (metric playplane.webhook.lag, seconds) above
	// which entitlement changes are late enough for a subscriber to notice.
	AlarmWebhookLagSeconds = 300.0
	// AlarmWebhookLagWindowSeconds is the window the p99 is taken over.
	AlarmWebhookLagWindowSeconds = 5 * AlarmPeriodSeconds
	AlarmPeriodSeconds           = 60
	// MetricWebhookLag and MetricNamespace are what shared/telemetry emits
	// (EMF namespace on Lambda; the OpenTelemetry metric name on GCP).
	MetricWebhookLag = telemetry.MetricWebhookLag
	MetricNamespace  = telemetry.Namespace
	// AlarmNotSignableWindowSeconds: any play refused as
	// title_not_signable within it alarms. No viewer causes one (the
	// title's stored catalogue entry is a path no signer of the stack
	// signs: a catalogue or deployment fault), and every play of the
	// title fails until an operator fixes it.
	AlarmNotSignableWindowSeconds = 5 * AlarmPeriodSeconds
)

// playRoute is the route that authorizes plays: the function serving it
// counts refused plays (telemetry.PlayRefused, by reason), so the
// not-signable alarm is declared on the cloud serving it.
const playRoute = "POST /v1/play"

// metricPlayRefused is the metric the functions count a play refused for
// a reason on, and attrReason the attribute holding the reason
// (telemetry.PlayRefused). On Lambda the EMF sink writes the attribute as
// the line's one dimension; through the Telemetry API it is the series'
// label, its key as sent (OTLP attribute keys of [a-zA-Z_][a-zA-Z0-9_.]*
// are taken and kept,
// https://docs.cloud.google.com/stackdriver/docs/otlp-metrics/overview).
const (
	metricPlayRefused = telemetry.MetricPlayRefused
	attrReason        = string(telemetry.AttrReason)
)

// notSignableDescription is the not-signable alarm's description on
// either cloud, after the reason.
const notSignableDescription = ": a title's stored catalogue entry is a path no signer of the stack signs; " +
	"every play of it fails until the catalogue (or the signers) is fixed."

// notSignablePromQL selects the plays refused as title_not_signable over
// the window. A Monitoring filter names a label as metric.labels.KEY
// (https://docs.cloud.google.com/monitoring/api/v3/filters), and this
// label's key, playplane.reason, has a dot; PromQL's UTF-8 syntax quotes
// both the metric name and such a label key, as Cloud Monitoring
// documents for OTLP metrics ({"my.metric.name", "label.key"="value"},
// https://docs.cloud.google.com/stackdriver/docs/otlp-metrics/overview).
// increase() of the cumulative counter (one series per instance) is the
// refusals within the window.
func notSignablePromQL() string {
	return fmt.Sprintf(`sum(increase({%q, %q=%q}[%ds])) > 0`,
		metricPlayRefused, attrReason, playback.ReasonTitleNotSignable, AlarmNotSignableWindowSeconds)
}

// webhookLagPromQL is the p99 webhook lag over the window, across every
// instance's series (each writes its own). The functions send the
// histogram over OTLP to the Telemetry API (shared/telemetry/googlecloud),
// which files it as a Managed Service for Prometheus histogram under the
// name as sent; Cloud Monitoring's PromQL reads a distribution's buckets
// under the name with _bucket, quoted as the name has dots
// (https://docs.cloud.google.com/stackdriver/docs/managed-prometheus/promql-differences,
// UTF-8 support).
func webhookLagPromQL() string {
	return fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (increase({%q}[%ds]))) > %v`,
		MetricWebhookLag+"_bucket", AlarmWebhookLagWindowSeconds, AlarmWebhookLagSeconds)
}

// servesPlays says whether the function refusing plays serves its routes
// on cloud.
func (s *Stack) servesPlays(cloud Cloud) (bool, error) {
	fn, err := playServer(catalog.Functions)
	if err != nil {
		return false, err
	}
	return s.Config.Layout.HTTPCloud(fn) == cloud, nil
}

// playServer is the function of fns serving playRoute: with none, the
// not-signable alarm would have no cloud, and a stack must not deploy
// without it.
func playServer(fns []catalog.Function) (catalog.Function, error) {
	for _, fn := range fns {
		if slices.ContainsFunc(fn.Routes, func(r catalog.Route) bool { return r.Key() == playRoute }) {
			return fn, nil
		}
	}
	return catalog.Function{}, fmt.Errorf("stack: no function serves %s: the %s alarm has no cloud", playRoute, playback.ReasonTitleNotSignable)
}

// promQLCondition is an alert policy condition on a PromQL query of a
// metric the functions make on first use. A new stack has no such metric
// yet, and Cloud Monitoring refuses a condition on a metric it does not
// have ("Cannot find metric(s) that match type"): a filter cannot skip
// that check, PromQL can.
func promQLCondition(display, query string) gcpres.AlertPolicyConditionArgs {
	return gcpres.AlertPolicyConditionArgs{
		DisplayName: pulumi.String(display),
		ConditionPrometheusQueryLanguage: &gcpres.AlertPolicyConditionConditionPrometheusQueryLanguageArgs{
			Query:                   pulumi.String(query),
			Duration:                pulumi.String("0s"),
			DisableMetricValidation: pulumi.Bool(true),
		},
	}
}

// AWSAlarms are the stack's CloudWatch alarms and the topic they notify.
type AWSAlarms struct {
	Topic *awsres.Topic
	// DeadLetters by topic; FunctionErrors and Throttles by Lambda name.
	DeadLetters map[string]*awsres.MetricAlarm
	API5xx      *awsres.MetricAlarm // nil without an API on AWS
	WebhookLag  *awsres.MetricAlarm // nil unless Stripe events are applied on AWS
	// NotSignable: plays refused as title_not_signable; nil unless plays
	// are authorized on AWS.
	NotSignable    *awsres.MetricAlarm
	FunctionErrors map[string]*awsres.MetricAlarm
	Throttles      map[string]*awsres.MetricAlarm
}

// GCPAlerts are the stack's Cloud Monitoring alert policies.
type GCPAlerts struct {
	DeadLetters *gcpres.AlertPolicy
	Errors5xx   *gcpres.AlertPolicy
	WebhookLag  *gcpres.AlertPolicy
	Throttles   *gcpres.AlertPolicy
	// NotSignable: plays refused as title_not_signable; nil unless plays
	// are authorized on GCP.
	NotSignable *gcpres.AlertPolicy
}

func (s *Stack) newAWSAlarms(ctx *pulumi.Context) (*AWSAlarms, error) {
	cfg, a := s.Config, s.AWS
	al := &AWSAlarms{DeadLetters: map[string]*awsres.MetricAlarm{}, FunctionErrors: map[string]*awsres.MetricAlarm{},
		Throttles: map[string]*awsres.MetricAlarm{}}
	var err error
	if al.Topic, err = awsres.NewTopic(ctx, "alarms", &awsres.TopicArgs{Name: pulumi.String(cfg.Prefix + "-alarms"), Tags: a.tags}); err != nil {
		return nil, fmt.Errorf("alarm topic: %w", err)
	}
	actions := pulumi.Array{al.Topic.Arn}
	alarm := func(name string, args *awsres.MetricAlarmArgs) (*awsres.MetricAlarm, error) {
		args.Name = pulumi.String(cfg.Prefix + "-" + name)
		args.AlarmActions, args.OkActions = actions, actions
		args.Tags = a.tags
		if args.TreatMissingData == nil {
			args.TreatMissingData = pulumi.String("notBreaching") // no data: nothing happened
		}
		m, err := awsres.NewMetricAlarm(ctx, name, args)
		if err != nil {
			return nil, fmt.Errorf("alarm %s: %w", name, err)
		}
		return m, nil
	}
	topics := make([]string, 0, len(a.Queues))
	for t := range a.Queues {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, t := range topics {
		if al.DeadLetters[t], err = alarm(t+"-dead-letters", &awsres.MetricAlarmArgs{
			AlarmDescription:   pulumi.Sprintf("Messages of %s failed every delivery and wait in its dead-letter queue.", t),
			Namespace:          pulumi.String("AWS/SQS"),
			MetricName:         pulumi.String("ApproximateNumberOfMessagesVisible"),
			Dimensions:         pulumi.StringMap{"QueueName": a.Queues[t].DeadLetter.Name},
			Statistic:          pulumi.String("Maximum"),
			Period:             pulumi.Int(AlarmPeriodSeconds),
			EvaluationPeriods:  pulumi.Int(1),
			Threshold:          pulumi.Float64(0),
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
		}); err != nil {
			return nil, err
		}
	}
	if a.API != nil {
		metric := func(id, name string) awsres.MetricAlarmMetricQueryArgs {
			return awsres.MetricAlarmMetricQueryArgs{Id: pulumi.String(id), Metric: &awsres.MetricAlarmMetricQueryMetricArgs{
				Namespace: pulumi.String("AWS/ApiGateway"), MetricName: pulumi.String(name), Period: pulumi.Int(AlarmPeriodSeconds),
				Stat: pulumi.String("Sum"), Dimensions: pulumi.StringMap{"ApiId": a.API.ID().ToStringOutput(), "Stage": pulumi.String("$default")},
			}}
		}
		if al.API5xx, err = alarm("api-5xx-rate", &awsres.MetricAlarmArgs{
			AlarmDescription: pulumi.Sprintf("More than %v%% of API requests answered 5xx.", Alarm5xxPercent),
			MetricQueries: []awsres.MetricAlarmMetricQueryArgs{
				metric("errors", "5xx"), metric("requests", "Count"),
				{Id: pulumi.String("rate"), Label: pulumi.String("5xx %"), ReturnData: pulumi.Bool(true),
					Expression: pulumi.String("IF(requests > 0, 100 * errors / requests, 0)")},
			},
			EvaluationPeriods:  pulumi.Int(5),
			DatapointsToAlarm:  pulumi.Int(3),
			Threshold:          pulumi.Float64(Alarm5xxPercent),
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
		}); err != nil {
			return nil, err
		}
	}
	if cfg.Layout.Compute == AWS {
		if al.WebhookLag, err = alarm("webhook-lag", &awsres.MetricAlarmArgs{
			AlarmDescription:   pulumi.Sprintf("p99 time from a Stripe event's creation to its application above %v s.", AlarmWebhookLagSeconds),
			Namespace:          pulumi.String(MetricNamespace),
			MetricName:         pulumi.String(MetricWebhookLag),
			ExtendedStatistic:  pulumi.String("p99"),
			Period:             pulumi.Int(AlarmWebhookLagWindowSeconds),
			EvaluationPeriods:  pulumi.Int(1),
			Threshold:          pulumi.Float64(AlarmWebhookLagSeconds),
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
		}); err != nil {
			return nil, err
		}
	}
	plays, err := s.servesPlays(AWS)
	if err != nil {
		return nil, err
	}
	if plays {
		if al.NotSignable, err = alarm("title-not-signable", &awsres.MetricAlarmArgs{
			AlarmDescription: pulumi.String("Plays refused as " + playback.ReasonTitleNotSignable + notSignableDescription),
			Namespace:        pulumi.String(MetricNamespace),
			MetricName:       pulumi.String(metricPlayRefused),
			// The EMF line's dimension set is exactly the reason
			// (telemetry.PlayRefused): CloudWatch matches a metric by all
			// of its dimensions.
			Dimensions:         pulumi.StringMap{attrReason: pulumi.String(playback.ReasonTitleNotSignable)},
			Statistic:          pulumi.String("Sum"),
			Period:             pulumi.Int(AlarmNotSignableWindowSeconds),
			EvaluationPeriods:  pulumi.Int(1),
			Threshold:          pulumi.Float64(0),
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
		}); err != nil {
			return nil, err
		}
	}
	for _, fn := range s.awsLambdas() {
		for _, m := range []struct {
			metric string
			into   map[string]*awsres.MetricAlarm
			what   string
		}{
			{"Errors", al.FunctionErrors, "invocations failed"},
			{"Throttles", al.Throttles, "invocations were throttled"},
		} {
			name := fn.name + "-" + m.metric
			if m.into[fn.name], err = alarm(name, &awsres.MetricAlarmArgs{
				AlarmDescription:   pulumi.Sprintf("Lambda %s: %s.", fn.name, m.what),
				Namespace:          pulumi.String("AWS/Lambda"),
				MetricName:         pulumi.String(m.metric),
				Dimensions:         pulumi.StringMap{"FunctionName": fn.lambda.Name},
				Statistic:          pulumi.String("Sum"),
				Period:             pulumi.Int(5 * AlarmPeriodSeconds),
				EvaluationPeriods:  pulumi.Int(1),
				Threshold:          pulumi.Float64(0),
				ComparisonOperator: pulumi.String("GreaterThanThreshold"),
			}); err != nil {
				return nil, err
			}
		}
	}
	return al, nil
}

type namedLambda struct {
	name   string // resource name: function, function-topic, function-jobs
	lambda *awsres.Function
}

// awsLambdas are every Lambda of the stack, in a stable order.
func (s *Stack) awsLambdas() []namedLambda {
	names := make([]string, 0, len(s.AWS.Functions))
	for n := range s.AWS.Functions {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []namedLambda
	for _, n := range names {
		f := s.AWS.Functions[n]
		if f.Lambda != nil {
			out = append(out, namedLambda{n, f.Lambda})
		}
		topics := make([]string, 0, len(f.Consumers))
		for t := range f.Consumers {
			topics = append(topics, t)
		}
		slices.Sort(topics)
		for _, t := range topics {
			out = append(out, namedLambda{n + "-" + t, f.Consumers[t]})
		}
		if f.Jobs != nil {
			out = append(out, namedLambda{n + "-jobs", f.Jobs})
		}
	}
	return out
}

func (s *Stack) newGCPAlerts(ctx *pulumi.Context) (*GCPAlerts, error) {
	cfg, g := s.Config, s.GCP
	al := &GCPAlerts{}
	// Cloud Functions (2nd gen) run as Cloud Run services named after the
	// function, every one of them starting with the stack's prefix.
	services := fmt.Sprintf(`resource.type = "cloud_run_revision" AND resource.labels.service_name = starts_with(%q)`, cfg.Prefix)
	policy := func(name, doc string, conds []gcpres.AlertPolicyConditionArgs) (*gcpres.AlertPolicy, error) {
		p, err := gcpres.NewAlertPolicy(ctx, name, &gcpres.AlertPolicyArgs{
			Project:       pulumi.String(cfg.GCPProject),
			DisplayName:   pulumi.String(cfg.Prefix + " " + name),
			Combiner:      pulumi.String("OR"),
			Conditions:    conds,
			Documentation: &gcpres.AlertPolicyDocumentationArgs{Content: pulumi.String(doc), MimeType: pulumi.String("text/markdown")},
			// Declared here, or the next update of the policy drops a
			// channel added by hand.
			NotificationChannels: pulumi.ToStringArray(cfg.AlertNotificationChannels),
			UserLabels:           g.labels,
		})
		if err != nil {
			return nil, fmt.Errorf("alert policy %s: %w", name, err)
		}
		return p, nil
	}
	threshold := func(display string, args *gcpres.AlertPolicyConditionConditionThresholdArgs) gcpres.AlertPolicyConditionArgs {
		if args.Duration == nil {
			args.Duration = pulumi.String("0s")
		}
		if args.Comparison == nil {
			args.Comparison = pulumi.String("COMPARISON_GT")
		}
		return gcpres.AlertPolicyConditionArgs{DisplayName: pulumi.String(display), ConditionThreshold: args}
	}
	period := pulumi.Sprintf("%ds", AlarmPeriodSeconds)
	var err error
	var dead []gcpres.AlertPolicyConditionArgs
	topics := make([]string, 0, len(g.Topics))
	for t := range g.Topics {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, t := range topics {
		dead = append(dead, threshold("dead letters of "+t, &gcpres.AlertPolicyConditionConditionThresholdArgs{
			Filter: g.Topics[t].DeadLetters.Name.ApplyT(func(sub string) string {
				return fmt.Sprintf(`resource.type = "pubsub_subscription" AND resource.labels.subscription_id = %q AND metric.type = "pubsub.googleapis.com/subscription/num_undelivered_messages"`, sub)
			}).(pulumi.StringOutput),
			ThresholdValue: pulumi.Float64(0),
			Aggregations: []gcpres.AlertPolicyConditionConditionThresholdAggregationArgs{
				{AlignmentPeriod: period, PerSeriesAligner: pulumi.String("ALIGN_MAX")},
			},
		}))
	}
	if al.DeadLetters, err = policy("dead-letters", "Messages failed every delivery and wait in a dead-letter subscription (`<topic>-dlq`).", dead); err != nil {
		return nil, err
	}
	requests := func(extra string) string {
		return services + ` AND metric.type = "run.googleapis.com/request_count"` + extra
	}
	sum := []gcpres.AlertPolicyConditionConditionThresholdAggregationArgs{
		{AlignmentPeriod: period, PerSeriesAligner: pulumi.String("ALIGN_RATE"),
			CrossSeriesReducer: pulumi.String("REDUCE_SUM"), GroupByFields: pulumi.StringArray{pulumi.String("resource.label.service_name")}},
	}
	if al.Errors5xx, err = policy("5xx-rate", fmt.Sprintf("More than %v%% of a function's requests answered 5xx for 3 minutes (its errors).", Alarm5xxPercent),
		[]gcpres.AlertPolicyConditionArgs{threshold("5xx share per function", &gcpres.AlertPolicyConditionConditionThresholdArgs{
			Filter:            pulumi.String(requests(` AND metric.labels.response_code_class = "5xx"`)),
			Aggregations:      sum,
			DenominatorFilter: pulumi.String(requests("")),
			DenominatorAggregations: []gcpres.AlertPolicyConditionConditionThresholdDenominatorAggregationArgs{
				{AlignmentPeriod: period, PerSeriesAligner: pulumi.String("ALIGN_RATE"),
					CrossSeriesReducer: pulumi.String("REDUCE_SUM"), GroupByFields: pulumi.StringArray{pulumi.String("resource.label.service_name")}},
			},
			ThresholdValue: pulumi.Float64(Alarm5xxPercent / 100),
			Duration:       pulumi.String("180s"),
		})}); err != nil {
		return nil, err
	}
	if al.Throttles, err = policy("throttles", "A function answered 429: Cloud Run had no instance to take the request (max instances or concurrency reached).",
		[]gcpres.AlertPolicyConditionArgs{threshold("429 per function", &gcpres.AlertPolicyConditionConditionThresholdArgs{
			Filter:         pulumi.String(requests(` AND metric.labels.response_code = "429"`)),
			Aggregations:   sum,
			ThresholdValue: pulumi.Float64(0),
		})}); err != nil {
		return nil, err
	}
	if cfg.Layout.Compute == GCP {
		if al.WebhookLag, err = policy("webhook-lag", fmt.Sprintf("p99 time from a Stripe event's creation to its application above %v s.", AlarmWebhookLagSeconds),
			// The histogram exists once a Stripe event was applied.
			[]gcpres.AlertPolicyConditionArgs{promQLCondition("webhook lag p99", webhookLagPromQL())}); err != nil {
			return nil, err
		}
	}
	plays, err := s.servesPlays(GCP)
	if err != nil {
		return nil, err
	}
	if plays {
		// The counter exists once a play was refused.
		if al.NotSignable, err = policy("title-not-signable", "Plays refused as `"+playback.ReasonTitleNotSignable+"`"+notSignableDescription,
			[]gcpres.AlertPolicyConditionArgs{promQLCondition("plays refused as "+playback.ReasonTitleNotSignable, notSignablePromQL())}); err != nil {
			return nil, err
		}
	}
	return al, nil
}

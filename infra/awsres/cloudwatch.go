package awsres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// LogGroup is aws:cloudwatch/logGroup:LogGroup.
type LogGroup struct {
	pulumi.CustomResourceState
	Arn  pulumi.StringOutput `pulumi:"arn"`
	Name pulumi.StringOutput `pulumi:"name"`
}

type LogGroupArgs struct {
	Name            pulumi.StringPtrInput
	RetentionInDays pulumi.IntPtrInput
	Tags            pulumi.StringMapInput
}

type logGroupArgs struct {
	Name            *string           `pulumi:"name"`
	RetentionInDays *int              `pulumi:"retentionInDays"`
	Tags            map[string]string `pulumi:"tags"`
}

func (LogGroupArgs) ElementType() reflect.Type { return reflect.TypeFor[logGroupArgs]() }

var logGroupSpec = spec{
	Token: "aws:cloudwatch/logGroup:LogGroup",
}

func NewLogGroup(ctx *pulumi.Context, name string, args *LogGroupArgs, opts ...pulumi.ResourceOption) (*LogGroup, error) {
	return newResource[LogGroup](ctx, logGroupSpec, name, args, opts)
}

// EventRule is aws:cloudwatch/eventRule:EventRule.
type EventRule struct {
	pulumi.CustomResourceState
	Arn  pulumi.StringOutput `pulumi:"arn"`
	Name pulumi.StringOutput `pulumi:"name"`
}

type EventRuleArgs struct {
	Description        pulumi.StringPtrInput
	Name               pulumi.StringPtrInput
	ScheduleExpression pulumi.StringPtrInput
	State              pulumi.StringPtrInput
	Tags               pulumi.StringMapInput
}

type eventRuleArgs struct {
	Description        *string           `pulumi:"description"`
	Name               *string           `pulumi:"name"`
	ScheduleExpression *string           `pulumi:"scheduleExpression"`
	State              *string           `pulumi:"state"`
	Tags               map[string]string `pulumi:"tags"`
}

func (EventRuleArgs) ElementType() reflect.Type { return reflect.TypeFor[eventRuleArgs]() }

var eventRuleSpec = spec{
	Token: "aws:cloudwatch/eventRule:EventRule",
}

func NewEventRule(ctx *pulumi.Context, name string, args *EventRuleArgs, opts ...pulumi.ResourceOption) (*EventRule, error) {
	return newResource[EventRule](ctx, eventRuleSpec, name, args, opts)
}

// EventTarget is aws:cloudwatch/eventTarget:EventTarget.
type EventTarget struct {
	pulumi.CustomResourceState
}

type EventTargetArgs struct {
	Arn         pulumi.StringInput
	Input       pulumi.StringPtrInput
	RetryPolicy *EventTargetRetryPolicyArgs
	Rule        pulumi.StringInput
	TargetId    pulumi.StringPtrInput
}

type eventTargetArgs struct {
	Arn         string                  `pulumi:"arn"`
	Input       *string                 `pulumi:"input"`
	RetryPolicy *EventTargetRetryPolicy `pulumi:"retryPolicy"`
	Rule        string                  `pulumi:"rule"`
	TargetId    *string                 `pulumi:"targetId"`
}

func (EventTargetArgs) ElementType() reflect.Type { return reflect.TypeFor[eventTargetArgs]() }

type EventTargetRetryPolicyArgs struct {
	MaximumEventAgeInSeconds pulumi.IntPtrInput
	MaximumRetryAttempts     pulumi.IntPtrInput
}

type EventTargetRetryPolicy struct {
	MaximumEventAgeInSeconds *int `pulumi:"maximumEventAgeInSeconds"`
	MaximumRetryAttempts     *int `pulumi:"maximumRetryAttempts"`
}

func (EventTargetRetryPolicyArgs) ElementType() reflect.Type {
	return reflect.TypeFor[EventTargetRetryPolicy]()
}

var eventTargetSpec = spec{
	Token:    "aws:cloudwatch/eventTarget:EventTarget",
	Required: []string{"Arn", "Rule"},
}

func NewEventTarget(ctx *pulumi.Context, name string, args *EventTargetArgs, opts ...pulumi.ResourceOption) (*EventTarget, error) {
	return newResource[EventTarget](ctx, eventTargetSpec, name, args, opts)
}

// MetricAlarm is aws:cloudwatch/metricAlarm:MetricAlarm.
type MetricAlarm struct {
	pulumi.CustomResourceState
}

type MetricAlarmArgs struct {
	AlarmActions       pulumi.ArrayInput
	AlarmDescription   pulumi.StringPtrInput
	ComparisonOperator pulumi.StringInput
	DatapointsToAlarm  pulumi.IntPtrInput
	Dimensions         pulumi.StringMapInput
	EvaluationPeriods  pulumi.IntInput
	ExtendedStatistic  pulumi.StringPtrInput
	MetricName         pulumi.StringPtrInput
	MetricQueries      []MetricAlarmMetricQueryArgs
	Name               pulumi.StringPtrInput
	Namespace          pulumi.StringPtrInput
	OkActions          pulumi.ArrayInput
	Period             pulumi.IntPtrInput
	Statistic          pulumi.StringPtrInput
	Tags               pulumi.StringMapInput
	Threshold          pulumi.Float64PtrInput
	TreatMissingData   pulumi.StringPtrInput
}

type metricAlarmArgs struct {
	AlarmActions       []interface{}            `pulumi:"alarmActions"`
	AlarmDescription   *string                  `pulumi:"alarmDescription"`
	ComparisonOperator string                   `pulumi:"comparisonOperator"`
	DatapointsToAlarm  *int                     `pulumi:"datapointsToAlarm"`
	Dimensions         map[string]string        `pulumi:"dimensions"`
	EvaluationPeriods  int                      `pulumi:"evaluationPeriods"`
	ExtendedStatistic  *string                  `pulumi:"extendedStatistic"`
	MetricName         *string                  `pulumi:"metricName"`
	MetricQueries      []MetricAlarmMetricQuery `pulumi:"metricQueries"`
	Name               *string                  `pulumi:"name"`
	Namespace          *string                  `pulumi:"namespace"`
	OkActions          []interface{}            `pulumi:"okActions"`
	Period             *int                     `pulumi:"period"`
	Statistic          *string                  `pulumi:"statistic"`
	Tags               map[string]string        `pulumi:"tags"`
	Threshold          *float64                 `pulumi:"threshold"`
	TreatMissingData   *string                  `pulumi:"treatMissingData"`
}

func (MetricAlarmArgs) ElementType() reflect.Type { return reflect.TypeFor[metricAlarmArgs]() }

type MetricAlarmMetricQueryArgs struct {
	Expression pulumi.StringPtrInput
	Id         pulumi.StringInput
	Label      pulumi.StringPtrInput
	Metric     *MetricAlarmMetricQueryMetricArgs
	ReturnData pulumi.BoolPtrInput
}

type MetricAlarmMetricQuery struct {
	Expression *string                       `pulumi:"expression"`
	Id         string                        `pulumi:"id"`
	Label      *string                       `pulumi:"label"`
	Metric     *MetricAlarmMetricQueryMetric `pulumi:"metric"`
	ReturnData *bool                         `pulumi:"returnData"`
}

func (MetricAlarmMetricQueryArgs) ElementType() reflect.Type {
	return reflect.TypeFor[MetricAlarmMetricQuery]()
}

type MetricAlarmMetricQueryMetricArgs struct {
	Dimensions pulumi.StringMapInput
	MetricName pulumi.StringInput
	Namespace  pulumi.StringPtrInput
	Period     pulumi.IntInput
	Stat       pulumi.StringInput
}

type MetricAlarmMetricQueryMetric struct {
	Dimensions map[string]string `pulumi:"dimensions"`
	MetricName string            `pulumi:"metricName"`
	Namespace  *string           `pulumi:"namespace"`
	Period     int               `pulumi:"period"`
	Stat       string            `pulumi:"stat"`
}

func (MetricAlarmMetricQueryMetricArgs) ElementType() reflect.Type {
	return reflect.TypeFor[MetricAlarmMetricQueryMetric]()
}

var metricAlarmSpec = spec{
	Token:    "aws:cloudwatch/metricAlarm:MetricAlarm",
	Required: []string{"ComparisonOperator", "EvaluationPeriods"},
}

func NewMetricAlarm(ctx *pulumi.Context, name string, args *MetricAlarmArgs, opts ...pulumi.ResourceOption) (*MetricAlarm, error) {
	return newResource[MetricAlarm](ctx, metricAlarmSpec, name, args, opts)
}

package gcpres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AlertPolicy is gcp:monitoring/alertPolicy:AlertPolicy.
type AlertPolicy struct {
	pulumi.CustomResourceState
}

type AlertPolicyArgs struct {
	Combiner             pulumi.StringInput
	Conditions           []AlertPolicyConditionArgs
	DisplayName          pulumi.StringInput
	Documentation        *AlertPolicyDocumentationArgs
	NotificationChannels pulumi.StringArrayInput
	Project              pulumi.StringPtrInput
	UserLabels           pulumi.StringMapInput
}

type alertPolicyArgs struct {
	Combiner             string                    `pulumi:"combiner"`
	Conditions           []AlertPolicyCondition    `pulumi:"conditions"`
	DisplayName          string                    `pulumi:"displayName"`
	Documentation        *AlertPolicyDocumentation `pulumi:"documentation"`
	NotificationChannels []string                  `pulumi:"notificationChannels"`
	Project              *string                   `pulumi:"project"`
	UserLabels           map[string]string         `pulumi:"userLabels"`
}

func (AlertPolicyArgs) ElementType() reflect.Type { return reflect.TypeFor[alertPolicyArgs]() }

type AlertPolicyConditionArgs struct {
	ConditionPrometheusQueryLanguage *AlertPolicyConditionConditionPrometheusQueryLanguageArgs
	ConditionThreshold               *AlertPolicyConditionConditionThresholdArgs
	DisplayName                      pulumi.StringInput
}

type AlertPolicyCondition struct {
	ConditionPrometheusQueryLanguage *AlertPolicyConditionConditionPrometheusQueryLanguage `pulumi:"conditionPrometheusQueryLanguage"`
	ConditionThreshold               *AlertPolicyConditionConditionThreshold               `pulumi:"conditionThreshold"`
	DisplayName                      string                                                `pulumi:"displayName"`
}

func (AlertPolicyConditionArgs) ElementType() reflect.Type {
	return reflect.TypeFor[AlertPolicyCondition]()
}

type AlertPolicyConditionConditionPrometheusQueryLanguageArgs struct {
	DisableMetricValidation pulumi.BoolPtrInput
	Duration                pulumi.StringPtrInput
	EvaluationInterval      pulumi.StringPtrInput
	Query                   pulumi.StringInput
}

type AlertPolicyConditionConditionPrometheusQueryLanguage struct {
	DisableMetricValidation *bool   `pulumi:"disableMetricValidation"`
	Duration                *string `pulumi:"duration"`
	EvaluationInterval      *string `pulumi:"evaluationInterval"`
	Query                   string  `pulumi:"query"`
}

func (AlertPolicyConditionConditionPrometheusQueryLanguageArgs) ElementType() reflect.Type {
	return reflect.TypeFor[AlertPolicyConditionConditionPrometheusQueryLanguage]()
}

type AlertPolicyConditionConditionThresholdArgs struct {
	Aggregations            []AlertPolicyConditionConditionThresholdAggregationArgs
	Comparison              pulumi.StringInput
	DenominatorAggregations []AlertPolicyConditionConditionThresholdDenominatorAggregationArgs
	DenominatorFilter       pulumi.StringPtrInput
	Duration                pulumi.StringInput
	Filter                  pulumi.StringPtrInput
	ThresholdValue          pulumi.Float64PtrInput
}

type AlertPolicyConditionConditionThreshold struct {
	Aggregations            []AlertPolicyConditionConditionThresholdAggregation            `pulumi:"aggregations"`
	Comparison              string                                                         `pulumi:"comparison"`
	DenominatorAggregations []AlertPolicyConditionConditionThresholdDenominatorAggregation `pulumi:"denominatorAggregations"`
	DenominatorFilter       *string                                                        `pulumi:"denominatorFilter"`
	Duration                string                                                         `pulumi:"duration"`
	Filter                  *string                                                        `pulumi:"filter"`
	ThresholdValue          *float64                                                       `pulumi:"thresholdValue"`
}

func (AlertPolicyConditionConditionThresholdArgs) ElementType() reflect.Type {
	return reflect.TypeFor[AlertPolicyConditionConditionThreshold]()
}

type AlertPolicyConditionConditionThresholdAggregationArgs struct {
	AlignmentPeriod    pulumi.StringPtrInput
	CrossSeriesReducer pulumi.StringPtrInput
	GroupByFields      pulumi.StringArrayInput
	PerSeriesAligner   pulumi.StringPtrInput
}

type AlertPolicyConditionConditionThresholdAggregation struct {
	AlignmentPeriod    *string  `pulumi:"alignmentPeriod"`
	CrossSeriesReducer *string  `pulumi:"crossSeriesReducer"`
	GroupByFields      []string `pulumi:"groupByFields"`
	PerSeriesAligner   *string  `pulumi:"perSeriesAligner"`
}

func (AlertPolicyConditionConditionThresholdAggregationArgs) ElementType() reflect.Type {
	return reflect.TypeFor[AlertPolicyConditionConditionThresholdAggregation]()
}

type AlertPolicyConditionConditionThresholdDenominatorAggregationArgs struct {
	AlignmentPeriod    pulumi.StringPtrInput
	CrossSeriesReducer pulumi.StringPtrInput
	GroupByFields      pulumi.StringArrayInput
	PerSeriesAligner   pulumi.StringPtrInput
}

type AlertPolicyConditionConditionThresholdDenominatorAggregation struct {
	AlignmentPeriod    *string  `pulumi:"alignmentPeriod"`
	CrossSeriesReducer *string  `pulumi:"crossSeriesReducer"`
	GroupByFields      []string `pulumi:"groupByFields"`
	PerSeriesAligner   *string  `pulumi:"perSeriesAligner"`
}

func (AlertPolicyConditionConditionThresholdDenominatorAggregationArgs) ElementType() reflect.Type {
	return reflect.TypeFor[AlertPolicyConditionConditionThresholdDenominatorAggregation]()
}

type AlertPolicyDocumentationArgs struct {
	Content  pulumi.StringPtrInput
	MimeType pulumi.StringPtrInput
}

type AlertPolicyDocumentation struct {
	Content  *string `pulumi:"content"`
	MimeType *string `pulumi:"mimeType"`
}

func (AlertPolicyDocumentationArgs) ElementType() reflect.Type {
	return reflect.TypeFor[AlertPolicyDocumentation]()
}

var alertPolicySpec = spec{
	Token:    "gcp:monitoring/alertPolicy:AlertPolicy",
	Required: []string{"Combiner", "Conditions", "DisplayName"},
}

func NewAlertPolicy(ctx *pulumi.Context, name string, args *AlertPolicyArgs, opts ...pulumi.ResourceOption) (*AlertPolicy, error) {
	return newResource[AlertPolicy](ctx, alertPolicySpec, name, args, opts)
}

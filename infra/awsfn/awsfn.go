// Package awsfn is the AWS Function component: a function's Lambdas, one
// per trigger from the function's one zip (its HTTP API routes, each SQS
// consumer, its EventBridge schedules), each told its trigger by
// catalog.EnvTrigger (and catalog.EnvTopic), sharing the function's role
// with its inline least-privilege policy and its log group; SQS event source
// mappings with partial-batch reporting.
package awsfn

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/awsres"
)

// Type is the component's Pulumi type token.
const Type = "playplane:aws:Function"

// Statement is one Allow statement of the function's policy. Resources are
// exact ARNs: the component refuses wildcards.
type Statement struct {
	Sid       string
	Actions   []string
	Resources pulumi.StringArrayInput
}

// Queue is an SQS queue the function consumes.
type Queue struct {
	Topic string
	Arn   pulumi.StringInput
}

// HTTP attaches the function's routes to an HTTP API.
type HTTP struct {
	APIID           pulumi.StringInput
	APIExecutionArn pulumi.StringInput
	// AuthorizerID is the JWT authorizer; required when a route uses catalog.AuthJWT.
	AuthorizerID pulumi.StringInput
	// Routes to serve here; a subset of Spec.Routes.
	Routes []catalog.Route
}

// Args configures a Function.
type Args struct {
	Spec catalog.Function
	// FunctionName is the physical Lambda name, e.g. playplane-aws-signurl.
	FunctionName string
	// Code is the path of the arm64 zip with the bootstrap binary.
	Code       string
	Env        pulumi.StringMap
	Statements []Statement
	Queues     []Queue
	HTTP       *HTTP
	// Jobs to schedule; a subset of Spec.Jobs.
	Jobs []catalog.Job
	// DisabledJobs names the Jobs whose rule is created disabled (a job
	// whose NeedsSecret is left unset).
	DisabledJobs     []string
	LogRetentionDays int
	Tags             pulumi.StringMap
}

// Function is the component.
type Function struct {
	pulumi.ResourceState

	// Lambda serves the HTTP routes (FunctionName); nil without routes.
	Lambda *awsres.Function
	// Consumers consume one topic each (FunctionName-<topic>), by topic.
	Consumers map[string]*awsres.Function
	// Jobs runs the scheduled jobs (FunctionName-jobs); nil without jobs.
	Jobs        *awsres.Function
	Role        *awsres.Role
	Policy      *awsres.RolePolicy
	LogGroup    *awsres.LogGroup
	Mappings    map[string]*awsres.EventSourceMapping // by topic
	Integration *awsres.Integration
	Routes      map[string]*awsres.Route     // by route key
	Schedules   map[string]*awsres.EventRule // by job name
}

// New creates the function and everything it owns.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Function, error) {
	if err := validate(args); err != nil {
		return nil, fmt.Errorf("awsfn.New %s: %w", name, err)
	}
	f := &Function{
		Consumers: map[string]*awsres.Function{},
		Mappings:  map[string]*awsres.EventSourceMapping{},
		Routes:    map[string]*awsres.Route{},
		Schedules: map[string]*awsres.EventRule{},
	}
	if err := ctx.RegisterComponentResource(Type, name, f, opts...); err != nil {
		return nil, fmt.Errorf("awsfn.New %s: %w", name, err)
	}
	parent := pulumi.Parent(f)
	var err error

	f.LogGroup, err = awsres.NewLogGroup(ctx, name, &awsres.LogGroupArgs{
		Name:            pulumi.String("/aws/lambda/" + args.FunctionName),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		Tags:            args.Tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("awsfn.New %s: log group: %w", name, err)
	}

	f.Role, err = awsres.NewRole(ctx, name, &awsres.RoleArgs{
		Name:             pulumi.String(args.FunctionName),
		Description:      pulumi.String("Execution role of the " + args.Spec.Name + " function"),
		AssumeRolePolicy: pulumi.String(assumeRolePolicy),
		Tags:             args.Tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("awsfn.New %s: role: %w", name, err)
	}

	statements := append([]Statement{{
		Sid:     "WriteOwnLogs",
		Actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"},
		// Stream names are picked by Lambda at run time, so the stream part
		// is the one wildcard the policy holds, under this function's own
		// log group.
		Resources: pulumi.StringArray{f.LogGroup.Arn.ApplyT(func(arn string) string {
			return arn + ":log-stream:*"
		}).(pulumi.StringOutput)},
	}}, args.Statements...)
	for _, q := range args.Queues {
		statements = append(statements, Statement{
			Sid:       "Consume" + sidWord(q.Topic),
			Actions:   []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"},
			Resources: pulumi.StringArray{q.Arn},
		})
	}
	f.Policy, err = awsres.NewRolePolicy(ctx, name, &awsres.RolePolicyArgs{
		Name:   pulumi.String(args.FunctionName),
		Role:   f.Role.ID(),
		Policy: PolicyJSON(statements),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("awsfn.New %s: policy: %w", name, err)
	}

	if args.HTTP != nil {
		if f.Lambda, err = f.newLambda(ctx, name, args.FunctionName, args, catalog.TriggerHTTP, "", parent); err != nil {
			return nil, fmt.Errorf("awsfn.New %s: %w", name, err)
		}
		if err := f.attachRoutes(ctx, name, args.HTTP, parent); err != nil {
			return nil, fmt.Errorf("awsfn.New %s: %w", name, err)
		}
	}

	for _, q := range args.Queues {
		consumer, err := f.newLambda(ctx, name+"-"+q.Topic, args.FunctionName+"-"+q.Topic, args, catalog.TriggerQueue, q.Topic, parent)
		if err != nil {
			return nil, fmt.Errorf("awsfn.New %s: %w", name, err)
		}
		f.Consumers[q.Topic] = consumer
		m, err := awsres.NewEventSourceMapping(ctx, name+"-"+q.Topic, &awsres.EventSourceMappingArgs{
			EventSourceArn:                 q.Arn,
			FunctionName:                   consumer.Arn,
			BatchSize:                      pulumi.Int(10),
			MaximumBatchingWindowInSeconds: pulumi.Int(1),
			// The handler names the failed messages; only those are retried
			// and, after catalog.MaxDeliveryAttempts, moved to the DLQ.
			FunctionResponseTypes: pulumi.StringArray{pulumi.String("ReportBatchItemFailures")},
		}, parent, pulumi.DependsOn([]pulumi.Resource{f.Policy}))
		if err != nil {
			return nil, fmt.Errorf("awsfn.New %s: event source %s: %w", name, q.Topic, err)
		}
		f.Mappings[q.Topic] = m
	}

	if len(args.Jobs) > 0 {
		if f.Jobs, err = f.newLambda(ctx, name+"-jobs", args.FunctionName+"-jobs", args, catalog.TriggerJob, "", parent); err != nil {
			return nil, fmt.Errorf("awsfn.New %s: %w", name, err)
		}
	}
	for _, job := range args.Jobs {
		if err := f.schedule(ctx, name, args, job, parent); err != nil {
			return nil, fmt.Errorf("awsfn.New %s: job %s: %w", name, job.Name, err)
		}
	}

	outputs := pulumi.Map{"roleArn": f.Role.Arn}
	if f.Lambda != nil {
		outputs["functionArn"] = f.Lambda.Arn
	}
	if err := ctx.RegisterResourceOutputs(f, outputs); err != nil {
		return nil, fmt.Errorf("awsfn.New %s: %w", name, err)
	}
	return f, nil
}

// Lambdas are every Lambda of the function: HTTP, consumers by topic, jobs.
func (f *Function) Lambdas() []*awsres.Function {
	var out []*awsres.Function
	if f.Lambda != nil {
		out = append(out, f.Lambda)
	}
	for _, topic := range slices.Sorted(maps.Keys(f.Consumers)) {
		out = append(out, f.Consumers[topic])
	}
	if f.Jobs != nil {
		out = append(out, f.Jobs)
	}
	return out
}

// newLambda is one Lambda of the function: the function's zip, role, log
// group and environment, plus the trigger it serves.
func (f *Function) newLambda(ctx *pulumi.Context, resourceName, functionName string, args Args, trigger, topic string, parent pulumi.ResourceOption) (*awsres.Function, error) {
	env := pulumi.StringMap{catalog.EnvTrigger: pulumi.String(trigger)}
	if topic != "" {
		env[catalog.EnvTopic] = pulumi.String(topic)
	}
	for k, v := range args.Env {
		env[k] = v
	}
	l, err := awsres.NewFunction(ctx, resourceName, &awsres.FunctionArgs{
		Name:          pulumi.String(functionName),
		Runtime:       pulumi.String(catalog.LambdaRuntime),
		Architectures: pulumi.StringArray{pulumi.String(catalog.LambdaArchitecture)},
		Handler:       pulumi.String(catalog.LambdaHandler),
		Code:          pulumi.NewFileArchive(args.Code),
		Role:          f.Role.Arn,
		MemorySize:    pulumi.Int(args.Spec.MemoryMB),
		Timeout:       pulumi.Int(args.Spec.TimeoutSeconds),
		Environment:   &awsres.FunctionEnvironmentArgs{Variables: env},
		// Every Lambda of the function logs to its one group, which the
		// role may write to.
		LoggingConfig: &awsres.FunctionLoggingConfigArgs{
			LogFormat: pulumi.String("JSON"),
			LogGroup:  f.LogGroup.Name,
		},
		Tags: args.Tags,
	}, parent, pulumi.DependsOn([]pulumi.Resource{f.Policy}))
	if err != nil {
		return nil, fmt.Errorf("lambda %s: %w", functionName, err)
	}
	return l, nil
}

func (f *Function) attachRoutes(ctx *pulumi.Context, name string, h *HTTP, parent pulumi.ResourceOption) error {
	var err error
	f.Integration, err = awsres.NewIntegration(ctx, name, &awsres.IntegrationArgs{
		ApiId:                h.APIID,
		IntegrationType:      pulumi.String("AWS_PROXY"),
		IntegrationUri:       f.Lambda.InvokeArn,
		PayloadFormatVersion: pulumi.String("2.0"),
	}, parent)
	if err != nil {
		return fmt.Errorf("integration: %w", err)
	}
	for _, r := range h.Routes {
		args := &awsres.RouteArgs{
			ApiId:             h.APIID,
			RouteKey:          pulumi.String(r.Key()),
			Target:            pulumi.Sprintf("integrations/%s", f.Integration.ID()),
			AuthorizationType: pulumi.String("NONE"),
		}
		if r.Auth.VerifiedAsJWT() {
			args.AuthorizationType = pulumi.String("JWT")
			args.AuthorizerId = h.AuthorizerID
		}
		resourceName := name + "-" + RouteSlug(r)
		route, err := awsres.NewRoute(ctx, resourceName, args, parent)
		if err != nil {
			return fmt.Errorf("route %s: %w", r.Key(), err)
		}
		f.Routes[r.Key()] = route
		// One permission per route: API Gateway may invoke the function only
		// through this method and path of this API (any stage).
		_, err = awsres.NewPermission(ctx, resourceName, &awsres.PermissionArgs{
			Action:    pulumi.String("lambda:InvokeFunction"),
			Function:  f.Lambda.Name,
			Principal: pulumi.String("apigateway.amazonaws.com"),
			SourceArn: pulumi.Sprintf("%s/*/%s%s", h.APIExecutionArn, r.Method, SourceArnPath(r.Path)),
		}, parent)
		if err != nil {
			return fmt.Errorf("permission %s: %w", r.Key(), err)
		}
	}
	return nil
}

// schedule invokes the function with the job's payload on the job's
// interval: an EventBridge rule, its target, and a permission that lets
// EventBridge invoke the function through this rule only. No role is
// involved: the permission is the function's resource policy.
func (f *Function) schedule(ctx *pulumi.Context, name string, args Args, job catalog.Job, parent pulumi.ResourceOption) error {
	rate, err := job.RateExpression()
	if err != nil {
		return err
	}
	resourceName := name + "-job-" + job.Name
	rule, err := awsres.NewEventRule(ctx, resourceName, &awsres.EventRuleArgs{
		Name:               pulumi.String(args.FunctionName + "-" + job.Name),
		Description:        pulumi.String("Runs the " + job.Name + " job of the " + args.Spec.Name + " function"),
		ScheduleExpression: pulumi.String(rate),
		State:              pulumi.String(map[bool]string{true: "DISABLED", false: "ENABLED"}[slices.Contains(args.DisabledJobs, job.Name)]),
		Tags:               args.Tags,
	}, parent)
	if err != nil {
		return fmt.Errorf("rule: %w", err)
	}
	permission, err := awsres.NewPermission(ctx, resourceName, &awsres.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  f.Jobs.Name,
		Principal: pulumi.String("events.amazonaws.com"),
		SourceArn: rule.Arn,
	}, parent)
	if err != nil {
		return fmt.Errorf("permission: %w", err)
	}
	_, err = awsres.NewEventTarget(ctx, resourceName, &awsres.EventTargetArgs{
		Rule:     rule.Name,
		TargetId: pulumi.String(args.Spec.Name),
		Arn:      f.Jobs.Arn,
		// The jobs Lambda (catalog.TriggerJob) runs the job this names.
		Input: pulumi.String(job.Payload()),
		// Jobs are idempotent sweeps: a retry is harmless, and a run older
		// than the interval is superseded by the next one.
		RetryPolicy: &awsres.EventTargetRetryPolicyArgs{
			MaximumEventAgeInSeconds: pulumi.Int(max(60, int(job.Every.Seconds()))),
			MaximumRetryAttempts:     pulumi.Int(2),
		},
	}, parent, pulumi.DependsOn([]pulumi.Resource{permission}))
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	f.Schedules[job.Name] = rule
	return nil
}

func validate(args Args) error {
	switch {
	case args.FunctionName == "" || len(args.FunctionName) > 64:
		return fmt.Errorf("function name %q must have 1 to 64 characters", args.FunctionName)
	case args.Code == "":
		return errors.New("code path is required")
	case args.LogRetentionDays <= 0:
		return errors.New("log retention is required")
	case args.HTTP == nil && len(args.Queues) == 0 && len(args.Jobs) == 0:
		return errors.New("no routes, queues or jobs: nothing would invoke it")
	}
	for _, s := range args.Statements {
		if len(s.Actions) == 0 || s.Resources == nil {
			return fmt.Errorf("statement %s needs actions and resources", s.Sid)
		}
		for _, a := range s.Actions {
			if strings.ContainsAny(a, "*?") {
				return fmt.Errorf("statement %s: wildcard action %q", s.Sid, a)
			}
		}
	}
	for _, q := range args.Queues {
		if !args.Spec.ConsumesFrom(q.Topic) {
			return fmt.Errorf("%s does not consume %s", args.Spec.Name, q.Topic)
		}
	}
	for _, name := range args.DisabledJobs {
		if !slices.ContainsFunc(args.Jobs, func(j catalog.Job) bool { return j.Name == name }) {
			return fmt.Errorf("disabled job %s is not scheduled", name)
		}
	}
	for _, job := range args.Jobs {
		if !slices.Contains(args.Spec.Jobs, job) {
			return fmt.Errorf("%s has no job %s", args.Spec.Name, job.Name)
		}
		if _, err := job.RateExpression(); err != nil {
			return err
		}
		if n := len(args.FunctionName + "-" + job.Name); n > 64 {
			return fmt.Errorf("schedule name %s-%s has %d characters, more than 64", args.FunctionName, job.Name, n)
		}
	}
	for _, suffix := range lambdaSuffixes(args) {
		if n := len(args.FunctionName + suffix); n > 64 {
			return fmt.Errorf("Lambda name %s%s has %d characters, more than 64", args.FunctionName, suffix, n)
		}
	}
	if args.HTTP != nil {
		for _, r := range args.HTTP.Routes {
			if r.Auth.VerifiedAsJWT() && args.HTTP.AuthorizerID == nil {
				return fmt.Errorf("route %s needs a JWT authorizer", r.Key())
			}
		}
	}
	return nil
}

// lambdaSuffixes are what the names of the function's queue and job
// Lambdas add to FunctionName.
func lambdaSuffixes(args Args) []string {
	var out []string
	for _, q := range args.Queues {
		out = append(out, "-"+q.Topic)
	}
	if len(args.Jobs) > 0 {
		out = append(out, "-jobs")
	}
	return out
}

// PolicyJSON renders statements as an IAM policy document once every
// resource ARN is known. A wildcard resource (other than a log stream under
// a log group) fails the deployment rather than reaching IAM.
func PolicyJSON(statements []Statement) pulumi.StringOutput {
	arrays := make([]any, len(statements))
	for i, s := range statements {
		arrays[i] = s.Resources.ToStringArrayOutput()
	}
	return pulumi.All(arrays...).ApplyT(func(resolved []any) (string, error) {
		doc := PolicyDocument{Version: "2012-10-17"}
		for i, s := range statements {
			resources := resolved[i].([]string)
			for _, r := range resources {
				if r == "" || (strings.ContainsAny(r, "*?") && !IsLogStreamPattern(r)) {
					return "", fmt.Errorf("statement %s: resource %q is not an exact ARN", s.Sid, r)
				}
			}
			doc.Statement = append(doc.Statement, PolicyStatement{
				Sid: s.Sid, Effect: "Allow", Action: s.Actions, Resource: resources,
			})
		}
		b, err := json.Marshal(doc)
		return string(b), err
	}).(pulumi.StringOutput)
}

// IsLogStreamPattern reports whether arn is "<log group ARN>:log-stream:*"
// with no other wildcard: the only pattern the policies hold.
func IsLogStreamPattern(arn string) bool {
	group, ok := strings.CutSuffix(arn, ":log-stream:*")
	return ok && strings.HasPrefix(group, "arn:") && strings.Contains(group, ":log-group:") && !strings.ContainsAny(group, "*?")
}

// PolicyDocument is an IAM policy.
type PolicyDocument struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// PolicyStatement is one statement of a PolicyDocument.
type PolicyStatement struct {
	Sid       string            `json:"Sid,omitempty"`
	Effect    string            `json:"Effect"`
	Principal map[string]string `json:"Principal,omitempty"`
	Action    []string          `json:"Action"`
	Resource  []string          `json:"Resource,omitempty"`
}

const assumeRolePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":["sts:AssumeRole"]}]}`

// SourceArnPath turns a route path into the path part of an execute-api
// ARN: path parameters become "*" because the ARN carries the request path.
func SourceArnPath(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, "/")
}

// RouteSlug names a route's resources, e.g. "post-v1-playback-session-id-urls".
func RouteSlug(r catalog.Route) string {
	return strings.ToLower(r.Method) + strings.NewReplacer("/", "-", "{", "", "}", "", "_", "-").Replace(r.Path)
}

func sidWord(s string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

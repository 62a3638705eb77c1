package gcpres

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Job is gcp:cloudscheduler/job:Job.
type Job struct {
	pulumi.CustomResourceState
}

type JobArgs struct {
	AttemptDeadline pulumi.StringPtrInput
	Description     pulumi.StringPtrInput
	HttpTarget      *JobHttpTargetArgs
	Name            pulumi.StringPtrInput
	Paused          pulumi.BoolPtrInput
	Project         pulumi.StringPtrInput
	Region          pulumi.StringPtrInput
	RetryConfig     *JobRetryConfigArgs
	Schedule        pulumi.StringPtrInput
	TimeZone        pulumi.StringPtrInput
}

type jobArgs struct {
	AttemptDeadline *string         `pulumi:"attemptDeadline"`
	Description     *string         `pulumi:"description"`
	HttpTarget      *JobHttpTarget  `pulumi:"httpTarget"`
	Name            *string         `pulumi:"name"`
	Paused          *bool           `pulumi:"paused"`
	Project         *string         `pulumi:"project"`
	Region          *string         `pulumi:"region"`
	RetryConfig     *JobRetryConfig `pulumi:"retryConfig"`
	Schedule        *string         `pulumi:"schedule"`
	TimeZone        *string         `pulumi:"timeZone"`
}

func (JobArgs) ElementType() reflect.Type { return reflect.TypeFor[jobArgs]() }

type JobHttpTargetArgs struct {
	Body       pulumi.StringPtrInput
	Headers    pulumi.StringMapInput
	HttpMethod pulumi.StringPtrInput
	OidcToken  *JobHttpTargetOidcTokenArgs
	Uri        pulumi.StringInput
}

type JobHttpTarget struct {
	Body       *string                 `pulumi:"body"`
	Headers    map[string]string       `pulumi:"headers"`
	HttpMethod *string                 `pulumi:"httpMethod"`
	OidcToken  *JobHttpTargetOidcToken `pulumi:"oidcToken"`
	Uri        string                  `pulumi:"uri"`
}

func (JobHttpTargetArgs) ElementType() reflect.Type { return reflect.TypeFor[JobHttpTarget]() }

type JobHttpTargetOidcTokenArgs struct {
	Audience            pulumi.StringPtrInput
	ServiceAccountEmail pulumi.StringInput
}

type JobHttpTargetOidcToken struct {
	Audience            *string `pulumi:"audience"`
	ServiceAccountEmail string  `pulumi:"serviceAccountEmail"`
}

func (JobHttpTargetOidcTokenArgs) ElementType() reflect.Type {
	return reflect.TypeFor[JobHttpTargetOidcToken]()
}

type JobRetryConfigArgs struct {
	MaxRetryDuration pulumi.StringPtrInput
	RetryCount       pulumi.IntPtrInput
}

type JobRetryConfig struct {
	MaxRetryDuration *string `pulumi:"maxRetryDuration"`
	RetryCount       *int    `pulumi:"retryCount"`
}

func (JobRetryConfigArgs) ElementType() reflect.Type { return reflect.TypeFor[JobRetryConfig]() }

var jobSpec = spec{
	Token: "gcp:cloudscheduler/job:Job",
}

func NewJob(ctx *pulumi.Context, name string, args *JobArgs, opts ...pulumi.ResourceOption) (*Job, error) {
	return newResource[Job](ctx, jobSpec, name, args, opts)
}

// Package gcpfn is the GCP Function component: one service account per
// function holding only the roles it needs on the exact resources it uses,
// a Cloud Functions gen2 HTTP function behind the load balancer (serverless
// NEG + backend service), per consumed topic a consumer function fed by an
// authenticated push subscription with a dead-letter topic, and for
// scheduled jobs a jobs function started by Cloud Scheduler as its own
// service account. Its functions write their metrics to Cloud Monitoring
// through Google's Telemetry API when asked (Args.CloudMonitoring).
package gcpfn

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/playplane/playplane/infra/gcpres"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/telemetry"
)

// Type is the component's Pulumi type token.
const Type = "playplane:gcp:Function"

// Secret is a Secret Manager secret bound to an env var of the function.
type Secret struct {
	Env      string
	SecretID pulumi.StringInput // secret_id, e.g. playplane-gcp-stripe-api-key
	Version  pulumi.StringInput // pinned version number
}

// Topic is a Pub/Sub topic with its dead-letter topic.
type Topic struct {
	Name       string // catalogue name
	ID         pulumi.StringInput
	DeadLetter pulumi.StringInput // dead-letter topic id; only needed for consumed topics
}

// Firestore grants the function access to one database.
type Firestore struct {
	Project  string
	Database pulumi.StringInput // database name, e.g. (default)
}

// Args configures a Function.
type Args struct {
	Spec catalog.Function
	// FunctionName is the physical name of the HTTP function; consumers are
	// FunctionName-<topic>.
	FunctionName string
	// AccountID is the service account id (6 to 30 characters).
	AccountID     string
	Project       string
	Region        string
	ProjectNumber pulumi.StringInput
	// SourceBucket holds the source zips; SourcePath is the local zip.
	SourceBucket pulumi.StringInput
	SourcePath   string
	Env          pulumi.StringMap
	Secrets      []Secret
	Publishes    []Topic
	Consumes     []Topic
	Firestore    *Firestore
	// ServeHTTP deploys the HTTP function; false when its routes run elsewhere
	// (the hybrid stack's webhook on AWS).
	ServeHTTP bool
	// Jobs to schedule, a subset of Spec.Jobs: they are served by a function
	// with Spec.GCPJobsEntryPoint and started by Cloud Scheduler as the
	// service account SchedulerAccountID (6 to 30 characters).
	Jobs []catalog.Job
	// PausedJobs names the Jobs whose Cloud Scheduler job is created
	// paused (a job whose NeedsSecret is left unset).
	PausedJobs         []string
	SchedulerAccountID string
	Labels             pulumi.StringMap
	// CloudMonitoring has the functions export their metrics to Cloud
	// Monitoring in Project over OTLP through Google's Telemetry API
	// (shared/telemetry/googlecloud): it sets the variables that choose
	// the exporter and name the region, and grants the
	// service account MetricsWriterRole, when the component deploys a
	// function at all. The project must have telemetry.googleapis.com
	// enabled.
	CloudMonitoring bool
}

// MetricsWriterRole lets a service account write metrics through the
// Telemetry API
// (https://docs.cloud.google.com/stackdriver/docs/otlp-metrics/migrate-to-otlphttp).
const MetricsWriterRole = "roles/telemetry.metricsWriter"

// deploysFunction says whether the component runs code on Cloud Functions
// (a service account alone serves a function running elsewhere).
func (args Args) deploysFunction() bool {
	return args.ServeHTTP || len(args.Consumes) > 0 || len(args.Jobs) > 0
}

// env is what every function of the component gets: Env, the project
// (its log lines name their trace in it, shared/gcpfn.NewLogger; none of
// the variables Cloud Run sets on a function names it,
// https://cloud.google.com/run/docs/configuring/services/overview-environment-variables),
// and the telemetry variables when it exports to Cloud Monitoring.
func (args Args) env() pulumi.StringMap {
	env := pulumi.StringMap{catalog.EnvGoogleCloudProject: pulumi.String(args.Project)}
	if args.CloudMonitoring {
		env[catalog.EnvMetricsExporter] = pulumi.String(telemetry.ExporterGoogleCloud)
		// Cloud Monitoring files the series under the location
		// cloud.region names (prometheus_target's location).
		env[catalog.EnvResourceAttributes] = pulumi.String("cloud.region=" + args.Region)
	}
	for k, v := range args.Env {
		env[k] = v
	}
	return env
}

// Jobs are the function's scheduled jobs: the jobs function, the
// scheduler's own service account, which is the jobs function's only
// invoker and holds no other role, and one Cloud Scheduler job per job.
type Jobs struct {
	Function  *gcpres.Function
	Scheduler *gcpres.Account
	Schedules map[string]*gcpres.Job // by job name
}

// Consumer is the push-fed consumer of one topic.
type Consumer struct {
	Function     *gcpres.Function
	Subscription *gcpres.Subscription
}

// Function is the component.
type Function struct {
	pulumi.ResourceState

	ServiceAccount *gcpres.Account
	// SecretGrants are the service account's secretAccessor bindings, by
	// env name. Every function of the component depends on them: Cloud Run
	// checks at deploy time that the runtime identity may read each secret
	// it binds and fails the deployment otherwise, so a first `pulumi up`
	// must not create a function before its grants exist.
	SecretGrants map[string]*gcpres.SecretIamMember
	Source       *gcpres.BucketObject
	HTTP         *gcpres.Function // nil unless ServeHTTP
	NEG          *gcpres.RegionNetworkEndpointGroup
	Backend      *gcpres.BackendService
	Consumers    map[string]*Consumer // by topic
	Jobs         *Jobs                // nil without jobs
	// Member is "serviceAccount:<email>".
	Member pulumi.StringOutput
}

// New creates the function and everything it owns.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Function, error) {
	if err := validate(args); err != nil {
		return nil, fmt.Errorf("gcpfn.New %s: %w", name, err)
	}
	f := &Function{Consumers: map[string]*Consumer{}, SecretGrants: map[string]*gcpres.SecretIamMember{}}
	if err := ctx.RegisterComponentResource(Type, name, f, opts...); err != nil {
		return nil, fmt.Errorf("gcpfn.New %s: %w", name, err)
	}
	parent := pulumi.Parent(f)
	var err error

	f.ServiceAccount, err = gcpres.NewAccount(ctx, name, &gcpres.AccountArgs{
		Project:     pulumi.String(args.Project),
		AccountId:   pulumi.String(args.AccountID),
		DisplayName: pulumi.String("playplane " + args.Spec.Name),
		Description: pulumi.String("Runtime identity of the " + args.Spec.Name + " function"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("gcpfn.New %s: service account: %w", name, err)
	}
	f.Member = pulumi.Sprintf("serviceAccount:%s", f.ServiceAccount.Email)

	if err := f.grant(ctx, name, args, parent); err != nil {
		return nil, fmt.Errorf("gcpfn.New %s: %w", name, err)
	}

	f.Source, err = gcpres.NewBucketObject(ctx, name, &gcpres.BucketObjectArgs{
		Bucket: args.SourceBucket,
		Name:   pulumi.String(args.Spec.Name + ".zip"),
		Source: pulumi.NewFileAsset(args.SourcePath),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("gcpfn.New %s: source: %w", name, err)
	}

	if args.ServeHTTP {
		if err := f.serveHTTP(ctx, name, args, parent); err != nil {
			return nil, fmt.Errorf("gcpfn.New %s: %w", name, err)
		}
	}
	for _, topic := range args.Consumes {
		if err := f.consume(ctx, name, args, topic, parent); err != nil {
			return nil, fmt.Errorf("gcpfn.New %s: consumer of %s: %w", name, topic.Name, err)
		}
	}

	if len(args.Jobs) > 0 {
		if err := f.scheduleJobs(ctx, name, args, parent); err != nil {
			return nil, fmt.Errorf("gcpfn.New %s: jobs: %w", name, err)
		}
	}

	if err := ctx.RegisterResourceOutputs(f, pulumi.Map{"serviceAccount": f.ServiceAccount.Email}); err != nil {
		return nil, fmt.Errorf("gcpfn.New %s: %w", name, err)
	}
	return f, nil
}

// grant gives the service account its roles, each on the one resource it is
// needed for: the secrets it reads, the topics it publishes to, the store.
func (f *Function) grant(ctx *pulumi.Context, name string, args Args, parent pulumi.ResourceOption) error {
	for _, s := range args.Secrets {
		grant, err := gcpres.NewSecretIamMember(ctx, name+"-reads-"+catalog.EnvSlug(s.Env), &gcpres.SecretIamMemberArgs{
			Project:  pulumi.String(args.Project),
			SecretId: s.SecretID,
			Role:     pulumi.String("roles/secretmanager.secretAccessor"),
			Member:   f.Member,
		}, parent)
		if err != nil {
			return fmt.Errorf("secret %s: %w", s.Env, err)
		}
		f.SecretGrants[s.Env] = grant
	}
	for _, t := range args.Publishes {
		_, err := gcpres.NewTopicIAMMember(ctx, name+"-publishes-"+t.Name, &gcpres.TopicIAMMemberArgs{
			Project: pulumi.String(args.Project),
			Topic:   t.ID,
			Role:    pulumi.String("roles/pubsub.publisher"),
			Member:  f.Member,
		}, parent)
		if err != nil {
			return fmt.Errorf("publisher of %s: %w", t.Name, err)
		}
	}
	if args.CloudMonitoring && args.deploysFunction() {
		// Writing metrics is a project-level permission with no narrower
		// resource to grant it on.
		_, err := gcpres.NewProjectIAMMember(ctx, name+"-metrics", &gcpres.ProjectIAMMemberArgs{
			Project: pulumi.String(args.Project),
			Role:    pulumi.String(MetricsWriterRole),
			Member:  f.Member,
		}, parent)
		if err != nil {
			return fmt.Errorf("metric writer: %w", err)
		}
	}
	if args.Firestore != nil {
		if _, err := gcpres.NewProjectIAMMember(ctx, name+"-firestore", FirestoreGrant(args.Spec, *args.Firestore, f.Member), parent); err != nil {
			return fmt.Errorf("firestore: %w", err)
		}
	}
	return nil
}

// FirestoreGrant lets member use db as spec's store access allows.
// Firestore roles exist only at project level; the condition narrows the
// grant to the stack's database.
func FirestoreGrant(spec catalog.Function, db Firestore, member pulumi.StringInput) *gcpres.ProjectIAMMemberArgs {
	role := "roles/datastore.user"
	if spec.Store == catalog.StoreReadOnly {
		role = "roles/datastore.viewer"
	}
	return &gcpres.ProjectIAMMemberArgs{
		Project: pulumi.String(db.Project),
		Role:    pulumi.String(role),
		Member:  member,
		Condition: &gcpres.ProjectIAMMemberConditionArgs{
			Title:      pulumi.String(spec.Name + " database only"),
			Expression: pulumi.Sprintf(`resource.name == "projects/%s/databases/%s"`, db.Project, db.Database),
		},
	}
}

func (f *Function) newFunction(ctx *pulumi.Context, resourceName, functionName, entryPoint, ingress string, args Args, parent pulumi.ResourceOption) (*gcpres.Function, error) {
	var secretEnv []gcpres.FunctionServiceConfigSecretEnvironmentVariableArgs
	var grants []pulumi.Resource
	for _, s := range args.Secrets {
		grants = append(grants, f.SecretGrants[s.Env])
		secretEnv = append(secretEnv, gcpres.FunctionServiceConfigSecretEnvironmentVariableArgs{
			Key:       pulumi.String(s.Env),
			ProjectId: pulumi.String(args.Project),
			Secret:    s.SecretID,
			Version:   s.Version,
		})
	}
	return gcpres.NewFunction(ctx, resourceName, &gcpres.FunctionArgs{
		Project:  pulumi.String(args.Project),
		Location: pulumi.String(args.Region),
		Name:     pulumi.String(functionName),
		BuildConfig: &gcpres.FunctionBuildConfigArgs{
			Runtime:    pulumi.String(catalog.GCPRuntime),
			EntryPoint: pulumi.String(entryPoint),
			Source: &gcpres.FunctionBuildConfigSourceArgs{
				StorageSource: &gcpres.FunctionBuildConfigSourceStorageSourceArgs{
					Bucket: args.SourceBucket,
					Object: f.Source.Name,
					// A new upload has a new generation, which rebuilds.
					Generation: f.Source.Generation,
				},
			},
		},
		ServiceConfig: &gcpres.FunctionServiceConfigArgs{
			AvailableMemory:            pulumi.Sprintf("%dMi", args.Spec.MemoryMB),
			TimeoutSeconds:             pulumi.Int(args.Spec.TimeoutSeconds),
			MaxInstanceCount:           pulumi.Int(100),
			IngressSettings:            pulumi.String(ingress),
			ServiceAccountEmail:        f.ServiceAccount.Email,
			EnvironmentVariables:       args.env(),
			SecretEnvironmentVariables: secretEnv,
			AllTrafficOnLatestRevision: pulumi.Bool(true),
		},
		Labels: args.Labels,
	}, parent, pulumi.DependsOn(grants))
}

// serviceURI is the function's own Cloud Run URI (https://<service>-<hash>-<region>.a.run.app),
// not its cloudfunctions.net url: Cloud Run's ingress rules count Pub/Sub
// push and Cloud Scheduler requests to the run.app URI as internal, while
// requests to the cloudfunctions.net URL are not, so an internal-only
// function refuses them there. Cloud Run also checks the OIDC token's
// audience against this URI.
func serviceURI(fn *gcpres.Function) pulumi.StringOutput {
	return fn.ServiceConfig.Uri().Elem()
}

func (f *Function) serveHTTP(ctx *pulumi.Context, name string, args Args, parent pulumi.ResourceOption) error {
	var err error
	// Only the load balancer reaches the function; it checks JWTs, playback
	// tokens and signatures itself, so the invoker binding is public.
	f.HTTP, err = f.newFunction(ctx, name, args.FunctionName, args.Spec.GCPEntryPoint, "ALLOW_INTERNAL_AND_GCLB", args, parent)
	if err != nil {
		return fmt.Errorf("http function: %w", err)
	}
	_, err = gcpres.NewServiceIamMember(ctx, name+"-public", &gcpres.ServiceIamMemberArgs{
		Project:  pulumi.String(args.Project),
		Location: pulumi.String(args.Region),
		Name:     f.HTTP.Name,
		Role:     pulumi.String("roles/run.invoker"),
		Member:   pulumi.String("allUsers"),
	}, parent)
	if err != nil {
		return fmt.Errorf("invoker: %w", err)
	}
	f.NEG, err = gcpres.NewRegionNetworkEndpointGroup(ctx, name, &gcpres.RegionNetworkEndpointGroupArgs{
		Project:             pulumi.String(args.Project),
		Region:              pulumi.String(args.Region),
		Name:                pulumi.String(args.FunctionName),
		NetworkEndpointType: pulumi.String("SERVERLESS"),
		// A gen2 function is served by the Cloud Run service of the same name.
		CloudRun: &gcpres.RegionNetworkEndpointGroupCloudRunArgs{Service: f.HTTP.Name},
	}, parent)
	if err != nil {
		return fmt.Errorf("neg: %w", err)
	}
	f.Backend, err = gcpres.NewBackendService(ctx, name, &gcpres.BackendServiceArgs{
		Project:             pulumi.String(args.Project),
		Name:                pulumi.String(args.FunctionName),
		Protocol:            pulumi.String("HTTPS"),
		LoadBalancingScheme: pulumi.String("EXTERNAL_MANAGED"),
		Backends:            []gcpres.BackendServiceBackendArgs{{Group: f.NEG.ID()}},
		LogConfig:           &gcpres.BackendServiceLogConfigArgs{Enable: pulumi.Bool(true), SampleRate: pulumi.Float64(1)},
	}, parent)
	if err != nil {
		return fmt.Errorf("backend service: %w", err)
	}
	return nil
}

func (f *Function) consume(ctx *pulumi.Context, name string, args Args, topic Topic, parent pulumi.ResourceOption) error {
	var entryPoint string
	for _, c := range args.Spec.Consumes {
		if c.Topic == topic.Name {
			entryPoint = c.GCPEntryPoint
		}
	}
	resourceName := name + "-" + topic.Name
	fn, err := f.newFunction(ctx, resourceName, args.FunctionName+"-"+topic.Name, entryPoint, "ALLOW_INTERNAL_ONLY", args, parent)
	if err != nil {
		return fmt.Errorf("function: %w", err)
	}
	// Pub/Sub pushes with an OIDC token of the function's own service
	// account, which is the only identity allowed to invoke the consumer.
	_, err = gcpres.NewServiceIamMember(ctx, resourceName+"-invoker", &gcpres.ServiceIamMemberArgs{
		Project:  pulumi.String(args.Project),
		Location: pulumi.String(args.Region),
		Name:     fn.Name,
		Role:     pulumi.String("roles/run.invoker"),
		Member:   f.Member,
	}, parent)
	if err != nil {
		return fmt.Errorf("invoker: %w", err)
	}
	pubsubAgent := pulumi.Sprintf("serviceAccount:service-%s@gcp-sa-pubsub.iam.gserviceaccount.com", args.ProjectNumber)
	// The Pub/Sub service agent mints the push OIDC tokens for this account.
	tokenCreator, err := gcpres.NewServiceAccountIAMMember(ctx, resourceName+"-push-token", &gcpres.ServiceAccountIAMMemberArgs{
		ServiceAccountId: f.ServiceAccount.Name,
		Role:             pulumi.String("roles/iam.serviceAccountTokenCreator"),
		Member:           pubsubAgent,
	}, parent)
	if err != nil {
		return fmt.Errorf("token creator: %w", err)
	}
	// Cloud Functions serves the function at every path. The consumer
	// entry point (push.HTTPHandler) takes the topic of a raw push body
	// from the request path (projects/P/topics/T); without it the event's
	// source is the subscription. Push goes to the service's run.app
	// URI, where it counts as internal traffic (serviceURI); the token's
	// audience is that URI too.
	uri := serviceURI(fn)
	endpoint := pulumi.Sprintf("%s/%s", uri, topic.ID)
	sub, err := gcpres.NewSubscription(ctx, resourceName, &gcpres.SubscriptionArgs{
		Project:                  pulumi.String(args.Project),
		Name:                     pulumi.String(args.FunctionName + "-" + topic.Name),
		Topic:                    topic.ID,
		AckDeadlineSeconds:       pulumi.Int(max(10, 2*args.Spec.TimeoutSeconds)),
		MessageRetentionDuration: pulumi.String("604800s"),
		ExpirationPolicy:         &gcpres.SubscriptionExpirationPolicyArgs{Ttl: pulumi.String("")},
		PushConfig: &gcpres.SubscriptionPushConfigArgs{
			PushEndpoint: endpoint,
			OidcToken: &gcpres.SubscriptionPushConfigOidcTokenArgs{
				ServiceAccountEmail: f.ServiceAccount.Email,
				Audience:            uri,
			},
		},
		DeadLetterPolicy: &gcpres.SubscriptionDeadLetterPolicyArgs{
			DeadLetterTopic:     topic.DeadLetter,
			MaxDeliveryAttempts: pulumi.Int(catalog.MaxDeliveryAttempts),
		},
		RetryPolicy: &gcpres.SubscriptionRetryPolicyArgs{
			MinimumBackoff: pulumi.String("10s"),
			MaximumBackoff: pulumi.String(fmt.Sprintf("%ds", int(catalog.MaxRetryBackoff/time.Second))),
		},
		Labels: args.Labels,
	}, parent, pulumi.DependsOn([]pulumi.Resource{tokenCreator}))
	if err != nil {
		return fmt.Errorf("subscription: %w", err)
	}
	// Dead-lettering acks the message on this subscription as the service
	// agent, which needs subscriber on it (publisher on the dead-letter topic
	// is granted where the topic is made).
	_, err = gcpres.NewSubscriptionIAMMember(ctx, resourceName+"-dead-letter-ack", &gcpres.SubscriptionIAMMemberArgs{
		Project:      pulumi.String(args.Project),
		Subscription: sub.Name,
		Role:         pulumi.String("roles/pubsub.subscriber"),
		Member:       pubsubAgent,
	}, parent)
	if err != nil {
		return fmt.Errorf("dead-letter ack: %w", err)
	}
	f.Consumers[topic.Name] = &Consumer{Function: fn, Subscription: sub}
	return nil
}

// scheduleJobs deploys the jobs entry point (internal ingress: Cloud
// Scheduler counts as internal at the run.app URI) and has Cloud Scheduler POST each job's
// payload to it with an OIDC token of the scheduler's own service account.
func (f *Function) scheduleJobs(ctx *pulumi.Context, name string, args Args, parent pulumi.ResourceOption) error {
	resourceName := name + "-jobs"
	fn, err := f.newFunction(ctx, resourceName, args.FunctionName+"-jobs", args.Spec.GCPJobsEntryPoint, "ALLOW_INTERNAL_ONLY", args, parent)
	if err != nil {
		return fmt.Errorf("function: %w", err)
	}
	scheduler, err := gcpres.NewAccount(ctx, resourceName+"-scheduler", &gcpres.AccountArgs{
		Project:     pulumi.String(args.Project),
		AccountId:   pulumi.String(args.SchedulerAccountID),
		DisplayName: pulumi.String("playplane " + args.Spec.Name + " scheduler"),
		Description: pulumi.String("Starts the scheduled jobs of the " + args.Spec.Name + " function; may invoke its jobs function and nothing else"),
	}, parent)
	if err != nil {
		return fmt.Errorf("scheduler service account: %w", err)
	}
	invoker, err := gcpres.NewServiceIamMember(ctx, resourceName+"-invoker", &gcpres.ServiceIamMemberArgs{
		Project:  pulumi.String(args.Project),
		Location: pulumi.String(args.Region),
		Name:     fn.Name,
		Role:     pulumi.String("roles/run.invoker"),
		Member:   pulumi.Sprintf("serviceAccount:%s", scheduler.Email),
	}, parent)
	if err != nil {
		return fmt.Errorf("invoker: %w", err)
	}
	jobs := &Jobs{Function: fn, Scheduler: scheduler, Schedules: map[string]*gcpres.Job{}}
	// Cloud Scheduler counts as internal only at the run.app URI (serviceURI).
	uri := serviceURI(fn)
	for _, job := range args.Jobs {
		schedule, err := job.CronSchedule()
		if err != nil {
			return err
		}
		j, err := gcpres.NewJob(ctx, resourceName+"-"+job.Name, &gcpres.JobArgs{
			Project:     pulumi.String(args.Project),
			Region:      pulumi.String(args.Region),
			Name:        pulumi.String(args.FunctionName + "-" + job.Name),
			Description: pulumi.String("Runs the " + job.Name + " job of the " + args.Spec.Name + " function"),
			Schedule:    pulumi.String(schedule),
			TimeZone:    pulumi.String("Etc/UTC"),
			Paused:      pulumi.Bool(slices.Contains(args.PausedJobs, job.Name)),
			// Cloud Scheduler accepts 15s to 30m.
			AttemptDeadline: pulumi.Sprintf("%ds", max(15, args.Spec.TimeoutSeconds)),
			// Jobs are idempotent sweeps: a retry is harmless, and a run
			// older than the interval is superseded by the next one.
			RetryConfig: &gcpres.JobRetryConfigArgs{
				RetryCount:       pulumi.Int(2),
				MaxRetryDuration: pulumi.Sprintf("%ds", int(job.Every.Seconds())),
			},
			HttpTarget: &gcpres.JobHttpTargetArgs{
				Uri:        uri,
				HttpMethod: pulumi.String("POST"),
				Headers:    pulumi.StringMap{"Content-Type": pulumi.String("application/json")},
				// The API takes the body base64-encoded.
				Body: pulumi.String(base64.StdEncoding.EncodeToString([]byte(job.Payload()))),
				OidcToken: &gcpres.JobHttpTargetOidcTokenArgs{
					ServiceAccountEmail: scheduler.Email,
					Audience:            uri,
				},
			},
		}, parent, pulumi.DependsOn([]pulumi.Resource{invoker}))
		if err != nil {
			return fmt.Errorf("schedule %s: %w", job.Name, err)
		}
		jobs.Schedules[job.Name] = j
	}
	f.Jobs = jobs
	return nil
}

func validate(args Args) error {
	switch {
	case len(args.AccountID) < 6 || len(args.AccountID) > 30:
		return fmt.Errorf("service account id %q must have 6 to 30 characters", args.AccountID)
	case args.FunctionName == "" || len(args.FunctionName)+len("-entitlement-changed") > 63:
		return fmt.Errorf("function name %q is empty or too long for its consumers", args.FunctionName)
	case args.Project == "" || args.Region == "":
		return errors.New("project and region are required")
	case args.SourcePath == "" || args.SourceBucket == nil:
		return errors.New("source bucket and path are required")
	case args.ServeHTTP && len(args.Spec.Routes) == 0:
		return fmt.Errorf("%s has no routes to serve", args.Spec.Name)
	}
	for _, t := range args.Consumes {
		if !args.Spec.ConsumesFrom(t.Name) {
			return fmt.Errorf("%s does not consume %s", args.Spec.Name, t.Name)
		}
		if t.DeadLetter == nil {
			return fmt.Errorf("topic %s has no dead-letter topic", t.Name)
		}
	}
	for _, t := range args.Publishes {
		if !args.Spec.PublishesTo(t.Name) {
			return fmt.Errorf("%s does not publish to %s", args.Spec.Name, t.Name)
		}
	}
	if len(args.Jobs) > 0 {
		switch {
		case args.Spec.GCPJobsEntryPoint == "":
			return fmt.Errorf("%s has jobs but no jobs entry point", args.Spec.Name)
		case len(args.SchedulerAccountID) < 6 || len(args.SchedulerAccountID) > 30:
			return fmt.Errorf("scheduler service account id %q must have 6 to 30 characters", args.SchedulerAccountID)
		case args.SchedulerAccountID == args.AccountID:
			return errors.New("the scheduler needs its own service account")
		}
	}
	for _, name := range args.PausedJobs {
		if !slices.ContainsFunc(args.Jobs, func(j catalog.Job) bool { return j.Name == name }) {
			return fmt.Errorf("paused job %s is not scheduled", name)
		}
	}
	for _, job := range args.Jobs {
		if !slices.Contains(args.Spec.Jobs, job) {
			return fmt.Errorf("%s has no job %s", args.Spec.Name, job.Name)
		}
		if _, err := job.CronSchedule(); err != nil {
			return err
		}
	}
	if len(args.Consumes) > 0 && args.ProjectNumber == nil {
		return errors.New("consumers need the project number for the Pub/Sub service agent")
	}
	return nil
}

// Package stack builds a whole playplane stack (aws, gcp or hybrid) from the
// function catalogue: the shared resources of each cloud, one Function
// component per function part, and the stack outputs. It follows the
// pulumi/examples testing-unit-go shape: New returns a struct of the
// resources so tests can inspect them under pulumi.WithMocks.
package stack

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/awsfn"
	"github.com/playplane/playplane/infra/gcpfn"
)

// Stack is a deployed stack.
type Stack struct {
	Config Config
	AWS    *AWSResources // nil when the layout keeps nothing on AWS
	GCP    *GCPResources // nil when the layout keeps nothing on GCP
	// Outputs are exported by the program; keys are stable.
	Outputs map[string]pulumi.Output
}

// New builds the stack described by cfg.
func New(ctx *pulumi.Context, cfg Config) (*Stack, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("stack.New: %w", err)
	}
	s := &Stack{Config: cfg, Outputs: map[string]pulumi.Output{}}
	var err error
	// Shared resources first: function env needs the queue URLs, topic
	// names, table name, CDN domain and key ids.
	if cfg.Layout.Uses(AWS) {
		if s.AWS, err = newAWSShared(ctx, cfg); err != nil {
			return nil, fmt.Errorf("stack.New: %w", err)
		}
	}
	if cfg.Layout.Uses(GCP) {
		if s.GCP, err = newGCPShared(ctx, cfg); err != nil {
			return nil, fmt.Errorf("stack.New: %w", err)
		}
	}
	// The QoE warehouse follows the heartbeat stream's bus; on SQS the
	// heartbeat consumer forwards to it, so it comes before the functions.
	if s.AWS != nil && cfg.Layout.Bus == catalog.BusSQS {
		if s.AWS.Warehouse, err = newAWSWarehouse(ctx, cfg, s.AWS.tags); err != nil {
			return nil, fmt.Errorf("stack.New: %w", err)
		}
	}
	if s.GCP != nil && cfg.Layout.Bus == catalog.BusPubSub {
		if s.GCP.Warehouse, err = s.GCP.newWarehouse(ctx, cfg); err != nil {
			return nil, fmt.Errorf("stack.New: %w", err)
		}
	}
	for _, fn := range catalog.Functions {
		if s.GCP == nil || !s.runsOn(fn, GCP) {
			continue
		}
		if err := s.newGCPFunction(ctx, fn); err != nil {
			return nil, fmt.Errorf("stack.New: %w", err)
		}
	}
	for _, fn := range catalog.Functions {
		if s.AWS == nil || !s.runsOn(fn, AWS) {
			continue
		}
		if err := s.newAWSFunction(ctx, fn); err != nil {
			return nil, fmt.Errorf("stack.New: %w", err)
		}
	}
	if s.GCP != nil && s.GCP.needsLoadBalancer {
		if err := s.GCP.newLoadBalancer(ctx, cfg); err != nil {
			return nil, fmt.Errorf("stack.New: %w", err)
		}
	}
	// Alarms come last: they watch everything above.
	if s.AWS != nil {
		if s.AWS.Alarms, err = s.newAWSAlarms(ctx); err != nil {
			return nil, fmt.Errorf("stack.New: %w", err)
		}
	}
	if s.GCP != nil {
		if s.GCP.Alerts, err = s.newGCPAlerts(ctx); err != nil {
			return nil, fmt.Errorf("stack.New: %w", err)
		}
	}
	s.export()
	return s, nil
}

// runsOn says whether any part of fn runs on cloud.
func (s *Stack) runsOn(fn catalog.Function, cloud Cloud) bool {
	return s.Config.Layout.RunsOn(fn, cloud)
}

// Routes returns the routes of fn served on cloud.
func (s *Stack) Routes(fn catalog.Function, cloud Cloud) []catalog.Route {
	if s.Config.Layout.HTTPCloud(fn) != cloud {
		return nil
	}
	return fn.Routes
}

// env is the environment of fn's part on cloud. It holds no secret value:
// Cloud Functions binds secrets from Secret Manager (newGCPFunction), a
// Lambda gets the ARNs of its secrets. Every name is one the function's
// code reads (see catalog).
func (s *Stack) env(fn catalog.Function, cloud Cloud) pulumi.StringMap {
	cfg := s.Config
	env := pulumi.StringMap{}
	if cloud == GCP && len(cfg.CORSAllowedOrigins) > 0 && slices.ContainsFunc(s.Routes(fn, cloud), catalog.Route.BrowserFacing) {
		// Nothing in front of Cloud Functions answers preflights: the
		// function does (shared/gcpfn).
		env[catalog.EnvCORSAllowedOrigins] = pulumi.String(strings.Join(cfg.CORSAllowedOrigins, ","))
	}
	if fn.VerifiesCallerJWT() {
		env[catalog.EnvJWTIssuer] = pulumi.String(cfg.JWTIssuer)
		env[catalog.EnvJWTAudience] = pulumi.String(cfg.JWTAudience)
		env[catalog.EnvJWTJWKSURL] = pulumi.String(cfg.JWTJWKSURL)
	}
	switch cfg.Layout.Store {
	case catalog.StoreDynamo:
		env[catalog.EnvDynamoTable] = s.AWS.Table.Name
	case catalog.StoreFirestore:
		env[catalog.EnvFirestoreProject] = pulumi.String(cfg.GCPProject)
		env[catalog.EnvFirestoreDatabase] = s.GCP.Database.Name
	}
	// A Cloud Function that publishes nothing has no bus to address: its
	// messages are pushed to it, and its deploy unit does not link the bus
	// (functions/gcp/source).
	if topics := fn.TopicsOf(); len(topics) > 0 && (cloud != GCP || len(fn.Publishes) > 0) {
		var pairs []pulumi.StringInput
		for _, t := range topics {
			switch cfg.Layout.Bus {
			case catalog.BusSQS:
				pairs = append(pairs, pulumi.Sprintf("%s:%s", t.Name, s.AWS.Queues[t.Name].Queue.Url))
			case catalog.BusPubSub:
				pairs = append(pairs, pulumi.Sprintf("%s:%s", t.Name, s.GCP.Topics[t.Name].ResourceName))
			}
		}
		addresses := joinOutputs(pairs)
		if cfg.Layout.Bus == catalog.BusSQS {
			env[catalog.EnvSQSQueueURLs] = addresses
		} else {
			env[catalog.EnvPubSubTopics] = addresses
		}
	}
	for _, name := range fn.Settings {
		// An optional setting left empty is left out: the function reads
		// it unset.
		if v, ok := cfg.Settings[name]; ok {
			env[name] = pulumi.String(v)
		}
	}
	if cfg.Layout.MakesGoogleClients(cloud) {
		for _, name := range catalog.GCPSettings {
			env[name] = pulumi.String(cfg.Settings[name])
		}
	}
	if cloud == AWS && s.AWS.Warehouse != nil && fn.ConsumesFrom(events.TopicHeartbeats) {
		env[catalog.EnvQoEFirehoseStream] = s.AWS.Warehouse.Stream.Name
	}
	delivery, _ := catalog.DeliveryByName(cfg.Layout.Delivery)
	if fn.SignsURLs {
		var base, keyID pulumi.StringOutput
		switch delivery.Name {
		case catalog.DeliveryCloudFront:
			base = pulumi.Sprintf("https://%s", s.AWS.CDN.Distribution.DomainName)
			keyID = s.AWS.CDN.PublicKey.ID().ToStringOutput()
		case catalog.DeliveryCloudCDN:
			// The load balancer serves the CDN bucket at every path that is
			// not an API route.
			base = pulumi.String("https://" + cfg.Domain).ToStringOutput()
			keyID = s.GCP.CDN.Key.Name
		}
		env[catalog.EnvSignURLCDNBases] = base.ApplyT(delivery.CDNBasesValue).(pulumi.StringOutput)
		env[catalog.EnvSignURLDefaultCDN] = pulumi.String(delivery.Name)
		env[delivery.ActiveKeyEnv] = keyID
		env[delivery.KeysEnv] = keyID.ApplyT(delivery.KeysValue).(pulumi.StringOutput)
	}
	if fn.LocatesCaller && cloud == GCP && cfg.Layout.HTTPCloud(fn) == GCP {
		env[catalog.EnvPickEdgeTrustedHops] = pulumi.String(catalog.GCPFrontEndHops)
	}
	if cloud == AWS {
		// The secret's ARN, never its value: the function reads the value
		// from Secrets Manager at run time (shared/awsfn), so it is not in
		// the Lambda's configuration and a rotation needs no deploy.
		for _, name := range cfg.SecretsOf(fn, AWS) {
			env[catalog.SecretARNEnv(name)] = s.AWS.Secrets[name].Secret.Arn
		}
		if cfg.Layout.Store == catalog.StoreFirestore {
			env[catalog.EnvGCPCredentialsJSON] = s.GCP.Federation.credentialsJSON(s.GCP.Federation.Accounts[fn.Name].Email)
		}
	}
	return env
}

func (s *Stack) newAWSFunction(ctx *pulumi.Context, fn catalog.Function) error {
	cfg := s.Config
	a := s.AWS
	if s.GCP != nil && s.GCP.Federation != nil {
		if err := s.GCP.Federation.newAccount(ctx, cfg, fn, s.GCP); err != nil {
			return err
		}
	}
	env := s.env(fn, AWS)
	var statements []awsfn.Statement
	if cfg.Layout.Store == catalog.StoreDynamo {
		statements = append(statements, awsfn.Statement{
			Sid:       "Store",
			Actions:   dynamoActions(fn.Store),
			Resources: pulumi.StringArray{a.Table.Arn},
		})
		if indexes := a.indexResources(fn); len(indexes) > 0 {
			// Queries on an index are authorized against the index ARN.
			statements = append(statements, awsfn.Statement{
				Sid:       "QueryIndexes",
				Actions:   []string{"dynamodb:Query"},
				Resources: indexes,
			})
		}
	}
	if cfg.Layout.Bus == catalog.BusSQS && len(fn.Publishes) > 0 {
		var queues pulumi.StringArray
		for _, t := range fn.Publishes {
			queues = append(queues, a.Queues[t].Queue.Arn)
		}
		statements = append(statements, awsfn.Statement{Sid: "Publish", Actions: []string{"sqs:SendMessage"}, Resources: queues})
	}
	if w := a.Warehouse; w != nil && fn.ConsumesFrom(events.TopicHeartbeats) {
		// The consumer forwards the heartbeat stream (shared/firehose).
		statements = append(statements, awsfn.Statement{Sid: "ForwardHeartbeats", Actions: []string{"firehose:PutRecordBatch"},
			Resources: pulumi.StringArray{w.Stream.Arn}})
	}
	if names := cfg.SecretsOf(fn, AWS); len(names) > 0 {
		// The current version of exactly the secrets it reads; they are
		// encrypted with the account's aws/secretsmanager key, whose policy
		// lets Secrets Manager decrypt for callers allowed to read.
		var arns pulumi.StringArray
		for _, name := range names {
			arns = append(arns, a.Secrets[name].Secret.Arn)
		}
		statements = append(statements, awsfn.Statement{Sid: "ReadSecrets", Actions: []string{"secretsmanager:GetSecretValue"}, Resources: arns})
	}
	var queues []awsfn.Queue
	var jobs []catalog.Job
	var disabledJobs []string
	if cfg.Layout.Compute == AWS {
		for _, c := range fn.Consumes {
			queues = append(queues, awsfn.Queue{Topic: c.Topic, Arn: a.Queues[c.Topic].Queue.Arn})
		}
		jobs = fn.Jobs
		disabledJobs = cfg.disabledJobs(fn)
	}
	var http *awsfn.HTTP
	if routes := s.Routes(fn, AWS); len(routes) > 0 {
		http = &awsfn.HTTP{APIID: a.API.ID(), APIExecutionArn: a.API.ExecutionArn, Routes: routes}
		if a.Authorizer != nil {
			http.AuthorizerID = a.Authorizer.ID()
		}
	}
	f, err := awsfn.New(ctx, fn.Name, awsfn.Args{
		Spec:             fn,
		FunctionName:     cfg.Prefix + "-" + fn.Name,
		Code:             cfg.DistDir + "/" + strings.TrimPrefix(catalog.LambdaZipFor(fn.Name, cfg.Layout.Store), "dist/"),
		Env:              env,
		Statements:       statements,
		Queues:           queues,
		HTTP:             http,
		Jobs:             jobs,
		DisabledJobs:     disabledJobs,
		LogRetentionDays: cfg.LogRetentionDays,
		Tags:             a.tags,
	})
	if err != nil {
		return err
	}
	a.Functions[fn.Name] = f
	if s.GCP != nil && s.GCP.Federation != nil {
		if err := s.GCP.Federation.allow(ctx, fn, f); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stack) newGCPFunction(ctx *pulumi.Context, fn catalog.Function) error {
	cfg := s.Config
	g := s.GCP
	var secrets []gcpfn.Secret
	for _, name := range cfg.SecretsOf(fn, GCP) {
		secret := g.Secrets[name]
		secrets = append(secrets, gcpfn.Secret{Env: name, SecretID: secret.Secret.SecretId, Version: secret.Version.Version})
	}
	var publishes, consumes []gcpfn.Topic
	for _, t := range fn.Publishes {
		publishes = append(publishes, g.Topics[t].asArg())
	}
	var jobs []catalog.Job
	var pausedJobs []string
	var schedulerAccountID string
	if cfg.Layout.Compute == GCP {
		for _, c := range fn.Consumes {
			consumes = append(consumes, g.Topics[c.Topic].asArg())
		}
		if len(fn.Jobs) > 0 {
			jobs, schedulerAccountID = fn.Jobs, accountID(fn.Name+"-jobs", cfg.Stack)
			pausedJobs = cfg.disabledJobs(fn)
		}
	}
	serveHTTP := len(s.Routes(fn, GCP)) > 0
	f, err := gcpfn.New(ctx, fn.Name, gcpfn.Args{
		Spec:               fn,
		FunctionName:       cfg.Prefix + "-" + fn.Name,
		AccountID:          accountID(fn.Name, cfg.Stack),
		Project:            cfg.GCPProject,
		Region:             cfg.GCPRegion,
		ProjectNumber:      g.ProjectNumber,
		SourceBucket:       g.SourceBucket.Name,
		SourcePath:         cfg.DistDir + "/" + strings.TrimPrefix(catalog.GCPSourceZip(fn.Name), "dist/"),
		Env:                s.env(fn, GCP),
		Secrets:            secrets,
		Publishes:          publishes,
		Consumes:           consumes,
		Firestore:          &gcpfn.Firestore{Project: cfg.GCPProject, Database: g.Database.Name},
		ServeHTTP:          serveHTTP,
		Jobs:               jobs,
		PausedJobs:         pausedJobs,
		SchedulerAccountID: schedulerAccountID,
		Labels:             g.labels,
		// The alert policies read playplane's metrics there (alarms.go).
		CloudMonitoring: true,
	})
	if err != nil {
		return err
	}
	g.Functions[fn.Name] = f
	if serveHTTP {
		g.needsLoadBalancer = true
	}
	return nil
}

// accountID is the service account id of fn: at most 30 characters.
func accountID(fn, stack string) string {
	id := fn + "-" + stack
	if len(id) > 30 {
		id = strings.TrimRight(id[:30], "-")
	}
	return id
}

// dynamoActions are the actions shared/dynamo calls (TestGrantedActionsAreWhatTheAdaptersCall
// scans it): no Batch*, no Scan.
func dynamoActions(access catalog.StoreAccess) []string {
	read := []string{"dynamodb:GetItem", "dynamodb:Query"}
	if access == catalog.StoreReadOnly {
		return read
	}
	// Transactions need the per-item actions; there is no transaction action.
	return append(read, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem")
}

func (s *Stack) export() {
	cfg := s.Config
	s.Outputs["layout"] = pulumi.String(cfg.Layout.Name).ToStringOutput()
	routes := pulumi.StringMap{}
	for _, fn := range catalog.Functions {
		for _, cloud := range []Cloud{AWS, GCP} {
			for _, r := range s.Routes(fn, cloud) {
				routes[r.Key()] = pulumi.Sprintf("%s%s", s.baseURL(cloud), r.Path)
			}
		}
	}
	s.Outputs["routes"] = routes.ToStringMapOutput()
	if a := s.AWS; a != nil {
		if a.API != nil {
			s.Outputs["awsApiUrl"] = a.API.ApiEndpoint
		}
		if a.CDN != nil {
			s.Outputs["cdnBaseUrl"] = pulumi.Sprintf("https://%s", a.CDN.Distribution.DomainName)
			s.Outputs["videoBucket"] = a.CDN.Bucket.Bucket
			s.Outputs["cloudfrontKeyPairId"] = a.CDN.PublicKey.ID().ToStringOutput()
		}
		if a.Table != nil {
			s.Outputs["dynamoTable"] = a.Table.Name
		}
		if w := a.Warehouse; w != nil {
			s.Outputs["qoeFirehoseStream"] = w.Stream.Name
			s.Outputs["qoeAthenaTable"] = pulumi.Sprintf("%s.%s", w.Database.Name, w.Table.Name)
		}
		if a.Alarms != nil {
			s.Outputs["alarmTopicArn"] = a.Alarms.Topic.Arn
		}
		if len(a.Queues) > 0 {
			queues := pulumi.StringMap{}
			for name, q := range a.Queues {
				queues[name] = q.Queue.Url
				queues[catalog.DeadLetterName(name)] = q.DeadLetter.Url
			}
			s.Outputs["queueUrls"] = queues.ToStringMapOutput()
		}
		// The HTTP Lambda of each function; its queue and job Lambdas are
		// named after it (-<topic>, -jobs).
		names := pulumi.StringMap{}
		for name, f := range a.Functions {
			if f.Lambda != nil {
				names[name] = f.Lambda.Name
			}
		}
		s.Outputs["lambdaFunctions"] = names.ToStringMapOutput()
	}
	if g := s.GCP; g != nil {
		if g.LB != nil {
			s.Outputs["gcpApiUrl"] = pulumi.String("https://" + cfg.Domain).ToStringOutput()
			s.Outputs["loadBalancerIp"] = g.LB.Address.Address
		}
		if g.CDN != nil {
			s.Outputs["cdnBaseUrl"] = pulumi.String("https://" + cfg.Domain).ToStringOutput()
			s.Outputs["videoBucket"] = g.CDN.Bucket.Name
		}
		if w := g.Warehouse; w != nil {
			s.Outputs["qoeBigQueryTable"] = pulumi.Sprintf("%s.%s.%s", w.Table.Project, w.Table.DatasetId, w.Table.TableId)
		}
		topics := pulumi.StringMap{}
		for name, t := range g.Topics {
			topics[name] = t.ResourceName
		}
		if len(topics) > 0 {
			s.Outputs["pubsubTopics"] = topics.ToStringMapOutput()
		}
		if g.Federation != nil {
			s.Outputs["workloadIdentityProvider"] = g.Federation.Provider.Name
		}
	}
}

// baseURL is where clients reach routes served on cloud.
func (s *Stack) baseURL(cloud Cloud) pulumi.StringOutput {
	if cloud == AWS {
		return s.AWS.API.ApiEndpoint
	}
	return pulumi.String("https://" + s.Config.Domain).ToStringOutput()
}

// joinOutputs joins strings with commas once they are known.
func joinOutputs(parts []pulumi.StringInput) pulumi.StringOutput {
	items := make([]any, len(parts))
	for i, p := range parts {
		items[i] = p
	}
	return pulumi.All(items...).ApplyT(func(v []any) string {
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = s.(string)
		}
		return strings.Join(out, ",")
	}).(pulumi.StringOutput)
}

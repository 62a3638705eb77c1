package deploygen

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/playplane/playplane/functions/catalog"
)

// The markers around template.yaml's generated part. What lies outside
// them (parameters, conditions, the table, the HTTP API and its
// authorizer, outputs) is written by hand and shared by every function.
const (
	BeginMarker = "  # BEGIN GENERATED: the queues and functions of functions/catalog (go run ./cmd/playplane-gen); do not edit by hand."
	EndMarker   = "  # END GENERATED"
)

// File is one generated file.
type File struct {
	Path string
	Data []byte
}

// Files returns every generated file, template.yaml rewritten from tmpl
// (the committed template) with its generated part replaced.
func Files(fns []catalog.Function, tmpl []byte) ([]File, error) {
	t, err := Template(fns, tmpl)
	if err != nil {
		return nil, err
	}
	reg, err := Registry(fns)
	if err != nil {
		return nil, err
	}
	return []File{{TemplatePath, t}, {MakefilePath, Makefile(fns)}, {RegistryPath, reg}}, nil
}

// Template returns tmpl with the part between BeginMarker and EndMarker
// replaced by Resources(fns).
func Template(fns []catalog.Function, tmpl []byte) ([]byte, error) {
	begin := bytes.Index(tmpl, []byte(BeginMarker+"\n"))
	end := bytes.Index(tmpl, []byte(EndMarker+"\n"))
	if begin < 0 || end < begin {
		return nil, errors.New("deploygen: template.yaml has no BEGIN GENERATED ... END GENERATED markers")
	}
	res, err := Resources(fns)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Write(tmpl[:begin+len(BeginMarker)+1])
	out.Write(res)
	out.Write(tmpl[end:])
	return out.Bytes(), nil
}

// Resources renders the queues of every topic and, per function, its log
// groups, role and Lambdas, as template.yaml resources (indented under
// Resources:). Everything comes from the catalogue: routes and which sit
// behind the JWT authorizer, consumed and published topics, jobs and their
// rates, secrets (by ARN), settings, signing, store access and indexes,
// memory and timeout.
func Resources(fns []catalog.Function) ([]byte, error) {
	w := &writer{}
	if err := w.queues(fns); err != nil {
		return nil, err
	}
	lambdas := Lambdas(fns)
	for _, fn := range fns {
		var own []Lambda
		for _, l := range lambdas {
			if l.Function.Name == fn.Name {
				own = append(own, l)
			}
		}
		if len(own) == 0 {
			return nil, fmt.Errorf("deploygen: %s has no routes, consumers or jobs", fn.Name)
		}
		if err := w.function(fn, own); err != nil {
			return nil, err
		}
	}
	return w.Bytes(), nil
}

type writer struct{ bytes.Buffer }

func (w *writer) line(indent int, format string, args ...any) {
	w.WriteString(strings.Repeat(" ", indent))
	fmt.Fprintf(w, format, args...)
	w.WriteByte('\n')
}

// QueueID is the template resource of topic's queue, e.g. HeartbeatsQueue.
func QueueID(topic string) string { return Camel(topic) + "Queue" }

// ParameterOf is the template parameter holding env's value (a setting) or
// its secret's ARN (a secret, "<Camel>Secret").
func ParameterOf(env string) string { return Camel(env) }

// ConditionOf is the template condition saying an optional secret is set.
func ConditionOf(secretEnv string) string { return "Has" + Camel(secretEnv) }

func (w *writer) queues(fns []catalog.Function) error {
	w.line(2, "# One standard queue per topic. Visibility is six times the consumer's")
	w.line(2, "# timeout, as Lambda advises, so a batch being retried is not handed out")
	w.line(2, "# twice; after %d receives a message moves to the topic's DLQ.", catalog.MaxDeliveryAttempts)
	for _, topic := range catalog.Topics {
		consumers := catalog.ConsumersOf(topic.Name)
		if len(consumers) != 1 {
			return fmt.Errorf("deploygen: topic %s has %d consumers, want one", topic.Name, len(consumers))
		}
		id := QueueID(topic.Name)
		dlq := Camel(topic.Name) + "DLQ"
		w.line(2, "%s:", dlq)
		w.line(4, "Type: AWS::SQS::Queue")
		w.line(4, "Properties:")
		w.line(6, `QueueName: !Sub "${AWS::StackName}-%s"`, catalog.DeadLetterName(topic.Name))
		w.line(6, "MessageRetentionPeriod: 1209600")
		w.line(6, "SqsManagedSseEnabled: true")
		w.line(6, "RedriveAllowPolicy:")
		w.line(8, "redrivePermission: byQueue")
		w.line(8, "sourceQueueArns:")
		w.line(10, `- !Sub "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-%s"`, topic.Name)
		w.line(2, "%s:", id)
		w.line(4, "Type: AWS::SQS::Queue")
		w.line(4, "Properties:")
		w.line(6, `QueueName: !Sub "${AWS::StackName}-%s"`, topic.Name)
		w.line(6, "VisibilityTimeout: %d", catalog.QueueVisibilitySeconds(topic.Name))
		w.line(6, "MessageRetentionPeriod: 345600")
		w.line(6, "SqsManagedSseEnabled: true")
		w.line(6, "RedrivePolicy:")
		w.line(8, "deadLetterTargetArn: !GetAtt %s.Arn", dlq)
		w.line(8, "maxReceiveCount: %d", catalog.MaxDeliveryAttempts)
		w.WriteByte('\n')
	}
	return nil
}

// dynamoActions are the actions shared/dynamo calls, as the Pulumi stack
// grants them (infra/stack dynamoActions, checked there against the
// adapter): no Batch*, no Scan.
func dynamoActions(access catalog.StoreAccess) []string {
	read := []string{"dynamodb:GetItem", "dynamodb:Query"}
	if access == catalog.StoreReadOnly {
		return read
	}
	return append(read, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem")
}

// secretRef is the template value of a secret's ARN: optional secrets are
// left out when their parameter is empty.
func secretRef(env string) string {
	if s, _ := catalog.SecretByEnv(env); s.Optional {
		return fmt.Sprintf("!If [%s, !Ref %sSecret, !Ref AWS::NoValue]", ConditionOf(env), ParameterOf(env))
	}
	return "!Ref " + ParameterOf(env) + "Secret"
}

func (w *writer) list(indent int, key string, items []string) {
	if len(items) == 1 {
		w.line(indent, "%s: %s", key, items[0])
		return
	}
	w.line(indent, "%s:", key)
	for _, it := range items {
		w.line(indent+2, "- %s", it)
	}
}

func (w *writer) function(fn catalog.Function, lambdas []Lambda) error {
	cloudfront, ok := catalog.DeliveryByName(catalog.DeliveryCloudFront)
	if !ok {
		return errors.New("deploygen: the catalogue has no CloudFront delivery")
	}
	role := fn.GCPEntryPoint + "Role"
	w.line(2, "# ---------------------------------------------------------------- %s", fn.Name)
	w.line(2, "# Each Lambda logs to /aws/lambda/<its FunctionName>, a log group made")
	w.line(2, "# here with a retention, which the function's role may write to and not")
	w.line(2, "# create. The Lambdas of one function share its role.")
	var logGroups []string
	for _, l := range lambdas {
		w.line(2, "%sLogGroup:", l.Base)
		w.line(4, "Type: AWS::Logs::LogGroup")
		w.line(4, "Properties:")
		w.line(6, `LogGroupName: !Sub "/aws/lambda/${AWS::StackName}-%s"`, l.Name)
		w.line(6, "RetentionInDays: !Ref LogRetentionDays")
		logGroups = append(logGroups, "!GetAtt "+l.Base+"LogGroup.Arn")
	}

	w.line(2, "%s:", role)
	w.line(4, "Type: AWS::IAM::Role")
	w.line(4, "Properties:")
	w.line(6, "AssumeRolePolicyDocument:")
	w.line(8, `Version: "2012-10-17"`)
	w.line(8, "Statement:")
	w.line(10, "- Effect: Allow")
	w.line(12, "Principal: { Service: lambda.amazonaws.com }")
	w.line(12, "Action: sts:AssumeRole")
	w.line(6, "Policies:")
	w.line(8, "- PolicyName: %s", fn.Name)
	w.line(10, "PolicyDocument:")
	w.line(12, `Version: "2012-10-17"`)
	w.line(12, "Statement:")
	stmt := func(sid string, actions []string, resources []string) {
		w.line(14, "- Sid: %s", sid)
		w.line(16, "Effect: Allow")
		w.line(16, "Action: [%s]", strings.Join(actions, ", "))
		w.list(16, "Resource", resources)
	}
	stmt("WriteOwnLogs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, logGroups)
	switch fn.Store {
	case catalog.StoreReadOnly:
		stmt("ReadStore", dynamoActions(fn.Store), []string{"!GetAtt StoreTable.Arn"})
	case catalog.StoreReadWrite:
		stmt("Store", dynamoActions(fn.Store), []string{"!GetAtt StoreTable.Arn"})
	}
	for _, index := range fn.StoreIndexes {
		stmt("QueryIndex"+Camel(index), []string{"dynamodb:Query"}, []string{fmt.Sprintf(`!Sub "${StoreTable.Arn}/index/%s"`, index)})
	}
	for _, c := range fn.Consumes {
		stmt("Consume"+Camel(c.Topic), []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"},
			[]string{"!GetAtt " + QueueID(c.Topic) + ".Arn"})
	}
	if len(fn.Publishes) > 0 {
		var queues []string
		for _, t := range fn.Publishes {
			queues = append(queues, "!GetAtt "+QueueID(t)+".Arn")
		}
		stmt("Publish", []string{"sqs:SendMessage"}, queues)
	}
	secrets := fn.SecretsFor(cloudfront)
	if len(secrets) > 0 {
		var refs []string
		for _, s := range secrets {
			refs = append(refs, secretRef(s))
		}
		w.line(14, "- Sid: ReadSecrets")
		w.line(16, "Effect: Allow")
		w.line(16, "Action: [secretsmanager:GetSecretValue]")
		w.line(16, "Resource:")
		for _, r := range refs {
			w.line(18, "- %s", r)
		}
	}

	for _, l := range lambdas {
		if err := w.lambda(l, role, cloudfront); err != nil {
			return err
		}
	}
	w.WriteByte('\n')
	return nil
}

func (w *writer) lambda(l Lambda, role string, cloudfront catalog.Delivery) error {
	fn := l.Function
	w.line(2, "%s:", l.LogicalID)
	w.line(4, "Type: AWS::Serverless::Function")
	w.line(4, "Metadata:")
	w.line(6, "BuildMethod: makefile")
	w.line(6, "ContextPath: .")
	w.line(6, "ProjectRootDirectory: .")
	w.line(4, "Properties:")
	w.line(6, `FunctionName: !Sub "${AWS::StackName}-%s"`, l.Name)
	switch l.Trigger {
	case catalog.TriggerHTTP:
		w.line(6, "Description: %s - its HTTP API routes.", fn.Name)
	case catalog.TriggerQueue:
		w.line(6, "Description: %s - the consumer of the %s queue.", fn.Name, l.Topic)
	case catalog.TriggerJob:
		var names []string
		for _, j := range fn.Jobs {
			names = append(names, j.Name)
		}
		w.line(6, "Description: %s - its scheduled jobs (%s).", fn.Name, strings.Join(names, ", "))
	}
	w.line(6, "CodeUri: %s", catalog.LambdaMain(fn.Name, catalog.StoreDynamo))
	w.line(6, "Handler: %s", catalog.LambdaHandler)
	w.line(6, "Runtime: %s", catalog.LambdaRuntime)
	w.line(6, "Architectures: [%s]", catalog.LambdaArchitecture)
	w.line(6, "MemorySize: %d", fn.MemoryMB)
	w.line(6, "Timeout: %d", fn.TimeoutSeconds)
	w.line(6, "Role: !GetAtt %s.Arn", role)
	w.line(6, "Environment:")
	w.line(8, "Variables:")
	v := func(name, value string) { w.line(10, "%s: %s", name, value) }
	v(catalog.EnvTrigger, l.Trigger)
	if l.Topic != "" {
		v(catalog.EnvTopic, l.Topic)
	}
	v("DYNAMO_TABLE", "!Ref StoreTable")
	w.line(10, "# Empty on AWS; events/aws/env.json points `sam local invoke` at DynamoDB Local and fauxqs.")
	v("DYNAMODB_ENDPOINT", `""`)
	v("SQS_ENDPOINT", `""`)
	if topics := fn.TopicsOf(); len(topics) > 0 {
		var urls []string
		for _, t := range topics {
			urls = append(urls, t.Name+"=${"+QueueID(t.Name)+"}")
		}
		v("QUEUE_URLS", `!Sub "`+strings.Join(urls, ",")+`"`)
	}
	if fn.VerifiesCallerJWT() {
		v(catalog.EnvJWTIssuer, "!Ref JWTIssuer")
		v(catalog.EnvJWTAudience, "!Ref JWTAudience")
		v(catalog.EnvJWTJWKSURL, "!Ref JWTJWKSURL")
	}
	if secrets := fn.SecretsFor(cloudfront); len(secrets) > 0 {
		w.line(10, "# Empty on AWS, where the secret the ARN names gives the value; `sam local invoke` sets only declared variables, from events/aws/env.json.")
		for _, s := range secrets {
			v(catalog.SecretARNEnv(s), secretRef(s))
			v(s, `""`)
		}
	}
	if fn.SignsURLs {
		v(catalog.EnvSignURLCDNBases, `!Sub "`+cloudfront.CDNBasesValue("${CDNBaseURL}")+`"`)
		v(cloudfront.KeysEnv, `!Sub "`+cloudfront.KeysValue("${CloudFrontKeyId}")+`"`)
		v(cloudfront.ActiveKeyEnv, "!Ref CloudFrontKeyId")
	}
	for _, s := range fn.Settings {
		v(s, "!Ref "+ParameterOf(s))
	}
	w.line(6, "Events:")
	switch l.Trigger {
	case catalog.TriggerHTTP:
		seen := map[string]bool{}
		for _, r := range fn.Routes {
			name := RouteEvent(r)
			if seen[name] {
				return fmt.Errorf("deploygen: %s: two routes make the event name %s", fn.Name, name)
			}
			seen[name] = true
			w.line(8, "%s:", name)
			w.line(10, "Type: HttpApi")
			w.line(10, "Properties:")
			w.line(12, "ApiId: !Ref HttpApi")
			w.line(12, "Method: %s", r.Method)
			w.line(12, "Path: %s", r.Path)
			w.line(12, `PayloadFormatVersion: "2.0"`)
			if r.Auth.VerifiedAsJWT() {
				w.line(12, "Auth: { Authorizer: CallerJWT }")
			}
		}
	case catalog.TriggerQueue:
		w.line(8, "%s:", Camel(l.Topic))
		w.line(10, "Type: SQS")
		w.line(10, "Properties:")
		w.line(12, "Queue: !GetAtt %s.Arn", QueueID(l.Topic))
		w.line(12, "BatchSize: 10")
		w.line(12, "MaximumBatchingWindowInSeconds: 1")
		w.line(12, "FunctionResponseTypes: [ReportBatchItemFailures]")
	case catalog.TriggerJob:
		for _, j := range fn.Jobs {
			rate, err := j.RateExpression()
			if err != nil {
				return fmt.Errorf("deploygen: %s: %w", fn.Name, err)
			}
			w.line(8, "%s:", Camel(j.Name))
			w.line(10, "Type: Schedule")
			w.line(10, "Properties:")
			w.line(12, "Schedule: %s", rate)
			w.line(12, "Input: '%s'", j.Payload())
			if j.NeedsSecret != "" {
				if s, _ := catalog.SecretByEnv(j.NeedsSecret); s.Optional {
					w.line(12, "State: !If [%s, ENABLED, DISABLED]", ConditionOf(j.NeedsSecret))
				}
			}
		}
	}
	w.WriteByte('\n')
	return nil
}

// RouteEvent is the template event name of a route: its method and path
// words, "DELETE /v1/sessions/{id}" → DeleteSessionsId.
func RouteEvent(r catalog.Route) string {
	name := Camel(strings.ToLower(r.Method))
	for _, seg := range strings.Split(r.Path, "/") {
		if seg == "" || seg == "v1" {
			continue
		}
		name += Camel(strings.Trim(seg, "{}"))
	}
	return name
}

// acronyms keep the spelling template.yaml's parameters use.
var acronyms = map[string]string{"api": "API", "hmac": "HMAC", "ttl": "TTL", "dlq": "DLQ", "cloudfront": "CloudFront", "cloudcdn": "CloudCDN", "jwt": "JWT", "url": "URL", "cdn": "CDN", "signurl": "SignURL", "ip": "IP"}

// Camel joins the words of s (split at -, _ and .) capitalized:
// stripe-events → StripeEvents, STRIPE_API_KEY → StripeAPIKey.
func Camel(s string) string {
	var b strings.Builder
	for _, word := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		if a, ok := acronyms[word]; ok {
			b.WriteString(a)
			continue
		}
		b.WriteString(strings.ToUpper(word[:1]) + word[1:])
	}
	return b.String()
}

package stack

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/awsfn"
	"github.com/playplane/playplane/infra/pulumimock"
)

// statement is the parsed form of an identity policy statement. Action and
// Resource may be a string or a list in IAM JSON.
type statement struct {
	Sid       string          `json:"Sid"`
	Effect    string          `json:"Effect"`
	Action    json.RawMessage `json:"Action"`
	NotAction json.RawMessage `json:"NotAction"`
	Resource  json.RawMessage `json:"Resource"`
	NotRes    json.RawMessage `json:"NotResource"`
}

func stringOrList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	err := json.Unmarshal(raw, &many)
	return many, err
}

// wildcardViolations lists what is wrong with an identity policy: any
// wildcard action, any "*" or wildcard resource except the stream part of
// the function's own log group (ownLogGroupArn), any Not* element.
func wildcardViolations(policy, ownLogGroupArn string) []string {
	var doc struct {
		Statement []statement `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return []string{"unparsable policy: " + err.Error()}
	}
	var bad []string
	if len(doc.Statement) == 0 {
		bad = append(bad, "no statements")
	}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			bad = append(bad, fmt.Sprintf("%s: effect %q", s.Sid, s.Effect))
		}
		if len(s.NotAction) > 0 || len(s.NotRes) > 0 {
			bad = append(bad, s.Sid+": NotAction/NotResource grant everything else")
		}
		actions, err := stringOrList(s.Action)
		if err != nil || len(actions) == 0 {
			bad = append(bad, s.Sid+": no actions")
		}
		for _, a := range actions {
			if strings.ContainsAny(a, "*?") {
				bad = append(bad, fmt.Sprintf("%s: wildcard action %q", s.Sid, a))
			}
		}
		resources, err := stringOrList(s.Resource)
		if err != nil || len(resources) == 0 {
			bad = append(bad, s.Sid+": no resources")
		}
		for _, r := range resources {
			if !strings.ContainsAny(r, "*?") {
				continue
			}
			if r != ownLogGroupArn+":log-stream:*" || !awsfn.IsLogStreamPattern(r) {
				bad = append(bad, fmt.Sprintf("%s: wildcard resource %q", s.Sid, r))
			}
		}
	}
	return bad
}

// The checker must catch what it is meant to catch, or the policy test
// below could never fail.
func TestWildcardCheckerCatchesWildcards(t *testing.T) {
	t.Parallel()
	const group = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/fn"
	for _, tc := range []struct {
		name   string
		policy string
		bad    bool
	}{
		{name: "exact", policy: `{"Statement":[{"Effect":"Allow","Action":["sqs:SendMessage"],"Resource":["arn:aws:sqs:eu-west-1:123456789012:q"]}]}`},
		{name: "own log streams", policy: `{"Statement":[{"Effect":"Allow","Action":"logs:PutLogEvents","Resource":"` + group + `:log-stream:*"}]}`},
		{name: "star action", policy: `{"Statement":[{"Effect":"Allow","Action":"*","Resource":["arn:aws:sqs:eu-west-1:123456789012:q"]}]}`, bad: true},
		{name: "service wildcard", policy: `{"Statement":[{"Effect":"Allow","Action":["sqs:*"],"Resource":["arn:aws:sqs:eu-west-1:123456789012:q"]}]}`, bad: true},
		{name: "star resource", policy: `{"Statement":[{"Effect":"Allow","Action":["sqs:SendMessage"],"Resource":"*"}]}`, bad: true},
		{name: "arn wildcard", policy: `{"Statement":[{"Effect":"Allow","Action":["dynamodb:Query"],"Resource":["arn:aws:dynamodb:eu-west-1:123456789012:table/t/index/*"]}]}`, bad: true},
		{name: "other log group", policy: `{"Statement":[{"Effect":"Allow","Action":["logs:PutLogEvents"],"Resource":["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/other:log-stream:*"]}]}`, bad: true},
		{name: "not action", policy: `{"Statement":[{"Effect":"Allow","NotAction":["iam:PassRole"],"Resource":["arn:aws:sqs:eu-west-1:123456789012:q"]}]}`, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := wildcardViolations(tc.policy, group)
			if (len(got) > 0) != tc.bad {
				t.Errorf("violations %v, want bad=%v", got, tc.bad)
			}
		})
	}
}

func TestNoIAMPolicyGrantsWildcards(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		if n := len(d.mock.OfType("aws:iam/policy:Policy")) + len(d.mock.OfType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")); n > 0 {
			t.Errorf("%d managed policies or attachments; every grant should be an inline, reviewed policy", n)
		}
		for _, role := range d.mock.OfType("aws:iam/role:Role") {
			if arns := role.In("managedPolicyArns"); arns != nil && len(arns.([]any)) > 0 {
				t.Errorf("role %s has managed policies %v", role.Str("name"), arns)
			}
		}
		var policies []pulumimock.Resource
		for _, p := range d.mock.OfType("aws:iam/rolePolicy:RolePolicy") {
			// Firehose's role writes objects under its own hourly prefixes,
			// which takes a key pattern; TestQoEWarehouse holds that policy
			// to exactly the QoE bucket.
			if p.InStr("role") != d.prefix()+"-qoe-firehose" {
				policies = append(policies, p)
			}
		}
		for _, p := range policies {
			group := d.one(t, "aws:cloudwatch/logGroup:LogGroup", "/aws/lambda/"+p.InStr("role"))
			for _, v := range wildcardViolations(p.InStr("policy"), group.Str("arn")) {
				t.Errorf("policy of %s: %s", p.InStr("role"), v)
			}
		}
		// One role and policy per function, shared by its Lambdas.
		if len(policies) != len(d.mock.OfType("playplane:aws:Function")) {
			t.Errorf("%d role policies for %d functions", len(policies), len(d.mock.OfType("playplane:aws:Function")))
		}
	})
}

// grants maps resource ARN -> actions of one role policy.
func grants(t *testing.T, policy string) map[string][]string {
	t.Helper()
	var doc struct {
		Statement []statement `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, s := range doc.Statement {
		actions, _ := stringOrList(s.Action)
		resources, _ := stringOrList(s.Resource)
		for _, r := range resources {
			out[r] = append(out[r], actions...)
		}
	}
	for r := range out {
		slices.Sort(out[r])
	}
	return out
}

// Each function's policy names exactly the resources the catalogue says it
// uses, with the actions its use needs.
func TestEachFunctionRoleGrantsOnlyWhatItsFunctionUses(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		for _, fn := range catalog.Functions {
			if !d.stack.runsOn(fn, AWS) {
				continue
			}
			name := d.prefix() + "-" + fn.Name
			policy := d.one(t, "aws:iam/rolePolicy:RolePolicy", name)
			got := grants(t, policy.InStr("policy"))

			want := map[string][]string{}
			group := d.one(t, "aws:cloudwatch/logGroup:LogGroup", "/aws/lambda/"+name)
			want[group.Str("arn")+":log-stream:*"] = []string{"logs:CreateLogStream", "logs:PutLogEvents"}
			if d.layout.Store == catalog.StoreDynamo {
				table := d.one(t, "aws:dynamodb/table:Table", d.prefix())
				want[table.Str("arn")] = dynamoActions(fn.Store)
				for _, idx := range fn.StoreIndexes {
					want[table.Str("arn")+"/index/"+idx] = []string{"dynamodb:Query"}
				}
			}
			if d.layout.Bus == catalog.BusSQS {
				for _, topic := range fn.Publishes {
					q := d.one(t, "aws:sqs/queue:Queue", d.prefix()+"-"+topic)
					want[q.Str("arn")] = append(want[q.Str("arn")], "sqs:SendMessage")
				}
				for _, c := range fn.Consumes {
					q := d.one(t, "aws:sqs/queue:Queue", d.prefix()+"-"+c.Topic)
					want[q.Str("arn")] = append(want[q.Str("arn")], "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
				}
			}
			// The heartbeat consumer forwards the stream to the QoE warehouse.
			if d.layout.Bus == catalog.BusSQS && fn.ConsumesFrom(events.TopicHeartbeats) {
				stream := d.one(t, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", d.prefix()+"-heartbeats")
				want[stream.Str("arn")] = []string{"firehose:PutRecordBatch"}
			}
			// The function reads exactly its own secrets at run time.
			for _, env := range d.layout.SecretsOf(fn, AWS) {
				secret := d.one(t, "aws:secretsmanager/secret:Secret", d.prefix()+"/"+slug(env))
				want[secret.Str("arn")] = []string{"secretsmanager:GetSecretValue"}
			}
			for r := range want {
				slices.Sort(want[r])
			}
			for r, actions := range got {
				if !slices.Equal(actions, want[r]) {
					t.Errorf("%s may %v on %s, want %v", fn.Name, actions, r, want[r])
				}
			}
			for r := range want {
				if _, ok := got[r]; !ok {
					t.Errorf("%s lacks %v on %s", fn.Name, want[r], r)
				}
			}
			if fn.Store == catalog.StoreReadOnly {
				for _, actions := range got {
					if slices.Contains(actions, "dynamodb:PutItem") {
						t.Errorf("read-only %s may write the table", fn.Name)
					}
				}
			}
		}
	})
}

// Resource policies necessarily name patterns (request paths, object
// keys); they must pin the calling service to this stack's resource.
func TestResourcePoliciesArePinnedToTheirCaller(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		for _, p := range d.mock.OfType("aws:s3/bucketPolicy:BucketPolicy") {
			var doc struct {
				Statement []struct {
					Principal map[string]string
					Action    []string
					Resource  []string
					Condition map[string]map[string]string
				}
			}
			if err := json.Unmarshal([]byte(p.InStr("policy")), &doc); err != nil {
				t.Fatal(err)
			}
			dist := d.mock.OfType("aws:cloudfront/distribution:Distribution")[0]
			bucket := d.videoBucket(t)
			for _, s := range doc.Statement {
				if s.Principal["Service"] != "cloudfront.amazonaws.com" || !slices.Equal(s.Action, []string{"s3:GetObject"}) ||
					!slices.Equal(s.Resource, []string{bucket.Str("arn") + "/*"}) ||
					s.Condition["StringEquals"]["AWS:SourceArn"] != dist.Str("arn") {
					t.Errorf("bucket policy statement %+v", s)
				}
			}
		}
		if d.stack.AWS == nil || d.stack.AWS.API == nil {
			return
		}
		api := d.mock.OfType("aws:apigatewayv2/api:Api")[0]
		for _, perm := range d.mock.OfType("aws:lambda/permission:Permission") {
			if perm.InStr("action") != "lambda:InvokeFunction" {
				t.Errorf("permission %s allows %s", perm.Name, perm.InStr("action"))
			}
			arn := perm.InStr("sourceArn")
			switch perm.InStr("principal") {
			case "apigateway.amazonaws.com":
				rest, ok := strings.CutPrefix(arn, api.Str("executionArn")+"/*/")
				if !ok || strings.HasPrefix(rest, "*") {
					t.Errorf("permission %s source %q is not one method of this API", perm.Name, arn)
				}
			case "events.amazonaws.com":
				// One schedule of this stack, which targets this function.
				rule, ok := d.byArn("aws:cloudwatch/eventRule:EventRule", arn)
				if !ok || strings.ContainsAny(arn, "*?") {
					t.Errorf("permission %s source %q is not a rule of this stack", perm.Name, arn)
					continue
				}
				targets := 0
				for _, target := range d.mock.OfType("aws:cloudwatch/eventTarget:EventTarget") {
					if target.InStr("rule") == rule.Str("name") {
						targets++
						lambda, _ := d.byArn("aws:lambda/function:Function", target.InStr("arn"))
						if lambda.Str("name") != perm.InStr("function") {
							t.Errorf("rule %s targets %q, but the permission is on %s", rule.Str("name"), target.InStr("arn"), perm.InStr("function"))
						}
					}
				}
				if targets != 1 {
					t.Errorf("rule %s has %d targets, want 1", rule.Str("name"), targets)
				}
			default:
				t.Errorf("permission %s lets %s invoke %s", perm.Name, perm.InStr("principal"), perm.InStr("function"))
			}
		}
	})
}

func TestGCPServiceAccountsHoldMinimalRoles(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		if d.stack.GCP == nil {
			return
		}
		accounts := d.mock.OfType("gcp:serviceaccount/account:Account")
		want := 0
		for _, fn := range catalog.Functions {
			if d.stack.runsOn(fn, GCP) {
				want++
			}
			if d.layout.Compute == GCP && len(fn.Jobs) > 0 {
				want++ // the scheduler's own (jobs_test.go)
			}
			if d.layout.Store == catalog.StoreFirestore && d.stack.runsOn(fn, AWS) {
				want++ // its Lambda's (TestHybridWebhookLambdaActsWithOnlyWhatItsRouteUses)
			}
		}
		if len(accounts) != want {
			t.Errorf("%d service accounts, want one per function on GCP, per scheduler and per Lambda over GCP data (%d)", len(accounts), want)
		}
		for _, b := range d.mock.OfType("gcp:projects/iAMMember:IAMMember") {
			role := b.InStr("role")
			if role == metricWriter {
				continue // TestFunctionsWriteMetricsToCloudMonitoring
			}
			if !slices.Contains([]string{"roles/datastore.user", "roles/datastore.viewer"}, role) {
				t.Errorf("project-wide role %s for %s", role, b.InStr("member"))
			}
			if !strings.Contains(b.InStr("condition", "expression"), `"projects/`+testProject+`/databases/(default)"`) {
				t.Errorf("project binding %s for %s is not limited to the database", role, b.InStr("member"))
			}
		}
		for _, b := range d.mock.OfType("gcp:cloudrunv2/serviceIamMember:ServiceIamMember") {
			if b.InStr("member") != "allUsers" {
				continue
			}
			fn := d.one(t, "gcp:cloudfunctionsv2/function:Function", b.InStr("name"))
			if fn.InStr("serviceConfig", "ingressSettings") != "ALLOW_INTERNAL_AND_GCLB" {
				t.Errorf("%s is public without being behind the load balancer", b.InStr("name"))
			}
		}
		delivery, _ := catalog.DeliveryByName(d.layout.Delivery)
		for _, fn := range catalog.Functions {
			if !d.stack.runsOn(fn, GCP) {
				continue
			}
			member := "serviceAccount:" + d.serviceAccountEmail(fn.Name)
			var secrets, topics []string
			for _, b := range d.mock.OfType("gcp:secretmanager/secretIamMember:SecretIamMember") {
				if b.InStr("member") == member {
					secrets = append(secrets, b.InStr("secretId"))
					if b.InStr("role") != "roles/secretmanager.secretAccessor" {
						t.Errorf("%s has %s on a secret", fn.Name, b.InStr("role"))
					}
				}
			}
			for _, b := range d.mock.OfType("gcp:pubsub/topicIAMMember:TopicIAMMember") {
				if b.InStr("member") == member {
					topics = append(topics, b.InStr("topic"))
					if b.InStr("role") != "roles/pubsub.publisher" {
						t.Errorf("%s has %s on a topic", fn.Name, b.InStr("role"))
					}
				}
			}
			var wantSecrets, wantTopics []string
			for _, env := range fn.SecretsFor(delivery) {
				wantSecrets = append(wantSecrets, d.prefix()+"-"+slug(env))
			}
			for _, topic := range fn.Publishes {
				wantTopics = append(wantTopics, "projects/"+testProject+"/topics/"+d.prefix()+"-"+topic)
			}
			slices.Sort(secrets)
			slices.Sort(wantSecrets)
			slices.Sort(topics)
			slices.Sort(wantTopics)
			if !slices.Equal(secrets, wantSecrets) {
				t.Errorf("%s reads secrets %v, want %v", fn.Name, secrets, wantSecrets)
			}
			if !slices.Equal(topics, wantTopics) {
				t.Errorf("%s publishes to %v, want %v", fn.Name, topics, wantTopics)
			}
		}
	})
}

// TestHybridWebhookLambdaActsWithOnlyWhatItsRouteUses: a Lambda that
// serves a function's HTTP routes against GCP data (the hybrid stack's
// Stripe webhook) reaches Firestore and Pub/Sub as the Google identity its
// GCP_CREDENTIALS_JSON impersonates. That identity is bound to the
// database and to the topics the routes publish to, and to nothing else:
// no Secret Manager secret (the route's own come from Secrets Manager,
// and STRIPE_API_KEY is read by reconcile only), no topic only the
// consumer and jobs publish to, no metric writing (a Lambda writes EMF),
// no invoker.
func TestHybridWebhookLambdaActsWithOnlyWhatItsRouteUses(t *testing.T) {
	t.Parallel()
	d := deployed(t, "hybrid")
	if len(d.layout.HTTPOnAWS) == 0 {
		t.Fatal("the hybrid layout serves no routes on AWS: the test sees nothing")
	}
	for _, name := range d.layout.HTTPOnAWS {
		fn, _ := catalog.FunctionByName(name)
		var creds struct {
			URL string `json:"service_account_impersonation_url"`
		}
		raw, _ := mapOf(d.lambda(t, name).In("environment", "variables"))[catalog.EnvGCPCredentialsJSON].(string)
		if err := json.Unmarshal([]byte(raw), &creds); err != nil {
			t.Fatalf("%s: %s: %v", name, catalog.EnvGCPCredentialsJSON, err)
		}
		_, rest, _ := strings.Cut(creds.URL, "/serviceAccounts/")
		email, _, _ := strings.Cut(rest, ":generateAccessToken")
		member := "serviceAccount:" + email
		var got []string
		for _, r := range d.mock.Resources() {
			if strings.Contains(strings.ToLower(r.Type), "iammember") && r.InStr("member") == member {
				on := r.InStr("topic") + r.InStr("secretId") + r.InStr("subscription") + r.InStr("name")
				if r.Type == "gcp:projects/iAMMember:IAMMember" {
					on = r.InStr("condition", "expression")
				}
				got = append(got, r.InStr("role")+" on "+on)
			}
		}
		role := "roles/datastore.user"
		if fn.Store == catalog.StoreReadOnly {
			role = "roles/datastore.viewer"
		}
		want := []string{role + ` on resource.name == "projects/` + testProject + `/databases/(default)"`}
		for _, topic := range fn.HTTPPublishes() {
			want = append(want, "roles/pubsub.publisher on projects/"+testProject+"/topics/"+d.prefix()+"-"+topic)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s's Lambda acts on GCP as %s, which holds\n%s\nwant\n%s", name, email,
				strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

package awsfn

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/pulumimock"
)

func TestSourceArnPathStarsOnlyPathParameters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, path, want string }{
		{name: "static", path: "/v1/play", want: "/v1/play"},
		{name: "one parameter", path: "/v1/sessions/{id}", want: "/v1/sessions/*"},
		{name: "inner parameter", path: "/v1/playback/{session_id}/urls", want: "/v1/playback/*/urls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := SourceArnPath(tc.path); got != tc.want {
				t.Errorf("SourceArnPath(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestIsLogStreamPattern(t *testing.T) {
	t.Parallel()
	const group = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/fn"
	for _, tc := range []struct {
		name string
		arn  string
		want bool
	}{
		{name: "own streams", arn: group + ":log-stream:*", want: true},
		{name: "bare star", arn: "*"},
		{name: "wildcard group", arn: "arn:aws:logs:eu-west-1:123456789012:log-group:*:log-stream:*"},
		{name: "not logs", arn: "arn:aws:sqs:eu-west-1:123456789012:q:log-stream:*"},
		{name: "exact stream", arn: group + ":log-stream:abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := IsLogStreamPattern(tc.arn); got != tc.want {
				t.Errorf("IsLogStreamPattern(%q) = %v, want %v", tc.arn, got, tc.want)
			}
		})
	}
}

func TestValidateRejectsWildcardActionsAndMismatches(t *testing.T) {
	t.Parallel()
	signurl, _ := catalog.FunctionByName("signurl")
	authorizeplay, _ := catalog.FunctionByName("authorizeplay")
	paymentwebhook, _ := catalog.FunctionByName("paymentwebhook")
	good := Args{Spec: authorizeplay, FunctionName: "playplane-test-authorizeplay", Code: "x.zip", LogRetentionDays: 7,
		Queues: []Queue{{Topic: catalog.TopicEntitlementChanged, Arn: pulumi.String("arn")}}}
	for _, tc := range []struct {
		name   string
		mutate func(a *Args)
	}{
		{name: "wildcard action", mutate: func(a *Args) {
			a.Statements = []Statement{{Sid: "S", Actions: []string{"dynamodb:*"}, Resources: pulumi.StringArray{pulumi.String("arn:aws:dynamodb:eu-west-1:1:table/t")}}}
		}},
		{name: "statement without resources", mutate: func(a *Args) { a.Statements = []Statement{{Sid: "S", Actions: []string{"sqs:SendMessage"}}} }},
		{name: "queue it does not consume", mutate: func(a *Args) { a.Queues = []Queue{{Topic: catalog.TopicHeartbeats, Arn: pulumi.String("arn")}} }},
		{name: "jwt route without authorizer", mutate: func(a *Args) { a.HTTP = &HTTP{Routes: authorizeplay.Routes} }},
		{name: "long name", mutate: func(a *Args) { a.FunctionName = strings.Repeat("x", 65) }},
		{name: "no code", mutate: func(a *Args) { a.Code = "" }},
		{name: "no log retention", mutate: func(a *Args) { a.LogRetentionDays = 0 }},
		{name: "nothing invokes it", mutate: func(a *Args) { a.Queues = nil }},
		{name: "consumer name too long", mutate: func(a *Args) { a.FunctionName = strings.Repeat("x", 50) }},
		{name: "job it does not have", mutate: func(a *Args) { a.Jobs = []catalog.Job{{Name: "sweep", Every: time.Minute}} }},
		{name: "disabled job it does not schedule", mutate: func(a *Args) { a.DisabledJobs = []string{"reconcile"} }},
		{name: "schedule name too long", mutate: func(a *Args) {
			a.Spec, a.FunctionName = paymentwebhook, strings.Repeat("x", 60)
			a.Jobs = paymentwebhook.Jobs
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := good
			tc.mutate(&args)
			if err := validate(args); err == nil {
				t.Error("validate accepted the args")
			}
		})
	}
	if err := validate(good); err != nil {
		t.Errorf("validate(good) = %v", err)
	}
	scheduled := Args{Spec: paymentwebhook, FunctionName: "playplane-test-paymentwebhook", Code: "x.zip", LogRetentionDays: 7, Jobs: paymentwebhook.Jobs}
	if err := validate(scheduled); err != nil {
		t.Errorf("validate(paymentwebhook with its jobs) = %v", err)
	}
	scheduled.FunctionName = strings.Repeat("x", 60) // + "-jobs": 65
	scheduled.Jobs = []catalog.Job{{Name: "s", Every: time.Minute}}
	scheduled.Spec.Jobs = scheduled.Jobs
	if err := validate(scheduled); err == nil || !strings.Contains(err.Error(), "Lambda name") {
		t.Errorf("validate(jobs Lambda name of 65 characters) = %v", err)
	}
	scheduled = Args{Spec: paymentwebhook, FunctionName: "playplane-test-paymentwebhook", Code: "x.zip", LogRetentionDays: 7, Jobs: paymentwebhook.Jobs}
	if err := validate(scheduled); err != nil {
		t.Errorf("validate(paymentwebhook with its jobs) = %v", err)
	}
	// Playback-token routes need no authorizer.
	ok := Args{Spec: signurl, FunctionName: "f", Code: "x.zip", LogRetentionDays: 7, HTTP: &HTTP{Routes: signurl.Routes}}
	if err := validate(ok); err != nil {
		t.Errorf("validate(signurl without authorizer) = %v", err)
	}
}

// PolicyJSON is the last guard: a wildcard resource computed at deploy time
// (a typo'd ARN, a "*" from config) fails the deployment.
func TestPolicyJSONRefusesWildcardResources(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		resource string
		wantErr  bool
	}{
		{name: "exact arn", resource: "arn:aws:sqs:eu-west-1:123456789012:q"},
		{name: "star", resource: "*", wantErr: true},
		{name: "index wildcard", resource: "arn:aws:dynamodb:eu-west-1:123456789012:table/t/index/*", wantErr: true},
		{name: "empty", resource: "", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mock := pulumimock.New("p")
			err := pulumi.RunErr(func(ctx *pulumi.Context) error {
				// Registering a resource with the policy as input awaits it.
				policy := PolicyJSON([]Statement{{Sid: "S", Actions: []string{"sqs:SendMessage"}, Resources: pulumi.StringArray{pulumi.String(tc.resource)}}})
				var res pulumi.CustomResourceState
				return ctx.RegisterResource("test:index:Policy", "p", pulumi.Map{"policy": policy}, &res)
			}, pulumi.WithMocks("playplane", "test", mock))
			if (err != nil) != tc.wantErr {
				t.Fatalf("deploy error %v, want error %v", err, tc.wantErr)
			}
			if err == nil {
				var doc PolicyDocument
				policy := mock.OfType("test:index:Policy")[0].InStr("policy")
				if err := json.Unmarshal([]byte(policy), &doc); err != nil || doc.Statement[0].Resource[0] != tc.resource {
					t.Errorf("policy %s (%v)", policy, err)
				}
			}
		})
	}
}

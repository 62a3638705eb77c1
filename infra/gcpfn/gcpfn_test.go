package gcpfn

import (
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/telemetry"
)

func TestValidateRejectsConsumersWithoutDeadLetters(t *testing.T) {
	t.Parallel()
	heartbeat, _ := catalog.FunctionByName("heartbeat")
	topic := Topic{Name: catalog.TopicHeartbeats, ID: pulumi.String("projects/p/topics/hb"), DeadLetter: pulumi.String("projects/p/topics/hb-dlq")}
	good := Args{
		Spec: heartbeat, FunctionName: "playplane-test-heartbeat", AccountID: "heartbeat-test",
		Project: "p", Region: "europe-west1", ProjectNumber: pulumi.String("1"),
		SourceBucket: pulumi.String("b"), SourcePath: "x.zip", ServeHTTP: true,
		Consumes: []Topic{topic}, Publishes: []Topic{topic},
	}
	if err := validate(good); err != nil {
		t.Fatalf("validate(good) = %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(a *Args)
	}{
		{name: "no dead-letter topic", mutate: func(a *Args) { a.Consumes = []Topic{{Name: topic.Name, ID: topic.ID}} }},
		{name: "topic it does not consume", mutate: func(a *Args) {
			a.Consumes = []Topic{{Name: catalog.TopicStripeEvents, ID: topic.ID, DeadLetter: topic.DeadLetter}}
		}},
		{name: "topic it does not publish to", mutate: func(a *Args) { a.Publishes = []Topic{{Name: catalog.TopicEdgeHealth, ID: topic.ID}} }},
		{name: "short account id", mutate: func(a *Args) { a.AccountID = "hb" }},
		{name: "long account id", mutate: func(a *Args) { a.AccountID = "heartbeat-a-very-long-stack-name" }},
		{name: "no project number for the push agent", mutate: func(a *Args) { a.ProjectNumber = nil }},
		{name: "no source", mutate: func(a *Args) { a.SourcePath = "" }},
		{name: "consumer name too long", mutate: func(a *Args) { a.FunctionName = "playplane-a-rather-long-stack-prefix-heartbeat-x" }},
		{name: "job it does not have", mutate: func(a *Args) {
			a.Jobs, a.SchedulerAccountID = []catalog.Job{{Name: "sweep", Every: time.Minute}}, "heartbeat-jobs-test"
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
}

func TestValidateGivesTheSchedulerItsOwnAccount(t *testing.T) {
	t.Parallel()
	paymentwebhook, _ := catalog.FunctionByName("paymentwebhook")
	good := Args{
		Spec: paymentwebhook, FunctionName: "playplane-test-paymentwebhook", AccountID: "paymentwebhook-test",
		Project: "p", Region: "europe-west1", SourceBucket: pulumi.String("b"), SourcePath: "x.zip", ServeHTTP: true,
		Jobs: paymentwebhook.Jobs, SchedulerAccountID: "paymentwebhook-jobs-test",
	}
	if err := validate(good); err != nil {
		t.Fatalf("validate(good) = %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(a *Args)
	}{
		{name: "no scheduler account", mutate: func(a *Args) { a.SchedulerAccountID = "" }},
		{name: "the function's own account", mutate: func(a *Args) { a.SchedulerAccountID = a.AccountID }},
		{name: "no jobs entry point", mutate: func(a *Args) { a.Spec.GCPJobsEntryPoint = "" }},
		{name: "paused job it does not schedule", mutate: func(a *Args) { a.PausedJobs = []string{"rotate"} }},
		{name: "unschedulable interval", mutate: func(a *Args) {
			a.Spec.Jobs = []catalog.Job{{Name: "sweep", Every: 7 * time.Minute}}
			a.Jobs = a.Spec.Jobs
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
}

// TestEnvNamesTheProject: every function gets GOOGLE_CLOUD_PROJECT, with
// or without Cloud Monitoring: its log lines name their trace in the
// project (shared/gcpfn.NewLogger), and Cloud Run sets no variable naming
// it. Only Cloud Monitoring chooses the metrics exporter.
func TestEnvNamesTheProject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		monitoring   bool
		wantExporter bool
	}{
		{name: "with Cloud Monitoring", monitoring: true, wantExporter: true},
		{name: "without Cloud Monitoring"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := Args{Project: "playplane-fn", Region: "europe-west1", CloudMonitoring: tc.monitoring,
				Env: pulumi.StringMap{"K": pulumi.String("v")}}.env()
			if got := env[telemetry.EnvGoogleCloudProject]; got != pulumi.String("playplane-fn") {
				t.Errorf("%s = %v, want playplane-fn", telemetry.EnvGoogleCloudProject, got)
			}
			if _, ok := env[telemetry.EnvMetricsExporter]; ok != tc.wantExporter {
				t.Errorf("%s set: %v, want %v", telemetry.EnvMetricsExporter, ok, tc.wantExporter)
			}
			if env["K"] != pulumi.String("v") {
				t.Errorf("the component's own variables are lost: %v", env)
			}
		})
	}
}

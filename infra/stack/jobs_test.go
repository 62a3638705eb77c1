package stack

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/pulumimock"
)

// The schedules the issue asks for, written out rather than derived from
// the catalogue, so a change there shows up here.
var (
	wantRates = map[string]string{"sweep": "rate(1 minute)", "reconcile": "rate(1 hour)", "grace": "rate(1 hour)", "leases": "rate(1 minute)"}
	wantCrons = map[string]string{"sweep": "* * * * *", "reconcile": "0 * * * *", "grace": "0 * * * *", "leases": "* * * * *"}
)

// jobPayload is what the function's job dispatch reads (shared/awsfn,
// shared/gcpfn): {"job":"<name>"}.
func checkJobPayload(t *testing.T, what, payload, job string) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(payload), &got); err != nil || !reflect.DeepEqual(got, map[string]any{"job": job}) {
		t.Errorf("%s sends %q, want {\"job\":%q}", what, payload, job)
	}
}

// The payment webhook's sweep and reconcile, and heartbeat's leases count,
// run on a schedule wherever their function's consumer runs, and nothing
// but the schedule may start them.
func TestScheduledJobsRunWhereTheConsumersRun(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		wantRules, wantSchedulerJobs := 0, 0
		for _, fn := range catalog.Functions {
			for _, job := range fn.Jobs {
				if wantRates[job.Name] == "" {
					t.Errorf("%s job %s has no expected schedule in this test", fn.Name, job.Name)
				}
				switch d.layout.Compute {
				case AWS:
					wantRules++
					d.checkEventBridgeJob(t, fn, job.Name)
				case GCP:
					wantSchedulerJobs++
					d.checkCloudSchedulerJob(t, fn, job.Name)
				}
			}
			if len(fn.Jobs) > 0 && d.layout.Compute == GCP {
				d.checkJobsFunctionInvokers(t, fn)
			}
		}
		if n := len(d.mock.OfType("aws:cloudwatch/eventRule:EventRule")); n != wantRules {
			t.Errorf("%d EventBridge rules, want %d", n, wantRules)
		}
		if n := len(d.mock.OfType("aws:cloudwatch/eventTarget:EventTarget")); n != wantRules {
			t.Errorf("%d EventBridge targets, want %d", n, wantRules)
		}
		if n := len(d.mock.OfType("gcp:cloudscheduler/job:Job")); n != wantSchedulerJobs {
			t.Errorf("%d Cloud Scheduler jobs, want %d", n, wantSchedulerJobs)
		}
	})
}

func (d *deployment) checkEventBridgeJob(t *testing.T, fn catalog.Function, job string) {
	t.Helper()
	lambda := d.lambda(t, fn.Name+"-jobs")
	d.checkTrigger(t, lambda, catalog.TriggerJob, "")
	rule := d.one(t, "aws:cloudwatch/eventRule:EventRule", d.prefix()+"-"+fn.Name+"-"+job)
	if got := rule.InStr("scheduleExpression"); got != wantRates[job] {
		t.Errorf("%s %s runs %q, want %q", fn.Name, job, got, wantRates[job])
	}
	if rule.InStr("state") != "ENABLED" || rule.InStr("eventPattern") != "" {
		t.Errorf("%s %s rule state %q pattern %q", fn.Name, job, rule.InStr("state"), rule.InStr("eventPattern"))
	}
	var targets []pulumimock.Resource
	for _, target := range d.mock.OfType("aws:cloudwatch/eventTarget:EventTarget") {
		if target.InStr("rule") == rule.Str("name") {
			targets = append(targets, target)
		}
	}
	if len(targets) != 1 {
		t.Fatalf("%s %s rule has %d targets, want 1", fn.Name, job, len(targets))
	}
	if targets[0].InStr("arn") != lambda.Str("arn") {
		t.Errorf("%s %s invokes %q, want %s", fn.Name, job, targets[0].InStr("arn"), lambda.Str("arn"))
	}
	checkJobPayload(t, fn.Name+" "+job, targets[0].InStr("input"), job)
	if job == "sweep" {
		// The payload is the one `sam local invoke -e` sends.
		sample, err := os.ReadFile("../../events/aws/paymentwebhook/sweep.json")
		if err != nil {
			t.Fatal(err)
		}
		checkJobPayload(t, "events/aws/paymentwebhook/sweep.json", string(sample), job)
	}
	if target := targets[0]; target.InStr("roleArn") != "" {
		t.Errorf("%s %s target has a role; a Lambda target needs only the function's permission", fn.Name, job)
	}
	// EventBridge may invoke the function through this rule only.
	var permitted bool
	for _, p := range d.mock.OfType("aws:lambda/permission:Permission") {
		if p.InStr("principal") == "events.amazonaws.com" && p.InStr("sourceArn") == rule.Str("arn") {
			permitted = p.InStr("function") == lambda.Str("name") && p.InStr("action") == "lambda:InvokeFunction"
		}
	}
	if !permitted {
		t.Errorf("EventBridge may not invoke %s through rule %s", fn.Name, rule.Str("arn"))
	}
}

func (d *deployment) checkCloudSchedulerJob(t *testing.T, fn catalog.Function, job string) {
	t.Helper()
	jobs := d.one(t, "gcp:cloudfunctionsv2/function:Function", d.prefix()+"-"+fn.Name+"-jobs")
	s := d.one(t, "gcp:cloudscheduler/job:Job", d.prefix()+"-"+fn.Name+"-"+job)
	if got := s.InStr("schedule"); got != wantCrons[job] || s.InStr("timeZone") != "Etc/UTC" {
		t.Errorf("%s %s runs %q in %q, want %q in UTC", fn.Name, job, got, s.InStr("timeZone"), wantCrons[job])
	}
	// The run.app URI, where Cloud Scheduler counts as internal traffic for
	// the internal-only jobs function; never the cloudfunctions.net url.
	uri, _ := jobs.Out("serviceConfig", "uri").(string)
	if uri != pulumimock.RunURI(jobs.Str("name")) || uri == jobs.Str("url") {
		t.Fatalf("%s jobs function uri %q", fn.Name, uri)
	}
	target := mapOf(s.In("httpTarget"))
	if target["uri"] != uri || target["httpMethod"] != "POST" {
		t.Errorf("%s %s calls %v %v, want POST %s", fn.Name, job, target["httpMethod"], target["uri"], uri)
	}
	if ct := mapOf(target["headers"])["Content-Type"]; ct != "application/json" {
		t.Errorf("%s %s content type %v", fn.Name, job, ct)
	}
	body, err := base64.StdEncoding.DecodeString(target["body"].(string))
	if err != nil {
		t.Errorf("%s %s body is not base64: %v", fn.Name, job, err)
	}
	checkJobPayload(t, fn.Name+" "+job, string(body), job)
	oidc := mapOf(target["oidcToken"])
	if oidc["serviceAccountEmail"] != d.schedulerEmail(fn.Name) || oidc["audience"] != uri {
		t.Errorf("%s %s authenticates as %v for %v, want %s for %s", fn.Name, job, oidc["serviceAccountEmail"], oidc["audience"],
			d.schedulerEmail(fn.Name), uri)
	}
	if target["oauthToken"] != nil {
		t.Errorf("%s %s sends an OAuth token; Cloud Run takes OIDC", fn.Name, job)
	}
}

func (d *deployment) schedulerEmail(fn string) string {
	return accountID(fn+"-jobs", d.layout.Name) + "@" + testProject + ".iam.gserviceaccount.com"
}

// checkJobsFunctionInvokers: the jobs function is internal, invoked by the
// scheduler's account only, and that account holds nothing else.
func (d *deployment) checkJobsFunctionInvokers(t *testing.T, fn catalog.Function) {
	t.Helper()
	jobs := d.one(t, "gcp:cloudfunctionsv2/function:Function", d.prefix()+"-"+fn.Name+"-jobs")
	if jobs.InStr("serviceConfig", "ingressSettings") != "ALLOW_INTERNAL_ONLY" {
		t.Errorf("%s jobs function ingress %q", fn.Name, jobs.InStr("serviceConfig", "ingressSettings"))
	}
	scheduler := "serviceAccount:" + d.schedulerEmail(fn.Name)
	if !slices.ContainsFunc(d.mock.OfType("gcp:serviceaccount/account:Account"), func(a pulumimock.Resource) bool {
		return a.Str("email") == d.schedulerEmail(fn.Name)
	}) {
		t.Errorf("no service account %s", d.schedulerEmail(fn.Name))
	}
	var invokers []string
	for _, m := range d.mock.OfType("gcp:cloudrunv2/serviceIamMember:ServiceIamMember") {
		if m.InStr("name") == jobs.Str("name") {
			invokers = append(invokers, m.InStr("member")+" "+m.InStr("role"))
		}
	}
	if !slices.Equal(invokers, []string{scheduler + " roles/run.invoker"}) {
		t.Errorf("%s jobs function invokers %v, want only the scheduler", fn.Name, invokers)
	}
	// The scheduler's account is bound nowhere else, and nothing is bound
	// with a wildcard.
	for _, r := range d.mock.Resources() {
		if !strings.Contains(strings.ToLower(r.Type), "iammember") {
			continue
		}
		member := r.InStr("member")
		if strings.ContainsAny(member+r.InStr("role"), "*?") {
			t.Errorf("%s %s binds %q to %q", r.Type, r.Name, r.InStr("role"), member)
		}
		if member == scheduler && r.InStr("name") != jobs.Str("name") {
			t.Errorf("the %s scheduler also holds %s (%s)", fn.Name, r.InStr("role"), r.Type)
		}
	}
}

package lambdatest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	"github.com/awslabs/goformation/v7/cloudformation/iam"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/cloudformation/sqs"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/awsfn"
)

// Template is template.yaml parsed by goformation. Intrinsic functions are
// kept as readable strings instead of being resolved (goformation resolves
// Fn::GetAtt to nothing): "ref:Name", "getatt:Name.Attr", "sub:text with
// ${Name}", "if:[Condition then else]". A Ref to a parameter with a default
// is its default.
//
// The goformation template is a field, not embedded: embedding promoted
// its 2,518 generated methods (two per CloudFormation resource type, and
// more) onto Template, so the compiler wrote and race-instrumented a
// wrapper for each in this package and in its test variant (10.5-10.8 CPU-s
// each at load 10-20), and the test binaries using lambdatest linked them.
// The accessors below are the ones the tests use.
type Template struct {
	cfn *cloudformation.Template
	// Raw is the same document as plain JSON values, for the SAM properties
	// goformation's types lack (SQS FunctionResponseTypes, Schedule State).
	Raw map[string]any
}

var intrinsicsAsText = &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
	"Ref":        ref,
	"Fn::GetAtt": textIntrinsic("getatt"),
	"Fn::Sub":    textIntrinsic("sub"),
	"Fn::If":     textIntrinsic("if"),
}}

// ref resolves a parameter with a default to the default, so typed fields
// (a Number parameter in RetentionInDays) still parse, and leaves every
// other reference as text.
func ref(_ string, input any, template any) any {
	name, _ := input.(string)
	if name == "AWS::NoValue" {
		return nil
	}
	params, _ := template.(map[string]any)["Parameters"].(map[string]any)
	if p, ok := params[name].(map[string]any); ok {
		if def, ok := p["Default"]; ok {
			return def
		}
	}
	return fmt.Sprintf("ref:%v", input)
}

func textIntrinsic(kind string) intrinsics.IntrinsicHandler {
	return func(_ string, input any, _ any) any {
		if parts, ok := input.([]any); ok && kind == "getatt" && len(parts) == 2 {
			return fmt.Sprintf("getatt:%v.%v", parts[0], parts[1])
		}
		return fmt.Sprintf("%s:%v", kind, input)
	}
}

// goformationMu serialises parsing: goformation registers its YAML tag
// resolvers into a package-level map on every parse, which races when
// parallel tests load the template at once.
var goformationMu sync.Mutex

// LoadTemplate parses the repository's template.yaml.
func LoadTemplate(t testing.TB) *Template {
	t.Helper()
	goformationMu.Lock()
	defer goformationMu.Unlock()
	path := filepath.Join(RepoRoot(t), "template.yaml")
	tmpl, err := goformation.OpenWithOptions(path, intrinsicsAsText)
	if err != nil {
		t.Fatalf("goformation: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := intrinsics.ProcessYAML(data, intrinsicsAsText)
	if err != nil {
		t.Fatal(err)
	}
	tm := &Template{cfn: tmpl}
	if err := json.Unmarshal(raw, &tm.Raw); err != nil {
		t.Fatal(err)
	}
	return tm
}

// GetAllServerlessFunctionResources returns every AWS::Serverless::Function by logical id.
func (tm *Template) GetAllServerlessFunctionResources() map[string]*serverless.Function {
	return tm.cfn.GetAllServerlessFunctionResources()
}

// GetAllSQSQueueResources returns every AWS::SQS::Queue by logical id.
func (tm *Template) GetAllSQSQueueResources() map[string]*sqs.Queue {
	return tm.cfn.GetAllSQSQueueResources()
}

// GetAllIAMRoleResources returns every AWS::IAM::Role by logical id.
func (tm *Template) GetAllIAMRoleResources() map[string]*iam.Role {
	return tm.cfn.GetAllIAMRoleResources()
}

// GetAllDynamoDBTableResources returns every AWS::DynamoDB::Table by logical id.
func (tm *Template) GetAllDynamoDBTableResources() map[string]*dynamodb.Table {
	return tm.cfn.GetAllDynamoDBTableResources()
}

// Resource returns the raw properties and type of a resource.
func (tm *Template) Resource(id string) (typ string, props map[string]any) {
	r, _ := tm.Raw["Resources"].(map[string]any)[id].(map[string]any)
	typ, _ = r["Type"].(string)
	props, _ = r["Properties"].(map[string]any)
	return typ, props
}

// RefTo returns the logical id in "ref:X" or "getatt:X.Attr", if v is one.
func RefTo(v any) (string, bool) {
	s, _ := v.(string)
	if id, ok := strings.CutPrefix(s, "ref:"); ok {
		return id, true
	}
	if ga, ok := strings.CutPrefix(s, "getatt:"); ok {
		id, _, _ := strings.Cut(ga, ".")
		return id, true
	}
	return "", false
}

// FunctionsFor returns the functions whose CodeUri is dir (slash-separated,
// relative to the repository root), sorted: the Lambdas, one per trigger,
// that run one main.
func (tm *Template) FunctionsFor(t testing.TB, dir string) []string {
	t.Helper()
	var ids []string
	for id, fn := range tm.GetAllServerlessFunctionResources() {
		if fn.CodeUri != nil && fn.CodeUri.String != nil && filepath.Clean(*fn.CodeUri.String) == filepath.Clean(dir) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		t.Fatalf("template.yaml has no AWS::Serverless::Function with CodeUri %s", dir)
	}
	slices.Sort(ids)
	return ids
}

// TriggerOf returns the trigger and topic function id is told to serve
// (awsfn.EnvTrigger, awsfn.EnvTopic).
func (tm *Template) TriggerOf(id string) (awsfn.Trigger, string) {
	env := tm.Env(id)
	return awsfn.Trigger(env[awsfn.EnvTrigger]), env[awsfn.EnvTopic]
}

// Route is an HttpApi event of a function.
type Route struct {
	Event, Method, Path, Authorizer, API, PayloadFormat string
}

// Key is the route key, also the function's ServeMux pattern: "POST /v1/play".
func (r Route) Key() string { return r.Method + " " + r.Path }

// Routes returns the HttpApi events of function id.
func (tm *Template) Routes(id string) []Route {
	var routes []Route
	for name, ev := range tm.events(id) {
		if ev.Type != "HttpApi" {
			continue
		}
		r := Route{Event: name}
		r.Method, _ = ev.Properties["Method"].(string)
		r.Path, _ = ev.Properties["Path"].(string)
		r.PayloadFormat, _ = ev.Properties["PayloadFormatVersion"].(string)
		r.API, _ = RefTo(ev.Properties["ApiId"])
		if auth, ok := ev.Properties["Auth"].(map[string]any); ok {
			r.Authorizer, _ = auth["Authorizer"].(string)
		}
		routes = append(routes, r)
	}
	slices.SortFunc(routes, func(a, b Route) int { return strings.Compare(a.Key(), b.Key()) })
	return routes
}

// Trigger is an SQS event of a function.
type Trigger struct {
	Event string
	Queue string // logical id
	// Topic is the topic the function is told it consumes (awsfn.EnvTopic).
	Topic         string
	ResponseTypes []string
}

// Triggers returns the SQS events of function id.
func (tm *Template) Triggers(id string) []Trigger {
	_, topic := tm.TriggerOf(id)
	var out []Trigger
	for name, ev := range tm.events(id) {
		if ev.Type != "SQS" {
			continue
		}
		tr := Trigger{Event: name, Topic: topic}
		tr.Queue, _ = RefTo(ev.Properties["Queue"])
		if types, ok := ev.Properties["FunctionResponseTypes"].([]any); ok {
			for _, t := range types {
				s, _ := t.(string)
				tr.ResponseTypes = append(tr.ResponseTypes, s)
			}
		}
		out = append(out, tr)
	}
	slices.SortFunc(out, func(a, b Trigger) int { return strings.Compare(a.Event, b.Event) })
	return out
}

// QueueTopic is the topic a queue of the template carries: its QueueName
// is "${AWS::StackName}-<topic>".
func (tm *Template) QueueTopic(queueID string) string {
	q := tm.GetAllSQSQueueResources()[queueID]
	if q == nil || q.QueueName == nil {
		return ""
	}
	topic, _ := strings.CutPrefix(*q.QueueName, "sub:${AWS::StackName}-")
	return topic
}

// Jobs returns the job names the Schedule events of function id send.
func (tm *Template) Jobs(t testing.TB, id string) []string {
	t.Helper()
	var jobs []string
	for name, ev := range tm.events(id) {
		if ev.Type != "Schedule" && ev.Type != "ScheduleV2" {
			continue
		}
		input, _ := ev.Properties["Input"].(string)
		var in struct {
			Job string `json:"job"`
		}
		if err := json.Unmarshal([]byte(input), &in); err != nil || in.Job == "" {
			t.Errorf("%s.%s: Input %q is not {\"job\":\"<name>\"}", id, name, input)
			continue
		}
		jobs = append(jobs, in.Job)
	}
	slices.Sort(jobs)
	return jobs
}

// Env returns the environment variables of function id as written.
func (tm *Template) Env(id string) map[string]string {
	_, props := tm.Resource(id)
	env, _ := props["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	out := map[string]string{}
	for k, v := range vars {
		out[k] = fmt.Sprint(v)
	}
	return out
}

type event struct {
	Type       string
	Properties map[string]any
}

func (tm *Template) events(id string) map[string]event {
	_, props := tm.Resource(id)
	evs, _ := props["Events"].(map[string]any)
	out := map[string]event{}
	for name, v := range evs {
		m, _ := v.(map[string]any)
		ev := event{Properties: map[string]any{}}
		ev.Type, _ = m["Type"].(string)
		if p, ok := m["Properties"].(map[string]any); ok {
			ev.Properties = p
		}
		out[name] = ev
	}
	return out
}

// CheckFunction checks the function built by build against its Lambdas in
// template.yaml, found by the working directory (functions/<name>/lambda,
// where the main's test runs): each Lambda names one trigger and has only
// that trigger's events; the HTTP Lambda's routes are exactly patterns the
// function's mux registers, there is one queue Lambda per topic the
// function consumes, fed by that topic's queue only, and the job Lambda's
// schedules name the function's jobs. Each Lambda is built as its trigger
// (with vars); nothing is contacted.
func CheckFunction(t *testing.T, build awsfn.Builder, vars map[string]string) {
	t.Helper()
	root := RepoRoot(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Rel(root, wd)
	if err != nil {
		t.Fatal(err)
	}
	tm := LoadTemplate(t)
	ids := tm.FunctionsFor(t, filepath.ToSlash(dir))

	cfg := LocalAWS()
	env := awsfn.NewEnv(awsfn.Options{Lookuper: envconfig.MapLookuper(vars), AWS: &cfg})
	fn, err := build(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	fn.Register(mux)
	var jobs []string
	if j, ok := fn.(interface{ Jobs() map[string]awsfn.Job }); ok {
		jobs = slices.Sorted(maps.Keys(j.Jobs()))
	}

	var httpIDs, consumed, scheduled []string
	for _, id := range ids {
		trigger, topic := tm.TriggerOf(id)
		kinds := map[string]int{}
		for _, ev := range tm.events(id) {
			kinds[ev.Type]++
		}
		want := map[awsfn.Trigger]string{awsfn.TriggerHTTP: "HttpApi", awsfn.TriggerQueue: "SQS", awsfn.TriggerJob: "Schedule"}[trigger]
		if want == "" {
			t.Errorf("%s: %s=%q is not a trigger", id, awsfn.EnvTrigger, trigger)
			continue
		}
		if len(kinds) != 1 || kinds[want] == 0 {
			t.Errorf("%s: %s=%s, but its events are %v: a Lambda serves one trigger", id, awsfn.EnvTrigger, trigger, kinds)
		}
		switch trigger {
		case awsfn.TriggerHTTP:
			httpIDs = append(httpIDs, id)
			for _, r := range tm.Routes(id) {
				target := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(r.Path, "sample-1")
				_, pattern := mux.Handler(httptest.NewRequest(r.Method, target, nil))
				if pattern != r.Key() {
					t.Errorf("%s.%s: %s is served by mux pattern %q, want exactly %q", id, r.Event, r.Key(), pattern, r.Key())
				}
			}
		case awsfn.TriggerQueue:
			consumed = append(consumed, topic)
			triggers := tm.Triggers(id)
			if len(triggers) != 1 {
				t.Errorf("%s: %d SQS events, want one: the queue of %s", id, len(triggers), topic)
			}
			for _, tr := range triggers {
				if carries := tm.QueueTopic(tr.Queue); carries != topic {
					t.Errorf("%s.%s: %s=%s, but its queue %s carries %q", id, tr.Event, awsfn.EnvTopic, topic, tr.Queue, carries)
				}
			}
		case awsfn.TriggerJob:
			scheduled = append(scheduled, tm.Jobs(t, id)...)
		}
		// The Lambda builds as its trigger: a queue Lambda finds its
		// topic's consumer, a job Lambda its jobs.
		h, err := awsfn.New(context.Background(), build, awsfn.Options{
			Lookuper: envconfig.MapLookuper(Merge(vars, tm.triggerVars(id))), AWS: &cfg})
		if err == nil {
			err = h.Build(context.Background())
		}
		if err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if len(httpIDs) != 1 {
		t.Errorf("%s: HTTP Lambdas %v, want one", dir, httpIDs)
	}
	slices.Sort(consumed)
	if got := slices.Sorted(maps.Keys(fn.Consumers())); !slices.Equal(got, consumed) || len(slices.Compact(slices.Clone(consumed))) != len(consumed) {
		t.Errorf("%s: queue Lambdas consume %v, the function consumes %v (one Lambda each)", dir, consumed, got)
	}
	slices.Sort(scheduled)
	if !slices.Equal(scheduled, jobs) {
		t.Errorf("%s: schedules run jobs %v, the function has %v", dir, scheduled, jobs)
	}
}

// triggerVars are the trigger variables function id sets in template.yaml.
func (tm *Template) triggerVars(id string) map[string]string {
	out := map[string]string{}
	env := tm.Env(id)
	for _, name := range []string{awsfn.EnvTrigger, awsfn.EnvTopic} {
		if v, ok := env[name]; ok {
			out[name] = v
		}
	}
	return out
}

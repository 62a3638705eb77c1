package lambdatest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/awsfn"
)

// Template is template.yaml read as data. Intrinsic functions are kept
// as readable strings instead of being resolved: "ref:Name",
// "getatt:Name.Attr" (from "Name.Attr" or [Name, Attr]), "sub:text with
// ${Name}" (or "sub:[text map[Var:value]]"), "if:[Condition then else]",
// "not:[...]", "equals:[a b]", with their arguments rendered first. A Ref
// to a parameter with a default is its default (so a Number parameter in
// a typed field still parses), a Ref to AWS::NoValue is nil. Any other
// intrinsic function, short form or long, is an error, as is a Globals
// section: nothing merges it into the resources read here.
//
// Raw is the whole document as encoding/json would decode it (numbers
// are float64). The resources the checks read by field are also decoded
// into Function, Queue, Role and Table: their other properties are
// ignored, but a typed one of the wrong type is an error.
type Template struct {
	Raw map[string]any

	functions map[string]*Function
	queues    map[string]*Queue
	roles     map[string]*Role
	tables    map[string]*Table
}

// Function is what the checks read of an AWS::Serverless::Function.
type Function struct {
	// CodeUri is the directory sam build builds (relative to the
	// repository root); an S3 location is an error.
	CodeUri       *string
	Handler       *string
	Runtime       *string
	Role          *string
	Architectures []string
	MemorySize    *int
	Timeout       *int
	// Policies are SAM's, for a role SAM would make: any form.
	Policies any
	// Metadata is the resource's Metadata (sam build's settings).
	Metadata map[string]any `json:"-"`
}

// Queue is what the checks read of an AWS::SQS::Queue. The redrive
// policies are objects: their JSON-string form is an error.
type Queue struct {
	QueueName              *string
	VisibilityTimeout      *int
	MessageRetentionPeriod *int
	RedrivePolicy          map[string]any
	RedriveAllowPolicy     map[string]any
}

// Role is what the checks read of an AWS::IAM::Role.
type Role struct {
	AssumeRolePolicyDocument map[string]any
	ManagedPolicyArns        []string
	Policies                 []RolePolicy
}

// RolePolicy is an inline policy of a Role.
type RolePolicy struct {
	PolicyName     string
	PolicyDocument map[string]any
}

// Table is what the checks read of an AWS::DynamoDB::Table.
type Table struct {
	AttributeDefinitions   []struct{ AttributeName, AttributeType string }
	KeySchema              []KeyElement
	GlobalSecondaryIndexes []struct {
		IndexName  string
		KeySchema  []KeyElement
		Projection struct{ ProjectionType string }
	}
	TimeToLiveSpecification struct {
		AttributeName string
		Enabled       bool
	}
	BillingMode string
}

// KeyElement is an element of a Table's or an index's KeySchema.
type KeyElement struct{ AttributeName, KeyType string }

// resourceAttributes are the keys CloudFormation reads in a resource.
var resourceAttributes = []string{"Type", "Properties", "DependsOn", "Metadata", "Condition",
	"DeletionPolicy", "UpdateReplacePolicy", "CreationPolicy", "UpdatePolicy"}

// LoadTemplate parses the repository's template.yaml.
func LoadTemplate(t testing.TB) *Template {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := ParseTemplate(data)
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	return tm
}

// ParseTemplate parses a SAM template written in YAML.
func ParseTemplate(data []byte) (*Template, error) {
	raw, err := decodeCFN(data)
	if err != nil {
		return nil, err
	}
	if _, ok := raw["Globals"]; ok {
		return nil, errors.New("Globals: not merged into the resources read here; set each property on its resource")
	}
	tm := &Template{Raw: raw, functions: map[string]*Function{}, queues: map[string]*Queue{},
		roles: map[string]*Role{}, tables: map[string]*Table{}}
	resources, ok := raw["Resources"].(map[string]any)
	if !ok {
		return nil, errors.New("no Resources mapping")
	}
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		r, ok := resources[id].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Resources.%s is not a mapping", id)
		}
		for k := range r {
			if !slices.Contains(resourceAttributes, k) {
				return nil, fmt.Errorf("Resources.%s: %s is not a resource attribute", id, k)
			}
		}
		typ, _ := r["Type"].(string)
		var into any
		switch typ {
		case "":
			return nil, fmt.Errorf("Resources.%s has no Type", id)
		case "AWS::Serverless::Function":
			fn := &Function{}
			if r["Metadata"] != nil {
				if fn.Metadata, ok = r["Metadata"].(map[string]any); !ok {
					return nil, fmt.Errorf("Resources.%s.Metadata is not a mapping", id)
				}
			}
			tm.functions[id], into = fn, fn
		case "AWS::SQS::Queue":
			q := &Queue{}
			tm.queues[id], into = q, q
		case "AWS::IAM::Role":
			role := &Role{}
			tm.roles[id], into = role, role
		case "AWS::DynamoDB::Table":
			table := &Table{}
			tm.tables[id], into = table, table
		default:
			continue
		}
		props, err := json.Marshal(r["Properties"])
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(props, into); err != nil {
			return nil, fmt.Errorf("Resources.%s.Properties (%s): %w", id, typ, err)
		}
	}
	return tm, nil
}

// Functions returns every AWS::Serverless::Function by logical id.
func (tm *Template) Functions() map[string]*Function { return tm.functions }

// Queues returns every AWS::SQS::Queue by logical id.
func (tm *Template) Queues() map[string]*Queue { return tm.queues }

// Roles returns every AWS::IAM::Role by logical id.
func (tm *Template) Roles() map[string]*Role { return tm.roles }

// Tables returns every AWS::DynamoDB::Table by logical id.
func (tm *Template) Tables() map[string]*Table { return tm.tables }

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
	for id, fn := range tm.Functions() {
		if fn.CodeUri != nil && filepath.Clean(*fn.CodeUri) == filepath.Clean(dir) {
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
	q := tm.Queues()[queueID]
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

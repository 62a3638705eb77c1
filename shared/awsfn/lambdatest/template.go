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
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/awsfn"
)

// Template is template.yaml parsed by goformation. Intrinsic functions are
// kept as readable strings instead of being resolved (goformation resolves
// Fn::GetAtt to nothing): "ref:Name", "getatt:Name.Attr", "sub:text with
// ${Name}", "if:[Condition then else]". A Ref to a parameter with a default
// is its default.
type Template struct {
	*cloudformation.Template
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
	tm := &Template{Template: tmpl}
	if err := json.Unmarshal(raw, &tm.Raw); err != nil {
		t.Fatal(err)
	}
	return tm
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

// FunctionFor returns the function whose CodeUri is dir (slash-separated,
// relative to the repository root).
func (tm *Template) FunctionFor(t testing.TB, dir string) (string, *serverless.Function) {
	t.Helper()
	for id, fn := range tm.GetAllServerlessFunctionResources() {
		if fn.CodeUri != nil && fn.CodeUri.String != nil && filepath.Clean(*fn.CodeUri.String) == filepath.Clean(dir) {
			return id, fn
		}
	}
	t.Fatalf("template.yaml has no AWS::Serverless::Function with CodeUri %s", dir)
	return "", nil
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
	// Topic is the topic QUEUE_URLS of the function names the queue for.
	Topic         string
	ResponseTypes []string
}

var queueURLEntry = regexp.MustCompile(`^([a-z0-9-]+)=\$\{([A-Za-z0-9]+)\}$`)

// Triggers returns the SQS events of function id.
func (tm *Template) Triggers(id string) []Trigger {
	topics := map[string]string{} // queue → topic
	if v, ok := tm.Env(id)[awsfn.EnvQueueURLs]; ok {
		for _, entry := range strings.Split(strings.TrimPrefix(v, "sub:"), ",") {
			if m := queueURLEntry.FindStringSubmatch(entry); m != nil {
				topics[m[2]] = m[1]
			}
		}
	}
	var out []Trigger
	for name, ev := range tm.events(id) {
		if ev.Type != "SQS" {
			continue
		}
		tr := Trigger{Event: name}
		tr.Queue, _ = RefTo(ev.Properties["Queue"])
		tr.Topic = topics[tr.Queue]
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

// CheckFunction checks the function built by build against its entry in
// template.yaml, found by the working directory (functions/<name>/lambda,
// where the main's test runs): every route of the template is a pattern the
// function's mux registers, the queues it is triggered by are the topics it
// consumes, and its schedules name the jobs it runs. vars must let build
// succeed; nothing is contacted.
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
	id, _ := tm.FunctionFor(t, filepath.ToSlash(dir))

	cfg := LocalAWS()
	env := awsfn.NewEnv(awsfn.Options{Lookuper: envconfig.MapLookuper(vars), AWS: &cfg})
	fn, err := build(context.Background(), env)
	if err := env.Err(); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	fn.Register(mux)

	routes := tm.Routes(id)
	if len(routes) == 0 {
		t.Errorf("%s has no HttpApi events", id)
	}
	for _, r := range routes {
		target := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(r.Path, "sample-1")
		_, pattern := mux.Handler(httptest.NewRequest(r.Method, target, nil))
		if pattern != r.Key() {
			t.Errorf("%s.%s: %s is served by mux pattern %q, want exactly %q", id, r.Event, r.Key(), pattern, r.Key())
		}
	}

	consumed := slices.Sorted(maps.Keys(fn.Consumers()))
	var triggered []string
	for _, tr := range tm.Triggers(id) {
		if tr.Topic == "" {
			t.Errorf("%s.%s: queue %s has no topic in %s", id, tr.Event, tr.Queue, awsfn.EnvQueueURLs)
		}
		triggered = append(triggered, tr.Topic)
	}
	slices.Sort(triggered)
	if !slices.Equal(consumed, triggered) {
		t.Errorf("%s: SQS events deliver topics %v, the function consumes %v", id, triggered, consumed)
	}

	var jobs []string
	if j, ok := fn.(interface{ Jobs() map[string]awsfn.Job }); ok {
		jobs = slices.Sorted(maps.Keys(j.Jobs()))
	}
	if scheduled := tm.Jobs(t, id); !slices.Equal(scheduled, jobs) {
		t.Errorf("%s: schedules run jobs %v, the function has %v", id, scheduled, jobs)
	}
}

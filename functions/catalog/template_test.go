package catalog_test

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/catalog/deploygen"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
)

// samFunction is what template.yaml deploys of one catalogue function,
// gathered over every AWS::Serverless::Function whose CodeUri is one of
// its folders (functions/<name>/...), however many resources that is.
type samFunction struct {
	ids                    []string
	routes, topics, jobs   []string
	jwtRoutes              []string
	rates                  map[string]string // job → Schedule
	env                    map[string]bool
	memory, timeout        []int
	runtime, arch, handler []string
}

// samFunctions reads template.yaml as data (lambdatest.LoadTemplate) and
// groups its functions by catalogue name.
func samFunctions(t *testing.T, tm *lambdatest.Template) map[string]*samFunction {
	t.Helper()
	queueTopic := map[string]string{}
	for id, q := range tm.Queues() {
		if q.QueueName != nil {
			queueTopic[id] = strings.TrimPrefix(*q.QueueName, "sub:${AWS::StackName}-")
		}
	}
	out := map[string]*samFunction{}
	fns := tm.Functions()
	for _, id := range slices.Sorted(maps.Keys(fns)) {
		fn := fns[id]
		if fn.CodeUri == nil {
			t.Errorf("%s: no CodeUri", id)
			continue
		}
		parts := strings.Split(path.Clean(*fn.CodeUri), "/")
		if len(parts) < 2 || parts[0] != "functions" {
			t.Errorf("%s: CodeUri %s is not a function's folder", id, *fn.CodeUri)
			continue
		}
		s := out[parts[1]]
		if s == nil {
			s = &samFunction{rates: map[string]string{}, env: map[string]bool{}}
			out[parts[1]] = s
		}
		s.ids = append(s.ids, id)
		for _, r := range tm.Routes(id) {
			s.routes = append(s.routes, r.Key())
			if r.Authorizer != "" {
				s.jwtRoutes = append(s.jwtRoutes, r.Key())
			}
		}
		for _, tr := range tm.Triggers(id) {
			topic, ok := queueTopic[tr.Queue]
			if !ok {
				t.Errorf("%s.%s: queue %q has no QueueName of the stack", id, tr.Event, tr.Queue)
			}
			s.topics = append(s.topics, topic)
		}
		s.jobs = append(s.jobs, tm.Jobs(t, id)...)
		_, props := tm.Resource(id)
		events, _ := props["Events"].(map[string]any)
		for _, ev := range events {
			ev, _ := ev.(map[string]any)
			p, _ := ev["Properties"].(map[string]any)
			if input, ok := p["Input"].(string); ok {
				s.rates[input] = fmt.Sprint(p["Schedule"])
			}
		}
		for k := range tm.Env(id) {
			s.env[k] = true
		}
		if fn.MemorySize != nil {
			s.memory = append(s.memory, *fn.MemorySize)
		}
		if fn.Timeout != nil {
			s.timeout = append(s.timeout, *fn.Timeout)
		}
		if fn.Runtime != nil {
			s.runtime = append(s.runtime, *fn.Runtime)
		}
		s.arch = append(s.arch, fn.Architectures...)
		if fn.Handler != nil {
			s.handler = append(s.handler, *fn.Handler)
		}
	}
	return out
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// every reports whether vs is non-empty and each of its values is want.
func every[T comparable](vs []T, want T) bool {
	return len(vs) > 0 && !slices.ContainsFunc(vs, func(v T) bool { return v != want })
}

// template.yaml is written by hand for `sam deploy`; this holds it, read as
// data, to the catalogue: the same functions, routes (and which of them sit
// behind the JWT authorizer), consumed topics, jobs with their schedules,
// secrets, settings and limits.
func TestTemplateMatchesTheCatalogue(t *testing.T) {
	t.Parallel()
	tm := lambdatest.LoadTemplate(t)
	sam := samFunctions(t, tm)
	var names []string
	for _, fn := range catalog.Functions {
		names = append(names, fn.Name)
	}
	if got := slices.Sorted(maps.Keys(sam)); !slices.Equal(got, sorted(names)) {
		t.Errorf("template.yaml deploys %v, the catalogue %v", got, sorted(names))
	}
	cloudfront, _ := catalog.DeliveryByName(catalog.DeliveryCloudFront)
	for _, fn := range catalog.Functions {
		s, ok := sam[fn.Name]
		if !ok {
			continue
		}
		t.Run(fn.Name, func(t *testing.T) {
			t.Parallel()
			var routes, jwt, topics, jobs []string
			for _, r := range fn.Routes {
				routes = append(routes, r.Key())
				if r.Auth.VerifiedAsJWT() {
					jwt = append(jwt, r.Key())
				}
			}
			for _, c := range fn.Consumes {
				topics = append(topics, c.Topic)
			}
			for _, j := range fn.Jobs {
				jobs = append(jobs, j.Name)
				rate, err := j.RateExpression()
				if got := s.rates[j.Payload()]; err != nil || got != rate {
					t.Errorf("job %s: template schedules %s with %q, the catalogue %q (%v)", j.Name, j.Payload(), got, rate, err)
				}
			}
			for _, c := range []struct {
				what      string
				got, want []string
			}{
				{"routes", s.routes, routes},
				{"routes behind the JWT authorizer", s.jwtRoutes, jwt},
				{"consumed topics", s.topics, topics},
				{"jobs", s.jobs, jobs},
			} {
				if !slices.Equal(sorted(c.got), sorted(c.want)) {
					t.Errorf("%s: template.yaml %q, the catalogue %q", c.what, sorted(c.got), sorted(c.want))
				}
			}

			// Secrets reach a Lambda as the ARN of their Secrets Manager
			// secret; settings by name.
			var secrets, settings, wantSecrets []string
			for name := range s.env {
				if env, ok := strings.CutSuffix(name, "_SECRET_ARN"); ok {
					secrets = append(secrets, env)
				}
				if _, ok := catalog.SettingByEnv(name); ok {
					settings = append(settings, name)
				}
			}
			wantSecrets = fn.SecretsFor(cloudfront)
			if !slices.Equal(sorted(secrets), sorted(wantSecrets)) {
				t.Errorf("secrets: template.yaml %q, the catalogue %q", sorted(secrets), sorted(wantSecrets))
			}
			if !slices.Equal(sorted(settings), sorted(fn.Settings)) {
				t.Errorf("settings: template.yaml %q, the catalogue %q", sorted(settings), sorted(fn.Settings))
			}
			for _, name := range []string{catalog.EnvJWTIssuer, catalog.EnvJWTAudience, catalog.EnvJWTJWKSURL} {
				if s.env[name] != fn.VerifiesCallerJWT() {
					t.Errorf("%s set: %v; the function verifies caller JWTs: %v", name, s.env[name], fn.VerifiesCallerJWT())
				}
			}
			for _, name := range []string{cloudfront.KeysEnv, cloudfront.ActiveKeyEnv, catalog.EnvSignURLCDNBases} {
				if s.env[name] != fn.SignsURLs {
					t.Errorf("%s set: %v; the function signs URLs: %v", name, s.env[name], fn.SignsURLs)
				}
			}

			if !every(s.memory, fn.MemoryMB) || !every(s.timeout, fn.TimeoutSeconds) {
				t.Errorf("MemorySize %v, Timeout %v; the catalogue %d MB, %d s", s.memory, s.timeout, fn.MemoryMB, fn.TimeoutSeconds)
			}
			if !every(s.runtime, catalog.LambdaRuntime) || !every(s.arch, catalog.LambdaArchitecture) || !every(s.handler, catalog.LambdaHandler) {
				t.Errorf("Runtime %v, Architectures %v, Handler %v; the catalogue %s %s %s", s.runtime, s.arch, s.handler,
					catalog.LambdaRuntime, catalog.LambdaArchitecture, catalog.LambdaHandler)
			}
		})
	}

	// Every topic is a queue of the stack (its dead-letter queue aside).
	var queues []string
	for _, q := range tm.Queues() {
		if q.QueueName != nil && !strings.HasSuffix(*q.QueueName, "-dlq") {
			queues = append(queues, strings.TrimPrefix(*q.QueueName, "sub:${AWS::StackName}-"))
		}
	}
	var topics []string
	for _, topic := range catalog.Topics {
		topics = append(topics, topic.Name)
	}
	if !slices.Equal(sorted(queues), sorted(topics)) {
		t.Errorf("template.yaml queues %q, the catalogue's topics %q", sorted(queues), sorted(topics))
	}
}

// TestTemplateSettingsAreParameters: each setting reaches the Lambdas that
// read it from its own template parameter, whose default is the
// catalogue's (the Pulumi stacks' and the functions' own). Bind-IP's also
// says what the template cannot do itself: the distribution is not in it,
// and AWS asks for its IPv6 to be off under IpAddress policies
// (DistributionConfig IsIPV6Enabled).
func TestTemplateSettingsAreParameters(t *testing.T) {
	t.Parallel()
	tm := lambdatest.LoadTemplate(t)
	params, _ := tm.Raw["Parameters"].(map[string]any)
	fns := tm.Functions()
	for _, s := range catalog.Settings {
		if slices.Contains(catalog.GCPSettings, s.Env) {
			continue // read on Cloud Functions only
		}
		param := deploygen.ParameterOf(s.Env)
		p, ok := params[param].(map[string]any)
		if !ok {
			t.Errorf("%s: no template parameter %s", s.Env, param)
			continue
		}
		// LoadTemplate renders a reference to a parameter as its default.
		want := "ref:" + param
		if def, ok := p["Default"]; ok {
			want = fmt.Sprint(def)
		}
		if s.Default != "" && want != s.Default {
			t.Errorf("parameter %s defaults to %s, the catalogue to %q", param, want, s.Default)
		}
		if def, ok := p["Default"]; s.Optional && (!ok || fmt.Sprint(def) != "") {
			t.Errorf("parameter %s of optional %s must default to empty, so that a deploy may leave it out", param, s.Env)
		}
		for _, id := range slices.Sorted(maps.Keys(fns)) {
			if v, ok := tm.Env(id)[s.Env]; ok && v != want {
				t.Errorf("%s: %s = %q, want the parameter %s (%s)", id, s.Env, v, param, want)
			}
		}
	}
	p, _ := params[deploygen.ParameterOf(catalog.SettingSignURLBindIP)].(map[string]any)
	if got := fmt.Sprint(p["AllowedValues"]); got != "[true false]" {
		t.Errorf("bind-IP parameter allows %s, want [true false]", got)
	}
	if d, _ := p["Description"].(string); !strings.Contains(d, "IsIPV6Enabled") {
		t.Errorf("bind-IP parameter's description %q does not tell the deployer to turn the distribution's IPv6 off (IsIPV6Enabled)", d)
	}
}

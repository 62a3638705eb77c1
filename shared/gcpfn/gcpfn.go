// Package gcpfn runs playplane functions on Cloud Functions (2nd gen)
// through the Functions Framework for Go. A function's HTTP routes are one
// HTTP entry point, each topic it consumes is one CloudEvent entry point
// (google.cloud.pubsub.topic.v1.messagePublished, which the framework also
// makes of a raw Pub/Sub push body), and its scheduled jobs, if any, are one
// more HTTP entry point. The deploy unit registers every entry point by name
// in init; Cloud Functions serves the one FUNCTION_TARGET names at "/".
//
// Nothing here makes a network call in init: a function and its
// dependencies (the Firestore store, the Pub/Sub bus, the caller JWT
// verifier, the playback token keys) are built on the first request to any
// of its entry points, from the environment the Pulumi stack sets (secrets
// arrive as Secret Manager bindings of the same variables), and shared by
// every function of the process. A build that fails is tried again on the
// next request.
//
// Redelivery: a CloudEvent entry point returns an error, which makes Pub/Sub
// redeliver the message, only when the consumer asked to retry it (a
// retryable failure) or when the function cannot be built; malformed
// messages are logged and acknowledged (see push.CloudEventHandler).
//
// This is a composition package: it imports the GCP adapters, which never
// import each other.
package gcpfn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/pubsub/push"
)

// Function is what every function package's Server offers.
type Function = fnenv.Function

// Builder constructs a function over env (an *Env): a function package's
// Build, through fnenv.Erase. It runs on the first request to one of the
// function's entry points, not in init.
type Builder = fnenv.Builder

// Spec names a function's entry points. The names are the Cloud Functions
// entry points the infrastructure deploys (infra/catalog).
type Spec struct {
	// Name is the function's folder, functions/<Name>.
	Name string
	// HTTP is the entry point of the function's routes; "" when it has none.
	HTTP string
	// Consumers maps each topic the function consumes to its CloudEvent
	// entry point. It must name exactly the topics of the built function's
	// Consumers().
	Consumers map[string]string
	// Jobs is the entry point of the function's scheduled jobs (see
	// Jobs method); "" when it has none.
	Jobs  string
	Build Builder
}

// validEntryPoint keeps entry points to names the Functions Framework
// serves at "/<name>" and Cloud Functions accepts: a letter, then up to 62
// letters, digits or _. A loop rather than a regexp: the check runs in the
// deploy unit's init, and a bounded repetition compiles to a large program.
func validEntryPoint(name string) bool {
	if len(name) < 1 || len(name) > 63 {
		return false
	}
	for i, c := range []byte(name) {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '_')) {
			return false
		}
	}
	return true
}

// EntryPoints lists the spec's entry points: HTTP, consumers by topic, jobs.
func (s Spec) EntryPoints() []string {
	var out []string
	if s.HTTP != "" {
		out = append(out, s.HTTP)
	}
	for _, topic := range slices.Sorted(maps.Keys(s.Consumers)) {
		out = append(out, s.Consumers[topic])
	}
	if s.Jobs != "" {
		out = append(out, s.Jobs)
	}
	return out
}

func (s Spec) validate() error {
	switch {
	case s.Name == "":
		return errors.New("spec without a name")
	case s.Build == nil:
		return fmt.Errorf("%s: no builder", s.Name)
	case s.HTTP == "" && len(s.Consumers) == 0 && s.Jobs == "":
		return fmt.Errorf("%s: no entry points", s.Name)
	}
	for topic, entry := range s.Consumers {
		if topic == "" {
			return fmt.Errorf("%s: consumer %q of an empty topic", s.Name, entry)
		}
	}
	for _, entry := range s.EntryPoints() {
		if !validEntryPoint(entry) {
			return fmt.Errorf("%s: entry point %q must be a letter and up to 62 letters, digits or _", s.Name, entry)
		}
	}
	return nil
}

// Registrar takes entry points by name.
type Registrar interface {
	HTTP(name string, fn func(http.ResponseWriter, *http.Request))
	CloudEvent(name string, fn func(context.Context, event.Event) error)
}

// Framework registers entry points with the Functions Framework's
// declarative registry (package functions), which the Go buildpack's
// generated main serves.
var Framework Registrar = framework{}

type framework struct{}

func (framework) HTTP(name string, fn func(http.ResponseWriter, *http.Request)) {
	functions.HTTP(name, fn)
}

// CloudEvent registers fn as an HTTP function: the stack's push
// subscriptions send push bodies, whose delivery attempt and ordering key
// the framework's own conversion to a CloudEvent drops (push.HTTPHandler).
func (framework) CloudEvent(name string, fn func(context.Context, event.Event) error) {
	functions.HTTP(name, push.HTTPHandler(fn).ServeHTTP)
}

// Set is the functions of one deploy unit over one shared Resources.
type Set struct {
	res       *Resources
	functions []*lazyFunction // in spec order
	http      map[string]*lazyFunction
	events    map[string]consumerRef
	jobs      map[string]*lazyFunction
}

type consumerRef struct {
	fn    *lazyFunction
	topic string
}

// Subscription is one consumer entry point and the topic it consumes.
type Subscription struct {
	Topic, EntryPoint string
}

// NewSet validates the specs: every entry point is named once across the
// set. It builds nothing.
func NewSet(res *Resources, specs ...Spec) (*Set, error) {
	if res == nil {
		return nil, errors.New("gcpfn.NewSet: no resources")
	}
	s := &Set{res: res, http: map[string]*lazyFunction{}, events: map[string]consumerRef{}, jobs: map[string]*lazyFunction{}}
	seen := map[string]string{}
	names := map[string]bool{}
	for _, spec := range specs {
		if err := spec.validate(); err != nil {
			return nil, fmt.Errorf("gcpfn.NewSet: %w", err)
		}
		if names[spec.Name] {
			return nil, fmt.Errorf("gcpfn.NewSet: function %s listed twice", spec.Name)
		}
		names[spec.Name] = true
		for _, entry := range spec.EntryPoints() {
			if other, dup := seen[entry]; dup {
				return nil, fmt.Errorf("gcpfn.NewSet: entry point %s of %s is also one of %s", entry, spec.Name, other)
			}
			seen[entry] = spec.Name
		}
		fn := &lazyFunction{spec: spec, res: res}
		s.functions = append(s.functions, fn)
		if spec.HTTP != "" {
			s.http[spec.HTTP] = fn
		}
		for topic, entry := range spec.Consumers {
			s.events[entry] = consumerRef{fn: fn, topic: topic}
		}
		if spec.Jobs != "" {
			s.jobs[spec.Jobs] = fn
		}
	}
	return s, nil
}

// Resources returns the dependencies the set's functions share.
func (s *Set) Resources() *Resources { return s.res }

// Register hands every entry point to r.
func (s *Set) Register(r Registrar) {
	for _, fn := range s.functions {
		if fn.spec.HTTP != "" {
			r.HTTP(fn.spec.HTTP, fn.serveHTTP)
		}
		for _, topic := range slices.Sorted(maps.Keys(fn.spec.Consumers)) {
			r.CloudEvent(fn.spec.Consumers[topic], fn.consumer(topic))
		}
		if fn.spec.Jobs != "" {
			r.HTTP(fn.spec.Jobs, fn.serveJobs)
		}
	}
}

// HTTPHandler returns the handler of an HTTP or jobs entry point.
func (s *Set) HTTPHandler(entry string) (http.Handler, bool) {
	if fn, ok := s.http[entry]; ok {
		return http.HandlerFunc(fn.serveHTTP), true
	}
	if fn, ok := s.jobs[entry]; ok {
		return http.HandlerFunc(fn.serveJobs), true
	}
	return nil, false
}

// CloudEventHandler returns the function of a consumer entry point.
func (s *Set) CloudEventHandler(entry string) (func(context.Context, event.Event) error, bool) {
	ref, ok := s.events[entry]
	if !ok {
		return nil, false
	}
	return ref.fn.consumer(ref.topic), true
}

// Subscriptions lists the consumer entry points, by topic then name.
func (s *Set) Subscriptions() []Subscription {
	var out []Subscription
	for entry, ref := range s.events {
		out = append(out, Subscription{Topic: ref.topic, EntryPoint: entry})
	}
	slices.SortFunc(out, func(a, b Subscription) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.EntryPoint, b.EntryPoint))
	})
	return out
}

// Build builds every function now instead of on its first request, so a
// long-running process (the local runner, a test) learns of a bad
// configuration at start.
func (s *Set) Build(ctx context.Context) error {
	var errs []error
	for _, fn := range s.functions {
		if _, err := fn.get(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

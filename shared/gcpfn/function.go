package gcpfn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/playplane/playplane/shared/depcheck"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub/push"
	"github.com/playplane/playplane/shared/telemetry"
)

// lazyFunction is one function, built on the first request to any of its
// entry points.
type lazyFunction struct {
	spec Spec
	res  *Resources

	mu    sync.Mutex // serializes builds
	ready atomic.Pointer[built]
}

// built is a function ready to serve.
type built struct {
	routes    *http.ServeMux
	http      http.Handler                                        // routes behind the request middleware
	consumers map[string]func(context.Context, event.Event) error // by topic
	jobs      map[string]Job
	log       *slog.Logger
}

// get returns the built function, building it if no earlier build
// succeeded. A failed build is not remembered: the next request tries again,
// so a dependency that was briefly missing does not need a new instance.
func (f *lazyFunction) get(ctx context.Context) (*built, error) {
	if b := f.ready.Load(); b != nil {
		return b, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := f.ready.Load(); b != nil {
		return b, nil
	}
	// The clients outlive the request that happened to build them.
	b, err := f.build(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("gcpfn: building %s: %w", f.spec.Name, err)
	}
	f.ready.Store(b)
	return b, nil
}

func (f *lazyFunction) build(ctx context.Context) (*built, error) {
	log := f.res.log.With("function", f.spec.Name)
	env := &Env{log: log, res: f.res}
	fn, err := f.spec.Build(ctx, env)
	if err != nil {
		return nil, err
	}
	if depcheck.Nil(fn) {
		return nil, errors.New("the builder returned no function")
	}
	// Cloud Functions has no gateway answering preflights: the function
	// applies the policy the stack sets in CORS_ALLOWED_ORIGINS.
	cors := f.res.cors
	if f.res.corsErr != nil {
		return nil, f.res.corsErr
	}
	b := &built{routes: httpx.NewServeMux(), consumers: map[string]func(context.Context, event.Event) error{}, log: log}
	fn.Register(b.routes)
	b.http = httpx.Middleware(log, cors.Handler(b.routes, b.routes))

	consumers := fn.Consumers()
	for _, topic := range slices.Sorted(maps.Keys(consumers)) {
		entry, ok := f.spec.Consumers[topic]
		if !ok {
			return nil, fmt.Errorf("it consumes %s, for which the spec names no entry point", topic)
		}
		b.consumers[topic] = push.CloudEventHandler(logged(log, entry, topic, consumers[topic]))
	}
	for topic, entry := range f.spec.Consumers {
		if _, ok := consumers[topic]; !ok {
			return nil, fmt.Errorf("the spec names entry point %s for topic %s, which it does not consume", entry, topic)
		}
	}
	if f.spec.Jobs != "" {
		j, ok := fn.(interface{ Jobs() map[string]Job })
		if !ok {
			return nil, fmt.Errorf("the spec names jobs entry point %s, but the function has no jobs (no Jobs method)", f.spec.Jobs)
		}
		b.jobs = j.Jobs()
	}
	log.Info("function built", "entry_points", f.spec.EntryPoints())
	return b, nil
}

// logged gives consumers the request logs' structure: a logger in the
// context stamped with the entry point, the topic and the message.
func logged(log *slog.Logger, entry, topic string, h playback.BatchHandler) playback.BatchHandler {
	log = log.With("entry_point", entry, "topic", topic)
	return func(ctx context.Context, msgs []playback.Message) []string {
		l := log
		if len(msgs) == 1 {
			l = l.With("message_id", msgs[0].ID, "delivery_attempt", msgs[0].DeliveryAttempt)
		}
		return h(httpx.WithLogger(ctx, l), msgs)
	}
}

// serveHTTP is the HTTP entry point: the function's routes, at the paths
// the load balancer forwards unchanged.
func (f *lazyFunction) serveHTTP(w http.ResponseWriter, r *http.Request) {
	defer f.flush(r.Context())
	b, err := f.get(r.Context())
	if err != nil {
		f.unavailable(w, r, err)
		return
	}
	b.http.ServeHTTP(w, r)
}

// unavailable answers a request the function could not be built for. It is
// a fault of the deployment, not of the request: 500, the cause logged.
func (f *lazyFunction) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	f.res.routelessCORS(r, w.Header())
	httpx.Middleware(f.res.log.With("function", f.spec.Name), httpx.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		return &playback.Error{Code: playback.CodeInternal, Reason: "function_unavailable", Err: err}
	})).ServeHTTP(w, r)
}

// routelessCORS sets on h the CORS headers of an answer to r that no
// function's routes give: a function's that could not be built (its routes
// are unknown), the Router's own 404, 405 and function_unavailable. A page
// of another origin reads such an error, and its Retry-After, only with
// them, as it reads every other answer (CORS.Answer on the functions'
// routes). They are CORS_ALLOWED_ORIGINS's policy over no route, so a
// preflight, which asks about a route none is known to serve, gets none.
func (r *Resources) routelessCORS(req *http.Request, h http.Header) {
	if r.corsErr == nil {
		r.cors.Answer(noRoutes, req, h)
	}
}

// noRoutes is the routes of a function that could not be built.
var noRoutes = httpx.NewServeMux()

// consumer is the CloudEvent entry point of topic.
func (f *lazyFunction) consumer(topic string) func(context.Context, event.Event) error {
	return func(ctx context.Context, e event.Event) error {
		defer f.flush(ctx)
		b, err := f.get(ctx)
		if err != nil {
			// Pub/Sub keeps the message and redelivers it, to a fixed
			// deployment or, after the delivery attempts, to the
			// dead-letter topic.
			f.res.log.ErrorContext(ctx, "consumer cannot be built; the message will be redelivered",
				"function", f.spec.Name, "topic", topic, "event_id", e.ID(), "err", err)
			return err
		}
		return b.consumers[topic](ctx, e)
	}
}

// flush exports the invocation's spans and metrics before it returns:
// Cloud Functions throttles the instance's CPU between requests, so a
// batch left for later may never leave. Metrics go first; the spans get
// one attempt within a small budget (telemetry.Flush), so a slow collector
// does not hold the response up.
func (f *lazyFunction) flush(ctx context.Context) {
	if err := telemetry.Flush(ctx); err != nil {
		f.res.log.WarnContext(ctx, "telemetry flush failed", "function", f.spec.Name, "err", err)
	}
}

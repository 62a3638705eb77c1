package awsfn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/depcheck"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/lambdahttp"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/sqs/sqslambda"
	"github.com/playplane/playplane/shared/telemetry"
)

// Handler is one Lambda's handler: the typed handler of its trigger (HTTP,
// Queue or Job), over the function built on the first invocation. As a
// lambda.Handler it decodes a payload once, into its trigger's event.
type Handler struct {
	trigger Trigger
	topic   string // the consumed topic, for TriggerQueue
	build   Builder
	opts    Options
	log     *slog.Logger
	secrets *secretSource  // nil when no secret is named by ARN
	invoke  lambda.Handler // the typed handler of trigger

	mu     sync.Mutex // one build at a time
	built  *built
	values map[string]string // the secret values built is built with
}

// built is the function ready to serve its Lambda's trigger; only that
// trigger's field is set.
type built struct {
	serve   func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
	consume func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
	jobs    map[string]Job
}

// New returns the handler of the trigger the environment names
// (EnvTrigger, EnvTopic). It builds nothing and reads no secret: both
// happen on the first invocation.
func New(ctx context.Context, build Builder, opts Options) (*Handler, error) {
	if build == nil {
		return nil, errors.New("awsfn.New: no builder")
	}
	if opts.Lookuper == nil {
		opts.Lookuper = envconfig.OsLookuper()
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	trigger, topic, err := readTrigger(opts.Lookuper)
	if err != nil {
		return nil, fmt.Errorf("awsfn.New: %w", err)
	}
	h := &Handler{trigger: trigger, topic: topic, build: build, opts: opts, log: opts.Log}
	if refs := secretRefs(opts.Lookuper); len(refs) > 0 {
		if h.secrets, err = newSecretSource(ctx, opts, refs); err != nil {
			return nil, fmt.Errorf("awsfn.New: %w", err)
		}
	}
	h.invoke = lambda.NewHandler(h.typed())
	return h, nil
}

// typed is the handler function of the Lambda's trigger, for lambda.Start.
func (h *Handler) typed() any {
	switch h.trigger {
	case TriggerQueue:
		return h.Queue
	case TriggerJob:
		return h.Job
	}
	return h.HTTP
}

// Invoke decodes payload as the trigger's event and handles it
// (lambda.Handler).
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return h.invoke.Invoke(ctx, payload)
}

// Build builds the function now if no earlier build succeeded, for callers
// that want a bad configuration reported before the first event (tests).
func (h *Handler) Build(ctx context.Context) error {
	_, err := h.get(ctx)
	return err
}

// get returns the function built with the current secret values. A failed
// build is not kept: the next invocation tries again. A rebuild after a
// secret rotation that fails keeps the previous build.
func (h *Handler) get(ctx context.Context) (*built, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var values map[string]string
	if h.secrets != nil {
		var err error
		if values, err = h.secrets.values(ctx); err != nil {
			return nil, err
		}
	}
	if h.built != nil && maps.Equal(values, h.values) {
		return h.built, nil
	}
	// The clients outlive this invocation; its deadline must not end them.
	b, err := h.buildWith(context.WithoutCancel(ctx), values)
	if err != nil {
		if h.built != nil {
			h.log.ErrorContext(ctx, "rebuilding with rotated secrets failed; keeping the previous build", "err", err)
			return h.built, nil
		}
		return nil, err
	}
	h.built, h.values = b, values
	return b, nil
}

func (h *Handler) buildWith(ctx context.Context, secretValues map[string]string) (*built, error) {
	opts := h.opts
	if len(secretValues) > 0 {
		opts.Lookuper = envconfig.MultiLookuper(envconfig.MapLookuper(secretValues), opts.Lookuper)
	}
	env := NewEnv(opts)
	env.trigger = h.trigger
	fn, err := h.build(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("awsfn: building the function: %w", err)
	}
	if depcheck.Nil(fn) {
		return nil, errors.New("awsfn: the builder returned no function")
	}
	b := &built{}
	switch h.trigger {
	case TriggerHTTP:
		// API Gateway answers preflights and sets the headers itself from
		// the stack's CORS configuration; the function applies the same
		// policy so a Lambda reached another way (a function URL, sam
		// local) behaves alike.
		origins, _ := env.Lookup(httpx.EnvCORSAllowedOrigins)
		cors, err := httpx.ParseCORSOrigins(origins)
		if err != nil {
			return nil, fmt.Errorf("awsfn: %w", err)
		}
		mux := httpx.NewServeMux()
		fn.Register(mux)
		b.serve = lambdahttp.Handler(httpx.Middleware(env.Log(), cors.Handler(mux, mux)))
	case TriggerQueue:
		consumers := fn.Consumers()
		consume, ok := consumers[h.topic]
		if !ok || consume == nil {
			return nil, fmt.Errorf("awsfn: %s=%s, but the function consumes %v", EnvTopic, h.topic, slices.Sorted(maps.Keys(consumers)))
		}
		b.consume = sqslambda.Handler(consume)
	case TriggerJob:
		j, ok := fn.(interface{ Jobs() map[string]Job })
		if !ok || len(j.Jobs()) == 0 {
			return nil, fmt.Errorf("awsfn: %s=%s, but the function has no jobs", EnvTrigger, TriggerJob)
		}
		b.jobs = j.Jobs()
	}
	return b, nil
}

// HTTP serves an API Gateway HTTP API request (payload format 2.0). When
// the function cannot be built it answers 500 with the error envelope and
// logs why; the next request builds again.
func (h *Handler) HTTP(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if req.RequestContext.HTTP.Method == "" {
		// A REST API (1.0) request or another trigger's event, sent here
		// by a misconfigured integration: nothing to answer.
		return events.APIGatewayV2HTTPResponse{}, errors.New("awsfn: not an HTTP API payload format 2.0 request (no requestContext.http.method)")
	}
	defer h.flush(ctx)
	b, err := h.get(ctx)
	if err != nil {
		return lambdahttp.Handler(httpx.Middleware(h.log, httpx.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
			return &playback.Error{Code: playback.CodeInternal, Reason: "function_unavailable", Err: err}
		})))(ctx, req)
	}
	return b.serve(ctx, req)
}

// Queue hands an SQS batch to the consumer of the Lambda's topic and
// reports the records it asks to retry as batch item failures. When the
// function cannot be built the whole batch fails and returns to the queue.
func (h *Handler) Queue(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	if len(ev.Records) == 0 {
		// Lambda never sends an empty batch: another trigger's event.
		return events.SQSEventResponse{}, errors.New("awsfn: no SQS records in the event")
	}
	defer h.flush(ctx)
	log := h.log.With("topic", h.topic)
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		log = log.With("aws_request_id", lc.AwsRequestID)
	}
	b, err := h.get(ctx)
	if err != nil {
		log.ErrorContext(ctx, "consumer cannot be built; the batch returns to the queue", "records", len(ev.Records), "err", err)
		return events.SQSEventResponse{}, err
	}
	resp, err := b.consume(httpx.WithLogger(ctx, log), ev)
	if resp.BatchItemFailures == nil {
		// Lambda reads a missing or null list as success too; an empty one
		// is unambiguous.
		resp.BatchItemFailures = []events.SQSBatchItemFailure{}
	}
	return resp, err
}

// flush exports the invocation's metrics and spans before it returns:
// Lambda freezes the execution environment once it has, and a frozen
// batcher sends nothing. The EMF lines go first; the spans get one
// attempt within a small budget (telemetry.Flush), so a slow collector
// does not hold the response up to the deadline.
func (h *Handler) flush(ctx context.Context) {
	if err := telemetry.Flush(ctx); err != nil {
		h.log.WarnContext(ctx, "telemetry flush failed", "err", err)
	}
}

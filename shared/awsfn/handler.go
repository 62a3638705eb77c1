package awsfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/lambdahttp"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/sqs"
)

// Handler is a function's Lambda handler (a lambda.Handler). One Lambda
// serves every trigger of its function, told apart by the payload's shape:
// SQS records, an HTTP API request, or a scheduled job.
type Handler struct {
	serve     func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
	consumers map[string]func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) // by topic
	queues    map[string]string                                                                  // queue name → topic
	jobs      map[string]Job
	log       *slog.Logger
	// secrets, when set, builds the function that serves each invocation
	// (New: secrets named by ARN); the fields above are then unused.
	secrets *secretBuild
}

func newHandler(fn Function, queueURLs map[string]string, cors *httpx.CORS, log *slog.Logger) *Handler {
	mux := httpx.NewServeMux()
	fn.Register(mux)
	h := &Handler{
		serve:     lambdahttp.Handler(httpx.Middleware(log, cors.Handler(mux, mux))),
		consumers: map[string]func(context.Context, events.SQSEvent) (events.SQSEventResponse, error){},
		queues:    map[string]string{},
		log:       log,
	}
	for topic, consume := range fn.Consumers() {
		h.consumers[topic] = sqs.LambdaHandler(logged(log, topic, consume))
	}
	for topic, u := range queueURLs {
		h.queues[queueName(u)] = topic
	}
	if j, ok := fn.(interface{ Jobs() map[string]Job }); ok {
		h.jobs = j.Jobs()
	}
	return h
}

// logged gives consumers the request logs' structure: a logger in the
// context, stamped with the topic and the invocation.
func logged(log *slog.Logger, topic string, h playback.BatchHandler) playback.BatchHandler {
	return func(ctx context.Context, msgs []playback.Message) []string {
		batchLog := log.With("topic", topic)
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			batchLog = batchLog.With("aws_request_id", lc.AwsRequestID)
		}
		return h(httpx.WithLogger(ctx, batchLog), msgs)
	}
}

// probe holds just enough of a payload to tell its trigger.
type probe struct {
	Records []struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	RequestContext *struct {
		HTTP *struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
	Job string `json:"job"`
}

// Invoke handles one invocation.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if h.secrets != nil {
		built, err := h.secrets.handler(ctx)
		if err != nil {
			return nil, err
		}
		return built.Invoke(ctx, payload)
	}
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("awsfn: payload is not a JSON object: %w", err)
	}
	switch {
	case len(p.Records) > 0 && p.Records[0].EventSource == "aws:sqs":
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("awsfn: SQS event: %w", err)
		}
		return json.Marshal(h.consume(ctx, ev))
	case p.RequestContext != nil && p.RequestContext.HTTP != nil:
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("awsfn: HTTP API event: %w", err)
		}
		resp, err := h.serve(ctx, ev)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	case p.Job != "":
		return h.runJob(ctx, p.Job)
	}
	return nil, errors.New("awsfn: unrecognized event: neither SQS records, an HTTP API payload 2.0 request nor a job")
}

// consume hands each queue's records to the consumer of its topic. A batch
// comes from one queue; records of a queue no consumer is configured for are
// reported failed, so they reach the dead-letter queue instead of vanishing.
func (h *Handler) consume(ctx context.Context, ev events.SQSEvent) events.SQSEventResponse {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	var order []string
	byQueue := map[string][]events.SQSMessage{}
	for _, r := range ev.Records {
		if _, seen := byQueue[r.EventSourceARN]; !seen {
			order = append(order, r.EventSourceARN)
		}
		byQueue[r.EventSourceARN] = append(byQueue[r.EventSourceARN], r)
	}
	for _, arn := range order {
		records := byQueue[arn]
		topic, ok := h.topicOf(arn)
		if !ok {
			h.log.ErrorContext(ctx, "sqs records from a queue this function does not consume; left for the dead-letter queue",
				"event_source_arn", arn, "records", len(records), "consumes", slices.Sorted(maps.Keys(h.consumers)))
			for _, r := range records {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
			continue
		}
		out, _ := h.consumers[topic](ctx, events.SQSEvent{Records: records}) // never fails: failures are per record
		resp.BatchItemFailures = append(resp.BatchItemFailures, out.BatchItemFailures...)
	}
	return resp
}

// topicOf finds the topic of a queue ARN: by the configured queue URLs, or
// else by the queue name ending in a consumed topic ("<stack>-heartbeats").
func (h *Handler) topicOf(arn string) (string, bool) {
	name := arn[strings.LastIndexByte(arn, ':')+1:]
	if topic, ok := h.queues[name]; ok {
		_, consumed := h.consumers[topic]
		return topic, consumed
	}
	name = strings.TrimSuffix(name, ".fifo")
	best := ""
	for topic := range h.consumers {
		if (name == topic || strings.HasSuffix(name, "-"+topic) || strings.HasSuffix(name, "_"+topic)) && len(topic) > len(best) {
			best = topic
		}
	}
	return best, best != ""
}

package awsfn_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// recorder is a function with one route, two consumers and, wrapped by
// awsfn.WithJobs, jobs.
type recorder struct {
	mu       sync.Mutex
	consumed map[string][]string // topic → message ids
}

func (f *recorder) Register(mux *http.ServeMux) {
	mux.Handle("GET /v1/things/{id}", httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("id") == "missing" {
			return playback.NotFound("thing", "missing")
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "q": r.URL.Query().Get("q")})
		return nil
	}))
}

func (f *recorder) Consumers() map[string]playback.BatchHandler {
	handler := func(topic string) playback.BatchHandler {
		return func(_ context.Context, msgs []playback.Message) (retry []string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, m := range msgs {
				f.consumed[topic] = append(f.consumed[topic], m.ID)
				if string(m.Data) == "retry" {
					retry = append(retry, m.ID)
				}
			}
			return retry
		}
	}
	return map[string]playback.BatchHandler{"heartbeats": handler("heartbeats"), "edge-health": handler("edge-health")}
}

func (f *recorder) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, ids := range f.consumed {
		n += len(ids)
	}
	return n
}

// Trigger variables of the three kinds of Lambda.
var (
	httpVars  = map[string]string{awsfn.EnvTrigger: "http"}
	queueVars = map[string]string{awsfn.EnvTrigger: "queue", awsfn.EnvTopic: "heartbeats"}
	jobVars   = map[string]string{awsfn.EnvTrigger: "job"}
)

func merge(sets ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, s := range sets {
		for k, v := range s {
			out[k] = v
		}
	}
	return out
}

func newRecorder(t *testing.T, vars map[string]string, jobs map[string]awsfn.Job) (*recorder, lambda.Handler) {
	t.Helper()
	f := &recorder{consumed: map[string][]string{}}
	h, err := awsfn.New(context.Background(), func(context.Context, fnenv.Env) (awsfn.Function, error) {
		if jobs != nil {
			return awsfn.WithJobs(f, jobs), nil
		}
		return f, nil
	}, awsfn.Options{Lookuper: envconfig.MapLookuper(vars)})
	if err != nil {
		t.Fatal(err)
	}
	return f, h
}

func sqsRecord(id, queueArn, body string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, Body: body, EventSource: "aws:sqs", EventSourceARN: queueArn,
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
}

func httpEvent(method, path, query string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: path, RawQueryString: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-1",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path}}}
}

func invoke[T any](t *testing.T, h lambda.Handler, ev any) T {
	t.Helper()
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var resp T
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	return resp
}

func TestHTTPEvents(t *testing.T) {
	t.Parallel()
	_, h := newRecorder(t, httpVars, nil)
	tests := []struct {
		name, method, path, query string
		wantStatus                int
		wantBody                  string
		wantAllow                 string
	}{
		{name: "route", method: "GET", path: "/v1/things/t1", query: "q=x", wantStatus: 200, wantBody: `{"id":"t1","q":"x"}`},
		{name: "typed error", method: "GET", path: "/v1/things/missing", wantStatus: 404, wantBody: `"code":"not_found"`},
		{name: "wrong method", method: "POST", path: "/v1/things/t1", wantStatus: 405,
			wantBody: `"code":"method_not_allowed","reason":"method_not_allowed"`, wantAllow: "GET, HEAD"},
		{name: "unknown path", method: "GET", path: "/v2/nothing", wantStatus: 404, wantBody: `"code":"not_found","reason":"route_not_found"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := invoke[events.APIGatewayV2HTTPResponse](t, h, httpEvent(tt.method, tt.path, tt.query))
			if resp.StatusCode != tt.wantStatus || !strings.Contains(resp.Body, tt.wantBody) || resp.Headers["Allow"] != tt.wantAllow {
				t.Fatalf("got %d %v %s, want %d containing %s, Allow %q", resp.StatusCode, resp.Headers, resp.Body, tt.wantStatus, tt.wantBody, tt.wantAllow)
			}
			if ct := resp.Headers["Content-Type"]; tt.wantStatus >= 400 && ct != "application/json" {
				t.Fatalf("error answered as %q, not the JSON envelope", ct)
			}
		})
	}
}

func failed(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	slices.Sort(ids)
	return ids
}

// TestQueueConsumesItsConfiguredTopic: a queue Lambda hands every record to
// the consumer of PLAYPLANE_TOPIC, whatever queue ARN the records carry, and
// reports the ones it asks to retry. A queue named like another consumed
// topic changes nothing: the topic never comes from the ARN.
func TestQueueConsumesItsConfiguredTopic(t *testing.T) {
	t.Parallel()
	const (
		anonymous  = "arn:aws:sqs:eu-central-1:123456789012:q-7f3a"
		otherTopic = "arn:aws:sqs:eu-central-1:123456789012:prod-edge-health"
	)
	f, h := newRecorder(t, queueVars, nil)
	resp := invoke[events.SQSEventResponse](t, h, events.SQSEvent{Records: []events.SQSMessage{
		sqsRecord("m1", anonymous, "ok"),
		sqsRecord("m2", anonymous, "retry"),
		sqsRecord("m3", otherTopic, "retry"),
		sqsRecord("m4", otherTopic, "ok"),
	}})
	if got, want := failed(resp), []string{"m2", "m3"}; !slices.Equal(got, want) {
		t.Errorf("batch item failures %v, want %v", got, want)
	}
	if got := f.consumed["heartbeats"]; !slices.Equal(got, []string{"m1", "m2", "m3", "m4"}) {
		t.Errorf("heartbeats consumed %v, want every record", got)
	}
	if got := f.consumed["edge-health"]; len(got) != 0 {
		t.Errorf("edge-health consumed %v: the topic was taken from a queue ARN", got)
	}
}

// TestTriggerIsNeverGuessedFromThePayload: each Lambda decodes a payload as
// its own trigger's event. Another trigger's event is refused, not routed
// to that trigger's handler: an SQS batch sent to an HTTP or job Lambda
// consumes nothing.
func TestTriggerIsNeverGuessedFromThePayload(t *testing.T) {
	t.Parallel()
	sqsBatch := events.SQSEvent{Records: []events.SQSMessage{sqsRecord("m1", "arn:aws:sqs:us-east-1:1:heartbeats", "ok")}}
	jobs := map[string]awsfn.Job{"sweep": playback.JobOf(func(context.Context) (int, error) { return 1, nil })}
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		payload any
	}{
		{name: "sqs batch to the http lambda", vars: httpVars, payload: sqsBatch},
		{name: "sqs batch to the job lambda", vars: jobVars, payload: sqsBatch},
		{name: "http request to the queue lambda", vars: queueVars, payload: httpEvent("GET", "/v1/things/t1", "")},
		{name: "job to the queue lambda", vars: queueVars, payload: map[string]string{"job": "sweep"}},
		{name: "job to the http lambda", vars: httpVars, payload: map[string]string{"job": "sweep"}},
		{name: "rest api 1.0 request to the http lambda", vars: httpVars,
			payload: map[string]any{"httpMethod": "GET", "path": "/v1/things/t1", "requestContext": map[string]string{"httpMethod": "GET"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, h := newRecorder(t, tc.vars, jobs)
			payload, _ := json.Marshal(tc.payload)
			if out, err := h.Invoke(context.Background(), payload); err == nil {
				t.Errorf("answered %s, want an error", out)
			}
			if n := f.total(); n != 0 {
				t.Errorf("%d messages consumed", n)
			}
		})
	}
}

func TestSQSBatchWithoutFailuresReportsAnEmptyList(t *testing.T) {
	t.Parallel()
	_, h := newRecorder(t, queueVars, nil)
	payload, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{
		sqsRecord("m1", "arn:aws:sqs:us-east-1:1:heartbeats", "ok"),
	}})
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	// Lambda reads a missing or null list as success too; an empty one is
	// unambiguous.
	if string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("response %s", out)
	}
}

func TestJobs(t *testing.T) {
	t.Parallel()
	var sweeps atomic.Int32
	_, h := newRecorder(t, jobVars, map[string]awsfn.Job{
		"sweep": playback.JobOf(func(context.Context) (int, error) { sweeps.Add(1); return 3, nil }),
		"fail":  playback.JobOf(func(context.Context) (int, error) { return 0, errors.New("stripe down") }),
	})
	resp := invoke[map[string]any](t, h, map[string]string{"job": "sweep"})
	if resp["job"] != "sweep" || resp["result"] != 3.0 || sweeps.Load() != 1 {
		t.Fatalf("sweep: %v (sweeps %d)", resp, sweeps.Load())
	}
	for _, job := range []string{"fail", "unknown", ""} {
		if _, err := h.Invoke(context.Background(), []byte(`{"job":"`+job+`"}`)); err == nil {
			t.Errorf("job %q: no error", job)
		}
	}
}

// TestTriggerConfiguration: the trigger variables are read once, by New,
// and a Lambda whose trigger cannot be told is refused there.
func TestTriggerConfiguration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		wantErr string
	}{
		{name: "http", vars: httpVars},
		{name: "queue", vars: queueVars},
		{name: "job", vars: jobVars},
		{name: "unset", vars: nil, wantErr: "PLAYPLANE_TRIGGER"},
		{name: "unknown", vars: map[string]string{awsfn.EnvTrigger: "sqs"}, wantErr: `PLAYPLANE_TRIGGER="sqs"`},
		{name: "queue without topic", vars: map[string]string{awsfn.EnvTrigger: "queue"}, wantErr: "needs PLAYPLANE_TOPIC"},
		{name: "topic on the http lambda", vars: merge(httpVars, map[string]string{awsfn.EnvTopic: "heartbeats"}), wantErr: "PLAYPLANE_TOPIC=heartbeats"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			builds := 0
			_, err := awsfn.New(context.Background(), func(context.Context, fnenv.Env) (awsfn.Function, error) {
				builds++
				return &recorder{}, nil
			}, awsfn.Options{Lookuper: envconfig.MapLookuper(tc.vars)})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("New: %v, want error containing %q", err, tc.wantErr)
			}
			if builds != 0 {
				t.Error("New built the function; that is the first invocation's work")
			}
		})
	}
}

// TestBuildMatchesTheTrigger: a queue Lambda whose function does not
// consume its topic, or a job Lambda whose function has no jobs, is a
// deployment error the build reports.
func TestBuildMatchesTheTrigger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, want string
		vars       map[string]string
	}{
		{name: "topic not consumed", vars: map[string]string{awsfn.EnvTrigger: "queue", awsfn.EnvTopic: "stripe-events"},
			want: "PLAYPLANE_TOPIC=stripe-events, but the function consumes [edge-health heartbeats]"},
		{name: "no jobs", vars: jobVars, want: "has no jobs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := awsfn.New(context.Background(), func(context.Context, fnenv.Env) (awsfn.Function, error) {
				return &recorder{consumed: map[string][]string{}}, nil
			}, awsfn.Options{Lookuper: envconfig.MapLookuper(tc.vars)})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Build(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestFailedBuildAnswersEveryInvocationAndIsRetried: until the function
// builds, an HTTP request gets a typed 500 that hides the cause, an SQS
// batch fails whole (it returns to the queue) and a job fails, each naming
// the cause to Lambda; every invocation builds again, and the first build
// that succeeds is kept.
func TestFailedBuildAnswersEveryInvocationAndIsRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		payload any
	}{
		{name: "http", vars: httpVars, payload: httpEvent("GET", "/v1/things/t1", "")},
		{name: "queue", vars: queueVars, payload: events.SQSEvent{Records: []events.SQSMessage{sqsRecord("m1", "arn:aws:sqs:us-east-1:1:q", "ok")}}},
		{name: "job", vars: jobVars, payload: map[string]string{"job": "sweep"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var builds atomic.Int32
			var broken atomic.Bool
			broken.Store(true)
			f := &recorder{consumed: map[string][]string{}}
			jobs := map[string]awsfn.Job{"sweep": playback.JobOf(func(context.Context) (int, error) { return 1, nil })}
			h, err := awsfn.New(context.Background(), func(_ context.Context, env fnenv.Env) (awsfn.Function, error) {
				builds.Add(1)
				if broken.Load() {
					if _, err := env.Keyring(); err != nil {
						return nil, err
					}
				}
				return awsfn.WithJobs(f, jobs), nil
			}, awsfn.Options{Lookuper: envconfig.MapLookuper(tc.vars)})
			if err != nil {
				t.Fatal(err)
			}
			payload, _ := json.Marshal(tc.payload)
			for range 2 {
				out, err := h.Invoke(context.Background(), payload)
				if tc.name == "http" {
					var resp events.APIGatewayV2HTTPResponse
					_ = json.Unmarshal(out, &resp)
					if err != nil || resp.StatusCode != 500 || !strings.Contains(resp.Body, `"reason":"function_unavailable"`) ||
						strings.Contains(resp.Body, "PLAYBACK_TOKEN_KEYS") {
						t.Fatalf("unbuilt HTTP Lambda answered %s, %v; want a typed 500 hiding the cause", out, err)
					}
				} else if err == nil || !strings.Contains(err.Error(), "awsfn.Env.Keyring: PLAYBACK_TOKEN_KEYS is not set") {
					t.Fatalf("unbuilt Lambda: %s, %v; want an invocation error naming the cause", out, err)
				}
			}
			if f.total() != 0 {
				t.Fatal("an unbuilt consumer consumed")
			}
			broken.Store(false)
			for range 2 {
				if _, err := h.Invoke(context.Background(), payload); err != nil {
					t.Fatalf("after the fix: %v", err)
				}
			}
			if n := builds.Load(); n != 3 {
				t.Fatalf("built %d times, want once per invocation until one succeeds (3)", n)
			}
		})
	}
}

func TestBadQueueURLFailsTheBuild(t *testing.T) {
	t.Parallel()
	h, err := awsfn.New(context.Background(), func(ctx context.Context, env fnenv.Env) (awsfn.Function, error) {
		if _, err := env.Bus(ctx); err != nil {
			return nil, err
		}
		return &recorder{}, nil
	}, awsfn.Options{Lookuper: envconfig.MapLookuper(merge(httpVars, map[string]string{"TOPIC_HEARTBEATS": "heartbeats"}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Build(context.Background()); err == nil || !strings.Contains(err.Error(), "awsfn.Env.Bus") {
		t.Fatalf("Build: %v, want the bus's error", err)
	}
}

// TestCORSFromTheEnvironment: CORS_ALLOWED_ORIGINS gives the Lambda the
// policy API Gateway applies in front of it.
func TestCORSFromTheEnvironment(t *testing.T) {
	t.Parallel()
	_, h := newRecorder(t, merge(httpVars, map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example"}), nil)
	tests := []struct {
		name, method, path, origin string
		wantStatus                 int
		wantACAO                   string
	}{
		{"preflight", "OPTIONS", "/v1/things/t1", "https://app.example", 204, "https://app.example"},
		{"preflight from another origin", "OPTIONS", "/v1/things/t1", "https://evil.example", 204, ""},
		{"request", "GET", "/v1/things/t1", "https://app.example", 200, "https://app.example"},
		{"error", "GET", "/v1/things/missing", "https://app.example", 404, "https://app.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			headers := map[string]string{"origin": tt.origin}
			if tt.method == "OPTIONS" {
				headers["access-control-request-method"] = "GET"
			}
			ev := httpEvent(tt.method, tt.path, "")
			ev.Headers = headers
			resp := invoke[events.APIGatewayV2HTTPResponse](t, h, ev)
			if resp.StatusCode != tt.wantStatus || resp.Headers["Access-Control-Allow-Origin"] != tt.wantACAO {
				t.Fatalf("got %d %v, want %d with Access-Control-Allow-Origin %q", resp.StatusCode, resp.Headers, tt.wantStatus, tt.wantACAO)
			}
		})
	}
}

func TestBadCORSOriginFailsTheBuild(t *testing.T) {
	t.Parallel()
	h, err := awsfn.New(context.Background(), func(context.Context, fnenv.Env) (awsfn.Function, error) {
		return &recorder{}, nil
	}, awsfn.Options{Lookuper: envconfig.MapLookuper(merge(httpVars, map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example/"}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Build(context.Background()); err == nil {
		t.Fatal("an origin with a path was accepted")
	}
}

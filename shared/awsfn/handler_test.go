package awsfn_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// recorder is a function with one route, one consumer and one job.
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

func newRecorder(t *testing.T, vars map[string]string, jobs map[string]awsfn.Job) (*recorder, lambda.Handler) {
	t.Helper()
	f := &recorder{consumed: map[string][]string{}}
	h, err := awsfn.New(context.Background(), func(context.Context, *awsfn.Env) (awsfn.Function, error) {
		if jobs != nil {
			return awsfn.WithJobs(f, jobs), nil
		}
		return f, nil
	}, awsfn.Options{Lookuper: envconfig.MapLookuper(vars)})
	if err != nil {
		t.Fatal(err)
	}
	return f, lambda.NewHandler(h)
}

func sqsRecord(id, queueArn, body string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, Body: body, EventSource: "aws:sqs", EventSourceARN: queueArn,
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
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
	_, h := newRecorder(t, nil, nil)
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
			ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: tt.path, RawQueryString: tt.query,
				RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-" + tt.name[:4],
					HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: tt.method, Path: tt.path}}}
			resp := invoke[events.APIGatewayV2HTTPResponse](t, h, ev)
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

func TestSQSEventsReachTheirTopicsConsumer(t *testing.T) {
	t.Parallel()
	const (
		configured = "arn:aws:sqs:eu-central-1:123456789012:q-7f3a"           // named in QUEUE_URLS
		byName     = "arn:aws:sqs:eu-central-1:123456789012:prod-edge-health" // found by its name
		unknown    = "arn:aws:sqs:eu-central-1:123456789012:prod-invoices"
	)
	f, h := newRecorder(t, map[string]string{
		"QUEUE_URLS": "heartbeats=https://sqs.eu-central-1.amazonaws.com/123456789012/q-7f3a",
	}, nil)
	resp := invoke[events.SQSEventResponse](t, h, events.SQSEvent{Records: []events.SQSMessage{
		sqsRecord("m1", configured, "ok"),
		sqsRecord("m2", configured, "retry"),
		sqsRecord("m3", byName, "retry"),
		sqsRecord("m4", unknown, "ok"),
	}})
	if got, want := failed(resp), []string{"m2", "m3", "m4"}; !slices.Equal(got, want) {
		t.Errorf("batch item failures %v, want %v", got, want)
	}
	if got := f.consumed["heartbeats"]; !slices.Equal(got, []string{"m1", "m2"}) {
		t.Errorf("heartbeats consumed %v", got)
	}
	if got := f.consumed["edge-health"]; !slices.Equal(got, []string{"m3"}) {
		t.Errorf("edge-health consumed %v", got)
	}
}

func TestSQSBatchWithoutFailuresReportsAnEmptyList(t *testing.T) {
	t.Parallel()
	_, h := newRecorder(t, nil, nil)
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
	sweeps := 0
	_, h := newRecorder(t, nil, map[string]awsfn.Job{
		"sweep": playback.JobOf(func(context.Context) (int, error) { sweeps++; return 3, nil }),
		"fail":  playback.JobOf(func(context.Context) (int, error) { return 0, errors.New("stripe down") }),
	})
	resp := invoke[map[string]any](t, h, map[string]string{"job": "sweep"})
	if resp["job"] != "sweep" || resp["result"] != 3.0 || sweeps != 1 {
		t.Fatalf("sweep: %v (sweeps %d)", resp, sweeps)
	}
	for _, job := range []string{"fail", "unknown"} {
		if _, err := h.Invoke(context.Background(), []byte(`{"job":"`+job+`"}`)); err == nil {
			t.Errorf("job %s: no error", job)
		}
	}
}

func TestUnrecognizedPayloads(t *testing.T) {
	t.Parallel()
	_, h := newRecorder(t, nil, nil)
	for _, payload := range []string{
		`{"source":"aws.events","detail-type":"Scheduled Event"}`,
		`{"httpMethod":"GET","path":"/v1/things/t1","requestContext":{"httpMethod":"GET"}}`, // REST API payload 1.0
		`[]`,
	} {
		if out, err := h.Invoke(context.Background(), []byte(payload)); err == nil {
			t.Errorf("%s: answered %s, want an error", payload, out)
		}
	}
}

func TestBadQueueURLFailsInit(t *testing.T) {
	t.Parallel()
	_, err := awsfn.New(context.Background(), func(context.Context, *awsfn.Env) (awsfn.Function, error) {
		return &recorder{}, nil
	}, awsfn.Options{Lookuper: envconfig.MapLookuper(map[string]string{"TOPIC_HEARTBEATS": "heartbeats"})})
	if err == nil {
		t.Fatal("a queue URL without a host was accepted")
	}
}

// TestCORSFromTheEnvironment: CORS_ALLOWED_ORIGINS gives the Lambda the
// policy API Gateway applies in front of it.
func TestCORSFromTheEnvironment(t *testing.T) {
	t.Parallel()
	_, h := newRecorder(t, map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example"}, nil)
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
			ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: tt.path, Headers: headers,
				RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-cors",
					HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: tt.method, Path: tt.path}}}
			resp := invoke[events.APIGatewayV2HTTPResponse](t, h, ev)
			if resp.StatusCode != tt.wantStatus || resp.Headers["Access-Control-Allow-Origin"] != tt.wantACAO {
				t.Fatalf("got %d %v, want %d with Access-Control-Allow-Origin %q", resp.StatusCode, resp.Headers, tt.wantStatus, tt.wantACAO)
			}
		})
	}
}

func TestBadCORSOriginFailsInit(t *testing.T) {
	t.Parallel()
	_, err := awsfn.New(context.Background(), func(context.Context, *awsfn.Env) (awsfn.Function, error) {
		return &recorder{}, nil
	}, awsfn.Options{Lookuper: envconfig.MapLookuper(map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example/"})})
	if err == nil {
		t.Fatal("an origin with a path was accepted")
	}
}

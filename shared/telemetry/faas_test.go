package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// invocationKey holds a test's invocation id, as the platform's context
// does (lambdacontext, the Functions Framework's).
type invocationKey struct{}

// TestInvocationSpansCarryFaaSIdentity: the span of an invocation, an HTTP
// request's server span or a delivery's consumer spans, carries the
// platform's id of the invocation (faas.invocation_id) and whether it is
// the process's first (faas.coldstart), as the FaaS span conventions ask;
// a span serving no invocation (no id: a pull consumer, the local runner)
// carries neither. The first invocation is cold even when its span is
// dropped: the next one, recorded, is warm. Not parallel: telemetry is
// process-wide.
func TestInvocationSpansCarryFaaSIdentity(t *testing.T) {
	const unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	invocation := func(id string) context.Context {
		if id == "" {
			return context.Background()
		}
		return context.WithValue(context.Background(), invocationKey{}, id)
	}
	request := func(id, traceparent string) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /v1/x", func(http.ResponseWriter, *http.Request) {})
		r := httptest.NewRequestWithContext(invocation(id), "GET", "/v1/x", nil)
		if traceparent != "" {
			r.Header.Set("Traceparent", traceparent)
		}
		telemetry.ServeHTTP(httptest.NewRecorder(), r, mux)
	}
	consume := func(id string) {
		telemetry.Consume(invocation(id), telemetry.SystemSQS, "q", []playback.Message{{ID: "m"}},
			func(context.Context, []playback.Message) []string { return nil })
	}
	for _, tc := range []struct {
		name   string
		invoke func()
		want   map[string]string // span name → "invocation id/coldstart", "" for neither
	}{
		{name: "first recorded", invoke: func() { request("inv-1", ""); consume("inv-2"); request("", "") },
			want: map[string]string{"GET /v1/x inv-1": "inv-1/true", "process q inv-2": "inv-2/false", "GET /v1/x ": "/"}},
		{name: "first dropped", invoke: func() { request("inv-1", unsampled); request("inv-2", "") },
			want: map[string]string{"GET /v1/x inv-2": "inv-2/false"}},
		{name: "consumer first", invoke: func() { consume("inv-1") },
			want: map[string]string{"process q inv-1": "inv-1/true"}},
		{name: "batch dropped, message recorded", invoke: func() {
			// The invocation's context is in an unsampled trace; the
			// message's publisher's is sampled.
			ctx := trace.ContextWithRemoteSpanContext(invocation("inv-1"), trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, Remote: true}))
			telemetry.Consume(ctx, telemetry.SystemSQS, "q", []playback.Message{{ID: "m", Trace: playback.TraceContext{
				TraceID: trace.TraceID{2}, SpanID: trace.SpanID{2}, Flags: playback.TraceFlagSampled}}},
				func(context.Context, []playback.Message) []string { return nil })
		}, want: map[string]string{"process q inv-1": "inv-1/true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			p := setup(t, telemetry.Options{Service: "test", SpanExporter: exp, Invocation: func(ctx context.Context) string {
				id, _ := ctx.Value(invocationKey{}).(string)
				return id
			}}, map[string]string{telemetry.EnvTracesSampler: "parentbased_always_on"})
			tc.invoke()
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, s := range exp.GetSpans() {
				id, cold := "", ""
				for _, kv := range s.Attributes {
					switch kv.Key {
					case "faas.invocation_id":
						id = kv.Value.Emit()
					case "faas.coldstart":
						cold = kv.Value.Emit()
					}
				}
				key := s.Name + " " + id
				if v, dup := got[key]; dup && v != id+"/"+cold {
					t.Errorf("%s: spans disagree: %s and %s", key, v, id+"/"+cold)
				}
				got[key] = id + "/" + cold
			}
			if len(got) != len(tc.want) {
				t.Errorf("spans %v, want %v", got, tc.want)
			}
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s: invocation/coldstart %q, want %q (all %v)", k, got[k], want, got)
				}
			}
		})
	}
}

package telemetry_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// TestServerSpanContinuesGoogleTraceHeaders: behind Google's load balancer
// a request carries traceparent and X-Cloud-Trace-Context
// ("TRACE_ID/DECIMAL_SPAN_ID;o=1", https://cloud.google.com/trace/docs/trace-context).
// Google advises traceparent first, X-Cloud-Trace-Context as the fallback:
// the server span continues the header so chosen, and RequestTraceID (the
// trace id the request's log lines carry) names the same trace. Not
// parallel: the Provider is process-wide (see setup).
func TestServerSpanContinuesGoogleTraceHeaders(t *testing.T) {
	const (
		w3cTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
		w3cParent = "00f067aa0ba902b7"
		gTrace    = "105445aa7843bc8bf206b12000100000"
	)
	for _, tc := range []struct {
		name                  string
		traceparent, xcloud   string
		wantTrace, wantParent string // "" wantTrace: a new root
	}{
		{name: "traceparent alone", traceparent: "00-" + w3cTrace + "-" + w3cParent + "-01", wantTrace: w3cTrace, wantParent: w3cParent},
		{name: "X-Cloud-Trace-Context alone", xcloud: gTrace + "/11803532876627986230;o=1", wantTrace: gTrace, wantParent: "a3ce929d0e0e4736"},
		{name: "both: traceparent first", traceparent: "00-" + w3cTrace + "-" + w3cParent + "-01", xcloud: gTrace + "/1;o=1",
			wantTrace: w3cTrace, wantParent: w3cParent},
		{name: "malformed traceparent: X-Cloud-Trace-Context", traceparent: "00-" + w3cTrace + "-0000000000000000-01",
			xcloud: gTrace + "/67667974448284343;o=1", wantTrace: gTrace, wantParent: w3cParent},
		{name: "malformed X-Cloud-Trace-Context: a new trace", xcloud: "not-hex/1;o=1"},
		{name: "X-Cloud-Trace-Context without a span: a new trace", xcloud: gTrace + "/0;o=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := otlptest.Start(t)
			setup(t, telemetry.Options{Service: "test", Metrics: telemetry.SinkNone}, recv.Env())
			req := httptest.NewRequest("GET", "/v1/x", nil)
			if tc.traceparent != "" {
				req.Header.Set("traceparent", tc.traceparent)
			}
			if tc.xcloud != "" {
				req.Header.Set("X-Cloud-Trace-Context", tc.xcloud)
			}
			if got := telemetry.RequestTraceID(req.Header); got != tc.wantTrace {
				t.Errorf("RequestTraceID %q, want %q", got, tc.wantTrace)
			}
			telemetry.ServeHTTP(httptest.NewRecorder(), req, http.NotFoundHandler())
			if err := telemetry.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			spans := recv.Spans()
			if len(spans) != 1 {
				t.Fatalf("%d spans: %s", len(spans), otlptest.Describe(spans))
			}
			gotTrace, gotParent := hex.EncodeToString(spans[0].GetTraceId()), hex.EncodeToString(spans[0].GetParentSpanId())
			if tc.wantTrace == "" {
				if gotParent != "" || gotTrace == w3cTrace || gotTrace == gTrace {
					t.Fatalf("span in trace %s under %q, want a new root", gotTrace, gotParent)
				}
				return
			}
			if gotTrace != tc.wantTrace || gotParent != tc.wantParent {
				t.Fatalf("span in trace %s under %s, want %s under %s", gotTrace, gotParent, tc.wantTrace, tc.wantParent)
			}
		})
	}
}

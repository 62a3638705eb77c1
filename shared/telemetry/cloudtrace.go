package telemetry

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/playback"
)

// cloudTraceHeader is Google Cloud's own trace header,
// "TRACE_ID/SPAN_ID;o=OPTIONS" (https://cloud.google.com/trace/docs/trace-context),
// which its load balancers and Cloud Run set beside traceparent. Google
// advises reading traceparent first and this one only as a fallback; both
// the request's span (startRequest) and its log lines' trace id
// (RequestTraceID) follow that one order, so they name the same trace.
const cloudTraceHeader = "X-Cloud-Trace-Context"

// RequestTraceID is the trace id r arrives in, as the header spells it (32
// lower-case hex digits, no copy made): its traceparent's when that is
// valid, else X-Cloud-Trace-Context's; "" when neither is. It is the trace
// a server span of r continues (StartRequest), with telemetry on or off.
func RequestTraceID(h http.Header) string {
	if v := h["Traceparent"]; len(v) > 0 {
		if _, ok := playback.ParseTraceParent(v[0]); ok {
			return v[0][3:35]
		}
	}
	if v := h[cloudTraceHeader]; len(v) > 0 {
		if _, ok := cloudTraceContext(v[0]); ok {
			return v[0][:32]
		}
	}
	return ""
}

// withCloudTraceParent is ctx holding the request's X-Cloud-Trace-Context
// as the remote parent, when ctx holds no parent yet (none from a valid
// traceparent): Google's own header then links the request's span to the
// load balancer's trace.
func withCloudTraceParent(ctx context.Context, h http.Header) (context.Context, bool) {
	v := h[cloudTraceHeader]
	if len(v) == 0 || trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, false
	}
	sc, ok := cloudTraceContext(v[0])
	if !ok {
		return ctx, false
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc), true
}

// cloudTraceContext parses "TRACE_ID/SPAN_ID;o=OPTIONS": the trace id in
// 32 lower-case hex digits (as a traceparent's, so that both spell a trace
// the same), the span id in decimal, and the options, whose 1 says the
// caller sampled the trace. Both ids must be nonzero, as a traceparent's.
func cloudTraceContext(v string) (trace.SpanContext, bool) {
	tid, rest, ok := strings.Cut(v, "/")
	if !ok || len(tid) != 32 {
		return trace.SpanContext{}, false
	}
	var cfg trace.SpanContextConfig
	var err error
	if cfg.TraceID, err = trace.TraceIDFromHex(tid); err != nil {
		return trace.SpanContext{}, false
	}
	sid, opts, _ := strings.Cut(rest, ";")
	n, err := strconv.ParseUint(sid, 10, 64)
	if err != nil {
		return trace.SpanContext{}, false
	}
	for i := range cfg.SpanID {
		cfg.SpanID[i] = byte(n >> (56 - 8*i))
	}
	if opts == "o=1" {
		cfg.TraceFlags = trace.FlagsSampled
	}
	cfg.Remote = true
	sc := trace.NewSpanContext(cfg)
	return sc, sc.IsValid()
}

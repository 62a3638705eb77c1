package telemetry

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/playurl"
)

// ServeHTTP serves r with next inside a server span (continuing the
// caller's traceparent, else its X-Cloud-Trace-Context) and records the request's duration per route.
// The route is the pattern the ServeMux matched, which it stores on the
// request it is handed: next must pass r on unchanged to the mux. Off, it
// is next.ServeHTTP(w, r).
//
// It copies r to put the span in its context. A middleware that copies r
// for its own context values anyway calls StartRequest and Request.End
// around next instead, so that one copy carries both (httpx does).
func ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	rt := current()
	if rt == nil {
		next.ServeHTTP(w, r)
		return
	}
	ctx, q := rt.startRequest(r.Context(), r, ctxValue{})
	if q.traced {
		r = r.WithContext(ctx)
	}
	sw, ok := w.(StatusWriter)
	if !ok {
		sw = &recorder{ResponseWriter: w, status: http.StatusOK}
	}
	defer func() {
		if p := recover(); p != nil {
			// The status a panic ends in is the caller's to decide: the
			// span says it failed, and no duration is recorded.
			q.fail(r)
			panic(p)
		}
		q.End(sw, r, nil)
	}()
	next.ServeHTTP(sw, r)
}

// StatusWriter is a ResponseWriter that knows the status it sent
// (httpx's recorder): ServeHTTP reads it instead of wrapping w again.
type StatusWriter interface {
	http.ResponseWriter
	Status() int
}

// Request is one HTTP request's telemetry, from StartRequest to End.
// The zero Request (telemetry off) does nothing.
type Request struct {
	rt *runtime
	// start is when the request began, on the monotonic clock alone
	// (monotonicNow), for its duration; zero without metrics.
	start time.Duration
	// span is the server span when it records; an unsampled one is only
	// in the context, where its children and the trace context on the
	// bus find its trace id and sampling decision.
	span trace.Span
	// traced: ctx differs from the one StartRequest was given.
	traced bool
	// cold: the request is the process's first invocation
	// (runtime.firstInvocation).
	cold bool
}

// StartRequest begins the telemetry of r, which the caller serves with
// ctx (r's context with the caller's own values, if any) as returned here:
// with the server span in it when tracing is on. Off, ctx comes back as
// given. The caller puts ctx on r (r.WithContext) and calls End with that
// request once the mux has served it.
func StartRequest(ctx context.Context, r *http.Request) (context.Context, Request) {
	return StartRequestWithValue(ctx, r, nil, nil)
}

// StartRequestWithValue is StartRequest(context.WithValue(ctx, key, val), r)
// for a caller that adds a value of its own to every request (httpx's
// request): the context of a span the sampler drops, nearly every request
// at a ratio, holds the value too, one allocation for both. key must be
// comparable, as context.WithValue's; nil adds nothing.
func StartRequestWithValue(ctx context.Context, r *http.Request, key, val any) (context.Context, Request) {
	return startRequest(ctx, r, ctxValue{key: key, val: val})
}

// StartRequestIn is StartRequestWithValue making the returned context in
// c, a zero RequestContext inside an object the caller allocates for the
// request anyway (httpx's request): the context then costs no allocation
// of its own, with telemetry off, without a span, or with a span the
// sampler dropped. c must outlive the request and serve no other.
func StartRequestIn(c *RequestContext, ctx context.Context, r *http.Request, key, val any) (context.Context, Request) {
	return startRequest(ctx, r, ctxValue{key: key, val: val, slot: c})
}

func startRequest(ctx context.Context, r *http.Request, v ctxValue) (context.Context, Request) {
	rt := current()
	if rt == nil {
		return v.wrap(ctx), Request{}
	}
	return rt.startRequest(ctx, r, v)
}

func (rt *runtime) startRequest(ctx context.Context, r *http.Request, v ctxValue) (context.Context, Request) {
	q := Request{rt: rt}
	if rt.inst != nil {
		q.start = monotonicNow()
	}
	if rt.tracer == nil {
		return v.wrap(ctx), q
	}
	q.cold = rt.firstInvocation()
	// Header's map read with the canonical names costs nothing; the
	// propagator's Get canonicalises each name into a new string.
	if len(r.Header["Traceparent"]) > 0 || len(r.Header["Baggage"]) > 0 {
		ctx = rt.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		q.traced = true
	}
	if c, ok := withCloudTraceParent(ctx, r.Header); ok {
		ctx, q.traced = c, true
	}
	// The span starts without attributes: options given to Start are
	// copied into its configuration even when the sampler drops it.
	parent := trace.SpanFromContext(ctx)
	if rt.unsampledChild(parent.SpanContext()) {
		return v.wrap(ctx), q
	}
	var s trace.Span
	ctx, s = rt.startUnder(ctx, parent, r.Method, trace.SpanKindServer, v)
	q.traced = true
	if s.IsRecording() {
		// Its attributes are set when it ends (End, fail), all in one
		// call: each call allocates its argument list, and the span's own
		// list grows (TestRecordedServerSpan).
		q.span = s
	}
	return ctx, q
}

// requestAttrs are a server span's attributes of the request itself, as
// known when it starts (r, the request End is given, has the method, URL
// and headers of the one StartRequest was), in a new list with room for
// more: method, scheme (scheme(r)), path, trigger, the original method,
// the query (redacted).
func requestAttrs(r *http.Request, method, scheme string, more int) []attribute.KeyValue {
	n := 4
	if method == methodOther {
		n++
	}
	if r.URL.RawQuery != "" {
		n++
	}
	attrs := make([]attribute.KeyValue, 4, n+more)
	attrs[0], attrs[1], attrs[2], attrs[3] = semconv.HTTPRequestMethodKey.String(method), semconv.URLScheme(scheme),
		semconv.URLPath(r.URL.Path), semconv.FaaSTriggerHTTP
	if method == methodOther {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(r.Method))
	}
	if r.URL.RawQuery != "" {
		attrs = append(attrs, semconv.URLQuery(redactedQuery(r.URL.RawQuery)))
	}
	return attrs
}

// sensitiveQueryKeys are the query keys whose values a span's url.query
// shows as "REDACTED": the URL conventions' list (url.query), matched
// case-sensitively as they say, and the session credential of the URLs
// playplane hands out.
var sensitiveQueryKeys = []string{"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "AWSAccessKeyId",
	"Signature", "sig", "X-Goog-Signature", playurl.CredentialParam}

// redactedQuery is the raw query q with the value of every sensitive key
// replaced by "REDACTED"; q itself, not a copy, when it has none.
func redactedQuery(q string) string {
	var b []byte
	copied := 0 // q[:copied] is in b
	for start := 0; start <= len(q); {
		end := strings.IndexByte(q[start:], '&')
		if end < 0 {
			end = len(q)
		} else {
			end += start
		}
		k, v, ok := strings.Cut(q[start:end], "=")
		if ok && v != "" && slices.Contains(sensitiveQueryKeys, queryKey(k)) {
			at := start + len(k) + 1 // the value's start
			b = append(append(b, q[copied:at]...), "REDACTED"...)
			copied = end
		}
		start = end + 1
	}
	if b == nil {
		return q
	}
	return string(append(b, q[copied:]...))
}

// queryKey is raw, a query key as sent, as the handlers read it
// (url.Values decodes it): tok%65n is token.
func queryKey(raw string) string {
	if !strings.ContainsAny(raw, "%+") {
		return raw
	}
	k, err := url.QueryUnescape(raw)
	if err != nil {
		return raw
	}
	return k
}

// End ends the request's span and records its duration, with the status
// w sent and the route the ServeMux stored on r, which must be the
// request the mux was handed. recovered is a panic the caller recovered
// from while serving r (and answered with w's status): the span says so.
func (q Request) End(w StatusWriter, r *http.Request, recovered any) {
	q.end(w, r, recovered, -1)
}

// end is End, measuring the request as lasting seconds, or as long as
// the clock says when seconds is negative, as End asks: the tests that
// compare the histogram with the SDK's give each request its duration.
func (q Request) end(w StatusWriter, r *http.Request, recovered any, seconds float64) {
	if q.rt == nil {
		return
	}
	status := w.Status()
	// "" when no route matched: then there is no http.route.
	route := r.Pattern
	if i := strings.IndexByte(route, ' '); i >= 0 {
		route = route[i+1:]
	}
	method := q.rt.method(r.Method)
	scheme := scheme(r)
	if q.span != nil {
		q.span.SetName(spanName(method, r.Pattern, route))
		more := 1 + q.rt.invocationRoom() // the status code
		if route != "" {
			more++
		}
		if status >= 500 || recovered != nil {
			more++
		}
		attrs := requestAttrs(r, method, scheme, more)
		if route != "" {
			attrs = append(attrs, semconv.HTTPRoute(route))
		}
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
		switch {
		case status >= 500:
			attrs = append(attrs, errorType(status))
		case recovered != nil:
			// A panic after a status below 500 was sent: the request
			// still ended in an error, which error.type must say.
			attrs = append(attrs, semconv.ErrorTypeOther)
		}
		q.span.SetAttributes(q.rt.invocationAttrs(r.Context(), q.cold, attrs)...)
		switch {
		case recovered != nil:
			q.span.SetStatus(codes.Error, "panic")
		case status >= 500:
			// No description: the status code says it all (the HTTP
			// span conventions).
			q.span.SetStatus(codes.Error, "")
		}
		q.span.End()
	}
	if q.rt.inst != nil {
		// The histogram's exemplar filter keeps a measurement only of a
		// sampled span (trace_based, the default), which it looks for in
		// the context: a request not recorded spares it the walk up r's
		// context chain. Under always_on every measurement is offered, and
		// its exemplar carries the ids of the span in r's context, sampled
		// or not.
		ctx := unlinked
		if q.span != nil || q.rt.inst.unsampledExemplars {
			ctx = r.Context()
		}
		if seconds < 0 {
			seconds = (monotonicNow() - q.start).Seconds()
		}
		q.rt.recordDuration(ctx, method, scheme, route, status, seconds)
	}
}

// unlinked is the context Request.End measures a request's duration in
// when its span is not recorded and the exemplar filter is not
// always_on: the exemplar filter of the request histogram has its answer
// for it ready (requestHistogram.offersUnlinked).
var unlinked = context.Background()

// monotonicBase anchors monotonicNow.
var monotonicBase = time.Now()

// monotonicNow is the monotonic clock's reading since monotonicBase: a
// request's duration needs nothing else, and time.Since of a time that
// holds a monotonic reading reads that clock alone, where time.Now reads
// the wall clock as well (two clock reads instead of three a request).
func monotonicNow() time.Duration { return time.Since(monotonicBase) }

// fail ends a recorded span of r as failed by a panic, with error.type
// "_OTHER" (the HTTP conventions' fallback: no status says more).
func (q Request) fail(r *http.Request) {
	if q.span != nil {
		attrs := append(requestAttrs(r, q.rt.method(r.Method), scheme(r), 1+q.rt.invocationRoom()), semconv.ErrorTypeOther)
		q.span.SetAttributes(q.rt.invocationAttrs(r.Context(), q.cold, attrs)...)
		q.span.SetStatus(codes.Error, "panic")
		q.span.End()
	}
}

// spanName is "{method} {route}", the name the semantic conventions give
// server spans (method "HTTP" for _OTHER), the method alone without a
// route: the mux's pattern itself when it names the method, so nothing is
// built.
func spanName(method, pattern, route string) string {
	if method == methodOther {
		method = "HTTP"
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 && pattern[:i] == method {
		return pattern
	}
	if route == "" {
		return method
	}
	return method + " " + route
}

// methodOther is http.request.method for a method outside the known set:
// the conventions keep a request line from naming a series.
const methodOther = "_OTHER"

// method is the http.request.method of m: knownMethod's, or under
// OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS m when that list has it.
func (rt *runtime) method(m string) string {
	if rt.knownMethods == nil {
		return knownMethod(m)
	}
	if slices.Contains(rt.knownMethods, m) {
		return m
	}
	return methodOther
}

// knownMethod is the http.request.method of m: m when the HTTP semantic
// conventions know it (RFC 9110's, PATCH and QUERY), else methodOther.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodConnect, http.MethodOptions, http.MethodTrace, http.MethodPatch, "QUERY":
		return m
	}
	return methodOther
}

// scheme is the url.scheme of a server request, the scheme of the
// original client request where a proxy forwarded it (the HTTP semantic
// conventions name X-Forwarded-Proto): playurl.Scheme, which the URLs
// handed back to the same request are built with.
func scheme(r *http.Request) string { return playurl.Scheme(r) }

// errorType is a server error's error.type: its status code.
func errorType(status int) attribute.KeyValue {
	return semconv.ErrorTypeKey.String(strconv.Itoa(status))
}

type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *recorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *recorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Status is the status sent (200 until one is).
func (s *recorder) Status() int { return s.status }

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *recorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

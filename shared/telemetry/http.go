package telemetry

import (
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// ServeHTTP serves r with next inside a server span (continuing the
// caller's traceparent) and records the request's duration per route.
// The route is the pattern the ServeMux matched, which it stores on the
// request it is handed: next must pass r on unchanged to the mux. Off, it
// is next.ServeHTTP(w, r).
func ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	rt := current()
	if rt == nil {
		next.ServeHTTP(w, r)
		return
	}
	rt.serveHTTP(w, r, next)
}

// StatusWriter is a ResponseWriter that knows the status it sent
// (httpx's recorder): ServeHTTP reads it instead of wrapping w again.
type StatusWriter interface {
	http.ResponseWriter
	Status() int
}

// serverStart is the server span's start options, passed as a slice
// made once: a variadic argument list would be made on every call.
var serverStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

func (rt *runtime) serveHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	start := time.Now()
	var span trace.Span // nil unless recorded: a sampled-out request builds nothing for it
	if rt.tracer != nil {
		ctx := r.Context()
		// Header's map read with the canonical names costs nothing; the
		// propagator's Get canonicalises each name into a new string.
		if len(r.Header["Traceparent"]) > 0 || len(r.Header["Baggage"]) > 0 {
			ctx = rt.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		}
		// The span starts without attributes: options given to Start are
		// copied into its configuration even when the sampler drops it.
		if !rt.unsampledChild(trace.SpanContextFromContext(ctx)) {
			var s trace.Span
			ctx, s = rt.tracer.Start(ctx, r.Method, serverStart...)
			if s.IsRecording() {
				s.SetAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path), semconv.FaaSTriggerHTTP)
				span = s
			}
		}
		// Even a span not recorded goes into the context: its children
		// (the producer span) and the trace context the bus carries
		// inherit its trace id and sampling decision.
		r = r.WithContext(ctx)
	}
	sw, ok := w.(StatusWriter)
	if !ok {
		sw = &recorder{ResponseWriter: w, status: http.StatusOK}
	}
	defer func() {
		status := sw.Status()
		route := r.Pattern
		if i := strings.IndexByte(route, ' '); i >= 0 {
			route = route[i+1:]
		}
		if route == "" {
			route = "unmatched"
		}
		if span != nil {
			if p := recover(); p != nil {
				span.SetStatus(codes.Error, "panic")
				span.End()
				panic(p)
			}
			span.SetName(spanName(r.Method, r.Pattern, route))
			span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(status))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			span.End()
		}
		if rt.inst != nil {
			rt.inst.requestDuration.Record(r.Context(), time.Since(start).Seconds(), rt.routeOptions(r.Method, route, status)...)
		}
	}()
	next.ServeHTTP(sw, r)
}

// spanName is "{method} {route}", the name the semantic conventions give
// server spans: the mux's pattern itself when it names the method, so
// nothing is built.
func spanName(method, pattern, route string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 && pattern[:i] == method {
		return pattern
	}
	if pattern == "" {
		return method + " unmatched"
	}
	return method + " " + route
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

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

var serverKind = trace.WithSpanKind(trace.SpanKindServer)

func (rt *runtime) serveHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	start := time.Now()
	var span trace.Span
	if rt.tracer != nil {
		ctx := rt.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span = rt.tracer.Start(ctx, r.Method, serverKind,
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path),
				semconv.FaaSTriggerHTTP))
		r = r.WithContext(ctx)
	}
	sw, ok := w.(StatusWriter)
	if !ok {
		sw = &recorder{ResponseWriter: w, status: http.StatusOK}
	}
	defer func() {
		status := sw.Status()
		route, name := r.Pattern, r.Pattern
		if i := strings.IndexByte(route, ' '); i >= 0 {
			route = route[i+1:]
			if name[:i] != r.Method {
				name = r.Method + " " + route
			}
		} else {
			name = r.Method + " " + route
		}
		if route == "" {
			route, name = "unmatched", r.Method+" unmatched"
		}
		if span != nil {
			if p := recover(); p != nil {
				span.SetStatus(codes.Error, "panic")
				span.End()
				panic(p)
			}
			// The pattern is "{method} {route}", the name the semantic
			// conventions give server spans, without building it.
			span.SetName(name)
			span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(status))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			span.End()
		}
		if rt.inst != nil {
			rt.inst.requestDuration.Record(r.Context(), time.Since(start).Seconds(), rt.routeOption(r.Method, route, status))
		}
	}()
	next.ServeHTTP(sw, r)
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

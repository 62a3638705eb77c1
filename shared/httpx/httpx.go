// Package httpx is the HTTP edge shared by every function: strict JSON
// decoding with a body cap, typed error responses, request ids and
// structured logs on every line.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/strictjson"
	"github.com/playplane/playplane/shared/telemetry"
)

// ReadBody reads at most max bytes of the request body. A larger body is a
// too_large error, never silently truncated.
func ReadBody(r *http.Request, max int64) ([]byte, error) {
	return AppendBody(nil, r, max)
}

// AppendBody is ReadBody into dst's spare capacity, for hot paths that
// reuse buffers. A declared Content-Length over max is refused before
// anything is read.
func AppendBody(dst []byte, r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil {
		return dst, nil
	}
	start := len(dst)
	if n := r.ContentLength; n > max {
		return dst, tooLarge(max)
	} else if n >= 0 {
		dst = slices.Grow(dst, int(n))[:start+int(n)]
		if _, err := io.ReadFull(r.Body, dst[start:]); err != nil {
			return dst[:start], unreadable(err)
		}
		return dst, nil
	}
	body := io.LimitReader(r.Body, max+1)
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, 512)
		}
		n, err := body.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return dst[:start], unreadable(err)
		}
	}
	if int64(len(dst)-start) > max {
		return dst[:start], tooLarge(max)
	}
	return dst, nil
}

func tooLarge(max int64) error {
	return playback.Errorf(playback.CodeTooLarge, "body_too_large", "request body exceeds %d bytes", max)
}

// unreadable keeps the cause out of the answer: a connection's read error
// names the server's own address.
func unreadable(err error) error {
	return &playback.Error{Code: playback.CodeInvalid, Reason: "body_unreadable", Message: "the request body could not be read",
		Err: fmt.Errorf("httpx.ReadBody: %w", err)}
}

// DecodeJSON decodes the body into dst: a JSON Content-Type, at most max
// bytes, exactly one JSON value, no unknown, case-folded or duplicate
// field names, valid UTF-8.
func DecodeJSON(r *http.Request, dst any, max int64) error {
	if err := CheckJSONContentType(r); err != nil {
		return err
	}
	body, err := ReadBody(r, max)
	if err != nil {
		return err
	}
	return Unmarshal(body, dst)
}

// Unmarshal is the strict decoding of DecodeJSON on bytes in hand. dst is
// filled even when a check after decoding refuses the body: callers act on
// it only without an error.
func Unmarshal(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return playback.Errorf(playback.CodeInvalid, playback.ReasonBodyEmpty, "request body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return playback.Errorf(playback.CodeInvalid, playback.ReasonMalformedJSON, "malformed JSON at byte %d", syn.Offset)
		case errors.As(err, &typ):
			return playback.Errorf(playback.CodeInvalid, playback.ReasonWrongType, "field %q must be %s", typ.Field, typ.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return playback.Errorf(playback.CodeInvalid, playback.ReasonUnknownField, "%s", strings.TrimPrefix(err.Error(), "json: "))
		default:
			return playback.Errorf(playback.CodeInvalid, playback.ReasonMalformedJSON, "%v", err)
		}
	}
	// Not dec.More: it reports a stray '}' or ']' as the end.
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return playback.Errorf(playback.CodeInvalid, playback.ReasonMalformedJSON, "trailing data after the JSON value")
	}
	return strictjson.Check(body, reflect.TypeOf(dst))
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is what clients branch on: code (one per HTTP status) and
// reason (the rule that failed).
type ErrorDetail struct {
	Code      playback.Code `json:"code"`
	Reason    string        `json:"reason,omitempty"`
	Message   string        `json:"message"`
	Details   any           `json:"details,omitempty"`
	RequestID string        `json:"request_id,omitempty"`
}

// WriteError answers err as a typed error. Internal causes are logged, not
// shown.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := playback.AsError(err)
	status := Status(e.Code)
	msg := e.Message
	log := Logger(r.Context())
	if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "code", e.Code, "reason", e.Reason, "err", err)
		noRetry := e.RetryAfter < 0 // playback.NoRetry: every retry meets the same answer
		if e.Code == playback.CodeInternal || msg == "" {
			msg = "internal error; retry later"
			if noRetry {
				msg = "internal error; retrying does not help"
			}
		}
		if !noRetry {
			retry := e.RetryAfter
			if retry <= 0 {
				retry = 1e9
			}
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(retry.Seconds()))))
		}
	} else if e.Err != nil {
		log.InfoContext(r.Context(), "request rejected", "code", e.Code, "reason", e.Reason, "detail", e.Message, "err", e.Err)
	} else {
		log.InfoContext(r.Context(), "request rejected", "code", e.Code, "reason", e.Reason, "detail", e.Message)
	}
	if msg == "" {
		msg = string(e.Code)
	}
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: e.Code, Reason: e.Reason, Message: msg,
		Details: e.Details, RequestID: RequestID(r.Context())}})
}

// HandlerFunc is an HTTP handler that returns its error instead of writing
// it, so every failure goes through WriteError.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		WriteError(w, r, err)
	}
}

type ctxKey int

const (
	keyRequest ctxKey = iota
	keyLogger
)

// request is what the middleware keeps in a request's context. Its logger
// is built on first use: most requests log only their access line, and a
// logger carrying the request's fields costs more to build than that line.
type request struct {
	// ctx is the request's context (telemetry.StartRequestIn): made here,
	// it costs no allocation of its own.
	ctx       telemetry.RequestContext
	id, trace string
	base      *slog.Logger
	once      sync.Once
	log       *slog.Logger
}

func (r *request) logger() *slog.Logger {
	r.once.Do(func() { r.log = r.base.With(r.attrs()...) })
	return r.log
}

func (r *request) attrs() []any {
	if r.trace == "" {
		return []any{slog.String("request_id", r.id)}
	}
	return []any{slog.String("request_id", r.id), slog.String("trace_id", r.trace)}
}

// RequestID returns the request id of ctx, or "".
func RequestID(ctx context.Context) string {
	if r, ok := ctx.Value(keyRequest).(*request); ok {
		return r.id
	}
	return ""
}

// Logger returns the request-scoped logger (carrying request_id), or the
// default logger outside a request.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(keyLogger).(*slog.Logger); ok {
		return l
	}
	if r, ok := ctx.Value(keyRequest).(*request); ok {
		return r.logger()
	}
	return slog.Default()
}

// WithLogger returns ctx carrying log, for bus consumers that want the same
// per-message logging as requests.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, keyLogger, log)
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		// Base64 punctuation is allowed because API Gateway request ids use it.
		if !(c == '-' || c == '_' || c == '.' || c == ':' || c == '=' || c == '+' || c == '/' ||
			c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// Middleware gives every request an id (kept from X-Request-Id or the
// platform's trace header when well-formed), a logger that stamps it on
// every line, an access log line, and turns panics into 500s.
func Middleware(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = playback.NewID("req")
		}
		req := &request{id: id, trace: traceID(r), base: log}
		// The request's span goes into the context that carries req, so
		// that one copy of r carries both; that context is made in req (a
		// recorded span's context is the SDK's, around it).
		ctx, tel := telemetry.StartRequestIn(&req.ctx, r.Context(), r, keyRequest, req)
		r = r.WithContext(ctx)
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			p := recover()
			if p != nil {
				req.logger().ErrorContext(ctx, "panic", "panic", fmt.Sprint(p))
				if !rec.wrote {
					WriteError(rec, r, errors.New("panic"))
				}
			}
			// After the recovery, so a panic's span ends failed and its
			// duration is counted with the 500 it became.
			tel.End(rec, r, p)
			if log.Enabled(ctx, slog.LevelInfo) {
				// The access line names the request's fields itself, so a
				// request that logs nothing else never builds its logger.
				log.InfoContext(ctx, "request", append(req.attrs(), "method", r.Method, "path", r.URL.Path, "status", rec.status)...)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// traceID is AWS X-Ray's trace header, else the trace the request's span
// continues (telemetry.RequestTraceID: traceparent, else Google's
// X-Cloud-Trace-Context), so that a line names the trace it belongs to.
func traceID(r *http.Request) string {
	if v := r.Header.Get("X-Amzn-Trace-Id"); v != "" {
		return v
	}
	return telemetry.RequestTraceID(r.Header)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Status is the status sent (200 until one is): telemetry's Request.End
// reads it (telemetry.StatusWriter).
func (s *statusRecorder) Status() int { return s.status }

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

package gcpfn

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// NewLogger logs JSON lines that Cloud Logging reads as structured entries:
// "severity" and "message" are the fields it files and filters by, where
// slog writes "level" and "msg".
//
// With project (the function's, GOOGLE_CLOUD_PROJECT), a line logged in
// the context of a span (a request's, a consumer batch's) also names that
// span in the special fields Cloud Logging lifts into the entry's trace,
// spanId and traceSampled
// (https://cloud.google.com/logging/docs/structured-logging#structured_logging_special_fields),
// which link the line to the trace in Logs Explorer and Trace Explorer.
// The ids are those of the span exported over OTLP, so of the trace the
// load balancer's traceparent began. Without project, or without a span
// (telemetry off), the line is as before and costs nothing more.
func NewLogger(w io.Writer, level slog.Leveler, project string) *slog.Logger {
	var h slog.Handler = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: cloudLoggingAttr})
	if project != "" {
		h = &spanHandler{Handler: h, traces: "projects/" + project + "/traces/"}
	}
	return slog.New(h)
}

// Cloud Logging's special fields of a log entry's trace.
const (
	fieldTrace        = "logging.googleapis.com/trace"
	fieldSpanID       = "logging.googleapis.com/spanId"
	fieldTraceSampled = "logging.googleapis.com/trace_sampled"
)

// spanHandler adds the special fields of the span in a line's context.
type spanHandler struct {
	slog.Handler
	traces string // "projects/<project>/traces/"
	// grouped: the handler has an open group, which would hold the fields
	// where Cloud Logging does not look for them (it reads them at the top
	// of the entry only), so none is added.
	grouped bool
}

func (h *spanHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.grouped {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			name, span := h.ids(sc)
			r.AddAttrs(slog.String(fieldTrace, name), slog.String(fieldSpanID, span), slog.Bool(fieldTraceSampled, sc.IsSampled()))
		}
	}
	return h.Handler.Handle(ctx, r)
}

// ids are the trace's resource name (projects/<project>/traces/<32 hex>)
// and the span id (16 hex), two parts of one string: one allocation a
// line where formatting the ids and joining the name took three
// (TestTraceFieldsAllocations). The buffer holds a project id of up to
// 30 characters, the longest Google allows, on the stack.
func (h *spanHandler) ids(sc trace.SpanContext) (name, span string) {
	tid, sid := sc.TraceID(), sc.SpanID()
	var buf [128]byte
	b := append(buf[:0], h.traces...)
	b = hex.AppendEncode(b, tid[:])
	n := len(b)
	s := string(hex.AppendEncode(b, sid[:]))
	return s[:n], s[n:]
}

func (h *spanHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &spanHandler{Handler: h.Handler.WithAttrs(attrs), traces: h.traces, grouped: h.grouped}
}

func (h *spanHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &spanHandler{Handler: h.Handler.WithGroup(name), traces: h.traces, grouped: true}
}

func cloudLoggingAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "message"
	case slog.LevelKey:
		a.Key = "severity"
		a.Value = slog.StringValue(severity(a.Value.Any()))
	}
	return a
}

// severity maps slog levels to Cloud Logging's LogSeverity names.
func severity(v any) string {
	l, ok := v.(slog.Level)
	if !ok {
		return "DEFAULT"
	}
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	}
	return "ERROR"
}

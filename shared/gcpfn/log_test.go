package gcpfn_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/gcpfn"
)

// accessLine logs what httpx's middleware logs for every request: five
// fields of its own, at a zero time (which slog leaves out), so that two
// lines of it compare byte for byte.
func accessLine(ctx context.Context, h slog.Handler) error {
	r := slog.NewRecord(time.Time{}, slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("request_id", "req_1"), slog.String("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
		slog.String("method", "POST"), slog.String("path", "/v1/heartbeats"), slog.Int("status", 204))
	return h.Handle(ctx, r)
}

func spanContext(flags trace.TraceFlags) context.Context {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: flags}))
}

// TestAccessLineBytes pins the access line with Cloud Logging's trace
// fields byte for byte: after the line's own fields, in this order.
func TestAccessLineBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		project string
		flags   trace.TraceFlags
		want    string
	}{
		{name: "sampled", project: "playplane-fn", flags: trace.FlagsSampled,
			want: `{"severity":"INFO","message":"request","request_id":"req_1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",` +
				`"method":"POST","path":"/v1/heartbeats","status":204,` +
				`"logging.googleapis.com/trace":"projects/playplane-fn/traces/4bf92f3577b34da6a3ce929d0e0e4736",` +
				`"logging.googleapis.com/spanId":"00f067aa0ba902b7","logging.googleapis.com/trace_sampled":true}` + "\n"},
		{name: "not sampled, a long project id", project: "a-project-id-of-thirty-chars-x", flags: 0,
			want: `{"severity":"INFO","message":"request","request_id":"req_1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",` +
				`"method":"POST","path":"/v1/heartbeats","status":204,` +
				`"logging.googleapis.com/trace":"projects/a-project-id-of-thirty-chars-x/traces/4bf92f3577b34da6a3ce929d0e0e4736",` +
				`"logging.googleapis.com/spanId":"00f067aa0ba902b7","logging.googleapis.com/trace_sampled":false}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := accessLine(spanContext(tc.flags), gcpfn.NewLogger(&buf, slog.LevelInfo, tc.project).Handler()); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want {
				t.Fatalf("line\n%s\nwant\n%s", buf.String(), tc.want)
			}
		})
	}
}

// TestTraceFieldsAllocations: the trace fields of a heartbeat's one line
// (its access line, whose own five fields fill the record's inline room)
// cost two allocations: the fields' strings, made as one, and the
// record's room for three more fields.
func TestTraceFieldsAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	h := gcpfn.NewLogger(io.Discard, slog.LevelInfo, "playplane-fn").Handler()
	span, none := spanContext(trace.FlagsSampled), context.Background()
	with := testing.AllocsPerRun(100, func() { _ = accessLine(span, h) })
	without := testing.AllocsPerRun(100, func() { _ = accessLine(none, h) })
	if with-without > 2 {
		t.Fatalf("the trace fields add %v allocations a line, want at most 2", with-without)
	}
}

// BenchmarkAccessLine is the access line with and without the trace
// fields (go test -bench AccessLine -benchmem ./shared/gcpfn).
func BenchmarkAccessLine(b *testing.B) {
	h := gcpfn.NewLogger(io.Discard, slog.LevelInfo, "playplane-fn").Handler()
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{{"span", spanContext(trace.FlagsSampled)}, {"no_span", context.Background()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = accessLine(bc.ctx, h)
			}
		})
	}
}

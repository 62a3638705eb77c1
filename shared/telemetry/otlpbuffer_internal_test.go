package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestExportBufferIsNotSizedByAnOutlier: the buffer a request is encoded
// into is sized from the last export, but one large span exported alone
// (an error's long message) must not make the next full batch of small
// spans allocate hundreds of times what it encodes to. Not parallel: it
// reads the process's allocation count.
func TestExportBufferIsNotSizedByAnOutlier(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	ctx := context.Background()
	client, err := newTraceClient(ctx, envconfig.MapLookuper(nil), srv.URL+"/v1/traces")
	if err != nil {
		t.Fatal(err)
	}
	exp := &spanExporter{client: client}
	span := func(i int, attrs ...attribute.KeyValue) sdktrace.ReadOnlySpan {
		return tracetest.SpanStub{Name: "POST", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1, byte(i)}, SpanID: trace.SpanID{2, byte(i)}, TraceFlags: trace.FlagsSampled}),
			Attributes: attrs}.Snapshot()
	}
	const big = 1 << 18
	if err := exp.ExportSpans(ctx, []sdktrace.ReadOnlySpan{span(0, attribute.String("error", strings.Repeat("x", big)))}); err != nil {
		t.Fatal(err)
	}
	small := make([]sdktrace.ReadOnlySpan, 512)
	for i := range small {
		small[i] = span(i, attribute.String("http.route", "/v1/play"))
	}
	encoded := len(appendTraceRequest(nil, small))
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	if err := exp.ExportSpans(ctx, small); err != nil {
		t.Fatal(err)
	}
	goruntime.ReadMemStats(&after)
	// Generous: the request, its growth, the HTTP client's own buffers.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(16*encoded+(1<<20)); got > limit {
		t.Fatalf("exporting %d small spans (%d bytes encoded) after one of %d bytes allocated %d bytes, want at most %d",
			len(small), encoded, big, got, limit)
	}
}

package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	colltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// capture is a loopback OTLP receiver keeping each request's headers and
// (gunzipped) body, answering with answer (200 with an empty
// ExportTraceServiceResponse when nil).
type capture struct {
	mu     sync.Mutex
	reqs   []capturedRequest
	answer func(n int, w http.ResponseWriter)
}

type capturedRequest struct {
	header http.Header
	body   []byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, capturedRequest{header: r.Header.Clone(), body: raw})
	n := len(c.reqs)
	c.mu.Unlock()
	if c.answer != nil {
		c.answer(n, w)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	resp, _ := proto.Marshal(&colltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(resp)
}

func (c *capture) requests() []capturedRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]capturedRequest(nil), c.reqs...)
}

// sampleSpans are spans with every kind of content the transform
// carries: resource and scope, parents, kinds, each attribute type,
// events, links, statuses.
func sampleSpans(t *testing.T) []sdktrace.ReadOnlySpan {
	t.Helper()
	mem := tracetest.NewInMemoryExporter()
	res := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
		attribute.String("service.name", "authorizeplay"), attribute.Int("shard", 3))
	// A span limit so that drop counts are non-zero too.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(mem), sdktrace.WithResource(res),
		sdktrace.WithSpanLimits(sdktrace.SpanLimits{AttributeCountLimit: 12, EventCountLimit: 1, LinkCountLimit: 1,
			AttributeValueLengthLimit: -1, AttributePerEventCountLimit: 1, AttributePerLinkCountLimit: 1}))
	defer tp.Shutdown(context.Background())
	ts, err := trace.ParseTraceState("vendor=abc,other=x")
	if err != nil {
		t.Fatal(err)
	}
	remote := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5},
		TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), remote)
	ctx, root := tp.Tracer("github.com/playplane/playplane").Start(ctx, "POST /v1/play",
		trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("http.route", "/v1/play"), attribute.Int64("http.response.status_code", 201),
			attribute.Bool("ok", true), attribute.Float64("ratio", 0.25),
			attribute.StringSlice("tags", []string{"a", "b"}), attribute.Int64Slice("ns", []int64{1, 2}),
			attribute.BoolSlice("bs", []bool{true, false}), attribute.Float64Slice("fs", []float64{1.5}),
			attribute.ByteSlice("raw", []byte{0, 0xff}), attribute.Int("zero", 0), attribute.String("empty", ""),
			attribute.Slice("mixed", attribute.IntValue(1), attribute.StringValue("x")),
			attribute.Map("m", attribute.Bool("f", false), attribute.Float64("d", 0)),
			attribute.String("long", strings.Repeat("x", 300)), attribute.String("over", "the limit")))
	_, child := tp.Tracer("other/scope", trace.WithInstrumentationVersion("1.2.3"), trace.WithSchemaURL("https://s/1"),
		trace.WithInstrumentationAttributes(attribute.String("lib", "x"))).Start(ctx, "publish heartbeats",
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithLinks(trace.Link{SpanContext: root.SpanContext(), Attributes: []attribute.KeyValue{attribute.String("why", "test"), attribute.Int("n", 1)}},
			trace.Link{SpanContext: remote}))
	child.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", 2), attribute.Int("dropped", 1)))
	child.AddEvent("dropped event")
	child.SetStatus(codes.Error, "queue full")
	child.End()
	root.SetStatus(codes.Ok, "")
	root.End()
	spans := mem.GetSpans().Snapshots()
	if len(spans) != 2 || spans[1].DroppedAttributes() == 0 || spans[0].DroppedEvents() == 0 || spans[0].DroppedLinks() == 0 {
		t.Fatalf("%d spans, want 2, with attributes, events and links dropped", len(spans))
	}
	return spans
}

// TestTraceClientSendsWhatOTLPTraceHTTPSends exports the same spans
// through the SDK's otlptracehttp and through traceClient, both configured
// by the same OTEL_EXPORTER_OTLP_* variables, and compares what a
// receiver got: the same message (same bytes), path, content type,
// compression and headers.
func TestTraceClientSendsWhatOTLPTraceHTTPSends(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{name: "plain"},
		{name: "gzip and headers", env: map[string]string{
			"OTEL_EXPORTER_OTLP_COMPRESSION":    "gzip",
			"OTEL_EXPORTER_OTLP_HEADERS":        "api-key=secret%20value,x-tenant=t1",
			"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-tenant=t2,api-key=s%C3%A9cret%20value",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: otlptracehttp reads the process environment.
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			spans := sampleSpans(t)
			var official, ours capture
			srvOfficial, srvOurs := httptest.NewServer(&official), httptest.NewServer(&ours)
			defer srvOfficial.Close()
			defer srvOurs.Close()
			ctx := context.Background()

			expOfficial, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(srvOfficial.URL+"/v1/traces"))
			if err != nil {
				t.Fatal(err)
			}
			client, err := newTraceClient(ctx, envconfig.OsLookuper(), srvOurs.URL+"/v1/traces")
			if err != nil {
				t.Fatal(err)
			}
			expOurs := &spanExporter{client: client}
			for _, exp := range []sdktrace.SpanExporter{expOfficial, expOurs} {
				if err := exp.ExportSpans(ctx, spans); err != nil {
					t.Fatal(err)
				}
				if err := exp.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
			}
			want, got := official.requests(), ours.requests()
			if len(want) != 1 || len(got) != 1 {
				t.Fatalf("%d official requests, %d ours; want 1 each", len(want), len(got))
			}
			var wantMsg, gotMsg colltrace.ExportTraceServiceRequest
			if err := proto.Unmarshal(want[0].body, &wantMsg); err != nil {
				t.Fatal(err)
			}
			if err := proto.Unmarshal(got[0].body, &gotMsg); err != nil {
				t.Fatalf("our body is no ExportTraceServiceRequest: %v", err)
			}
			if n := len(gotMsg.GetResourceSpans()); n != 1 || len(gotMsg.GetResourceSpans()[0].GetScopeSpans()) != 2 {
				t.Fatalf("our request: %d resources %v", n, &gotMsg)
			}
			if !proto.Equal(&wantMsg, &gotMsg) {
				t.Errorf("messages differ:\nofficial %v\nours     %v", &wantMsg, &gotMsg)
			}
			if !bytes.Equal(want[0].body, got[0].body) {
				t.Errorf("bodies differ: %d bytes official, %d ours", len(want[0].body), len(got[0].body))
			}
			for _, h := range []string{"Content-Type", "Content-Encoding", "User-Agent", "Api-Key", "X-Tenant"} {
				if w, g := want[0].header.Get(h), got[0].header.Get(h); w != g {
					t.Errorf("header %s: official %q, ours %q", h, w, g)
				}
			}
			if tc.env != nil && got[0].header.Get("X-Tenant") != "t2" {
				t.Errorf("x-tenant header %q, want the traces variable's", got[0].header.Get("X-Tenant"))
			}
		})
	}
}

// TestTraceClientRetries: 429/502/503/504 are retried, other failures
// and partial successes are returned to the SDK, which reports them.
func TestTraceClientRetries(t *testing.T) {
	t.Parallel()
	partial := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&colltrace.ExportTraceServiceResponse{PartialSuccess: &colltrace.ExportTracePartialSuccess{
			RejectedSpans: 2, ErrorMessage: "too old"}})
		_, _ = w.Write(b)
	}
	for _, tc := range []struct {
		name      string
		answer    func(n int, w http.ResponseWriter)
		wantCalls int
		wantErr   string
	}{
		{name: "503 then ok", wantCalls: 2, answer: func(n int, w http.ResponseWriter) {
			if n == 1 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
			}
		}},
		{name: "429 each time until it gives up", wantCalls: 0, wantErr: "429", answer: func(_ int, w http.ResponseWriter) {
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}},
		{name: "400 is final", wantCalls: 1, wantErr: "400", answer: func(_ int, w http.ResponseWriter) {
			http.Error(w, "bad", http.StatusBadRequest)
		}},
		{name: "partial success", wantCalls: 1, wantErr: "2 spans rejected", answer: func(_ int, w http.ResponseWriter) { partial(w) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &capture{answer: tc.answer}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			client, err := newTraceClient(context.Background(), envconfig.MapLookuper(nil), srv.URL+"/v1/traces")
			if err != nil {
				t.Fatal(err)
			}
			client.initial, client.maxInterval, client.maxElapsed = time.Millisecond, 5*time.Millisecond, time.Second
			err = client.upload(context.Background(), nil)
			n := len(rec.requests())
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
			if tc.wantCalls == 0 && n < 2 || tc.wantCalls > 0 && n != tc.wantCalls {
				t.Errorf("%d requests, want %d (0: several)", n, tc.wantCalls)
			}
		})
	}
}

func TestTraceClientConfiguration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		env     map[string]string
		url     string
		wantErr bool
	}{
		{name: "default endpoint", url: ""},
		{name: "not a URL", url: "localhost:4318", wantErr: true},
		{name: "bad timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"}, wantErr: true},
		{name: "unknown compression", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "zstd"}, wantErr: true},
		{name: "missing certificate", env: map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent.pem"},
			url: "https://collector:4318/v1/traces", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := newTraceClient(context.Background(), envconfig.MapLookuper(tc.env), tc.url)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if err == nil && tc.url == "" && c.url != defaultTraceURL {
				t.Errorf("url %s", c.url)
			}
		})
	}
	if _, _, err := partialSuccess([]byte{0x0a, 0x05}); err == nil {
		t.Errorf("a truncated response decoded: %v", err)
	}
}

// TestEncodedStringsAreValidUTF8: proto3 strings must be valid UTF-8 and a
// checking receiver (the official types' Unmarshal here) rejects the whole
// request for one bad string, such as the 0xFF a request to
// /v1/playback/%FF/heartbeat puts into url.path. Such strings are sent
// with U+FFFD in place of the invalid bytes.
func TestEncodedStringsAreValidUTF8(t *testing.T) {
	t.Parallel()
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(mem),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "heart\xffbeat"))))
	defer tp.Shutdown(context.Background())
	_, span := tp.Tracer("scope\xfe").Start(context.Background(), "PUT /v1/playback/\xff/heartbeat", trace.WithAttributes(
		attribute.String("url.path", "/v1/playback/\xff/heartbeat"), attribute.String("k\xc3", "v"),
		attribute.StringSlice("tags", []string{"ok", "\xed\xa0\x80"})))
	span.AddEvent("ev\xff", trace.WithAttributes(attribute.String("a", "\xff")))
	span.SetStatus(codes.Error, "bad \xff")
	span.End()
	body := appendTraceRequest(nil, mem.GetSpans().Snapshots())
	var req colltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		t.Fatalf("a receiver cannot decode the request: %v", err)
	}
	s := req.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()[0]
	if want := "PUT /v1/playback/\uFFFD/heartbeat"; s.GetName() != want {
		t.Errorf("name %q, want %q", s.GetName(), want)
	}
	attrs := map[string]string{}
	for _, kv := range s.GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().String()
	}
	if got := attrs["url.path"]; !strings.Contains(got, "/v1/playback/\uFFFD/heartbeat") {
		t.Errorf("url.path %s, want the invalid byte replaced", got)
	}
	if _, ok := attrs["k\uFFFD"]; !ok {
		t.Errorf("attribute keys %v, want k\uFFFD", attrs)
	}
	if got := s.GetStatus().GetMessage(); got != "bad \uFFFD" {
		t.Errorf("status message %q", got)
	}
	// Valid strings are written as they are (TestTraceClientSendsWhatOTLPTraceHTTPSends
	// holds them to the SDK's bytes).
	if got := validUTF8("héllo"); got != "héllo" {
		t.Errorf("validUTF8 changed a valid string to %q", got)
	}
}

// countingConn counts the writes made to a connection.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// ReadFrom is what *net.TCPConn's does with a reader that is neither a
// file nor a connection (a request body): io.Copy into its Write.
func (c countingConn) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{c}, r)
}

// TestExportIsOneWrite: an export of up to 64 KiB (a flush's usual size:
// a heartbeat chunk's 62 spans are ~30 KB) goes to the connection as one
// write, headers and body together. With the transport's default 4 KiB
// buffer it was two (the buffer's first 4 KiB, then the rest), and a
// flush cost the process ~100 CPU-µs more: 486–540 against 414–429 µs
// per flush of 31 heartbeat traces (4 runs each, 64 flushes a run, the
// receiver in process, load ~1).
func TestExportIsOneWrite(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&capture{})
	defer srv.Close()
	c, err := newTraceClient(context.Background(), envconfig.MapLookuper(nil), srv.URL+"/v1/traces")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	var writes atomic.Int64
	tr := c.client.Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: conn, writes: &writes}, nil
	}
	for i, size := range []int{30 << 10, 60 << 10} {
		before := writes.Load()
		if err := c.upload(context.Background(), bytes.Repeat([]byte{0x0a}, size)); err != nil {
			t.Fatal(err)
		}
		if n := writes.Load() - before; n != 1 {
			t.Errorf("export %d of %d bytes: %d writes, want 1", i, size, n)
		}
	}
}

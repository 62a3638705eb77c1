// Package otlptest is an OTLP/HTTP receiver for tests: a loopback server
// that takes what an OTLP exporter sends to /v1/traces and /v1/metrics,
// decoded with the protocol's official protobuf types
// (go.opentelemetry.io/proto/otlp), as a collector's receiver would.
//
// A request is decoded as TracesData or MetricsData, which the protocol
// defines as wire-compatible with ExportTraceServiceRequest and
// ExportMetricsServiceRequest (one field, resource_*, number 1), and the
// reply is the empty Export*ServiceResponse: zero bytes. The collector
// packages that define those messages also hold their gRPC services, so
// importing them linked gRPC into every test binary that uses this
// receiver.
package otlptest

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/playplane/playplane/shared/telemetry"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Receiver collects exported spans and metrics.
type Receiver struct {
	srv *httptest.Server
	// discard takes exports without decoding or keeping them
	// (benchmarks).
	discard bool
	counted int
	mu      sync.Mutex
	spans   []*tracepb.Span
	metrics []*metricpb.Metric
	layouts []string
	exports []MetricExport
}

// MetricExport is one metrics request as the receiver took it: its
// headers and its body, decoded.
type MetricExport struct {
	Header http.Header
	Data   *metricpb.MetricsData
}

// Start serves a receiver until the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		discard := r.discard
		r.mu.Unlock()
		if discard {
			// A benchmark's receiver: the export is taken, not decoded,
			// so the exporter's cost is measured and not the receiver's.
			n, _ := io.Copy(io.Discard, req.Body)
			r.mu.Lock()
			r.counted += int(min(n, 1))
			r.mu.Unlock()
			reply(w)
			return
		}
		var msg tracepb.TracesData
		if !decode(w, req, &msg) {
			return
		}
		r.mu.Lock()
		for _, rs := range msg.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				r.counted += len(ss.GetSpans())
				r.spans = append(r.spans, ss.GetSpans()...)
			}
		}
		r.mu.Unlock()
		reply(w)
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, req *http.Request) {
		var msg metricpb.MetricsData
		if !decode(w, req, &msg) {
			return
		}
		r.mu.Lock()
		var layout []string
		for _, rm := range msg.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				r.metrics = append(r.metrics, sm.GetMetrics()...)
				names := make([]string, 0, len(sm.GetMetrics()))
				for _, m := range sm.GetMetrics() {
					names = append(names, m.GetName())
				}
				layout = append(layout, sm.GetScope().GetName()+": "+strings.Join(names, ", "))
			}
		}
		r.layouts = append(r.layouts, strings.Join(layout, "; "))
		r.exports = append(r.exports, MetricExport{Header: req.Header.Clone(), Data: &msg})
		r.mu.Unlock()
		reply(w)
	})
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

// decode reads an OTLP/HTTP protobuf body, gzip or not, answering 400 or
// 415 to anything else, as the specification's receivers do.
func decode(w http.ResponseWriter, req *http.Request, msg proto.Message) bool {
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "content type "+ct, http.StatusUnsupportedMediaType)
		return false
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return false
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err == nil {
		err = proto.Unmarshal(raw, msg)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

// reply answers with an Export*ServiceResponse without partial_success:
// in protobuf, an empty message is zero bytes.
func reply(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// Discard makes r take trace exports without decoding them: Count then
// counts exports, not spans.
func (r *Receiver) Discard() {
	r.mu.Lock()
	r.discard = true
	r.mu.Unlock()
}

// Count is how many spans r received.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counted
}

// Endpoint is the base URL for OTEL_EXPORTER_OTLP_ENDPOINT.
func (r *Receiver) Endpoint() string { return r.srv.URL }

// Env is the environment pointing an OTLP/HTTP exporter at r.
func (r *Receiver) Env() map[string]string {
	return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": r.srv.URL, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
}

// Trace returns the spans received with traceID (hex).
func (r *Receiver) Trace(traceID string) []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range r.spans {
		if hex.EncodeToString(s.GetTraceId()) == traceID {
			out = append(out, s)
		}
	}
	return out
}

// Spans returns every span received.
func (r *Receiver) Spans() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.Span(nil), r.spans...)
}

// MetricLayouts returns, per metrics export received, its scopes and their
// metrics' names in the order sent ("scope: a, b; other: c").
func (r *Receiver) MetricLayouts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.layouts)
}

// Metrics returns the metrics received named name.
func (r *Receiver) Metrics(name string) []*metricpb.Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*metricpb.Metric
	for _, m := range r.metrics {
		if m.GetName() == name {
			out = append(out, m)
		}
	}
	return out
}

// MetricExports are the metrics requests taken so far, in order.
func (r *Receiver) MetricExports() []MetricExport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.exports)
}

// Attr returns the string form of span's attribute key, "" if absent.
func Attr(attrs []*commonpb.KeyValue, key string) string {
	for _, kv := range attrs {
		if kv.GetKey() != key {
			continue
		}
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return fmt.Sprint(v.IntValue)
		case *commonpb.AnyValue_BoolValue:
			return fmt.Sprint(v.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			return fmt.Sprint(v.DoubleValue)
		}
	}
	return ""
}

// Describe renders spans for a failure message.
func Describe(spans []*tracepb.Span) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %s %q span=%x parent=%x links=%d", s.GetKind(), s.GetName(), s.GetSpanId(), s.GetParentSpanId(), len(s.GetLinks()))
	}
	return b.String()
}

// Chain finds, in the spans of one trace, a server span whose http.route
// is route, a producer span under it (directly or through other spans)
// sending to topic, and a consumer span processing a message of topic
// whose parent is that producer span. It reports what is missing.
func Chain(spans []*tracepb.Span, route, topic string) error {
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[string(s.GetSpanId())] = s
	}
	under := func(s *tracepb.Span, ancestor *tracepb.Span) bool {
		for p := s; p != nil; p = byID[string(p.GetParentSpanId())] {
			if bytes.Equal(p.GetParentSpanId(), ancestor.GetSpanId()) {
				return true
			}
		}
		return false
	}
	for _, srv := range spans {
		if srv.GetKind() != tracepb.Span_SPAN_KIND_SERVER || Attr(srv.GetAttributes(), "http.route") != route {
			continue
		}
		for _, prod := range spans {
			if prod.GetKind() != tracepb.Span_SPAN_KIND_PRODUCER || Attr(prod.GetAttributes(), "messaging.destination.name") != topic || !under(prod, srv) {
				continue
			}
			for _, cons := range spans {
				if cons.GetKind() == tracepb.Span_SPAN_KIND_CONSUMER && bytes.Equal(cons.GetParentSpanId(), prod.GetSpanId()) &&
					Attr(cons.GetAttributes(), "messaging.operation.type") == "process" {
					return nil
				}
			}
			return fmt.Errorf("no consumer span under the producer span of %s:%s", topic, Describe(spans))
		}
		return fmt.Errorf("no producer span of %s under the server span of %s:%s", topic, route, Describe(spans))
	}
	return fmt.Errorf("no server span of route %s:%s", route, Describe(spans))
}

// Serve sends one POST to path through telemetry.ServeHTTP (the server
// span and request metric httpx.Middleware makes with StartRequest) and a mux routing pattern to h, with a
// traceparent of a new trace, and returns that trace's id.
func Serve(t testing.TB, pattern, path string, h http.HandlerFunc) string {
	t.Helper()
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatal(err)
	}
	traceID := hex.EncodeToString(id[:])
	mux := http.NewServeMux()
	mux.HandleFunc(pattern, h)
	req := httptest.NewRequest(http.MethodPost, path, nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	rec := httptest.NewRecorder()
	telemetry.ServeHTTP(rec, req, mux)
	if rec.Code/100 != 2 {
		t.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
	}
	return traceID
}

// Busy is an OTLP endpoint under load: every export is answered 503 and,
// when hang is set, only after the client gives up or the test ends. A flush
// that must not keep an invocation waiting is tested against it.
type Busy struct {
	URL   string // the server's base URL; exports go to URL + "/v1/traces"
	calls atomic.Int32
}

// StartBusy starts a Busy endpoint, stopped when the test ends.
func StartBusy(t testing.TB, hang bool) *Busy {
	b := &Busy{}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.calls.Add(1)
		if hang {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	// Cleanups run last-in first-out: release the handler, then close.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	b.URL = srv.URL
	return b
}

// Exports is how many export requests reached the endpoint.
func (b *Busy) Exports() int32 { return b.calls.Load() }

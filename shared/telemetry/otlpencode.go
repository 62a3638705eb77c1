package telemetry

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// spanExporter is the OTLP trace exporter: spans encoded here as an
// ExportTraceServiceRequest and sent by traceClient. It replaces the SDK's
// otlptrace exporter, whose transform builds the protocol's generated
// protobuf types: linking them (and the protobuf runtime) cost every
// Lambda cold start ~1.5 ms of package init, for one message written once
// per flush. The encoding follows the SDK's transform field by field
// (tracetransform in go.opentelemetry.io/otel/exporters/otlp/otlptrace)
// and writes fields in number order, as the protobuf runtime does;
// TestTraceClientSendsWhatOTLPTraceHTTPSends holds the bytes to the SDK
// exporter's.
type spanExporter struct {
	client *traceClient
	// perSpan is the bytes per span of the last request encoded: the
	// next one is encoded into a buffer of about its size, made once,
	// where appending from nil would make and copy a growing buffer
	// again and again (about five times the request's size). last is
	// that request's size: the guess is held to twice it, so that one
	// large span exported alone does not size the next full batch of
	// small ones by itself (256 KiB once made 512 spans of 70 bytes
	// allocate 151 MB: TestExportBufferIsNotSizedByAnOutlier).
	perSpan, last atomic.Int64
}

var _ sdktrace.SpanExporter = (*spanExporter)(nil)

// ExportSpans sends spans in one request.
func (e *spanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	var b []byte
	if n := min(e.perSpan.Load()*int64(len(spans)), 2*e.last.Load()); n > 0 {
		b = make([]byte, 0, n+n/8+512)
	}
	body := appendTraceRequest(b, spans)
	if len(body) == 0 {
		return nil
	}
	e.perSpan.Store(int64(len(body) / len(spans)))
	e.last.Store(int64(len(body)))
	if err := e.client.upload(ctx, body); err != nil {
		return fmt.Errorf("traces export: %w", err)
	}
	return nil
}

// Shutdown closes the client's idle connections.
func (e *spanExporter) Shutdown(ctx context.Context) error { return e.client.Stop(ctx) }

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

func appendTag(b []byte, num, wire int) []byte {
	return binary.AppendUvarint(b, uint64(num)<<3|uint64(wire))
}

// appendMessage writes field num holding the message enc appends. The
// length is reserved as one byte, the usual case, and widened after.
func appendMessage(b []byte, num int, enc func([]byte) []byte) []byte {
	b = appendTag(b, num, wireBytes)
	at := len(b)
	b = enc(append(b, 0))
	n := len(b) - at - 1
	if n < 0x80 {
		b[at] = byte(n)
		return b
	}
	var l [binary.MaxVarintLen64]byte
	w := binary.PutUvarint(l[:], uint64(n))
	b = append(b, l[:w-1]...)
	copy(b[at+w:], b[at+1:at+1+n])
	copy(b[at:], l[:w])
	return b
}

func appendBytesField(b []byte, num int, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = appendTag(b, num, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendStringField(b []byte, num int, v string) []byte {
	if v == "" {
		return b
	}
	return oneofString(b, num, v)
}

// validUTF8 is s with each invalid byte sequence replaced by U+FFFD:
// proto3 strings must be valid UTF-8, and a receiver that checks (the
// protobuf runtime's Unmarshal does) rejects the whole request for one
// bad string, such as a url.path holding a percent-decoded 0xFF. Valid
// strings, nearly all of them, are returned as they are.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func appendVarintField(b []byte, num int, v uint64) []byte {
	if v == 0 {
		return b
	}
	return binary.AppendUvarint(appendTag(b, num, wireVarint), v)
}

func appendFixed64Field(b []byte, num int, v uint64) []byte {
	if v == 0 {
		return b
	}
	return binary.LittleEndian.AppendUint64(appendTag(b, num, wireFixed64), v)
}

func appendFixed32Field(b []byte, num int, v uint32) []byte {
	if v == 0 {
		return b
	}
	return binary.LittleEndian.AppendUint32(appendTag(b, num, wireFixed32), v)
}

// appendTraceRequest appends ExportTraceServiceRequest: spans grouped by
// resource, then by instrumentation scope, each in the order first seen.
func appendTraceRequest(b []byte, spans []sdktrace.ReadOnlySpan) []byte {
	type scopeSpans struct {
		scope instrumentation.Scope
		spans []sdktrace.ReadOnlySpan
	}
	type resourceSpans struct {
		key    attribute.Distinct
		first  sdktrace.ReadOnlySpan
		scopes []*scopeSpans
	}
	var resources []*resourceSpans
	for _, s := range spans {
		if s == nil {
			continue
		}
		var key attribute.Distinct
		if r := s.Resource(); r != nil {
			key = r.Equivalent()
		}
		var rs *resourceSpans
		for _, r := range resources {
			if r.key == key {
				rs = r
				break
			}
		}
		if rs == nil {
			rs = &resourceSpans{key: key, first: s}
			resources = append(resources, rs)
		}
		var ss *scopeSpans
		for _, sc := range rs.scopes {
			if sc.scope == s.InstrumentationScope() {
				ss = sc
				break
			}
		}
		if ss == nil {
			ss = &scopeSpans{scope: s.InstrumentationScope()}
			rs.scopes = append(rs.scopes, ss)
		}
		ss.spans = append(ss.spans, s)
	}
	for _, rs := range resources {
		// ResourceSpans: resource = 1, scope_spans = 2, schema_url = 3.
		b = appendMessage(b, 1, func(b []byte) []byte {
			res := rs.first.Resource()
			if res != nil {
				// Resource: attributes = 1.
				b = appendMessage(b, 1, func(b []byte) []byte {
					for it := res.Iter(); it.Next(); {
						b = appendMessage(b, 1, func(b []byte) []byte { return appendKeyValue(b, it.Attribute()) })
					}
					return b
				})
			}
			for _, ss := range rs.scopes {
				// ScopeSpans: scope = 1, spans = 2, schema_url = 3.
				b = appendMessage(b, 2, func(b []byte) []byte {
					if ss.scope != (instrumentation.Scope{}) {
						// InstrumentationScope: name = 1, version = 2, attributes = 3.
						b = appendMessage(b, 1, func(b []byte) []byte {
							b = appendStringField(b, 1, ss.scope.Name)
							b = appendStringField(b, 2, ss.scope.Version)
							for it := ss.scope.Attributes.Iter(); it.Next(); {
								b = appendMessage(b, 3, func(b []byte) []byte { return appendKeyValue(b, it.Attribute()) })
							}
							return b
						})
					}
					for _, s := range ss.spans {
						b = appendMessage(b, 2, func(b []byte) []byte { return appendSpan(b, s) })
					}
					return appendStringField(b, 3, ss.scope.SchemaURL)
				})
			}
			if res != nil {
				b = appendStringField(b, 3, res.SchemaURL())
			}
			return b
		})
	}
	return b
}

func appendSpan(b []byte, s sdktrace.ReadOnlySpan) []byte {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = appendBytesField(b, 1, tid[:])
	b = appendBytesField(b, 2, sid[:])
	b = appendStringField(b, 3, sc.TraceState().String())
	parent := s.Parent()
	if psid := parent.SpanID(); psid.IsValid() {
		b = appendBytesField(b, 4, psid[:])
	}
	b = appendStringField(b, 5, s.Name())
	b = appendVarintField(b, 6, spanKind(s.SpanKind()))
	b = appendFixed64Field(b, 7, unixNano(s.StartTime().UnixNano()))
	b = appendFixed64Field(b, 8, unixNano(s.EndTime().UnixNano()))
	for _, kv := range s.Attributes() {
		b = appendMessage(b, 9, func(b []byte) []byte { return appendKeyValue(b, kv) })
	}
	b = appendVarintField(b, 10, uint64(clampUint32(s.DroppedAttributes())))
	for _, ev := range s.Events() {
		// Event: time_unix_nano = 1, name = 2, attributes = 3, dropped = 4.
		b = appendMessage(b, 11, func(b []byte) []byte {
			b = appendFixed64Field(b, 1, unixNano(ev.Time.UnixNano()))
			b = appendStringField(b, 2, ev.Name)
			for _, kv := range ev.Attributes {
				b = appendMessage(b, 3, func(b []byte) []byte { return appendKeyValue(b, kv) })
			}
			return appendVarintField(b, 4, uint64(clampUint32(ev.DroppedAttributeCount)))
		})
	}
	b = appendVarintField(b, 12, uint64(clampUint32(s.DroppedEvents())))
	for _, l := range s.Links() {
		// Link: trace_id = 1, span_id = 2, attributes = 4, dropped = 5,
		// flags = 6 (the SDK's transform leaves trace_state = 3 out).
		b = appendMessage(b, 13, func(b []byte) []byte {
			tid, sid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
			b = appendBytesField(b, 1, tid[:])
			b = appendBytesField(b, 2, sid[:])
			for _, kv := range l.Attributes {
				b = appendMessage(b, 4, func(b []byte) []byte { return appendKeyValue(b, kv) })
			}
			b = appendVarintField(b, 5, uint64(clampUint32(l.DroppedAttributeCount)))
			return appendFixed32Field(b, 6, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext))
		})
	}
	b = appendVarintField(b, 14, uint64(clampUint32(s.DroppedLinks())))
	// Status (always present): message = 2, code = 3.
	st := s.Status()
	b = appendMessage(b, 15, func(b []byte) []byte {
		b = appendStringField(b, 2, st.Description)
		return appendVarintField(b, 3, statusCode(st.Code))
	})
	return appendFixed32Field(b, 16, spanFlags(sc.TraceFlags(), parent))
}

// appendKeyValue appends KeyValue's fields: key = 1, value = 2 (always
// present).
func appendKeyValue(b []byte, kv attribute.KeyValue) []byte {
	b = appendStringField(b, 1, string(kv.Key))
	return appendMessage(b, 2, func(b []byte) []byte { return appendAnyValue(b, kv.Value) })
}

// appendAnyValue appends AnyValue's one set field: string = 1, bool = 2,
// int = 3, double = 4, array = 5, kvlist = 6, bytes = 7. A oneof field is
// written even when it holds its zero value.
func appendAnyValue(b []byte, v attribute.Value) []byte {
	array := func(n int, each func(b []byte, i int) []byte) []byte {
		// ArrayValue: values = 1.
		return appendMessage(b, 5, func(b []byte) []byte {
			for i := range n {
				b = appendMessage(b, 1, func(b []byte) []byte { return each(b, i) })
			}
			return b
		})
	}
	switch v.Type() {
	case attribute.BOOL:
		return oneofBool(b, v.AsBool())
	case attribute.INT64:
		return oneofInt(b, v.AsInt64())
	case attribute.FLOAT64:
		return oneofDouble(b, v.AsFloat64())
	case attribute.STRING:
		return oneofString(b, 1, v.AsString())
	case attribute.BYTESLICE:
		return oneofBytes(b, 7, v.AsByteSlice())
	case attribute.BOOLSLICE:
		s := v.AsBoolSlice()
		return array(len(s), func(b []byte, i int) []byte { return oneofBool(b, s[i]) })
	case attribute.INT64SLICE:
		s := v.AsInt64Slice()
		return array(len(s), func(b []byte, i int) []byte { return oneofInt(b, s[i]) })
	case attribute.FLOAT64SLICE:
		s := v.AsFloat64Slice()
		return array(len(s), func(b []byte, i int) []byte { return oneofDouble(b, s[i]) })
	case attribute.STRINGSLICE:
		s := v.AsStringSlice()
		return array(len(s), func(b []byte, i int) []byte { return oneofString(b, 1, s[i]) })
	case attribute.SLICE:
		s := v.AsSlice()
		return array(len(s), func(b []byte, i int) []byte { return appendAnyValue(b, s[i]) })
	case attribute.MAP:
		// KeyValueList: values = 1.
		m := v.AsMap()
		return appendMessage(b, 6, func(b []byte) []byte {
			for _, kv := range m {
				b = appendMessage(b, 1, func(b []byte) []byte { return appendKeyValue(b, kv) })
			}
			return b
		})
	case attribute.EMPTY:
		return b
	}
	return oneofString(b, 1, "INVALID")
}

func oneofBool(b []byte, v bool) []byte {
	b = appendTag(b, 2, wireVarint)
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func oneofInt(b []byte, v int64) []byte {
	return binary.AppendUvarint(appendTag(b, 3, wireVarint), uint64(v))
}

func oneofDouble(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(appendTag(b, 4, wireFixed64), math.Float64bits(v))
}

func oneofString(b []byte, num int, v string) []byte {
	v = validUTF8(v)
	b = appendTag(b, num, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// oneofBytes writes a bytes field even when empty, unchecked: bytes need
// not be UTF-8.
func oneofBytes(b []byte, num int, v []byte) []byte {
	b = appendTag(b, num, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// spanKind is the protocol's SpanKind (INTERNAL = 1 … CONSUMER = 5).
func spanKind(k trace.SpanKind) uint64 {
	switch k {
	case trace.SpanKindInternal:
		return 1
	case trace.SpanKindServer:
		return 2
	case trace.SpanKindClient:
		return 3
	case trace.SpanKindProducer:
		return 4
	case trace.SpanKindConsumer:
		return 5
	}
	return 0
}

// statusCode is the protocol's StatusCode (UNSET = 0, OK = 1, ERROR = 2),
// which numbers them unlike codes.Code.
func statusCode(c codes.Code) uint64 {
	switch c {
	case codes.Ok:
		return 1
	case codes.Error:
		return 2
	}
	return 0
}

// spanFlags are the trace flags with SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE
// (0x100) and, for a remote parent, SPAN_FLAGS_CONTEXT_IS_REMOTE (0x200).
func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	flags := uint32(tf) | 0x100
	if parent.IsRemote() {
		flags |= 0x200
	}
	return flags
}

func unixNano(n int64) uint64 { return uint64(max(0, n)) }

func clampUint32(v int) uint32 {
	if v < 0 {
		return 0
	}
	return uint32(min(int64(v), math.MaxUint32))
}

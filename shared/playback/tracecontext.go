package playback

import (
	"encoding/hex"
	"errors"
	"strings"
)

// TraceContext is the W3C trace context of the span that published a
// message, in binary: what a traceparent of version 00 holds. A message
// carries it so, not as the formatted traceparent, because every
// heartbeat carries one: held in the message it is neither formatted nor
// a separate object for the collector to mark while the message waits,
// and a bus that has no attributes (membus) never formats it. Adapters
// that send it as their transport's attribute format and parse it
// (AppendTraceParent, ParseTraceParent). The zero value is no trace
// context.
type TraceContext struct {
	TraceID [16]byte
	SpanID  [8]byte
	// Flags holds only the flags version 00 defines (sampled, random),
	// as the W3C propagator keeps them.
	Flags byte
}

// Trace flags version 00 defines.
const (
	TraceFlagSampled byte = 0x01
	TraceFlagRandom  byte = 0x02
)

// IsValid reports whether t is a trace context: both ids nonzero, as the
// specification requires of a traceparent.
func (t TraceContext) IsValid() bool {
	return t.TraceID != [16]byte{} && t.SpanID != [8]byte{}
}

// TraceParentLen is the length of a traceparent of version 00.
const TraceParentLen = 55

// AppendTraceParent appends t as the W3C traceparent of version 00 (as
// OpenTelemetry's propagator writes it, flags it does not define
// dropped), or nothing when t is not valid.
func (t TraceContext) AppendTraceParent(dst []byte) []byte {
	if !t.IsValid() {
		return dst
	}
	n := len(dst)
	dst = append(dst, "00-00000000000000000000000000000000-0000000000000000-00"...)
	b := dst[n:]
	hex.Encode(b[3:35], t.TraceID[:])
	hex.Encode(b[36:52], t.SpanID[:])
	hex.Encode(b[53:], []byte{t.Flags & (TraceFlagSampled | TraceFlagRandom)})
	return dst
}

// TraceParent is t's traceparent, "" when t is not valid.
func (t TraceContext) TraceParent() string {
	var b [TraceParentLen]byte
	return string(t.AppendTraceParent(b[:0]))
}

// ParseTraceParent reads a traceparent header as OpenTelemetry's W3C
// propagator does (TestParseTraceParentIsThePropagators): lower-case hex,
// version ff refused, version 00 with nothing after its flags and no
// flags it does not define, later versions with anything after them;
// both ids nonzero. Of the flags it keeps sampled and random.
func ParseTraceParent(s string) (TraceContext, bool) {
	var t TraceContext
	var ver, flags [1]byte
	if !hexPart(ver[:], &s) || ver[0] == 0xff || !hexPart(t.TraceID[:], &s) || !hexPart(t.SpanID[:], &s) || !hexPart(flags[:], &s) {
		return TraceContext{}, false
	}
	if ver[0] == 0 && (s != "" || flags[0] > TraceFlagSampled|TraceFlagRandom) {
		return TraceContext{}, false
	}
	t.Flags = flags[0] & (TraceFlagSampled | TraceFlagRandom)
	if !t.IsValid() {
		return TraceContext{}, false
	}
	return t, true
}

// hexPart decodes the next "-"-separated part of *s into dst, which it
// must fill exactly, in lower-case hex, and moves *s past it.
func hexPart(dst []byte, s *string) bool {
	part, rest, _ := strings.Cut(*s, "-")
	*s = rest
	if len(part) != 2*len(dst) {
		return false
	}
	for i := range len(part) {
		if c := part[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	_, err := hex.Decode(dst, []byte(part))
	return err == nil
}

// MarshalText writes t as its traceparent (nothing when not valid).
func (t TraceContext) MarshalText() ([]byte, error) {
	return t.AppendTraceParent(nil), nil
}

// UnmarshalText reads a traceparent; empty text is no trace context.
func (t *TraceContext) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*t = TraceContext{}
		return nil
	}
	v, ok := ParseTraceParent(string(b))
	if !ok {
		return errors.New("playback: not a W3C traceparent")
	}
	*t = v
	return nil
}

package walbus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// A journaled message is a version byte, then length-prefixed id and
// ordering key, the publish time in Unix nanoseconds, the attributes and
// the data. It is written on the publish path of every heartbeat, so it
// is a few appends rather than encoding/json's reflection and base64.
const codecV1 = 1

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendMessage(b []byte, m *playback.Message) []byte {
	b = append(b, codecV1)
	b = appendString(b, m.ID)
	b = appendString(b, m.OrderingKey)
	b = binary.AppendVarint(b, m.PublishTime.UnixNano())
	// The trace context is journaled as the attribute it was before it had
	// a field of its own (playback.TraceParentAttribute), so journals of
	// either version read alike; an attribute of that name wins.
	_, own := m.Attributes[playback.TraceParentAttribute]
	traceParent := m.Trace.IsValid() && !own
	n := len(m.Attributes)
	if traceParent {
		n++
	}
	b = binary.AppendUvarint(b, uint64(n))
	if traceParent {
		b = appendString(b, playback.TraceParentAttribute)
		b = binary.AppendUvarint(b, playback.TraceParentLen)
		b = m.Trace.AppendTraceParent(b)
	}
	for k, v := range m.Attributes {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Data)))
	return append(b, m.Data...)
}

// messageBound is at least the length of m's encoding (appendMessage) and
// its record's kind and topic: each length and number a varint of at
// most binary.MaxVarintLen64 bytes, the trace context an attribute.
func messageBound(topic string, m *playback.Message) int {
	n := 2 + len(topic) + len(m.ID) + len(m.OrderingKey) + len(m.Data) + 8*binary.MaxVarintLen64 +
		len(playback.TraceParentAttribute) + playback.TraceParentLen
	for k, v := range m.Attributes {
		n += len(k) + len(v) + 2*binary.MaxVarintLen64
	}
	return n
}

var errCorrupt = errors.New("corrupt journal record")

// reader walks a record; the first failure sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes returns the next length-prefixed field, aliasing the record.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) version() {
	if len(r.b) == 0 || r.b[0] != codecV1 {
		r.err = fmt.Errorf("%w: unknown version", errCorrupt)
		return
	}
	r.b = r.b[1:]
}

// decodeMessage copies a record out of the buffer it was read into.
func decodeMessage(raw []byte) (playback.Message, error) {
	r := reader{b: raw}
	r.version()
	var m playback.Message
	m.ID = string(r.bytes())
	m.OrderingKey = string(r.bytes())
	if ns := r.varint(); r.err == nil {
		m.PublishTime = time.Unix(0, ns)
	}
	if n := r.uvarint(); n > 0 && r.err == nil {
		if n > uint64(len(r.b)) {
			return m, errCorrupt
		}
		for range n {
			k, v := r.bytes(), r.bytes()
			if string(k) == playback.TraceParentAttribute {
				// What is no traceparent stays the attribute it is, as
				// the other buses deliver it.
				if tc, ok := playback.ParseTraceParent(string(v)); ok {
					m.Trace = tc
					continue
				}
			}
			if m.Attributes == nil {
				m.Attributes = make(map[string]string, n)
			}
			m.Attributes[string(k)] = string(v)
		}
	}
	data := r.bytes()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(r.b))
	}
	if r.err != nil {
		return playback.Message{}, r.err
	}
	m.Data = append([]byte(nil), data...)
	return m, nil
}

// decodeID reads only a record's message id.
func decodeID(raw []byte) (string, error) {
	r := reader{b: raw}
	r.version()
	id := string(r.bytes())
	return id, r.err
}

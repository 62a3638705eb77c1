package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// The records read or written on every heartbeat — sessions on the request
// path, resume positions and session QoE in the consumer — are stored in a
// compact binary form: decoding them as JSON was over a fifth of the CPU of
// a heartbeat under load. Every other record is JSON. A record is binary
// when its first byte is recordV1, JSON when it is '{' (the only form files
// written before kept), so old files keep working and are rewritten in the
// new form as their records change.
const recordV1 = 0x01

// recordV2 marks a session QoE record that ends with the session's CMCD
// playhead; recordV1 ones, written before it existed, have none. On a
// session it marks one that ends with ReplacedBy, written only for a
// session that has one: every other session stays recordV1, which
// releases before ReplacedBy read.
const recordV2 = 0x02

// recordV3 marks a session QoE record whose playhead ends with MovedAt;
// recordV2 ones, written before it existed, have none.
const recordV3 = 0x03

// recordV4 marks a session QoE record whose playhead is followed by the
// play its QoE names (playback.QoE.View); recordV3 ones, written before
// it existed, name none.
const recordV4 = 0x04

func encodeRecord(v any) ([]byte, error) {
	b := []byte{recordV1}
	switch v := v.(type) {
	case playback.Session:
		if v.ReplacedBy != "" {
			b[0] = recordV2
		}
		return appendSession(b, &v), nil
	case playback.Progress:
		return appendProgress(b, &v), nil
	case playback.SessionQoE:
		b[0] = recordV4
		return appendSessionQoE(b, &v), nil
	}
	return json.Marshal(v)
}

func decodeRecord(raw []byte, v any) error {
	if len(raw) == 0 || raw[0] < recordV1 || raw[0] > recordV4 {
		return json.Unmarshal(raw, v)
	}
	r := reader{b: raw[1:], version: raw[0]}
	switch v := v.(type) {
	case *playback.Session:
		r.session(v)
	case *playback.Progress:
		r.progress(v)
	case *playback.SessionQoE:
		r.sessionQoE(v)
	default:
		return fmt.Errorf("binary record read as %T", v)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the record", len(r.b))
	}
	return r.err
}

func appendSession(b []byte, s *playback.Session) []byte {
	b = appendString(b, s.ID)
	b = appendString(b, s.AccountID)
	b = appendString(b, s.DeviceID)
	b = appendString(b, s.TitleID)
	b = appendTime(b, s.StartedAt)
	b = appendTime(b, s.LastSeenAt)
	b = appendTime(b, s.ExpiresAt)
	b = appendTime(b, s.EndedAt)
	b = appendString(b, s.EndReason)
	if s.ReplacedBy != "" {
		b = appendString(b, s.ReplacedBy)
	}
	return b
}

func (r *reader) session(s *playback.Session) {
	s.ID, s.AccountID, s.DeviceID, s.TitleID = r.string(), r.string(), r.string(), r.string()
	s.StartedAt, s.LastSeenAt, s.ExpiresAt, s.EndedAt = r.time(), r.time(), r.time(), r.time()
	s.EndReason = r.string()
	if r.version >= recordV2 {
		s.ReplacedBy = r.string()
	}
}

func appendProgress(b []byte, p *playback.Progress) []byte {
	b = appendString(b, p.AccountID)
	b = appendString(b, p.TitleID)
	b = appendString(b, p.SessionID)
	b = appendString(b, p.DeviceID)
	b = binary.AppendVarint(b, p.PositionMS)
	b = binary.AppendVarint(b, p.DurationMS)
	b = appendTime(b, p.DeviceTime)
	return appendTime(b, p.UpdatedAt)
}

func (r *reader) progress(p *playback.Progress) {
	p.AccountID, p.TitleID, p.SessionID, p.DeviceID = r.string(), r.string(), r.string(), r.string()
	p.PositionMS, p.DurationMS = r.varint(), r.varint()
	p.DeviceTime, p.UpdatedAt = r.time(), r.time()
}

func appendSessionQoE(b []byte, q *playback.SessionQoE) []byte {
	b = appendString(b, q.SessionID)
	b = appendString(b, q.AccountID)
	b = appendString(b, q.TitleID)
	b = appendString(b, q.EdgeID)
	b = appendTime(b, q.DeviceTime)
	b = binary.AppendVarint(b, int64(q.Heartbeats))
	b = appendQoE(b, &q.QoE)
	b = appendTime(b, q.UpdatedAt)
	ph := &q.Playhead
	var flags byte
	if ph.Known {
		flags |= playheadKnown
	}
	if ph.Lost {
		flags |= playheadLost
	}
	if ph.Began {
		flags |= playheadBegan
	}
	if q.QoE.Continued {
		flags |= qoeContinued
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, ph.PositionMS)
	b = binary.AppendVarint(b, ph.DurationMS)
	b = binary.AppendVarint(b, ph.AdvancedMS)
	b = appendString(b, ph.State)
	b = appendTime(b, ph.MovedAt)
	return appendString(b, q.QoE.View)
}

// Flags of a session QoE record's playhead section, and the QoE's
// Continued (a bit unknown to a binary before it, which reads it as
// false).
const (
	playheadKnown = 1 << iota
	playheadLost
	playheadBegan
	qoeContinued
)

func (r *reader) sessionQoE(q *playback.SessionQoE) {
	q.SessionID, q.AccountID, q.TitleID, q.EdgeID = r.string(), r.string(), r.string(), r.string()
	q.DeviceTime = r.time()
	q.Heartbeats = int(r.varint())
	r.qoe(&q.QoE)
	q.UpdatedAt = r.time()
	if r.version < recordV2 || r.err != nil {
		return
	}
	if len(r.b) == 0 {
		r.err = errShort
		return
	}
	flags := r.b[0]
	r.b = r.b[1:]
	ph := &q.Playhead
	ph.Known, ph.Lost, ph.Began = flags&playheadKnown != 0, flags&playheadLost != 0, flags&playheadBegan != 0
	q.QoE.Continued = flags&qoeContinued != 0
	ph.PositionMS, ph.DurationMS, ph.AdvancedMS, ph.State = r.varint(), r.varint(), r.varint(), r.string()
	if r.version >= recordV3 {
		ph.MovedAt = r.time()
	}
	if r.version >= recordV4 {
		q.QoE.View = r.string()
	}
}

func appendQoE(b []byte, q *playback.QoE) []byte {
	for _, v := range [...]int64{int64(q.BitrateKbps), int64(q.BufferMS), int64(q.ThroughputKbps), int64(q.StartupMS),
		int64(q.RebufferCount), q.RebufferMS, q.PlayedMS, int64(q.DroppedFrames)} {
		b = binary.AppendVarint(b, v)
	}
	b = appendString(b, q.CDN)
	return appendString(b, q.EdgeID)
}

func (r *reader) qoe(q *playback.QoE) {
	q.BitrateKbps, q.BufferMS, q.ThroughputKbps, q.StartupMS = int(r.varint()), int(r.varint()), int(r.varint()), int(r.varint())
	q.RebufferCount, q.RebufferMS, q.PlayedMS, q.DroppedFrames = int(r.varint()), r.varint(), r.varint(), int(r.varint())
	q.CDN, q.EdgeID = r.string(), r.string()
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendTime keeps the instant, not the zone: the stores hand out UTC. The
// zero time is a lone 0, since its Unix seconds would not fit the sign
// convention below.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// reader decodes a binary record; the first error sticks and later reads
// return zero values.
type reader struct {
	b       []byte
	version byte // recordV1 to recordV4
	err     error
}

var errShort = errors.New("record cut short")

func (r *reader) uvarint() uint64 { return readVarint(r, binary.Uvarint) }
func (r *reader) varint() int64   { return readVarint(r, binary.Varint) }

func readVarint[T int64 | uint64](r *reader, read func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := read(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errShort
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) time() time.Time {
	if r.err != nil {
		return time.Time{}
	}
	if len(r.b) == 0 {
		r.err = errShort
		return time.Time{}
	}
	set := r.b[0]
	r.b = r.b[1:]
	switch set {
	case 0:
		return time.Time{}
	case 1:
		sec, nsec := r.varint(), r.uvarint()
		if nsec >= 1e9 {
			r.err = fmt.Errorf("nanoseconds %d out of range", nsec)
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec)).UTC()
	}
	r.err = fmt.Errorf("time marker %d", set)
	return time.Time{}
}

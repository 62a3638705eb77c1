package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/playplane/playplane/shared/playback"
)

// Heartbeats arrive tens of thousands of times a second and encoding/json
// spends ~3 µs on each body, most of it in reflection. The codec below is a
// hand-written scanner for the two fixed heartbeat schemas. Its contract,
// checked by the fuzz tests against encoding/json on the same structs:
// whatever it accepts, encoding/json accepts too and decodes to the same
// value. It is stricter in three ways, each reported as a typed error:
// field names must match exactly (encoding/json folds case, so "EVENT" and
// "poſition_ms" would pass there), a field may appear only once
// (encoding/json silently keeps the last), and strings must be valid UTF-8,
// escaped surrogates paired (encoding/json turns either into U+FFFD).

// maxNestingDepth is encoding/json's limit, kept so that both accept the
// same documents.
const maxNestingDepth = 10000

var (
	requestFields = []string{"event", "position_ms", "duration_ms", "device_time", "qoe"}
	messageFields = []string{"session_id", "account_id", "title_id", "device_id", "event", "position_ms",
		"duration_ms", "device_time", "qoe", "received_at", "session_started_at",
		"source", "position_unknown", "cmcd_e", "cmcd_sta", "cmcd_bsd", "country", "asn", "device_type", "lease_expires_at"}
	qoeFields = []string{"br", "bl", "mtp", "startup_ms", "rebuffer_count", "rebuffer_ms", "played_ms", "df", "cdn", "edge",
		"continued", "view", "su", "rc", "rd", "pd"}
)

// DecodeHeartbeatRequest decodes a heartbeat body strictly: one JSON object,
// no unknown, duplicate or case-folded field names, integers where integers
// belong. It does not check the values; the function does.
func DecodeHeartbeatRequest(data []byte) (HeartbeatRequest, error) {
	var r HeartbeatRequest
	d := jsonDecoder{data: data}
	isObject, err := d.top()
	if err != nil || !isObject {
		return r, err
	}
	var seen uint8
	for i := 0; ; i++ {
		lit, plain, ok, err := d.member(i)
		if err != nil {
			return r, err
		}
		if !ok {
			break
		}
		name, err := d.name(lit, plain)
		if err != nil {
			return r, err
		}
		var bit uint8
		switch string(name) {
		case "event":
			bit = 1 << 0
			r.Event, err = d.stringValue("event")
		case "position_ms":
			bit = 1 << 1
			r.PositionMS, err = d.int64Value("position_ms")
		case "duration_ms":
			bit = 1 << 2
			r.DurationMS, err = d.int64Value("duration_ms")
		case "device_time":
			bit = 1 << 3
			r.DeviceTime, err = d.dateTimeValue("/device_time")
		case "qoe":
			bit = 1 << 4
			err = d.qoe(&r.QoE, &r.oldNames, 1, true)
		default:
			return r, unknownField("", name, requestFields)
		}
		if err != nil {
			return r, err
		}
		if seen&bit != 0 {
			return r, duplicateField(name)
		}
		seen |= bit
	}
	return r, d.end()
}

// DecodeHeartbeat decodes a bus message. Unlike requests, unknown fields
// are skipped: a consumer must keep working while a newer producer that
// adds a field rolls out.
func DecodeHeartbeat(data []byte) (Heartbeat, error) {
	var h Heartbeat
	d := jsonDecoder{data: data}
	isObject, err := d.top()
	if err != nil || !isObject {
		return h, err
	}
	var seen uint32
	for i := 0; ; i++ {
		lit, plain, ok, err := d.member(i)
		if err != nil {
			return h, err
		}
		if !ok {
			break
		}
		name, err := d.name(lit, plain)
		if err != nil {
			return h, err
		}
		var bit uint32
		switch string(name) {
		case "session_id":
			bit = 1 << 0
			h.SessionID, err = d.stringValue("session_id")
		case "account_id":
			bit = 1 << 1
			h.AccountID, err = d.stringValue("account_id")
		case "title_id":
			bit = 1 << 2
			h.TitleID, err = d.stringValue("title_id")
		case "device_id":
			bit = 1 << 3
			h.DeviceID, err = d.stringValue("device_id")
		case "event":
			bit = 1 << 4
			h.Event, err = d.stringValue("event")
		case "position_ms":
			bit = 1 << 5
			h.PositionMS, err = d.int64Value("position_ms")
		case "duration_ms":
			bit = 1 << 6
			h.DurationMS, err = d.int64Value("duration_ms")
		case "device_time":
			bit = 1 << 7
			h.DeviceTime, err = d.timeValue("device_time")
		case "qoe":
			bit = 1 << 8
			err = d.qoe(&h.QoE, nil, 1, false)
		case "received_at":
			bit = 1 << 9
			h.ReceivedAt, err = d.timeValue("received_at")
		case "session_started_at":
			bit = 1 << 10
			h.SessionStartedAt, err = d.timeValue("session_started_at")
		case "source":
			bit = 1 << 11
			h.Source, err = d.stringValue("source")
		case "position_unknown":
			bit = 1 << 12
			h.PositionUnknown, err = d.boolValue("position_unknown")
		case "cmcd_e":
			bit = 1 << 13
			h.CMCDEvent, err = d.stringValue("cmcd_e")
		case "cmcd_sta":
			bit = 1 << 14
			h.CMCDState, err = d.stringValue("cmcd_sta")
		case "cmcd_bsd":
			bit = 1 << 15
			h.StarvationMS, err = d.int64Value("cmcd_bsd")
		case "country":
			bit = 1 << 16
			h.Country, err = d.stringValue("country")
		case "asn":
			bit = 1 << 17
			var n int64
			if n, err = d.int64Value("asn"); err == nil && (n < 0 || n > math.MaxUint32) {
				err = wrongType("asn", "an integer in the uint32 range")
			}
			h.ASN = uint32(n)
		case "device_type":
			bit = 1 << 18
			h.DeviceType, err = d.stringValue("device_type")
		case "lease_expires_at":
			bit = 1 << 19
			h.LeaseExpiresAt, err = d.timeValue("lease_expires_at")
		default:
			if folded(name, messageFields) {
				return h, unknownField("", name, messageFields)
			}
			err = d.skip(1)
		}
		if err != nil {
			return h, err
		}
		if bit != 0 && seen&bit != 0 {
			return h, duplicateField(name)
		}
		seen |= bit
	}
	return h, d.end()
}

// qoe decodes the qoe object at nesting depth+1; strict refuses unknown
// fields (requests), otherwise they are skipped (messages). oldNames, if
// not nil, gets the bit of each deprecatedQoE member given under its
// deprecated name.
func (d *jsonDecoder) qoe(q *playback.QoE, oldNames *uint8, depth int, strict bool) error {
	isObject, err := d.object("qoe", depth)
	if err != nil || !isObject {
		return err
	}
	var seen uint16
	for i := 0; ; i++ {
		lit, plain, ok, err := d.member(i)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		name, err := d.name(lit, plain)
		if err != nil {
			return err
		}
		var bit uint16
		var old uint8 // the member's oldNames bit when given under its deprecated name
		var field string
		switch string(name) {
		case "br":
			bit = 1 << 0
			q.BitrateKbps, err = d.intValue("qoe.br")
		case "bl":
			bit = 1 << 1
			q.BufferMS, err = d.intValue("qoe.bl")
		case "mtp":
			bit = 1 << 2
			q.ThroughputKbps, err = d.intValue("qoe.mtp")
		case "startup_ms", "su": // su: deprecated name, read for one version
			bit = 1 << 3
			field, old = renamed(name)
			q.StartupMS, err = d.intValue(field)
		case "rebuffer_count", "rc": // rc: deprecated name, read for one version
			bit = 1 << 4
			field, old = renamed(name)
			q.RebufferCount, err = d.intValue(field)
		case "rebuffer_ms", "rd": // rd: deprecated name, read for one version
			bit = 1 << 5
			field, old = renamed(name)
			q.RebufferMS, err = d.int64Value(field)
		case "played_ms", "pd": // pd: deprecated name, read for one version
			bit = 1 << 6
			field, old = renamed(name)
			q.PlayedMS, err = d.int64Value(field)
		case "df":
			bit = 1 << 7
			q.DroppedFrames, err = d.intValue("qoe.df")
		case "cdn":
			bit = 1 << 8
			q.CDN, err = d.stringValue("qoe.cdn")
		case "edge":
			bit = 1 << 9
			q.EdgeID, err = d.stringValue("qoe.edge")
		case "continued":
			bit = 1 << 10
			q.Continued, err = d.boolValue("qoe.continued")
		case "view":
			bit = 1 << 11
			q.View, err = d.stringValue("qoe.view")
		default:
			if strict || folded(name, qoeFields) {
				return unknownField("qoe.", name, qoeFields)
			}
			err = d.skip(depth + 1)
		}
		if err != nil {
			return err
		}
		if bit != 0 && seen&bit != 0 {
			return duplicateField(append([]byte("qoe."), name...))
		}
		seen |= bit
		if oldNames != nil {
			*oldNames |= old
		}
	}
}

// renamed is what the decoder keeps of a qoe member of deprecatedQoE
// given under name, its current name or its deprecated one: the field to
// report its errors under, the name the document used, and the member's
// HeartbeatRequest.oldNames bit when that was its deprecated name (else
// 0).
func renamed(name []byte) (field string, old uint8) {
	for i := range deprecatedQoE {
		m := &deprecatedQoE[i]
		switch string(name) {
		case m.field[len("qoe."):]:
			return m.field, 0
		case m.oldField[len("qoe."):]:
			return m.oldField, 1 << i
		}
	}
	// Only the members of deprecatedQoE ask (TestDeprecatedQoENames).
	return "qoe." + string(name), 0
}

type jsonDecoder struct {
	data []byte
	pos  int
}

func (d *jsonDecoder) malformed(what string) error {
	return playback.Errorf(playback.CodeInvalid, playback.ReasonMalformedJSON, "malformed JSON at byte %d: %s", d.pos, what)
}

func wrongType(field, want string) error {
	return playback.Errorf(playback.CodeInvalid, playback.ReasonWrongType, "field %q must be %s", field, want)
}

func unknownField(prefix string, name []byte, known []string) error {
	if folded(name, known) {
		return playback.Errorf(playback.CodeInvalid, playback.ReasonUnknownField, "unknown field %q (field names are case-sensitive)", prefix+string(name))
	}
	return playback.Errorf(playback.CodeInvalid, playback.ReasonUnknownField, "unknown field %q", prefix+string(name))
}

func duplicateField(name []byte) error {
	return playback.Errorf(playback.CodeInvalid, playback.ReasonDuplicateField, "field %q appears twice", name)
}

// folded reports whether name is a known field under encoding/json's case
// folding (which is bytes.EqualFold) without being that field.
func folded(name []byte, known []string) bool {
	for _, k := range known {
		if string(name) != k && bytes.EqualFold(name, []byte(k)) {
			return true
		}
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// peek skips whitespace and returns the next byte, 0 at the end (a NUL is
// never valid there either).
func (d *jsonDecoder) peek() byte {
	for d.pos < len(d.data) && isSpace(d.data[d.pos]) {
		d.pos++
	}
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// top starts a document: an object (true) or a bare null (false, accepted
// like encoding/json accepts it, leaving every field zero).
func (d *jsonDecoder) top() (bool, error) {
	if d.peek() == 0 && d.pos == len(d.data) {
		return false, playback.Errorf(playback.CodeInvalid, playback.ReasonBodyEmpty, "body is empty")
	}
	isObject, err := d.object("", 0)
	if err == nil && !isObject {
		err = d.end()
	}
	return isObject, err
}

// end checks that only whitespace follows the document.
func (d *jsonDecoder) end() error {
	if d.peek() != 0 || d.pos != len(d.data) {
		return d.malformed("trailing data after the JSON value")
	}
	return nil
}

// object consumes '{' (true) or null (false) of a value at depth+1.
func (d *jsonDecoder) object(field string, depth int) (bool, error) {
	switch d.peek() {
	case '{':
		if depth+1 > maxNestingDepth {
			return false, d.malformed("nested too deeply")
		}
		d.pos++
		return true, nil
	case 'n':
		return false, d.literal("null")
	}
	if field == "" {
		field = "body"
	}
	return false, d.notA(field, "an object")
}

// notA reports a value of the wrong type, or a syntax error when what
// follows cannot start a value at all.
func (d *jsonDecoder) notA(field, want string) error {
	switch c := d.peek(); {
	case c == '"' || c == '{' || c == '[' || c == 't' || c == 'f' || c == 'n' || c == '-' || isDigit(c):
		if field == "body" {
			return playback.Errorf(playback.CodeInvalid, playback.ReasonWrongType, "body must be %s", want)
		}
		return wrongType(field, want)
	case d.pos == len(d.data):
		return d.malformed("unexpected end of input")
	default:
		return d.malformed("expected a value")
	}
}

func (d *jsonDecoder) literal(lit string) error {
	if !bytes.HasPrefix(d.data[d.pos:], []byte(lit)) {
		return d.malformed("invalid literal")
	}
	d.pos += len(lit)
	return nil
}

// member advances to the next member of an object whose '{' is consumed:
// it takes the ',' before every member but the first, or the closing '}'
// (ok=false). It returns the name's literal and leaves pos on the value.
func (d *jsonDecoder) member(i int) (lit []byte, plain, ok bool, err error) {
	c := d.peek()
	if c == '}' {
		d.pos++
		return nil, false, false, nil
	}
	if i > 0 {
		if c != ',' {
			return nil, false, false, d.malformed("expected ',' or '}'")
		}
		d.pos++
		c = d.peek()
	}
	if c != '"' {
		return nil, false, false, d.malformed("expected a field name")
	}
	start, end, plain, err := d.scanString()
	if err != nil {
		return nil, false, false, err
	}
	if d.peek() != ':' {
		return nil, false, false, d.malformed("expected ':'")
	}
	d.pos++
	return d.data[start:end], plain, true, nil
}

// name is the value of a member name's literal.
func (d *jsonDecoder) name(lit []byte, plain bool) ([]byte, error) {
	if plain {
		return lit[1 : len(lit)-1], nil
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return nil, d.malformed("invalid string")
	}
	return []byte(s), nil
}

// scanString moves past the string literal at pos, checking its escapes.
// plain means printable ASCII without escapes: its bytes are its value.
func (d *jsonDecoder) scanString() (start, end int, plain bool, err error) {
	start, plain = d.pos, true
	i := d.pos + 1
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return start, i + 1, plain, nil
		case c == '\\':
			plain = false
			if i+1 >= len(d.data) {
				break
			}
			switch d.data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
				continue
			case 'u':
				r, ok := d.hex4(i)
				if !ok {
					d.pos = i
					return 0, 0, false, d.malformed("invalid \\u escape")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// encoding/json turns an unpaired surrogate into U+FFFD.
					low, ok := d.hex4(i)
					if !ok || r >= 0xDC00 || utf16.DecodeRune(r, low) == utf8.RuneError {
						d.pos = i - 6
						return 0, 0, false, d.invalidUTF8()
					}
					i += 6
				}
				continue
			default:
				d.pos = i
				return 0, 0, false, d.malformed("invalid escape")
			}
		case c < 0x20:
			d.pos = i
			return 0, 0, false, d.malformed("control character in string")
		case c >= utf8.RuneSelf:
			// Not ASCII: encoding/json would replace invalid UTF-8 with
			// U+FFFD; it is refused instead.
			plain = false
			r, size := utf8.DecodeRune(d.data[i:])
			if r == utf8.RuneError && size <= 1 {
				d.pos = i
				return 0, 0, false, d.invalidUTF8()
			}
			i += size
			continue
		}
		i++
	}
	d.pos = len(d.data)
	return 0, 0, false, d.malformed("unterminated string")
}

// hex4 is the value of the \\uXXXX escape at i, if there is one.
func (d *jsonDecoder) hex4(i int) (rune, bool) {
	if i+6 > len(d.data) || d.data[i] != '\\' || d.data[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range d.data[i+2 : i+6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func (d *jsonDecoder) invalidUTF8() error {
	return playback.Errorf(playback.CodeInvalid, playback.ReasonInvalidUTF8, "string at byte %d is not valid UTF-8", d.pos)
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// stringValue decodes a string value; null leaves it empty.
func (d *jsonDecoder) stringValue(field string) (string, error) {
	switch d.peek() {
	case '"':
	case 'n':
		return "", d.literal("null")
	default:
		return "", d.notA(field, "a string")
	}
	start, end, plain, err := d.scanString()
	if err != nil {
		return "", err
	}
	if plain {
		return string(d.data[start+1 : end-1]), nil
	}
	var s string
	if err := json.Unmarshal(d.data[start:end], &s); err != nil {
		return "", d.malformed("invalid string")
	}
	return s, nil
}

// boolValue decodes true or false; null leaves it false.
func (d *jsonDecoder) boolValue(field string) (bool, error) {
	switch d.peek() {
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return false, d.literal("null")
	}
	return false, d.notA(field, "a boolean")
}

// int64Value decodes an integer. Like encoding/json it refuses fractions and
// exponents for integer fields, even 1.0 and 1e3, and values out of range.
func (d *jsonDecoder) int64Value(field string) (int64, error) {
	c := d.peek()
	if c == 'n' {
		return 0, d.literal("null")
	}
	if c != '-' && !isDigit(c) {
		return 0, d.notA(field, "an integer")
	}
	i, neg := d.pos, c == '-'
	if neg {
		i++
	}
	if i >= len(d.data) || !isDigit(d.data[i]) {
		d.pos = i
		return 0, d.malformed("invalid number")
	}
	var v uint64
	if d.data[i] == '0' {
		i++
	} else {
		for ; i < len(d.data) && isDigit(d.data[i]); i++ {
			digit := uint64(d.data[i] - '0')
			if v > (math.MaxUint64-digit)/10 {
				return 0, wrongType(field, "an integer in the int64 range")
			}
			v = v*10 + digit
		}
	}
	if i < len(d.data) && (d.data[i] == '.' || d.data[i] == 'e' || d.data[i] == 'E') {
		return 0, wrongType(field, "an integer")
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	if v > limit {
		return 0, wrongType(field, "an integer in the int64 range")
	}
	d.pos = i
	if neg {
		return int64(-v), nil
	}
	return int64(v), nil
}

func (d *jsonDecoder) intValue(field string) (int, error) {
	v, err := d.int64Value(field)
	if err == nil && int64(int(v)) != v {
		return 0, wrongType(field, "an integer in the int range")
	}
	return int(v), err
}

// timeValue decodes an RFC 3339 string with time.Time's own UnmarshalJSON,
// which is what encoding/json calls.
func (d *jsonDecoder) timeValue(field string) (time.Time, error) {
	var t time.Time
	switch d.peek() {
	case '"':
	case 'n':
		return t, d.literal("null")
	default:
		return t, d.notA(field, "an RFC 3339 timestamp string")
	}
	start, end, _, err := d.scanString()
	if err != nil {
		return t, err
	}
	if err := t.UnmarshalJSON(d.data[start:end]); err != nil {
		return time.Time{}, wrongType(field, "an RFC 3339 timestamp string")
	}
	return t, nil
}

// dateTimeValue is timeValue for the request's member at pointer (a
// top-level one), a date-time a player wrote: read by the schemas' rule
// (playback.DateTimeMember), which takes the lower-case t and z RFC 3339
// allows, where time.Time's JSON decoding refuses them, and refuses a
// leap second by its own reason.
func (d *jsonDecoder) dateTimeValue(pointer string) (time.Time, error) {
	switch d.peek() {
	case '"':
	case 'n':
		return time.Time{}, d.literal("null")
	default:
		return time.Time{}, d.notA(pointer[1:], "an RFC 3339 timestamp string")
	}
	start, end, _, err := d.scanString()
	if err != nil {
		return time.Time{}, err
	}
	// Raw, as time.Time's UnmarshalJSON reads it: an escape is no date-time.
	return playback.DateTimeMember(pointer, string(d.data[start+1:end-1]))
}

// skip moves past any value at depth+1, checking its syntax as strictly as
// encoding/json does.
func (d *jsonDecoder) skip(depth int) error {
	switch c := d.peek(); {
	case c == '"':
		_, _, _, err := d.scanString()
		return err
	case c == '{':
		if _, err := d.object("", depth); err != nil {
			return err
		}
		for i := 0; ; i++ {
			_, _, ok, err := d.member(i)
			if err != nil || !ok {
				return err
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
		}
	case c == '[':
		if depth+1 > maxNestingDepth {
			return d.malformed("nested too deeply")
		}
		d.pos++
		if d.peek() == ']' {
			d.pos++
			return nil
		}
		for {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case ']':
				d.pos++
				return nil
			default:
				return d.malformed("expected ',' or ']'")
			}
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || isDigit(c):
		return d.number()
	default:
		return d.malformed("expected a value")
	}
}

// number moves past a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *jsonDecoder) number() error {
	i := d.pos
	digits := func() bool {
		start := i
		for i < len(d.data) && isDigit(d.data[i]) {
			i++
		}
		return i > start
	}
	if d.data[i] == '-' {
		i++
	}
	switch {
	case i < len(d.data) && d.data[i] == '0':
		i++
	case !digits():
		d.pos = i
		return d.malformed("invalid number")
	}
	if i < len(d.data) && d.data[i] == '.' {
		i++
		if !digits() {
			d.pos = i
			return d.malformed("invalid number")
		}
	}
	if i < len(d.data) && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < len(d.data) && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		if !digits() {
			d.pos = i
			return d.malformed("invalid number")
		}
	}
	d.pos = i
	return nil
}

// AppendJSON appends h as compact JSON, byte for byte what json.Marshal
// produces, without its reflection, once h's times are cut to
// MessageTimeUnit: every message time is written here.
func (h *Heartbeat) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"session_id":`...)
	b = AppendJSONString(b, h.SessionID)
	b = append(b, `,"account_id":`...)
	b = AppendJSONString(b, h.AccountID)
	b = append(b, `,"title_id":`...)
	b = AppendJSONString(b, h.TitleID)
	b = append(b, `,"device_id":`...)
	b = AppendJSONString(b, h.DeviceID)
	b = append(b, `,"event":`...)
	b = AppendJSONString(b, h.Event)
	b = append(b, `,"position_ms":`...)
	b = strconv.AppendInt(b, h.PositionMS, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendInt(b, h.DurationMS, 10)
	var err error
	b = append(b, `,"device_time":`...)
	if b, err = appendTime(b, h.DeviceTime); err != nil {
		return b, err
	}
	b = append(b, `,"qoe":`...)
	b = appendQoE(b, &h.QoE)
	b = append(b, `,"received_at":`...)
	if b, err = appendTime(b, h.ReceivedAt); err != nil {
		return b, err
	}
	b = append(b, `,"session_started_at":`...)
	if b, err = appendTime(b, h.SessionStartedAt); err != nil {
		return b, err
	}
	if h.Source != "" {
		b = append(b, `,"source":`...)
		b = AppendJSONString(b, h.Source)
	}
	if h.PositionUnknown {
		b = append(b, `,"position_unknown":true`...)
	}
	if h.CMCDEvent != "" {
		b = append(b, `,"cmcd_e":`...)
		b = AppendJSONString(b, h.CMCDEvent)
	}
	if h.CMCDState != "" {
		b = append(b, `,"cmcd_sta":`...)
		b = AppendJSONString(b, h.CMCDState)
	}
	if h.StarvationMS != 0 {
		b = append(b, `,"cmcd_bsd":`...)
		b = strconv.AppendInt(b, h.StarvationMS, 10)
	}
	if h.Country != "" {
		b = append(b, `,"country":`...)
		b = AppendJSONString(b, h.Country)
	}
	if h.ASN != 0 {
		b = append(b, `,"asn":`...)
		b = strconv.AppendUint(b, uint64(h.ASN), 10)
	}
	if h.DeviceType != "" {
		b = append(b, `,"device_type":`...)
		b = AppendJSONString(b, h.DeviceType)
	}
	if !h.LeaseExpiresAt.IsZero() {
		b = append(b, `,"lease_expires_at":`...)
		if b, err = appendTime(b, h.LeaseExpiresAt); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// QoEFigure is one counted figure of a heartbeat's QoE under its JSON
// name.
type QoEFigure struct {
	Name  string
	Value int64
}

// QoEFigures are q's counted figures under their JSON names, in the
// message's order: the one list the encoder writes and the heartbeat's
// refusal of a negative figure names.
func QoEFigures(q *playback.QoE) [8]QoEFigure {
	return [8]QoEFigure{
		{"br", int64(q.BitrateKbps)}, {"bl", int64(q.BufferMS)}, {"mtp", int64(q.ThroughputKbps)},
		{"startup_ms", int64(q.StartupMS)}, {"rebuffer_count", int64(q.RebufferCount)}, {"rebuffer_ms", q.RebufferMS},
		{"played_ms", q.PlayedMS}, {"df", int64(q.DroppedFrames)},
	}
}

func appendQoE(b []byte, q *playback.QoE) []byte {
	b = append(b, '{')
	first := true
	sep := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	for _, f := range QoEFigures(q) {
		if f.Value != 0 {
			sep(f.Name)
			b = strconv.AppendInt(b, f.Value, 10)
		}
	}
	if q.CDN != "" {
		sep("cdn")
		b = AppendJSONString(b, q.CDN)
	}
	if q.EdgeID != "" {
		sep("edge")
		b = AppendJSONString(b, q.EdgeID)
	}
	if q.Continued {
		sep("continued")
		b = append(b, "true"...)
	}
	if q.View != "" {
		sep("view")
		b = AppendJSONString(b, q.View)
	}
	return append(b, '}')
}

// AppendJSONString appends s quoted exactly as encoding/json would: ids
// the fast way, and everything json.Marshal would escape (quotes, controls,
// <>&, non-ASCII) through json.Marshal.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s) // a string always marshals
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.Truncate(MessageTimeUnit).AppendText(b)
	if err != nil {
		return b, fmt.Errorf("events.Heartbeat.AppendJSON: %w", err)
	}
	return append(b, '"'), nil
}

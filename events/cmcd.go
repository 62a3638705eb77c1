package events

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/playplane/playplane/shared/playback"
)

// CMCD v2 (CTA-5004-B) event mode: a player reports to a collector URL on
// play-state changes, on a timer and on errors, each report a Structured
// Field dictionary (RFC 8941) of CMCD keys. Players send them as
//
//   - a POST body of Content-Type application/cmcd (text/cmcd is
//     accepted too): one report per line, several when they batch (Shaka
//     Player and dash.js both send this, through the same CML reporter);
//   - the query parameter CMCD=<dictionary> (the query transmission mode),
//     GET or POST;
//   - a JSON body (application/json): one report object, or an array of
//     them, key → value, inner lists as arrays.
//
// Only the keys the collector maps are kept (CMCDReport); every other key is
// ignored once its syntax is checked, as CTA-5004-B requires of receivers,
// so players that send more keys, or custom ones ("com.example-x"), are
// accepted. A mapped key whose value has the wrong type or range refuses the
// whole request with the reason cmcd_<key>_invalid, and writes nothing.

// CMCD event types (key e) and player states (key sta) the collector maps.
const (
	CMCDEventPlayState    = "ps"
	CMCDEventError        = "e"
	CMCDEventTimeInterval = "t"

	CMCDStateStarting    = "s"
	CMCDStatePlaying     = "p"
	CMCDStateSeeking     = "k"
	CMCDStateRebuffering = "r"
	CMCDStatePaused      = "a"
	CMCDStateWaiting     = "w"
	CMCDStateEnded       = "e"
	CMCDStateFatalError  = "f"
	CMCDStateQuit        = "q"
	CMCDStatePreloading  = "d"
)

// MaxCMCDReports bounds the reports of one request. Players send batchSize
// of them (1 unless configured), but the CML reporter that dash.js 5.2,
// Shaka Player 5.2 and hls.js 1.7 bundle keeps every report it could not
// send (a network failure, 429 or a 5xx puts the batch back in its queue,
// which has no bound) and, when the player is torn down or loads another
// source, POSTs its whole queue in one request and forgets it, whatever
// the answer. After an outage that is every report since it began. Reports
// still count while the session does: a lease plus the stop grace after
// the last one that got through (heartbeat.Config, 2.5 min by default).
// At one report a second (the time interval TestBrowserCMCDEventMode sets;
// CML's default is 30 s) that is 150, and play-state changes and errors
// come on top: 256.
// A larger request is refused whole rather than cut: the consumer would
// count the gap over the reports left out as play.
const MaxCMCDReports = 256

// MaxCMCDBodyBytes bounds a CMCD request body: MaxCMCDReports reports of
// 512 bytes. A dash.js report with every key it sends is ~330 bytes.
const MaxCMCDBodyBytes = MaxCMCDReports * 512

// ReasonCMCDMalformed is a report that is not a Structured Field
// dictionary at all; a mapped key with a bad value is cmcd_<key>_invalid.
const ReasonCMCDMalformed = "cmcd_malformed"

// CMCDReport is what the collector takes from one event-mode report.
type CMCDReport struct {
	Event string // e: ps, e, t, rr, ...
	State string // sta
	// TS is the report's time (ts, ms since the Unix epoch, the player's
	// clock); it is the device time that orders reports.
	TS int64
	// PlayheadMS is pt; HasPlayhead says it was sent.
	PlayheadMS  int64
	HasPlayhead bool
	// BitrateKbps is br (the video item of an inner list when tagged ;v,
	// else its first), ThroughputKbps mtp, BufferMS bl.
	BitrateKbps    int
	ThroughputKbps int
	BufferMS       int
	// StarvationMS is bsd, the buffer starvation the report tells of.
	StarvationMS int64
	// StartupMS is msd, the measured start delay.
	StartupMS  int
	CDN        string
	SessionID  string // sid: the player's playback session id; a session id's form other than the request's session names the play (QoE.View)
	ContentID  string // cid
	Version    int    // v
	ErrorCodes int    // how many ec codes the report carries
}

// DecodeCMCDText decodes an application/cmcd body: one dictionary per
// non-empty line. It appends to dst and returns it.
func DecodeCMCDText(dst []CMCDReport, data []byte) ([]CMCDReport, error) {
	for start := 0; start < len(data); {
		end := start
		for end < len(data) && data[end] != '\n' {
			end++
		}
		line := data[start:end]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		start = end + 1
		if len(trimSP(line)) == 0 {
			continue
		}
		if len(dst) >= MaxCMCDReports {
			return dst, playback.Errorf(playback.CodeInvalid, "cmcd_too_many_reports", "at most %d reports per request", MaxCMCDReports)
		}
		var r CMCDReport
		if err := decodeCMCDDict(&r, line); err != nil {
			return dst, err
		}
		dst = append(dst, r)
	}
	return dst, nil
}

// DecodeCMCDQuery decodes the value of a CMCD= query parameter (already
// percent-decoded).
func DecodeCMCDQuery(value string) (CMCDReport, error) {
	var r CMCDReport
	err := decodeCMCDDict(&r, []byte(value))
	return r, err
}

func trimSP(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// sfKind is the type of a Structured Field bare item.
type sfKind uint8

const (
	sfInteger sfKind = iota + 1
	sfDecimal
	sfString
	sfToken
	sfBoolean
	sfBytes
	sfList // an inner list; num is its chosen number, count its length
)

// sfItem is a parsed member value. Strings and tokens point into the
// input (raw, still escaped when escaped is set); numbers are parsed.
type sfItem struct {
	kind    sfKind
	i       int64
	f       float64
	s       []byte
	escaped bool
	b       bool
	// For inner lists: the number picked for the QoE (the item tagged ;v,
	// else the first numeric one), whether there was one, whether every
	// item was numeric, and how many string items there were.
	hasNum  bool
	allNum  bool
	strings int
}

type sfParser struct {
	data []byte
	pos  int
}

func malformedCMCD(format string, args ...any) error {
	return playback.Errorf(playback.CodeInvalid, ReasonCMCDMalformed, "CMCD report: "+format, args...)
}

// decodeCMCDDict parses one dictionary (RFC 8941 §4.2.2) and maps its
// keys into r.
func decodeCMCDDict(r *CMCDReport, data []byte) error {
	p := sfParser{data: data}
	p.ows()
	if p.pos == len(p.data) {
		return malformedCMCD("empty report")
	}
	for p.pos < len(p.data) {
		key, err := p.key()
		if err != nil {
			return err
		}
		if !mappedCMCDKey(key) {
			// Ignored, as the spec asks of unknown keys, once parsed.
			if err := p.skipMember(); err != nil {
				return err
			}
		} else if err := p.member(r, key); err != nil {
			return err
		}
		p.ows()
		if p.pos == len(p.data) {
			return nil
		}
		if p.data[p.pos] != ',' {
			return malformedCMCD("expected ',' at byte %d", p.pos)
		}
		p.pos++
		p.ows()
		if p.pos == len(p.data) {
			return malformedCMCD("trailing ','")
		}
	}
	return nil
}

// mappedCMCDKey reports whether CMCDReport.set uses key.
func mappedCMCDKey(key []byte) bool {
	switch string(key) {
	case "e", "sta", "ts", "pt", "br", "mtp", "bl", "bsd", "msd", "cdn", "sid", "cid", "v", "ec":
		return true
	}
	return false
}

// skipMember parses the value and parameters of a member whose key is not
// mapped, and keeps nothing of them: an unknown key is ignored, but a
// report that is not a dictionary is malformed whatever key holds the
// fault.
func (p *sfParser) skipMember() error {
	var it sfItem
	return p.value(&it)
}

// member parses the value and parameters of a mapped key into r.
func (p *sfParser) member(r *CMCDReport, key []byte) error {
	var it sfItem
	if err := p.value(&it); err != nil {
		return err
	}
	return r.set(key, &it)
}

// value parses a member's value (an item or an inner list; true when the
// key stands alone) and its parameters into it.
func (p *sfParser) value(it *sfItem) error {
	var err error
	if p.pos < len(p.data) && p.data[p.pos] == '=' {
		p.pos++
		if p.pos < len(p.data) && p.data[p.pos] == '(' {
			err = p.innerList(it)
		} else {
			err = p.bareItem(it)
		}
		if err != nil {
			return err
		}
	} else {
		*it = sfItem{kind: sfBoolean, b: true}
	}
	_, err = p.params()
	return err
}

func (p *sfParser) ows() {
	for p.pos < len(p.data) && (p.data[p.pos] == ' ' || p.data[p.pos] == '\t') {
		p.pos++
	}
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// key is an RFC 8941 key: lcalpha or '*', then lcalpha, digits, _-.*
func (p *sfParser) key() ([]byte, error) {
	start := p.pos
	if p.pos >= len(p.data) || !(isLCAlpha(p.data[p.pos]) || p.data[p.pos] == '*') {
		return nil, malformedCMCD("expected a key at byte %d", p.pos)
	}
	p.pos++
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if !(isLCAlpha(c) || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.pos++
	}
	return p.data[start:p.pos], nil
}

// params parses ;key[=bare-item]... and reports whether a parameter named
// v (CMCD's video object type tag) was among them.
func (p *sfParser) params() (video bool, err error) {
	for p.pos < len(p.data) && p.data[p.pos] == ';' {
		p.pos++
		for p.pos < len(p.data) && p.data[p.pos] == ' ' {
			p.pos++
		}
		k, err := p.key()
		if err != nil {
			return false, err
		}
		if p.pos < len(p.data) && p.data[p.pos] == '=' {
			p.pos++
			var it sfItem
			if err := p.bareItem(&it); err != nil {
				return false, err
			}
		}
		if string(k) == "v" {
			video = true
		}
	}
	return video, nil
}

func (p *sfParser) innerList(it *sfItem) error {
	p.pos++ // (
	it.kind, it.allNum = sfList, true
	picked := false
	for {
		for p.pos < len(p.data) && p.data[p.pos] == ' ' {
			p.pos++
		}
		if p.pos >= len(p.data) {
			return malformedCMCD("unterminated inner list")
		}
		if p.data[p.pos] == ')' {
			p.pos++
			return nil
		}
		var m sfItem
		if err := p.bareItem(&m); err != nil {
			return err
		}
		video, err := p.params()
		if err != nil {
			return err
		}
		switch m.kind {
		case sfInteger, sfDecimal:
			v := m.f
			if m.kind == sfInteger {
				v = float64(m.i)
			}
			if !it.hasNum || video && !picked {
				it.f, it.hasNum, picked = v, true, video
			}
		case sfString:
			it.strings++
			it.allNum = false
		default:
			it.allNum = false
		}
		if p.pos < len(p.data) && p.data[p.pos] != ' ' && p.data[p.pos] != ')' {
			return malformedCMCD("expected ' ' or ')' at byte %d", p.pos)
		}
	}
}

func (p *sfParser) bareItem(it *sfItem) error {
	if p.pos >= len(p.data) {
		return malformedCMCD("expected a value at the end")
	}
	switch c := p.data[p.pos]; {
	case c == '-' || isDigit(c):
		return p.number(it)
	case c == '"':
		return p.sfString(it)
	case c == '?':
		if p.pos+1 < len(p.data) && (p.data[p.pos+1] == '0' || p.data[p.pos+1] == '1') {
			it.kind, it.b = sfBoolean, p.data[p.pos+1] == '1'
			p.pos += 2
			return nil
		}
		return malformedCMCD("invalid boolean at byte %d", p.pos)
	case c == ':':
		start := p.pos + 1
		for p.pos = start; p.pos < len(p.data) && p.data[p.pos] != ':'; p.pos++ {
			if c := p.data[p.pos]; !(isAlpha(c) || isDigit(c) || c == '+' || c == '/' || c == '=') {
				return malformedCMCD("invalid byte sequence at byte %d", p.pos)
			}
		}
		if p.pos >= len(p.data) {
			return malformedCMCD("unterminated byte sequence")
		}
		it.kind, it.s = sfBytes, p.data[start:p.pos]
		p.pos++
		return nil
	case isAlpha(c) || c == '*':
		start := p.pos
		for p.pos++; p.pos < len(p.data) && isTokenChar(p.data[p.pos]); p.pos++ {
		}
		it.kind, it.s = sfToken, p.data[start:p.pos]
		return nil
	}
	return malformedCMCD("invalid value at byte %d", p.pos)
}

// isTokenChar is tchar (RFC 9110) plus ':' and '/'.
func isTokenChar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~', ':', '/':
		return true
	}
	return false
}

// number is an RFC 8941 integer (at most 15 digits) or decimal (at most
// 12 integer and 3 fraction digits).
func (p *sfParser) number(it *sfItem) error {
	start := p.pos
	neg := p.data[p.pos] == '-'
	if neg {
		p.pos++
	}
	digits := p.pos
	var v int64
	for p.pos < len(p.data) && isDigit(p.data[p.pos]) {
		v = v*10 + int64(p.data[p.pos]-'0')
		p.pos++
		if p.pos-digits > 15 {
			return malformedCMCD("integer too long at byte %d", start)
		}
	}
	if p.pos == digits {
		return malformedCMCD("invalid number at byte %d", start)
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		if p.pos-digits > 12 {
			return malformedCMCD("decimal too long at byte %d", start)
		}
		p.pos++
		frac := p.pos
		for p.pos < len(p.data) && isDigit(p.data[p.pos]) {
			p.pos++
		}
		if n := p.pos - frac; n == 0 || n > 3 {
			return malformedCMCD("invalid decimal at byte %d", start)
		}
		f, err := strconv.ParseFloat(string(p.data[start:p.pos]), 64)
		if err != nil {
			return malformedCMCD("invalid decimal at byte %d", start)
		}
		it.kind, it.f = sfDecimal, f
		return nil
	}
	if neg {
		v = -v
	}
	it.kind, it.i = sfInteger, v
	return nil
}

func (p *sfParser) sfString(it *sfItem) error {
	p.pos++
	start := p.pos
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '\\':
			if p.pos+1 >= len(p.data) || p.data[p.pos+1] != '"' && p.data[p.pos+1] != '\\' {
				return malformedCMCD("invalid escape at byte %d", p.pos)
			}
			it.escaped = true
			p.pos += 2
			continue
		case c == '"':
			it.kind, it.s = sfString, p.data[start:p.pos]
			p.pos++
			return nil
		case c < 0x20 || c > 0x7e:
			return malformedCMCD("string with a byte outside printable ASCII at byte %d", p.pos)
		}
		p.pos++
	}
	return malformedCMCD("unterminated string")
}

func (it *sfItem) str() string {
	if !it.escaped {
		return string(it.s)
	}
	b := make([]byte, 0, len(it.s))
	for i := 0; i < len(it.s); i++ {
		if it.s[i] == '\\' {
			i++
		}
		b = append(b, it.s[i])
	}
	return string(b)
}

// number is the item as a number: an integer, a decimal, or an inner
// list's picked number (CMCD v2 sends br, bl, mtp, bsd as inner lists, v1
// as plain numbers).
func (it *sfItem) number() (float64, bool) {
	switch it.kind {
	case sfInteger:
		return float64(it.i), true
	case sfDecimal:
		return it.f, true
	case sfList:
		return it.f, it.hasNum && it.allNum
	}
	return 0, false
}

func invalidCMCDKey(key, want string) error {
	return playback.Errorf(playback.CodeInvalid, "cmcd_"+key+"_invalid", "CMCD key %s must be %s", key, want)
}

// maxCMCDKbps and maxCMCDMS bound the figures we keep to what fits an int
// everywhere and no player reports: 100 Gbit/s, and a week.
const (
	maxCMCDKbps = playback.MaxQoEThroughputKbps
	maxCMCDMS   = 7 * 24 * 3600 * 1000
)

// set maps one key. Keys the collector does not use are ignored.
func (r *CMCDReport) set(key []byte, it *sfItem) error {
	// Measures: a non-negative number, or an inner list of them.
	measure := func(name string, limit float64) (int64, error) {
		v, ok := it.number()
		if !ok || v < 0 || v > limit || math.IsNaN(v) {
			return 0, invalidCMCDKey(name, fmt.Sprintf("a number in [0, %.0f] or an inner list of them", limit))
		}
		return int64(math.Round(v)), nil
	}
	integer := func(name string, limit int64) (int64, error) {
		if it.kind != sfInteger || it.i < 0 || it.i > limit {
			return 0, invalidCMCDKey(name, fmt.Sprintf("an integer in [0, %d]", limit))
		}
		return it.i, nil
	}
	str := func(name string, max int) (string, error) {
		// At most 4 bytes a character: a JSON report's UTF-8, or a
		// Structured Field's escape of 2.
		if it.kind != sfString || len(it.s) > max*utf8.UTFMax {
			return "", invalidCMCDKey(name, fmt.Sprintf("a string of at most %d characters", max))
		}
		s := it.str()
		// Characters, as the document's maxLength (JSON Schema) counts
		// them in a JSON report; a Structured Field's are ASCII.
		if utf8.RuneCountInString(s) > max {
			return "", invalidCMCDKey(name, fmt.Sprintf("a string of at most %d characters", max))
		}
		return s, nil
	}
	var err error
	var v int64
	switch string(key) {
	case "e":
		if it.kind != sfToken {
			return invalidCMCDKey("e", "a token")
		}
		r.Event = string(it.s)
	case "sta":
		if it.kind != sfToken || len(it.s) != 1 {
			return invalidCMCDKey("sta", "one of the tokens s, p, k, r, a, w, e, f, q, d")
		}
		switch c := it.s[0]; c {
		case 's', 'p', 'k', 'r', 'a', 'w', 'e', 'f', 'q', 'd':
			r.State = cmcdStates[c-'a']
		default:
			return invalidCMCDKey("sta", "one of the tokens s, p, k, r, a, w, e, f, q, d")
		}
	case "ts":
		r.TS, err = integer("ts", math.MaxInt64/int64(1e6)) // fits time.UnixMilli
	case "pt":
		r.PlayheadMS, err = integer("pt", maxCMCDMS)
		r.HasPlayhead = err == nil
	case "br":
		v, err = measure("br", maxCMCDKbps)
		r.BitrateKbps = int(v)
	case "mtp":
		v, err = measure("mtp", maxCMCDKbps)
		r.ThroughputKbps = int(v)
	case "bl":
		v, err = measure("bl", maxCMCDMS)
		r.BufferMS = int(v)
	case "bsd":
		r.StarvationMS, err = measure("bsd", maxCMCDMS)
	case "msd":
		v, err = integer("msd", maxCMCDMS)
		r.StartupMS = int(v)
	case "cdn":
		r.CDN, err = str("cdn", 128)
	case "sid":
		r.SessionID, err = str("sid", 64)
	case "cid":
		r.ContentID, err = str("cid", 128)
	case "v":
		v, err = integer("v", 1000)
		r.Version = int(v)
	case "ec":
		if it.kind != sfList || it.strings == 0 {
			return invalidCMCDKey("ec", "an inner list of strings")
		}
		r.ErrorCodes = it.strings
	}
	return err
}

// cmcdStates interns the one-letter states, indexed by letter-'a'.
var cmcdStates = func() (t [26]string) {
	for c := byte('a'); c <= 'z'; c++ {
		t[c-'a'] = string([]byte{c})
	}
	return t
}()

// DecodeCMCDJSON decodes the JSON transmission form: one report object or
// an array of them, key → value (numbers, strings, booleans, arrays for
// inner lists; tokens are strings).
func DecodeCMCDJSON(dst []CMCDReport, data []byte) ([]CMCDReport, error) {
	var many []map[string]json.RawMessage
	if err := json.Unmarshal(data, &many); err != nil {
		var one map[string]json.RawMessage
		if err2 := json.Unmarshal(data, &one); err2 != nil || one == nil {
			return dst, playback.Errorf(playback.CodeInvalid, ReasonCMCDMalformed, "JSON CMCD body must be a report object or an array of them")
		}
		many = append(many, one)
	}
	if len(many) == 0 {
		return dst, playback.Errorf(playback.CodeInvalid, "cmcd_no_reports", "the body holds no CMCD report")
	}
	if len(dst)+len(many) > MaxCMCDReports {
		return dst, playback.Errorf(playback.CodeInvalid, "cmcd_too_many_reports", "at most %d reports per request", MaxCMCDReports)
	}
	for _, m := range many {
		var r CMCDReport
		for k, raw := range m {
			it, ok := jsonItem(raw)
			if !ok {
				// A value no Structured Field has (an object, null): refused
				// for mapped keys below through a kind they do not accept.
				it = sfItem{}
			}
			if k == "sta" || k == "e" {
				if it.kind == sfString {
					it.kind = sfToken
				}
			}
			if err := r.set([]byte(k), &it); err != nil {
				return dst, err
			}
		}
		dst = append(dst, r)
	}
	return dst, nil
}

// jsonItem converts a JSON value into the item its Structured Field form
// would parse to.
func jsonItem(raw json.RawMessage) (sfItem, bool) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return sfItem{}, false
	}
	switch x := v.(type) {
	case bool:
		return sfItem{kind: sfBoolean, b: x}, true
	case string:
		return sfItem{kind: sfString, s: []byte(x)}, true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return sfItem{kind: sfInteger, i: int64(x)}, true
		}
		return sfItem{kind: sfDecimal, f: x}, true
	case []any:
		it := sfItem{kind: sfList, allNum: true}
		for _, e := range x {
			switch n := e.(type) {
			case float64:
				if !it.hasNum {
					it.f, it.hasNum = n, true
				}
			case string:
				it.strings++
				it.allNum = false
			default:
				it.allNum = false
			}
		}
		return it, true
	}
	return sfItem{}, false
}

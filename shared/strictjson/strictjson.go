// Package strictjson refuses what encoding/json lets through in a JSON
// document: names that match a field only under its case folding, names
// given twice in one object, strings that are not valid UTF-8. The HTTP
// bodies (shared/httpx) and the catalogue files (shared/catalogfile) are
// held to it, so a document means the same whichever way it comes in.
package strictjson

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/playplane/playplane/shared/playback"
)

// Check refuses what encoding/json lets through in a document it has
// decoded into a value of type t: names that match a field only under its
// case folding ("TITLE_ID" for title_id), names that appear twice in one
// object (it keeps the last), strings that are not valid UTF-8 (it turns
// them into U+FFFD), raw or as unpaired \u surrogates, and null for a
// value that cannot hold it (a string, number, boolean or struct, which it
// leaves as if the member were absent; pointers, slices, maps, interfaces
// and types that decode themselves take null). data must be one valid
// JSON value. A null refused is wrong_type with details.pointer naming the
// member, as a client reads which member to fix.
func Check(data []byte, t reflect.Type) error {
	s := strictScanner{data: data}
	err := s.value(t, "")
	if errors.Is(err, errNull) {
		// Found again with the path kept, only on this refusal: the
		// common decoding keeps none.
		pointer, err := CheckAt(data, t)
		if pe, ok := err.(*playback.Error); ok {
			pe.Details = map[string]string{"pointer": pointer}
		}
		return err
	}
	return err
}

// errNull marks the refusal of a null (nullRefused), which Check gives a
// pointer.
var errNull = errors.New("strictjson: null for a value that cannot hold it")

// CheckAt is Check, also saying where a refusal is (pointer: the JSON
// Pointer of the name refused, or of the member whose string is), and
// not looking into the values at the JSON Pointers in skip: their own
// parsers have their own rules, or the caller ignores them (a member
// skipped may have a name t has no field for; named twice, it is still
// refused).
func CheckAt(data []byte, t reflect.Type, skip ...string) (pointer string, err error) {
	s := strictScanner{data: data, track: true}
	for _, p := range skip {
		toks := strings.Split(p, "/")[1:]
		for i, tok := range toks {
			toks[i] = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		}
		s.skip = append(s.skip, toks)
	}
	if err := s.value(t, ""); err != nil {
		return s.pointer(), err
	}
	return "", nil
}

type strictScanner struct {
	data []byte
	pos  int
	// track keeps segs, the path to the value being checked (CheckAt):
	// pushed and popped, made a string only for a refusal.
	track bool
	segs  []seg
	skip  [][]string // the pointers' reference tokens, unescaped
}

// seg is a member's name or an element's index.
type seg struct {
	name    []byte
	index   int
	element bool
}

func (s *strictScanner) pointer() string {
	var sb strings.Builder
	for _, g := range s.segs {
		sb.WriteByte('/')
		if g.element {
			sb.WriteString(strconv.Itoa(g.index))
			continue
		}
		sb.WriteString(strings.ReplaceAll(strings.ReplaceAll(string(g.name), "~", "~0"), "/", "~1"))
	}
	return sb.String()
}

// skipped reports whether the value at segs is one of skip's.
func (s *strictScanner) skipped() bool {
	for _, p := range s.skip {
		if len(p) != len(s.segs) {
			continue
		}
		same := true
		for i, g := range s.segs {
			tok := p[i]
			if (g.element && tok != strconv.Itoa(g.index)) || (!g.element && tok != string(g.name)) {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// pass moves pos past the value at pos, unchecked.
func (s *strictScanner) pass() {
	s.space()
	switch s.data[s.pos] {
	case '"':
		s.passString()
	case '{', '[':
		for depth := 0; ; {
			switch s.data[s.pos] {
			case '"':
				s.passString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.pos++
			if depth == 0 {
				return
			}
		}
	default:
		s.scalar()
	}
}

func (s *strictScanner) passString() {
	for s.pos++; s.data[s.pos] != '"'; s.pos++ {
		if s.data[s.pos] == '\\' {
			s.pos++
		}
	}
	s.pos++
}

// scalar moves pos past the number, true, false or null at pos.
func (s *strictScanner) scalar() {
	for s.pos < len(s.data) && !strings.ContainsRune(",]} \t\n\r", rune(s.data[s.pos])) {
		s.pos++
	}
}

func (s *strictScanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value checks the value at pos, decoded into t (nil: unknown, such as
// any or a type that decodes itself), reached at path.
func (s *strictScanner) value(t reflect.Type, path string) error {
	if s.skip != nil && s.skipped() {
		s.pass()
		return nil
	}
	declared := t
	t = target(t)
	s.space()
	switch s.data[s.pos] {
	case '{':
		return s.object(t, path)
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		s.pos++
		for i := 0; ; i++ {
			s.space()
			if s.data[s.pos] == ']' {
				s.pos++
				return nil
			}
			if i > 0 {
				s.pos++ // ','
			}
			if s.track {
				s.segs = append(s.segs, seg{index: i, element: true})
			}
			if err := s.value(elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
			if s.track {
				s.segs = s.segs[:len(s.segs)-1]
			}
		}
	case '"':
		_, err := s.str(path)
		return err
	case 'n':
		if !nullable(declared) {
			return nullRefused(declared, path)
		}
		s.scalar()
		return nil
	default: // number, true, false
		s.scalar()
		return nil
	}
}

// nullable reports whether encoding/json gives null a meaning in a value
// of type t (nil: unknown): a nil pointer, slice, map or interface, or
// whatever a type that decodes itself makes of it. Into anything else it
// decodes nothing, so null would read as the member left out.
func nullable(t reflect.Type) bool {
	if t == nil {
		return true
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return true
	}
	return t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler)
}

func nullRefused(t reflect.Type, path string) error {
	want := "an object"
	switch {
	case t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler):
		want = "a string" // encoding/json decodes it from a string alone
	case t.Kind() == reflect.String:
		want = "a string"
	case t.Kind() == reflect.Bool:
		want = "a boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		want = "a number"
	case t.Kind() == reflect.Array:
		want = "an array"
	}
	e := playback.Errorf(playback.CodeInvalid, playback.ReasonWrongType, "field %q must be %s, not null", path, want)
	e.Err = errNull
	return e
}

func (s *strictScanner) object(t reflect.Type, path string) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = jsonFields(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	// Names seen so far: a list while the object is small (no allocation
	// per name), a set beyond, so that a body of thousands of names is not
	// checked in quadratic time.
	var seenList [16][]byte
	seen := seenList[:0]
	var seenSet map[string]bool
	s.pos++
	for i := 0; ; i++ {
		s.space()
		if s.data[s.pos] == '}' {
			s.pos++
			return nil
		}
		if i > 0 {
			s.pos++ // ','
			s.space()
		}
		name, err := s.str(path)
		if err != nil {
			return err
		}
		if s.track {
			s.segs = append(s.segs, seg{name: name})
		}
		field := func() string {
			if path == "" {
				return string(name)
			}
			return path + "." + string(name)
		}
		dup := false
		switch {
		case seenSet != nil:
			dup = seenSet[string(name)]
			seenSet[string(name)] = true
		case len(seen) < cap(seen):
			for _, n := range seen {
				if string(n) == string(name) {
					dup = true
				}
			}
			seen = append(seen, name)
		default:
			seenSet = make(map[string]bool, 2*len(seen))
			for _, n := range seen {
				seenSet[string(n)] = true
			}
			dup = seenSet[string(name)]
			seenSet[string(name)] = true
		}
		if dup {
			return playback.Errorf(playback.CodeInvalid, playback.ReasonDuplicateField, "field %q appears twice", field())
		}
		vt := elem
		if fields != nil {
			ft, ok := fields[string(name)]
			if !ok && !(s.skip != nil && s.skipped()) {
				return playback.Errorf(playback.CodeInvalid, playback.ReasonUnknownField, "unknown field %q (field names are case-sensitive)", field())
			}
			vt = ft
		}
		s.space()
		s.pos++ // ':'
		var sub string
		if vt != nil || s.data[s.pos] == '{' || s.data[s.pos] == '[' {
			sub = field() // only containers and typed values report a path
		}
		if err := s.value(vt, sub); err != nil {
			return err
		}
		if s.track {
			s.segs = s.segs[:len(s.segs)-1]
		}
	}
}

// str reads the string literal at pos and returns its value, refusing
// invalid UTF-8 and unpaired surrogate escapes. Without escapes the value
// is the literal's bytes, not a copy.
func (s *strictScanner) str(path string) ([]byte, error) {
	start := s.pos
	s.pos++
	escaped := false
	for {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			lit := s.data[start:s.pos]
			if !escaped {
				return lit[1 : len(lit)-1], nil
			}
			var v string
			if err := json.Unmarshal(lit, &v); err != nil {
				return nil, playback.Errorf(playback.CodeInvalid, playback.ReasonMalformedJSON, "invalid string at byte %d", start)
			}
			return []byte(v), nil
		case c == '\\':
			escaped = true
			if s.data[s.pos+1] != 'u' {
				s.pos += 2
				continue
			}
			r := hex4(s.data[s.pos+2 : s.pos+6])
			s.pos += 6
			switch {
			case utf16.IsSurrogate(r) && r < 0xDC00 && s.pos+6 <= len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' &&
				utf16.DecodeRune(r, hex4(s.data[s.pos+2:s.pos+6])) != utf8.RuneError:
				s.pos += 6
			case utf16.IsSurrogate(r):
				return nil, invalidUTF8(path, start)
			}
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size <= 1 {
				return nil, invalidUTF8(path, start)
			}
			s.pos += size
		}
	}
}

func invalidUTF8(path string, at int) error {
	if path == "" {
		return playback.Errorf(playback.CodeInvalid, playback.ReasonInvalidUTF8, "string at byte %d is not valid UTF-8", at)
	}
	return playback.Errorf(playback.CodeInvalid, playback.ReasonInvalidUTF8, "string in %q is not valid UTF-8", path)
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// target is the type whose shape a JSON value fills: t without pointers,
// or nil when that is not known from t (interfaces, types that decode
// themselves).
func target(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
			t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Interface:
			return nil
		default:
			return t
		}
	}
	return nil
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields are the JSON names encoding/json decodes into struct t, with
// their types: exported fields by tag or name, and the fields of untagged
// embedded structs as their own.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	fields := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		if hidden(t, f) {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && f.Tag.Get("json") == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				continue // promoted: its fields are listed on their own
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	fieldCache.Store(t, fields)
	return fields
}

// hidden reports whether field f of t is reached through an embedded
// struct that encoding/json does not flatten (one with a JSON name).
func hidden(t reflect.Type, f reflect.StructField) bool {
	for i := range len(f.Index) - 1 {
		parent := t.FieldByIndex(f.Index[:i+1])
		if name, _, _ := strings.Cut(parent.Tag.Get("json"), ","); name != "" {
			return true
		}
	}
	return false
}

package catalogfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"math/big"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/playplane/playplane/shared/playback"
)

// The schema path's validator: catalogue.schema.json interpreted by our
// own code instead of the JSON Schema library, whose package init compiles
// every draft's meta-schema (24% of the admin Lambda's start CPU, 21,277
// allocations) wherever it is linked. The schema file stays the one source
// of truth: it is read and compiled on the first Parse, and a keyword,
// format or reference this validator does not implement fails that compile
// (so every Parse) instead of being ignored.
//
// Problems are the library's, leaf for leaf: the same keywords checked in
// the same order (type, enum and format each end a value's checks; then
// $ref, required, properties, additionalProperties, items, length,
// pattern, bounds, not, anyOf: when no branch holds, every branch's
// problems), the same instance pointers and the same English
// messages, through the same message printer. The one difference is
// order: the library walks an object's properties in Go map order (so an
// answer listing two problems of one line, or two unknown property names,
// varied between calls); here they are in sorted order.
// TestValidatorAgreesWithTheLibrary runs both over the fixtures, their
// mutations and the admin API's records.

// node is one compiled schema.
type node struct {
	types      jsonTypes // 0: any
	enum       []string
	format     func(string) error
	formatName string
	ref        *node
	required   []string
	properties map[string]*node
	noMore     bool // additionalProperties: false
	items      *node
	minLength  *int
	maxLength  *int
	pattern    *regexp.Regexp
	minimum    *big.Rat
	maximum    *big.Rat
	not        *node
	// anyOf's branches are only validated: dropReadOnly, dateTimes and
	// integers do not enter them, so none may hold a readOnly, date-time
	// or integer member (inAnyOf).
	anyOf []*node
	// readOnly: the member is the server's; a write ignores it
	// (dropReadOnly), as OpenAPI and JSON Schema mean the keyword.
	readOnly bool
	at       string // where in the schema, for its compile errors
}

// jsonTypes is a set of JSON types; the order of the constants is the
// order the library names them in a type error.
type jsonTypes uint8

const (
	typeNull jsonTypes = 1 << iota
	typeBoolean
	typeNumber
	typeInteger
	typeString
	typeArray
	typeObject
)

var typeNames = []string{"null", "boolean", "number", "integer", "string", "array", "object"}

func (t jsonTypes) names() []string {
	var out []string
	for i, n := range typeNames {
		if t&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// typeOf is the type of a value decodeJSON gives.
func typeOf(v any) jsonTypes {
	switch v.(type) {
	case nil:
		return typeNull
	case bool:
		return typeBoolean
	case json.Number:
		return typeNumber
	case string:
		return typeString
	case []any:
		return typeArray
	case map[string]any:
		return typeObject
	}
	return 0
}

var formats = map[string]func(string) error{"date-time": playback.CheckDateTime, "uri": validateURI}

// annotations are keywords that assert nothing; the root's $schema and
// $id are read by Parse's callers, not here.
func annotation(keyword, at string) bool {
	switch keyword {
	case "title", "description":
		return true
	case "$schema", "$id":
		return at == "#"
	}
	return false
}

const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// compileSchema reads schemaJSON, a 2020-12 schema whose references are
// all to its own $defs, into the validator's nodes.
func compileSchema(schemaJSON []byte) (*node, error) {
	root, err := decodeJSON(schemaJSON)
	if err != nil {
		return nil, err
	}
	obj, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the schema is %T, not an object", root)
	}
	// The dialect decides what the keywords mean (before 2019-09, $ref's
	// siblings were ignored): this validator is 2020-12's, as editors read
	// the file by its $schema.
	if d, ok := obj["$schema"]; ok && d != draft2020 {
		return nil, fmt.Errorf("$schema %v: only %s is implemented", d, draft2020)
	}
	c := &schemaCompiler{defs: map[string]*node{}, raw: map[string]any{}}
	if defs, ok := obj["$defs"]; ok {
		m, ok := defs.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$defs is %T, not an object", defs)
		}
		c.raw = m
	}
	rest := map[string]any{}
	for k, v := range obj {
		if k != "$defs" {
			rest[k] = v
		}
	}
	n, err := c.node(rest, "#")
	if err != nil {
		return nil, err
	}
	if err := inAnyOf(n); err != nil {
		return nil, err
	}
	return n, nil
}

type schemaCompiler struct {
	defs map[string]*node // compiled or being compiled
	raw  map[string]any
}

func (c *schemaCompiler) node(v any, at string) (*node, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: a schema is %T, not an object", at, v)
	}
	n := &node{at: at}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		val := obj[k]
		where := at + "/" + k
		var err error
		switch k {
		case "type":
			err = n.setTypes(val)
		case "enum":
			arr, ok := val.([]any)
			if !ok || len(arr) == 0 {
				return nil, fmt.Errorf("%s: not a non-empty array", where)
			}
			for _, e := range arr {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s: %v: only strings are implemented", where, e)
				}
				n.enum = append(n.enum, s)
			}
		case "format":
			name, _ := val.(string)
			if n.format = formats[name]; n.format == nil {
				return nil, fmt.Errorf("%s: format %v is not implemented", where, val)
			}
			n.formatName = name
		case "$ref":
			ref, _ := val.(string)
			name, ok := strings.CutPrefix(ref, "#/$defs/")
			if !ok || strings.ContainsAny(name, "/~%") {
				return nil, fmt.Errorf("%s: %v: only references to #/$defs/NAME are implemented", where, val)
			}
			if n.ref, err = c.def(name); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		case "required":
			arr, ok := val.([]any)
			if !ok {
				return nil, fmt.Errorf("%s: not an array", where)
			}
			for _, e := range arr {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s: %v is not a string", where, e)
				}
				n.required = append(n.required, s)
			}
		case "properties":
			m, ok := val.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: not an object", where)
			}
			n.properties = map[string]*node{}
			for name, sub := range m {
				if n.properties[name], err = c.node(sub, where+"/"+name); err != nil {
					return nil, err
				}
			}
		case "additionalProperties":
			b, ok := val.(bool)
			if !ok {
				return nil, fmt.Errorf("%s: only true and false are implemented", where)
			}
			n.noMore = !b
		case "items":
			n.items, err = c.node(val, where)
		case "not":
			n.not, err = c.node(val, where)
		case "anyOf":
			arr, ok := val.([]any)
			if !ok || len(arr) == 0 {
				return nil, fmt.Errorf("%s: not a non-empty array", where)
			}
			for i, sub := range arr {
				b, err := c.node(sub, where+"/"+strconv.Itoa(i))
				if err != nil {
					return nil, err
				}
				n.anyOf = append(n.anyOf, b)
			}
		case "minLength":
			n.minLength, err = count(val)
		case "maxLength":
			n.maxLength, err = count(val)
		case "pattern":
			s, ok := val.(string)
			if !ok {
				return nil, fmt.Errorf("%s: not a string", where)
			}
			n.pattern, err = regexp.Compile(s)
		case "minimum":
			n.minimum, err = rat(val)
		case "maximum":
			n.maximum, err = rat(val)
		case "readOnly":
			b, ok := val.(bool)
			if !ok {
				return nil, fmt.Errorf("%s: not a boolean", where)
			}
			n.readOnly = b
		default:
			if !annotation(k, at) {
				return nil, fmt.Errorf("%s: keyword not implemented by the catalogue validator", where)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	return n, nil
}

// def is the compiled $defs/name; a definition that refers to itself gets
// the node being compiled.
func (c *schemaCompiler) def(name string) (*node, error) {
	if n, ok := c.defs[name]; ok {
		return n, nil
	}
	raw, ok := c.raw[name]
	if !ok {
		return nil, fmt.Errorf("no definition %q", name)
	}
	n := &node{}
	c.defs[name] = n
	compiled, err := c.node(raw, "#/$defs/"+name)
	if err != nil {
		return nil, err
	}
	*n = *compiled
	return n, nil
}

func (n *node) setTypes(v any) error {
	var names []any
	switch v := v.(type) {
	case string:
		names = []any{v}
	case []any:
		names = v
	default:
		return fmt.Errorf("%v is not a type or a list of types", v)
	}
	for _, name := range names {
		i := slices.Index(typeNames, fmt.Sprint(name))
		if i < 0 {
			return fmt.Errorf("%v is not a type", name)
		}
		n.types |= 1 << i
	}
	return nil
}

func count(v any) (*int, error) {
	num, ok := v.(json.Number)
	if !ok {
		return nil, fmt.Errorf("%v is not a number", v)
	}
	i, err := strconv.Atoi(num.String())
	if err != nil || i < 0 {
		return nil, fmt.Errorf("%v is not a count", v)
	}
	return &i, nil
}

func rat(v any) (*big.Rat, error) {
	num, ok := v.(json.Number)
	if !ok {
		return nil, fmt.Errorf("%v is not a number", v)
	}
	d := decimalOf(num)
	if d.exact == nil {
		return nil, fmt.Errorf("%v: a bound of 1e%d or more, or under 1e-%d, is not implemented", v, maxExp, maxExp+1)
	}
	return d.exact, nil
}

// decodeJSON is the generic decode the schema validates (the library's
// UnmarshalJSON): numbers as json.Number, nothing after the value. Its
// errors are encoding/json's, which syntaxProblem places.
func decodeJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid character after top-level value")
	}
	return doc, nil
}

// problems validates v: every problem, with its pointer and message.
func (n *node) problems(v any) []Problem {
	var out []Problem
	n.validate(v, nil, &out)
	return out
}

func (n *node) validate(v any, loc []string, out *[]Problem) {
	add := func(format string, args ...any) {
		*out = append(*out, Problem{Pointer: "/" + strings.Join(escapeTokens(loc), "/"), Message: printer.Sprintf(format, args...)})
	}
	t := typeOf(v)
	if n.types != 0 && n.types&t == 0 && (n.types&typeInteger == 0 || t != typeNumber || !isInteger(v)) {
		add("got %s, want %s", t.names()[0], strings.Join(n.types.names(), " or "))
		return
	}
	if n.enum != nil {
		if s, ok := v.(string); !ok || !slices.Contains(n.enum, s) {
			if len(n.enum) == 1 {
				add("value must be %s", quote(n.enum[0]))
			} else {
				want := make([]string, len(n.enum))
				for i, e := range n.enum {
					want[i] = quote(e)
				}
				add("value must be one of %s", strings.Join(want, ", "))
			}
			return
		}
	}
	if s, ok := v.(string); ok && n.format != nil {
		if err := n.format(s); err != nil {
			add("%s is not valid %s: %v", quote(s), n.formatName, localized(err))
			return
		}
	}
	if n.ref != nil {
		n.ref.validate(v, loc, out)
	}
	switch v := v.(type) {
	case map[string]any:
		var missing []string
		for _, name := range n.required {
			if _, ok := v[name]; !ok {
				missing = append(missing, name)
			}
		}
		switch len(missing) {
		case 0:
		case 1:
			add("missing property %s", quote(missing[0]))
		default:
			add("missing properties %s", joinQuoted(missing))
		}
		var more []string
		for _, name := range slices.Sorted(maps.Keys(v)) {
			if sub, ok := n.properties[name]; ok {
				sub.validate(v[name], append(slices.Clip(loc), name), out)
			} else if n.noMore {
				more = append(more, name)
			}
		}
		if len(more) > 0 {
			add("additional properties %s not allowed", joinQuoted(more))
		}
	case []any:
		if n.items != nil {
			for i, item := range v {
				n.items.validate(item, append(slices.Clip(loc), strconv.Itoa(i)), out)
			}
		}
	case string:
		if n.minLength != nil || n.maxLength != nil {
			l := utf8.RuneCountInString(v)
			if n.minLength != nil && l < *n.minLength {
				add("minLength: got %d, want %d", l, *n.minLength)
			}
			if n.maxLength != nil && l > *n.maxLength {
				add("maxLength: got %d, want %d", l, *n.maxLength)
			}
		}
		if n.pattern != nil && !n.pattern.MatchString(v) {
			add("%s does not match pattern %s", quote(v), quote(n.pattern.String()))
		}
	case json.Number:
		if n.minimum != nil || n.maximum != nil {
			num := decimalOf(v)
			got := num.float64()
			if n.minimum != nil && num.cmp(n.minimum) < 0 {
				want, _ := n.minimum.Float64()
				add("minimum: got %v, want %v", got, want)
			}
			if n.maximum != nil && num.cmp(n.maximum) > 0 {
				want, _ := n.maximum.Float64()
				add("maximum: got %v, want %v", got, want)
			}
		}
	}
	if n.not != nil {
		var sub []Problem
		n.not.validate(v, loc, &sub)
		if len(sub) == 0 {
			add("'not' failed")
		}
	}
	if n.anyOf != nil {
		var failed []Problem
		for _, b := range n.anyOf {
			var sub []Problem
			if b.validate(v, loc, &sub); len(sub) == 0 {
				return
			}
			failed = append(failed, sub...)
		}
		*out = append(*out, failed...)
	}
}

// dropReadOnly removes from v, valid by n and found at loc, the object
// members whose schema is readOnly, adding their JSON pointers to out.
func (n *node) dropReadOnly(v any, loc []string, out *[]string) {
	if n.ref != nil {
		n.ref.dropReadOnly(v, loc, out)
	}
	switch v := v.(type) {
	case map[string]any:
		for _, name := range slices.Sorted(maps.Keys(n.properties)) {
			sub := n.properties[name]
			m, ok := v[name]
			switch {
			case !ok:
			case sub.readOnly:
				delete(v, name)
				*out = append(*out, "/"+strings.Join(escapeTokens(append(slices.Clip(loc), name)), "/"))
			default:
				sub.dropReadOnly(m, append(slices.Clip(loc), name), out)
			}
		}
	case []any:
		if n.items != nil {
			for i, item := range v {
				n.items.dropReadOnly(item, append(slices.Clip(loc), strconv.Itoa(i)), out)
			}
		}
	}
}

// dateTimes calls fn with each string of v, valid by n and found at loc,
// whose format is date-time (and whether its object requires it), and
// puts back the string fn answers.
func (n *node) dateTimes(v any, loc []string, fn func(s, pointer string, required bool) string) {
	n.leaves(v, loc, func(sub *node, val any) bool {
		_, ok := val.(string)
		return ok && sub.isDateTime()
	}, func(val any, pointer string, required bool) any { return fn(val.(string), pointer, required) })
}

// leaves calls fn with each value of v, valid by n and found at loc, that
// is takes with its schema (and whether its object requires it), and puts
// back the value fn answers.
func (n *node) leaves(v any, loc []string, is func(sub *node, val any) bool, fn func(val any, pointer string, required bool) any) {
	if n.ref != nil {
		n.ref.leaves(v, loc, is, fn)
	}
	at := func(tok string) []string { return append(slices.Clip(loc), tok) }
	switch v := v.(type) {
	case map[string]any:
		for _, name := range slices.Sorted(maps.Keys(n.properties)) {
			sub := n.properties[name]
			m, ok := v[name]
			if !ok {
				continue
			}
			if is(sub, m) {
				v[name] = fn(m, "/"+strings.Join(escapeTokens(at(name)), "/"), slices.Contains(n.required, name))
				continue
			}
			sub.leaves(m, at(name), is, fn)
		}
	case []any:
		if n.items == nil {
			return
		}
		for i, item := range v {
			if is(n.items, item) {
				v[i] = fn(item, "/"+strings.Join(escapeTokens(at(strconv.Itoa(i))), "/"), true)
				continue
			}
			n.items.leaves(item, at(strconv.Itoa(i)), is, fn)
		}
	}
}

func (n *node) isDateTime() bool {
	return n.formatName == "date-time" || n.ref != nil && n.ref.isDateTime()
}

// integers calls fn with each number of v, valid by n and found at loc,
// whose schema wants an integer (not any number), and puts back the number
// fn answers: the schema's integer is any number without a fraction (2.0,
// 1e1), which Go's decode into an int refuses.
func (n *node) integers(v any, loc []string, fn func(num json.Number, pointer string) json.Number) {
	n.leaves(v, loc, func(sub *node, val any) bool {
		_, ok := val.(json.Number)
		return ok && sub.wantsInteger()
	}, func(val any, pointer string, _ bool) any { return fn(val.(json.Number), pointer) })
}

// floats calls fn with each number of v, valid by n and found at loc,
// whose schema wants any number (Go's float64 here): the schema compares
// numbers exactly, so one beyond float64 passes a member with no maximum.
func (n *node) floats(v any, loc []string, fn func(num json.Number, pointer string)) {
	n.leaves(v, loc, func(sub *node, val any) bool {
		_, ok := val.(json.Number)
		return ok && sub.wantsFloat()
	}, func(val any, pointer string, _ bool) any { fn(val.(json.Number), pointer); return val })
}

func (n *node) wantsFloat() bool {
	return n.types&typeNumber != 0 || n.ref != nil && n.ref.wantsFloat()
}

func (n *node) wantsInteger() bool {
	return n.types&(typeInteger|typeNumber) == typeInteger || n.ref != nil && n.ref.wantsInteger()
}

// inAnyOf refuses a schema with a member inside an anyOf branch that
// dropReadOnly, dateTimes or integers would have to change: they do not
// enter anyOf, whose branches are only validated.
func inAnyOf(root *node) error {
	var err error
	walk(root, map[*node]bool{}, func(n *node) bool {
		for i, b := range n.anyOf {
			walk(b, map[*node]bool{}, func(m *node) bool {
				what := ""
				switch {
				case m.readOnly:
					what = "readOnly"
				case m.formatName == "date-time":
					what = "a date-time"
				case m.types&(typeInteger|typeNumber) == typeInteger:
					what = "an integer"
				default:
					return true
				}
				err = fmt.Errorf("%s/anyOf/%d: %s is %s: a write reads none inside anyOf", n.at, i, m.at, what)
				return false
			})
			if err != nil {
				return false
			}
		}
		return true
	})
	return err
}

// walk calls fn with n and every schema below it, each once, until fn
// answers false.
func walk(n *node, seen map[*node]bool, fn func(*node) bool) bool {
	if n == nil || seen[n] {
		return true
	}
	seen[n] = true
	if !fn(n) {
		return false
	}
	subs := []*node{n.ref, n.items, n.not}
	for _, name := range slices.Sorted(maps.Keys(n.properties)) {
		subs = append(subs, n.properties[name])
	}
	for _, s := range append(subs, n.anyOf...) {
		if !walk(s, seen, fn) {
			return false
		}
	}
	return true
}

func isInteger(v any) bool {
	num, ok := v.(json.Number)
	return ok && decimalOf(num).isInt()
}

// decimal is a JSON number as sign × 0.digits × 10^exp, digits without
// leading or trailing zeros (none for zero). Numbers whose exp is within
// ±maxExp are compared exactly, as big.Rat values (the library's way);
// beyond it, a number is nearer to zero or farther from it than any bound
// the schema may hold (rat refuses others), so its sign and exp decide.
// big.Rat alone would build 10^exp: ~50 ms and megabytes for 1e999999, a
// number an admin body of a few hundred bytes can hold many of, and no
// value at all beyond 1e1000000 (a nil *big.Rat, which the library
// dereferenced: a panic, so a 500 for a bad request).
type decimal struct {
	neg    bool
	digits string
	exp    int
	exact  *big.Rat // when |exp| <= maxExp
}

const maxExp = 1000

func decimalOf(num json.Number) decimal {
	s := num.String()
	var d decimal
	s, d.neg = strings.CutPrefix(s, "-")
	mant, expPart, _ := strings.Cut(strings.ToLower(s), "e")
	whole, frac, _ := strings.Cut(mant, ".")
	e := 0
	if expPart != "" {
		// A JSON exponent is an optional sign and digits; one past
		// int32 saturates, far beyond maxExp either way.
		neg := strings.HasPrefix(expPart, "-")
		expDigits := strings.TrimLeft(strings.TrimLeft(expPart, "+-"), "0")
		switch {
		case len(expDigits) > 9:
			e = 1 << 30
		case expDigits != "":
			e, _ = strconv.Atoi(expDigits)
		}
		if neg {
			e = -e
		}
	}
	all := whole + frac
	trimmed := strings.TrimLeft(all, "0")
	d.exp = e + len(whole) - (len(all) - len(trimmed))
	d.digits = strings.TrimRight(trimmed, "0")
	if d.digits == "" {
		// Zero, whatever its exponent: big.Rat refuses an exponent beyond
		// int64 even on a zero.
		d.exp, d.exact = 0, new(big.Rat)
		return d
	}
	if -maxExp <= d.exp && d.exp <= maxExp {
		d.exact, _ = new(big.Rat).SetString(num.String())
	}
	return d
}

func (d decimal) isInt() bool {
	if d.exact != nil {
		return d.exact.IsInt()
	}
	return d.exp >= len(d.digits)
}

// cmp is -1, 0 or +1 as d is below, equal to or above b, a bound rat
// allows.
func (d decimal) cmp(b *big.Rat) int {
	if d.exact != nil {
		return d.exact.Cmp(b)
	}
	sign := 1
	if d.neg {
		sign = -1
	}
	if d.exp > 0 || b.Sign() == 0 {
		return sign // beyond every bound, or nearer to zero than any but zero
	}
	return -b.Sign()
}

func (d decimal) float64() float64 {
	if d.exact != nil {
		f, _ := d.exact.Float64()
		return f
	}
	f := 0.0
	if d.exp > 0 {
		f = math.Inf(1)
	}
	if d.neg {
		f = -f
	}
	return f
}

// quote is the library's single-quoted string.
func quote(s string) string {
	s = strconv.Quote(s)
	s = strings.ReplaceAll(s, `\"`, `"`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return "'" + s[1:len(s)-1] + "'"
}

func joinQuoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}

// formatError is a format's reason, printed as the library prints it.
type formatError struct {
	format string
	args   []any
}

func (e *formatError) Error() string { return fmt.Sprintf(e.format, e.args...) }

func reason(format string, args ...any) error { return &formatError{format, args} }

func localized(err error) string {
	if e, ok := err.(*formatError); ok {
		return printer.Sprintf(e.format, e.args...)
	}
	return err.Error()
}

// The formats below are the library's (santhosh-tekuri/jsonschema v6.0.3,
// format.go, Apache-2.0), with its reasons; date-time is
// playback.CheckDateTime, the one rule every date-time is read by.

// validateURI: an absolute URL that net/url parses, an IPv6 host in
// brackets.
func validateURI(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if host := u.Hostname(); strings.Contains(host, ":") {
		if !strings.Contains(u.Host, "[") || !strings.Contains(u.Host, "]") {
			return reason("ipv6 address not enclosed in brackets")
		}
		if err := validateIPv6(host); err != nil {
			return reason("invalid ipv6 address: %v", err)
		}
	}
	if !u.IsAbs() {
		return reason("relative url")
	}
	return nil
}

func validateIPv6(s string) error {
	if !strings.Contains(s, ":") {
		return reason("missing colon")
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return err
	}
	if addr.Zone() != "" {
		return reason("zone id is not a part of ipv6 address")
	}
	return nil
}

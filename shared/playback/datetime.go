package playback

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ReasonLeapSecond is the CodeInvalid reason of a request member declared
// format date-time that holds a leap second (Details {"pointer": the
// member's JSON Pointer}): RFC 3339 allows it, the schemas accept it, and
// time.Time cannot hold it.
const ReasonLeapSecond = "leap_second"

// ErrLeapSecond is what ParseDateTime's error for a leap second wraps.
var ErrLeapSecond = errors.New("a leap second")

// ParseDateTime reads s, a date-time as the schemas' format (RFC 3339's,
// OpenAPI's, JSON Schema's) accepts it, which Go's parser (and so the JSON
// decoding of time.Time) does not wholly: the lower-case t and z RFC 3339
// allows (section 5.6, NOTE) read as T and Z, and a leap second, which
// time.Time cannot hold, is an error wrapping ErrLeapSecond. Every reader
// of a date-time that someone else wrote reads it here: catalogue files
// and admin records, query parameters, heartbeats, edge reports.
func ParseDateTime(s string) (time.Time, error) {
	// s is kept by nothing but an error, which copies it: a caller's
	// string(bytes) then costs no allocation (a heartbeat reads one).
	if err := CheckDateTime(s); err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date-time: %w", strings.Clone(s), err)
	}
	// CheckDateTime placed the seconds.
	if s[17:19] == "60" {
		return time.Time{}, &leapSecondError{UpperDateTime(strings.Clone(s))}
	}
	// Go's strict RFC 3339 parser (time.Time's JSON and text decoding),
	// which reads what CheckDateTime passes once in upper case.
	var t time.Time
	if err := t.UnmarshalText([]byte(UpperDateTime(s))); err != nil {
		return time.Time{}, fmt.Errorf("playback.ParseDateTime: %w", err)
	}
	return t, nil
}

type leapSecondError struct{ s string }

func (e *leapSecondError) Error() string {
	return e.s + " is a leap second, which is not kept: write the second before or after it"
}

func (e *leapSecondError) Unwrap() error { return ErrLeapSecond }

// DateTimeMember is ParseDateTime of s, the string of the request body's
// member at pointer (a JSON Pointer) declared format date-time, refused as
// a request is: CodeInvalid, ReasonLeapSecond for a leap second and
// ReasonWrongType for what is no date-time, with Details {"pointer":
// pointer}.
func DateTimeMember(pointer, s string) (time.Time, error) {
	t, err := ParseDateTime(s)
	if err != nil {
		name := pointer[strings.LastIndexByte(pointer, '/')+1:]
		e := Errorf(CodeInvalid, ReasonWrongType, "field %q must be an RFC 3339 timestamp string: %v", name, err)
		if errors.Is(err, ErrLeapSecond) {
			e = Errorf(CodeInvalid, ReasonLeapSecond, "field %q: %v", name, err)
		}
		e.Details = map[string]string{"pointer": pointer}
		return time.Time{}, e
	}
	return t, nil
}

// UpperDateTime is s, a date-time CheckDateTime accepts, with its T and Z
// upper-case, as Go's parser (and JSON decoding of time.Time) wants them.
func UpperDateTime(s string) string {
	if s[10] != 't' && s[len(s)-1] != 'z' {
		return s
	}
	b := []byte(s)
	b[10] = 'T'
	if b[len(b)-1] == 'z' {
		b[len(b)-1] = 'Z'
	}
	return string(b)
}

// The checks below are the JSON Schema library's date-time format
// (santhosh-tekuri/jsonschema v6.0.3, format.go, Apache-2.0), with its
// reasons: catalogfile's validator checks the format with them and is held
// to the library by TestValidatorAgreesWithTheLibrary.

// CheckDateTime refuses s unless it is an RFC 3339 date-time.
func CheckDateTime(s string) error {
	if len(s) < 20 {
		return errors.New("less than 20 characters long")
	}
	if s[10] != 't' && s[10] != 'T' {
		return errors.New("11th character must be t or T")
	}
	if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
		return fmt.Errorf("invalid date element: %v", err)
	}
	if err := checkTime(s[11:]); err != nil {
		return fmt.Errorf("invalid time element: %v", err)
	}
	return nil
}

// checkTime: RFC 3339 full-time, leap seconds at 23:59 UTC only.
func checkTime(str string) error {
	if len(str) < 9 {
		return errors.New("less than 9 characters long")
	}
	if str[2] != ':' || str[5] != ':' {
		return errors.New("missing colon in correct place")
	}
	// The library splits str[:8] at its colons, placed above: these are
	// its three parts, without the allocations (a heartbeat reads one).
	var hms [3]int
	for i, tok := range [3]string{str[:2], str[3:5], str[6:8]} {
		n, err := strconv.Atoi(tok)
		if err != nil {
			return errors.New("invalid hour/min/sec")
		}
		if n < 0 {
			return errors.New("non-positive hour/min/sec")
		}
		hms[i] = n
	}
	h, m, s := hms[0], hms[1], hms[2]
	if h > 23 || m > 59 || s > 60 {
		return errors.New("hour/min/sec out of range")
	}
	str = str[8:]
	if rem, ok := strings.CutPrefix(str, "."); ok {
		digits := 0
		for _, ch := range rem {
			if ch < '0' || ch > '9' {
				break
			}
			digits++
		}
		if digits == 0 {
			return errors.New("no digits in second fraction")
		}
		str = rem[digits:]
	}
	if str != "z" && str != "Z" {
		if len(str) != 6 {
			return errors.New("offset must be 6 characters long")
		}
		var sign int
		switch str[0] {
		case '+':
			sign = -1
		case '-':
			sign = +1
		default:
			return errors.New("offset must begin with plus/minus")
		}
		str = str[1:]
		if str[2] != ':' {
			return errors.New("missing colon in offset in correct place")
		}
		var zhm [2]int
		for i, tok := range [2]string{str[:2], str[3:]} {
			n, err := strconv.Atoi(tok)
			if err != nil {
				return errors.New("invalid hour/min in offset")
			}
			if n < 0 {
				return errors.New("non-positive hour/min in offset")
			}
			zhm[i] = n
		}
		zh, zm := zhm[0], zhm[1]
		if zh > 23 || zm > 59 {
			return errors.New("hour/min in offset out of range")
		}
		hm := (h*60 + m) + sign*(zh*60+zm)
		if hm < 0 {
			hm += 24 * 60
		}
		h, m = hm/60, hm%60
	}
	if s >= 60 && (h != 23 || m != 59) {
		return errors.New("invalid leap second")
	}
	return nil
}

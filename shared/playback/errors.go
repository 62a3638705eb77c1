// Package playback is the domain of the playback control plane: the types every
// function and adapter share, the ports adapters implement, and the error codes
// that reach clients.
package playback

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Code is a machine-readable error class. Clients branch on it; the
// transports map it to their own statuses (HTTP: httpx.Status).
type Code string

const (
	CodeInvalid         Code = "invalid"
	CodeUnauthenticated Code = "unauthenticated"
	CodeForbidden       Code = "forbidden"
	CodeNotFound        Code = "not_found"
	CodeConflict        Code = "conflict"
	// CodePrecondition: a conditional write (If-Match) named a version the
	// record no longer has; nothing was written.
	CodePrecondition Code = "precondition_failed"
	CodeGone         Code = "gone"
	CodeTooLarge     Code = "too_large"
	// CodeUnprocessable: well-formed input that breaks the rules of what
	// it describes (a record's fields, a coverage zone file); Details list
	// each problem and nothing was written.
	CodeUnprocessable Code = "unprocessable"
	// CodeMethodNotAllowed: the path exists for other methods (Allow lists
	// them). CodeUnsupportedMediaType: the body is declared as something
	// other than what the route takes (application/json).
	CodeMethodNotAllowed     Code = "method_not_allowed"
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	CodeUnavailable          Code = "unavailable"
	CodeInternal             Code = "internal"
)

// Retryable reports whether the same request may succeed later. Only these
// errors become 5xx answers or bus redeliveries.
func (c Code) Retryable() bool { return c == CodeUnavailable || c == CodeInternal }

// Error is the typed error of the domain. Reason narrows Code to the rule that
// failed ("subscription_inactive", "stream_limit", ...), so clients can tell
// apart two 403s without parsing Message.
type Error struct {
	Code       Code
	Reason     string
	Message    string
	Details    any           // extra machine-readable payload, e.g. conflicting sessions
	RetryAfter time.Duration // hint for unavailable errors; NoRetry when none helps
	Err        error         // cause, never shown to clients
}

// NoRetry is the RetryAfter of a retryable-coded error that the same
// request meets again on every try until an operator acts (a stored
// manifest the catalogue got wrong, an answer too large for the
// transport): the answer offers no retry, though its code stays
// CodeInternal, a fault of ours.
const NoRetry time.Duration = -1

func (e *Error) Error() string {
	msg := string(e.Code)
	if e.Reason != "" {
		msg += "/" + e.Reason
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Unavailable wraps a dependency failure that a retry can cure.
func Unavailable(err error, format string, args ...any) *Error {
	return &Error{Code: CodeUnavailable, Reason: "dependency_unavailable", Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode extracts the code of err. Errors that are not *Error are internal,
// except context deadlines and cancellations, which a retry may cure.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return CodeUnavailable
	}
	return CodeInternal
}

// AsError returns err as *Error, classifying foreign errors with ErrorCode.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: ErrorCode(err), Err: err}
}

// IsCode reports whether err carries code c.
func IsCode(err error, c Code) bool { return err != nil && ErrorCode(err) == c }

// NotFound is the error adapters return for a missing record.
func NotFound(kind, id string) *Error {
	return Errorf(CodeNotFound, kind+"_not_found", "%s %q not found", kind, id)
}

// Reasons of the CodeInvalid errors for request bodies that are not the
// JSON asked for, the same from every decoder (httpx's strict decoding and
// the hand-written heartbeat decoders).
const (
	ReasonBodyEmpty      = "body_empty"
	ReasonMalformedJSON  = "malformed_json"
	ReasonUnknownField   = "unknown_field"
	ReasonDuplicateField = "duplicate_field"
	ReasonWrongType      = "wrong_type"
	ReasonInvalidUTF8    = "invalid_utf8"
)

// ReasonUnknownParameter is the CodeInvalid reason of a query parameter
// the route does not take (Details {"field": its name}): refused, not
// ignored, since a misspelt filter or flag would otherwise change what the
// request means without a word (as Stripe's parameter_unknown).
const ReasonUnknownParameter = "unknown_parameter"

// ReasonOverloaded is the CodeUnavailable reason of a request refused
// because the server is at its connection or in-flight limit.
const ReasonOverloaded = "overloaded"

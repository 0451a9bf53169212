package herald

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. The HTTP API maps each to a status and a DatoCMS error code in
// one place (httpapi.writeError); nothing else looks at them.
const (
	EINVALID      = "invalid"      // the input is wrong; see Problems
	ENOTFOUND     = "not_found"    // no such thing in this project
	ECONFLICT     = "conflict"     // a concurrent change won; try again
	EUNAUTHORIZED = "unauthorized" // no or unknown credentials
	ETOOLARGE     = "too_large"    // the input is over a stated limit
	EBADJSON      = "bad_json"     // the input is not JSON at all
	EFORMAT       = "format"       // JSON, but not the document shape asked for
	EUNSUPPORTED  = "unsupported"  // a content type or method the route does not take
	ETHROTTLED    = "throttled"    // a dependency is throttling us; transient
	EINTERNAL     = "internal"     // anything else; never shown to clients
)

// Error is an application error with a code a client may see and a message
// safe to show. Internal causes are wrapped with fmt.Errorf instead and end as
// EINTERNAL.
type Error struct {
	Code     string
	Message  string
	Problems []Problem // set for EINVALID
}

func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("%s: %s", e.Code, strings.Join(parts, "; "))
}

// Problem is one thing wrong with one field of an input, in DatoCMS's terms:
// Field is the attribute path ("url", "events[0].event_types[1]") and Code one
// of the Validation* constants.
type Problem struct {
	Field   string
	Code    string
	Message string
}

func (p Problem) String() string { return p.Field + ": " + p.Message }

// Validation codes, as DatoCMS names them in INVALID_FIELD details.
const (
	ValidationRequired   = "VALIDATION_REQUIRED"
	ValidationInvalid    = "VALIDATION_INVALID"
	ValidationFormat     = "VALIDATION_FORMAT"
	ValidationLength     = "VALIDATION_LENGTH"
	ValidationUniqueness = "VALIDATION_UNIQUENESS"
	ValidationEnum       = "VALIDATION_ENUM"
)

// Errorf returns an *Error with the given code and message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error carrying the problems, or nil if there
// are none.
func Invalid(problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "invalid input", Problems: problems}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: the *Error's message,
// or a generic one for internal errors.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorProblems returns the problems of an EINVALID error.
func ErrorProblems(err error) []Problem {
	var e *Error
	if errors.As(err, &e) {
		return e.Problems
	}
	return nil
}

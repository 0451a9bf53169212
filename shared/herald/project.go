package herald

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ProjectIDProblem says what is wrong with a project id, or "" if nothing
// is. A project id names a tenant: every key that holds its data starts
// with it, so it may not contain '#', which separates the parts of a key.
// Were it allowed, project "205" asking for call "7#<id>" would read the
// call of project "205#7". Anything else printable is allowed ("%23", "/",
// non-ASCII letters): the key treats it as text.
func ProjectIDProblem(id string) string {
	switch {
	case id == "":
		return "is required"
	case len(id) > MaxEntityIDLength || !utf8.ValidString(id) || hasControl(id):
		return fmt.Sprintf("must be at most %d printable characters", MaxEntityIDLength)
	case strings.ContainsRune(id, '#'):
		return "must not contain '#'"
	}
	return ""
}

// IsID reports whether s has the shape of an id Herald makes for calls and
// webhooks: a 26-character ULID in upper-case Crockford base32. Ids from a
// request are checked with it before they reach a key.
func IsID(s string) bool {
	_, ok := IDTime(s)
	return ok
}

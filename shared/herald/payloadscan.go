package herald

import (
	"bytes"
	"strconv"
	"time"
)

// scanPayload reads a payload document in the exact form MarshalPayload
// writes, and reports false for anything else, which ParsePayload then
// hands to encoding/json. It does not validate the entities: they were
// validated when the event was parsed and written by encoding/json, and the
// documents it reads are Herald's own (the event item, a first-attempt job).
// Reading one costs a fraction of a validating decode, on every attempt.
func scanPayload(doc []byte) (Payload, bool) {
	s := payloadScanner{b: doc, ok: true}
	var p Payload
	s.lit(`{"event_id":`)
	p.EventID = s.str()
	s.lit(`,"environment":`)
	p.Environment = s.str()
	s.lit(`,"is_environment_primary":`)
	switch {
	case s.ok && bytes.HasPrefix(s.b[s.i:], []byte("true")):
		p.IsEnvironmentPrimary = true
		s.i += 4
	default:
		s.lit("false")
	}
	s.lit(`,"event_triggered_at":`)
	if at := s.str(); s.ok {
		t, err := time.Parse(time.RFC3339Nano, at)
		p.EventTriggeredAt, s.ok = t, err == nil
	}
	s.lit(`,"entity":`)
	p.Entity = s.value()
	if s.has(`,"previous_entity":`) {
		p.PreviousEntity = s.value()
	}
	if s.has(`,"related_entities":`) {
		p.RelatedEntities = s.value()
	}
	s.lit("}")
	return p, s.ok && s.i == len(s.b)
}

type payloadScanner struct {
	b  []byte
	i  int
	ok bool
}

// lit consumes l, or fails the scan.
func (s *payloadScanner) lit(l string) {
	if s.ok && s.has(l) {
		return
	}
	s.ok = false
}

// has consumes l if it comes next.
func (s *payloadScanner) has(l string) bool {
	if s.ok && bytes.HasPrefix(s.b[s.i:], []byte(l)) {
		s.i += len(l)
		return true
	}
	return false
}

// str reads a string without escapes; one with any is left to
// encoding/json (the scan fails).
func (s *payloadScanner) str() string {
	if !s.ok || s.i >= len(s.b) || s.b[s.i] != '"' {
		s.ok = false
		return ""
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			s.ok = false
			return ""
		case '"':
			v := string(s.b[s.i+1 : j])
			s.i = j + 1
			return v
		}
	}
	s.ok = false
	return ""
}

// integer reads a number without fraction or exponent.
func (s *payloadScanner) integer() int64 {
	if !s.ok {
		return 0
	}
	j := s.i
	if j < len(s.b) && s.b[j] == '-' {
		j++
	}
	for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
		j++
	}
	n, err := strconv.ParseInt(string(s.b[s.i:j]), 10, 64)
	if err != nil {
		s.ok = false
		return 0
	}
	s.i = j
	return n
}

// value reads one JSON value and returns it as a slice of the document: an
// object or array to its matching bracket (strings inside skipped whole), a
// string, or a literal up to the next delimiter.
func (s *payloadScanner) value() []byte {
	if !s.ok || s.i >= len(s.b) {
		s.ok = false
		return nil
	}
	start, depth := s.i, 0
	for j := s.i; j < len(s.b); j++ {
		switch c := s.b[j]; c {
		case '"':
			end := skipString(s.b, j)
			if end < 0 {
				s.ok = false
				return nil
			}
			j = end
			if depth == 0 {
				s.i = j + 1
				return s.b[start:s.i]
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the end of the enclosing object: a literal ended
				s.i = j
				return literal(s, start)
			}
			depth--
			if depth == 0 {
				s.i = j + 1
				return s.b[start:s.i]
			}
		case ',':
			if depth == 0 {
				s.i = j
				return literal(s, start)
			}
		}
	}
	s.ok = false
	return nil
}

func literal(s *payloadScanner, start int) []byte {
	if s.i == start {
		s.ok = false
		return nil
	}
	return s.b[start:s.i]
}

// skipString returns the index of the quote that closes the string opening
// at b[i], or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

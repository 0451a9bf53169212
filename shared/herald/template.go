package herald

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/cbroglie/mustache"
)

// Template is a parsed Mustache template: a webhook's custom payload or URL.
//
// {{name}} is escaped for where the template puts it (inside a JSON string for
// payloads; in a URL, as a path segment before the '?' and as a query value
// after it); {{{name}}} and {{& name}} insert the value as is. Objects and arrays render as JSON, null and missing
// values as nothing. Partials are refused: the library would read them from
// the file system.
type Template struct {
	t    *mustache.Template // nil for text without tags, which renders to itself
	text string
	// query is a URL template's query (and fragment): rendered after the
	// rest, with tags escaped as query values.
	query *Template
}

// ErrPartial is returned for a template that uses a partial tag.
var ErrPartial = errors.New("partials ({{> name}}) are not supported")

// ParseTemplate parses a payload template.
func ParseTemplate(src string) (*Template, error) {
	return parseTemplate(src, jsonEscape)
}

// ParseURLTemplate parses a URL template. Its tags are escaped by where
// they stand: before the first '?' as a path segment (url.PathEscape), after
// it as a query value (url.QueryEscape), so that a value can neither add a
// path segment nor a query parameter ("1&sig=x" stays one value). A
// section cannot span the '?', since its two sides escape differently; a
// template that changes its delimiters is escaped as a query value
// throughout, the stricter of the two.
func ParseURLTemplate(src string) (*Template, error) {
	if strings.Contains(src, "{{=") {
		return parseTemplate(src, url.QueryEscape)
	}
	at := queryStart(src)
	if at < 0 {
		return parseTemplate(src, url.PathEscape)
	}
	path, err := parseTemplate(src[:at], url.PathEscape)
	if err == nil {
		path.query, err = parseTemplate(src[at:], url.QueryEscape)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (a section cannot span the '?' that starts the query)", err)
	}
	return path, nil
}

// queryStart returns the index of the first '?' of a URL template that is
// not inside a tag, or -1.
func queryStart(src string) int {
	for i := 0; i < len(src); i++ {
		switch {
		case strings.HasPrefix(src[i:], "{{"):
			end := strings.Index(src[i+2:], "}}")
			if end < 0 {
				return -1 // an unclosed tag: the parser says what is wrong
			}
			i += end + 3
		case src[i] == '?':
			return i
		}
	}
	return -1
}

func parseTemplate(src string, escape mustache.EscapeFunc) (*Template, error) {
	// Every Mustache tag, a delimiter change too, opens with "{{". Most
	// URLs, and some payloads, have none: they skip the engine, and the
	// decoding of the document for it (about a fifth of a delivery's CPU).
	if !strings.Contains(src, "{{") {
		return &Template{text: src}, nil
	}
	t, err := mustache.ParseStringPartials(src, noPartials{})
	if err != nil {
		return nil, err
	}
	if usesPartial(t.Tags()) {
		return nil, ErrPartial
	}
	t.Escape(escape)
	return &Template{t: t}, nil
}

// Render renders the template over a JSON document.
func (t *Template) Render(doc []byte) (string, error) {
	return t.render(&renderContext{doc: doc})
}

func (t *Template) render(rc *renderContext) (string, error) {
	out := t.text
	if t.t != nil {
		ctx, err := rc.get()
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.t.FRender(&buf, ctx); err != nil {
			return "", fmt.Errorf("render template: %w", err)
		}
		out = buf.String()
	}
	if t.query != nil {
		rest, err := t.query.render(rc)
		if err != nil {
			return "", err
		}
		out += rest
	}
	return out, nil
}

// renderContext is a JSON document as templates read it, decoded once, on
// first use: the templates of one request share it.
type renderContext struct {
	doc  []byte
	done bool
	ctx  any
	err  error
}

func (rc *renderContext) get() (any, error) {
	if !rc.done {
		rc.ctx, rc.err = templateContext(rc.doc)
		rc.done = true
	}
	return rc.ctx, rc.err
}

type noPartials struct{}

func (noPartials) Get(string) (string, error) { return "", ErrPartial }

func usesPartial(tags []mustache.Tag) bool {
	for _, tag := range tags {
		if tag.Type() == mustache.Partial {
			return true
		}
		if tag.Type() == mustache.Section || tag.Type() == mustache.InvertedSection {
			if usesPartial(tag.Tags()) {
				return true
			}
		}
	}
	return false
}

// jsonEscape escapes s for the inside of a JSON string.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b[1 : len(b)-1])
}

// jsonObject and jsonArray render as JSON when interpolated, while sections
// and dotted names still walk into them.
type (
	jsonObject map[string]any
	jsonArray  []any
)

func (o jsonObject) String() string { return marshalValue(map[string]any(o)) }
func (a jsonArray) String() string  { return marshalValue([]any(a)) }

func marshalValue(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func templateContext(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode template context: %w", err)
	}
	return wrapJSON(v), nil
}

func wrapJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(jsonObject, len(x))
		for k, e := range x {
			if e != nil { // null renders as a missing value: empty and falsy
				out[k] = wrapJSON(e)
			}
		}
		return out
	case []any:
		out := make(jsonArray, len(x))
		for i, e := range x {
			if e == nil {
				out[i] = ""
				continue
			}
			out[i] = wrapJSON(e)
		}
		return out
	default:
		return v
	}
}

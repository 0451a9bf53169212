package herald

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"
)

// UserAgent names Herald on every call.
const UserAgent = "Herald-Webhooks/1.0"

// OutgoingRequest is an attempt's request before signing.
type OutgoingRequest struct {
	URL    string
	Header http.Header
	Body   []byte
}

// DefaultPayload is the body of a call without a custom payload, and the
// context a custom payload template renders over (CONTRACT §3):
// {site_id, webhook_id, webhook_call_id, environment, is_environment_primary,
// event_triggered_at, attempted_auto_retries_count, entity_type, event_type,
// entity, previous_entity (when there is one), related_entities}.
//
// It is built by appending, not by encoding a struct: the entities are
// passed through as they are stored, in the compact, HTML-escaped form
// MarshalPayload gives them, so the result is what encoding/json would
// make of the same fields, byte for byte, without validating the entities
// again on every attempt. The same call and count always give the same
// bytes: the activity log renders a sent default payload again rather than
// storing it.
func DefaultPayload(c *Call, autoRetries int) []byte {
	p := &c.Payload
	b := make([]byte, 0, 320+len(p.Entity)+len(p.PreviousEntity)+len(p.RelatedEntities))
	b = append(b, `{"site_id":`...)
	b = appendJSONString(b, c.ProjectID)
	b = append(b, `,"webhook_id":`...)
	b = appendJSONString(b, c.WebhookID)
	b = append(b, `,"webhook_call_id":`...)
	b = appendJSONString(b, c.ID)
	b = append(b, `,"environment":`...)
	b = appendJSONString(b, p.Environment)
	b = append(b, `,"is_environment_primary":`...)
	b = strconv.AppendBool(b, p.IsEnvironmentPrimary)
	b = append(b, `,"event_triggered_at":"`...)
	b = p.EventTriggeredAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","attempted_auto_retries_count":`...)
	b = strconv.AppendInt(b, int64(autoRetries), 10)
	b = append(b, `,"entity_type":`...)
	b = appendJSONString(b, c.EntityType)
	b = append(b, `,"event_type":`...)
	b = appendJSONString(b, c.EventType)
	b = append(b, `,"entity":`...)
	b = appendRaw(b, p.Entity)
	if len(p.PreviousEntity) > 0 {
		b = append(b, `,"previous_entity":`...)
		b = append(b, p.PreviousEntity...)
	}
	b = append(b, `,"related_entities":`...)
	if len(p.RelatedEntities) == 0 {
		b = append(b, "[]"...)
	} else {
		b = append(b, p.RelatedEntities...)
	}
	return append(b, '}')
}

// appendJSONString appends s as encoding/json writes a string: plain ASCII
// as is, anything else through the encoder.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s) // a string always marshals
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// MarshalPayload encodes an event's payload document. Its entities come out
// compact and HTML-escaped, as encoding/json writes them, whatever the CMS
// sent: the form DefaultPayload passes through.
func MarshalPayload(p Payload) ([]byte, error) {
	doc, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode payload of event %s: %w", p.EventID, err)
	}
	return doc, nil
}

// ParsePayload decodes a payload document MarshalPayload made. Such a
// document has one shape, Payload's fields in order as encoding/json writes
// them, which is read in one pass with the entities left in place as slices
// of doc (scanPayload); anything else goes through encoding/json.
func ParsePayload(doc []byte) (Payload, error) {
	if p, ok := scanPayload(doc); ok {
		return p, nil
	}
	var p Payload
	if err := json.Unmarshal(doc, &p); err != nil {
		return Payload{}, fmt.Errorf("decode payload document: %w", err)
	}
	return p, nil
}

// RenderRequest renders the request of an attempt at a call with the
// webhook's current settings: the body (the custom payload, or the default
// payload as JSON), the URL template, and the headers. autoRetries is the
// attempted_auto_retries_count the payload reports. Signing headers are added
// by the caller.
func RenderRequest(w *Webhook, c *Call, autoRetries int) (*OutgoingRequest, error) {
	doc := DefaultPayload(c, autoRetries)
	body := doc
	rc := &renderContext{doc: doc}
	if w.CustomPayload != nil {
		tmpl, err := ParseTemplate(*w.CustomPayload)
		if err != nil {
			return nil, &RenderError{ErrKindRender, fmt.Sprintf("custom payload: %v", err)}
		}
		rendered, err := tmpl.render(rc)
		if err != nil {
			return nil, &RenderError{ErrKindRender, fmt.Sprintf("custom payload: %v", err)}
		}
		body = []byte(rendered)
	}
	target, err := renderURL(w.URL, rc)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "*/*")
	h.Set("User-Agent", UserAgent)
	for k, v := range w.Headers {
		h.Set(k, v)
	}
	if w.HTTPBasicUser != nil {
		password := ""
		if w.HTTPBasicPassword != nil {
			password = *w.HTTPBasicPassword
		}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(*w.HTTPBasicUser+":"+password)))
	}
	return &OutgoingRequest{URL: target, Header: h, Body: body}, nil
}

// RenderError is a request that could not be rendered: Kind is
// ErrKindRender for the payload and ErrKindInvalidURL for the URL.
type RenderError struct {
	Kind string
	Msg  string
}

func (e *RenderError) Error() string { return e.Msg }

// renderURL renders a URL template and checks the result is still an
// absolute http(s) URL with a host.
func renderURL(src string, rc *renderContext) (string, error) {
	tmpl, err := ParseURLTemplate(src)
	if err != nil {
		return "", &RenderError{ErrKindInvalidURL, fmt.Sprintf("url: %v", err)}
	}
	rendered, err := tmpl.render(rc)
	if err != nil {
		return "", &RenderError{ErrKindInvalidURL, fmt.Sprintf("url: %v", err)}
	}
	u, err := url.Parse(rendered)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
		return "", &RenderError{ErrKindInvalidURL, fmt.Sprintf("url renders to %q, which is not an absolute http(s) URL", truncate(rendered, 200))}
	}
	return rendered, nil
}

// MaskHeaders returns headers as a call records them: one value each, with
// credentials masked.
func MaskHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		v := ""
		if len(vs) > 0 {
			v = vs[0]
		}
		if http.CanonicalHeaderKey(k) == "Authorization" {
			v = maskAuthorization(v)
		}
		out[k] = v
	}
	return out
}

func maskAuthorization(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' {
			return v[:i] + " [redacted]"
		}
	}
	return "[redacted]"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

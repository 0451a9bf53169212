package herald

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// UserAgent names Herald on every call.
const UserAgent = "Herald-Webhooks/1.0"

// OutgoingRequest is an attempt's request before signing.
type OutgoingRequest struct {
	URL    string
	Header http.Header
	Body   []byte
}

// defaultPayload is the body of a call without a custom payload, and the
// context a custom payload template renders over (CONTRACT §3).
type defaultPayload struct {
	SiteID                    string          `json:"site_id"`
	WebhookID                 string          `json:"webhook_id"`
	WebhookCallID             string          `json:"webhook_call_id"`
	Environment               string          `json:"environment"`
	IsEnvironmentPrimary      bool            `json:"is_environment_primary"`
	EventTriggeredAt          time.Time       `json:"event_triggered_at"`
	AttemptedAutoRetriesCount int             `json:"attempted_auto_retries_count"`
	EntityType                string          `json:"entity_type"`
	EventType                 string          `json:"event_type"`
	Entity                    json.RawMessage `json:"entity"`
	PreviousEntity            json.RawMessage `json:"previous_entity,omitempty"`
	RelatedEntities           json.RawMessage `json:"related_entities"`
}

// RenderRequest renders the request of an attempt at a call with the
// webhook's current settings: the body (the custom payload, or the default
// payload as JSON), the URL template, and the headers. autoRetries is the
// attempted_auto_retries_count the payload reports. Signing headers are added
// by the caller.
func RenderRequest(w *Webhook, c *Call, autoRetries int) (*OutgoingRequest, error) {
	related := c.Payload.RelatedEntities
	if len(related) == 0 {
		related = json.RawMessage("[]")
	}
	doc, err := json.Marshal(defaultPayload{
		SiteID: c.ProjectID, WebhookID: w.ID, WebhookCallID: c.ID,
		Environment: c.Payload.Environment, IsEnvironmentPrimary: c.Payload.IsEnvironmentPrimary,
		EventTriggeredAt: c.Payload.EventTriggeredAt, AttemptedAutoRetriesCount: autoRetries,
		EntityType: c.EntityType, EventType: c.EventType,
		Entity: c.Payload.Entity, PreviousEntity: c.Payload.PreviousEntity, RelatedEntities: related,
	})
	if err != nil {
		return nil, fmt.Errorf("encode payload of call %s: %w", c.ID, err)
	}
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

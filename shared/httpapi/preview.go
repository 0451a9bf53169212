package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// The ids a preview's sample call carries, so that {{webhook_id}} and
// {{webhook_call_id}} render to something that looks like the real thing.
const (
	sampleWebhookID = "01KAZSAMP1E0WEBH00K0000000"
	sampleCallID    = "01KAZSAMP1E0CA110000000000"
)

// previewURLStandIn is the URL the body is rendered with: a body never
// depends on the URL, and a URL that does not render must not hide it.
const previewURLStandIn = "https://preview.invalid/"

// previewResource is the answer of POST /webhook_payload_preview: what a
// receiver would get for a sample event, rendered by the code that renders
// real calls (herald.RenderRequest), or why it would not render.
type previewResource struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Attributes previewAttributes `json:"attributes"`
}

type previewAttributes struct {
	EntityType string  `json:"entity_type"`
	EventType  string  `json:"event_type"`
	Body       *string `json:"body"`
	BodyError  *string `json:"body_error"`
	URL        *string `json:"url"`
	URLError   *string `json:"url_error"`
}

// previewInput is a preview request's attributes, validated.
type previewInput struct {
	customPayload *string
	url           string
	entityType    string
	eventType     string
}

// previewWebhookPayload renders a custom payload and URL template over a
// built-in sample event, so the admin page shows exactly what the sender
// would send. Nothing is stored.
func (s *Server) previewWebhookPayload(w http.ResponseWriter, r *http.Request, project string, _ map[string]string) error {
	doc, err := readDocument(r, "webhook_payload_preview", "")
	if err != nil {
		return err
	}
	in, err := decodePreviewInput(doc.Attributes)
	if err != nil {
		return err
	}
	call := sampleCall(project, in.entityType, in.eventType, s.clock.Now())
	hook := &herald.Webhook{ID: sampleWebhookID, ProjectID: project, URL: in.url, CustomPayload: in.customPayload}
	attrs, err := renderPreview(hook, call)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": previewResource{ID: call.ID, Type: "webhook_payload_preview", Attributes: attrs}})
	return nil
}

// renderPreview renders the body and the URL each on its own, so that a
// broken URL template still shows the body and the other way round.
func renderPreview(hook *herald.Webhook, call *herald.Call) (previewAttributes, error) {
	a := previewAttributes{EntityType: call.EntityType, EventType: call.EventType}
	bodyHook := *hook
	bodyHook.URL = previewURLStandIn
	req, err := herald.RenderRequest(&bodyHook, call, 0)
	if msg, ok := renderProblem(err); ok {
		a.BodyError = &msg
	} else if err != nil {
		return a, fmt.Errorf("render preview body: %w", err)
	} else {
		body := string(req.Body)
		a.Body = &body
	}
	if hook.URL == "" {
		return a, nil
	}
	urlHook := *hook
	urlHook.CustomPayload = nil
	req, err = herald.RenderRequest(&urlHook, call, 0)
	if msg, ok := renderProblem(err); ok {
		a.URLError = &msg
	} else if err != nil {
		return a, fmt.Errorf("render preview url: %w", err)
	} else {
		a.URL = &req.URL
	}
	return a, nil
}

// renderProblem returns the message of a template that does not render: the
// user's mistake, shown to them, unlike any other error.
func renderProblem(err error) (string, bool) {
	var re *herald.RenderError
	if errors.As(err, &re) {
		return re.Msg, true
	}
	return "", false
}

func decodePreviewInput(attrs map[string]json.RawMessage) (previewInput, error) {
	var in previewInput
	var ps []herald.Problem
	bad := func(field, code, format string, args ...any) {
		ps = append(ps, herald.Problem{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	str := func(name string, required bool) string {
		raw, ok := attrs[name]
		if !ok {
			if required {
				bad(name, herald.ValidationRequired, "is required")
			}
			return ""
		}
		var v string
		if isNull(raw) || json.Unmarshal(raw, &v) != nil {
			bad(name, herald.ValidationInvalid, "must be a string")
		}
		return v
	}
	for _, name := range sortedKeys(attrs) {
		switch name {
		case "custom_payload", "url", "entity_type", "event_type":
		default:
			bad(name, herald.ValidationInvalid, "is not an attribute of a payload preview")
		}
	}
	if raw, ok := attrs["custom_payload"]; ok && !isNull(raw) {
		var v string
		if json.Unmarshal(raw, &v) != nil {
			bad("custom_payload", herald.ValidationInvalid, "must be a string or null")
		} else if len(v) > herald.MaxCustomPayloadLength {
			bad("custom_payload", herald.ValidationLength, "must be at most %d bytes", herald.MaxCustomPayloadLength)
		} else {
			in.customPayload = &v
		}
	}
	if in.url = str("url", false); len(in.url) > herald.MaxURLLength {
		bad("url", herald.ValidationLength, "must be at most %d characters", herald.MaxURLLength)
	}
	in.entityType = str("entity_type", true)
	in.eventType = str("event_type", true)
	switch {
	case in.entityType == "":
	case !herald.IsEntityType(in.entityType):
		bad("entity_type", herald.ValidationEnum, "unknown entity type %q", in.entityType)
	case in.eventType == "":
	case !herald.IsEventType(in.entityType, in.eventType):
		bad("event_type", herald.ValidationEnum, "%q is not an event of %s", in.eventType, in.entityType)
	}
	return in, herald.Invalid(ps)
}

// sampleCall is a call for a made-up event of the given type in project,
// shaped as the CMS sends them (see events/ingest for real ones).
func sampleCall(project, entityType, eventType string, now time.Time) *herald.Call {
	entity, previous, related := sampleEntity(entityType, eventType, now)
	return &herald.Call{
		ID:         sampleCallID,
		ProjectID:  project,
		WebhookID:  sampleWebhookID,
		EntityType: entityType,
		EventType:  eventType,
		CreatedAt:  now,
		Payload: herald.Payload{
			EventID:              "evt_sample",
			Environment:          "main",
			IsEnvironmentPrimary: true,
			EventTriggeredAt:     now.UTC().Truncate(time.Second),
			Entity:               mustJSON(entity),
			PreviousEntity:       mustJSON(previous),
			RelatedEntities:      mustJSON(related),
		},
		Status: herald.StatusPending,
	}
}

type object = map[string]any

// sampleEntity returns the entity, the previous entity (record updates
// only) and the related entities of a sample event.
func sampleEntity(entityType, eventType string, now time.Time) (entity, previous object, related []object) {
	ts := now.UTC().Format(herald.TimeFormat)
	model := object{"id": "1423", "type": "item_type", "attributes": object{
		"name": "Article", "api_key": "article", "singleton": false, "sortable": false,
		"modular_block": false, "draft_mode_active": true,
	}}
	switch entityType {
	case herald.EntityItem:
		status := map[string]string{"create": "draft", "update": "updated", "delete": "draft",
			"publish": "published", "unpublish": "draft"}[eventType]
		record := func(title string) object {
			return object{
				"id": "293467", "type": "item",
				"attributes": object{"title": title, "slug": "hello-herald", "created_at": "2026-05-22T10:13:00.461Z",
					"updated_at": ts, "is_valid": true},
				"relationships": object{
					"item_type": object{"data": object{"id": "1423", "type": "item_type"}},
					"creator":   object{"data": object{"id": "69003345", "type": "user"}},
				},
				"meta": object{"status": status, "current_version": "716593", "published_version": "716593"},
			}
		}
		entity = record("Hello, Herald")
		if eventType == "update" {
			previous = record("Hello")
		}
		return entity, previous, []object{model,
			{"id": "69003345", "type": "user", "attributes": object{"full_name": "Mark Doe", "email": "mark@example.com"}}}
	case herald.EntityItemType:
		return model, nil, nil
	case herald.EntityUpload:
		return object{"id": "upl_7781", "type": "upload", "attributes": object{
			"filename": "hero.png", "path": "/205/1526984443-hero.png", "url": "https://assets.example.com/205/1526984443-hero.png",
			"format": "png", "mime_type": "image/png", "size": 242630, "width": 1280, "height": 720, "alt": "A hero image",
			"created_at": "2026-05-22T10:13:00.461Z", "updated_at": ts,
		}}, nil, nil
	case herald.EntityBuildTrigger:
		status := map[string]string{"deploy_started": "pending", "deploy_succeeded": "success", "deploy_failed": "failure"}[eventType]
		return object{"id": "bt-77", "type": "build_trigger", "attributes": object{
			"name": "Production site", "adapter": "netlify", "build_status": status, "frontend_url": "https://www.example.com",
		}}, nil, nil
	case herald.EntityEnvironment:
		return object{"id": "main", "type": "environment", "meta": object{"status": "ready", "primary": true,
			"created_at": "2026-05-22T10:13:00.461Z", "forked_from": nil}}, nil, nil
	case herald.EntityMaintenanceMode:
		return object{"id": "maintenance_mode", "type": "maintenance_mode", "attributes": object{"active": true, "forced": false}}, nil, nil
	case herald.EntitySSOUser:
		return object{"id": "sso_4411", "type": "sso_user", "attributes": object{
			"username": "jane@example.com", "first_name": "Jane", "last_name": "Roe", "is_active": true,
		}}, nil, nil
	case herald.EntityCDACacheTags:
		return object{"id": "cda_cache_tags", "type": "cda_cache_tags", "attributes": object{
			"tags": []string{"6-Fq3mFQk-zK", "1P7ijv4GS5Cv"},
		}}, nil, nil
	}
	return object{"id": "1", "type": entityType}, nil, nil
}

// mustJSON encodes the sample values above, which always encode; nil stays
// empty so the payload omits it as a real event would.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return nil
	}
	return b
}

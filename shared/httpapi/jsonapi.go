package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// MaxBodyBytes is the largest request body the API reads; larger is 413.
// A webhook with every field at its limit fits well inside it.
const MaxBodyBytes = 256 << 10

// resource is a JSON:API resource object in a request.
type resource struct {
	ID         *string                    `json:"id"`
	Type       string                     `json:"type"`
	Attributes map[string]json.RawMessage `json:"attributes"`
}

// readDocument reads a {"data": {...}} request body of the given type. id is
// the id the path names, or "" for a create.
func readDocument(r *http.Request, wantType, id string) (*resource, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "application/vnd.api+json") {
			return nil, herald.Errorf(herald.EUNSUPPORTED, "Content-Type must be application/json or application/vnd.api+json")
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, herald.Errorf(herald.ETOOLARGE, "the request body is over %d bytes", MaxBodyBytes)
	}
	var doc struct {
		Data *json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, herald.Errorf(herald.EFORMAT, "the body must be a JSON object with a data member")
		}
		return nil, herald.Errorf(herald.EBADJSON, "the body is not valid JSON")
	}
	if doc.Data == nil {
		return nil, herald.Errorf(herald.EFORMAT, "the body must have a data member")
	}
	var res resource
	if err := json.Unmarshal(*doc.Data, &res); err != nil {
		return nil, herald.Errorf(herald.EFORMAT, "data must be a resource object with type and attributes")
	}
	switch {
	case res.Type != wantType:
		return nil, herald.Errorf(herald.EFORMAT, "data.type must be %q, not %q", wantType, res.Type)
	case id == "" && res.ID != nil:
		return nil, herald.Errorf(herald.EFORMAT, "data.id must not be given on create; the id is assigned")
	case id != "" && res.ID != nil && *res.ID != id:
		return nil, herald.Errorf(herald.EFORMAT, "data.id %q does not match the id in the path", *res.ID)
	}
	return &res, nil
}

// readOnlyAttributes are attributes Herald returns and ignores on input, so
// that a resource read back can be written back (the DatoCMS client sends
// back what it read). Setting enabled: true is what clears
// disabled_reason and disabled_at.
var readOnlyAttributes = []string{"created_at", "updated_at", "health", "disabled_reason", "disabled_at"}

// webhookInput decodes webhook attributes, recording which were given. Every
// type problem is reported against its field, in one answer.
func webhookInput(attrs map[string]json.RawMessage) (herald.WebhookInput, error) {
	var in herald.WebhookInput
	var problems []herald.Problem
	bad := func(field, format string, args ...any) {
		problems = append(problems, herald.Problem{Field: field, Code: herald.ValidationInvalid, Message: fmt.Sprintf(format, args...)})
	}
	for _, name := range sortedKeys(attrs) {
		raw := attrs[name]
		switch name {
		case "name":
			in.Name, problems = decodeString(raw, name, problems)
		case "url":
			in.URL, problems = decodeString(raw, name, problems)
		case "payload_api_version":
			in.PayloadAPIVersion, problems = decodeString(raw, name, problems)
		case "custom_payload":
			in.CustomPayload, problems = decodeNullableString(raw, name, problems)
		case "http_basic_user":
			in.HTTPBasicUser, problems = decodeNullableString(raw, name, problems)
		case "http_basic_password":
			in.HTTPBasicPassword, problems = decodeNullableString(raw, name, problems)
		case "enabled":
			in.Enabled, problems = decodeBool(raw, name, problems)
		case "nested_items_in_payload":
			in.NestedItemsInPayload, problems = decodeBool(raw, name, problems)
		case "auto_retry":
			in.AutoRetry, problems = decodeBool(raw, name, problems)
		case "headers":
			var h map[string]string
			if isNull(raw) || json.Unmarshal(raw, &h) != nil {
				bad(name, "must be an object of header names to string values")
				continue
			}
			in.Headers = herald.Some(h)
		case "events":
			events, ps := decodeTriggers(raw)
			if len(ps) > 0 {
				problems = append(problems, ps...)
				continue
			}
			in.Events = herald.Some(events)
		default:
			if !slices.Contains(readOnlyAttributes, name) {
				bad(name, "is not a webhook attribute")
			}
		}
	}
	return in, herald.Invalid(problems)
}

func decodeString(raw json.RawMessage, field string, ps []herald.Problem) (herald.Opt[string], []herald.Problem) {
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return herald.Opt[string]{}, append(ps, herald.Problem{Field: field, Code: herald.ValidationInvalid, Message: "must be a string"})
	}
	return herald.Some(s), ps
}

func decodeNullableString(raw json.RawMessage, field string, ps []herald.Problem) (herald.Opt[*string], []herald.Problem) {
	if isNull(raw) {
		return herald.Some[*string](nil), ps
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return herald.Opt[*string]{}, append(ps, herald.Problem{Field: field, Code: herald.ValidationInvalid, Message: "must be a string or null"})
	}
	return herald.Some(&s), ps
}

func decodeBool(raw json.RawMessage, field string, ps []herald.Problem) (herald.Opt[bool], []herald.Problem) {
	var b bool
	if isNull(raw) || json.Unmarshal(raw, &b) != nil {
		return herald.Opt[bool]{}, append(ps, herald.Problem{Field: field, Code: herald.ValidationInvalid, Message: "must be true or false"})
	}
	return herald.Some(b), ps
}

// decodeTriggers decodes the events attribute strictly, naming the path of
// each problem: unknown members of a trigger or filter are mistakes worth
// reporting, not ignoring.
func decodeTriggers(raw json.RawMessage) ([]herald.Trigger, []herald.Problem) {
	var ps []herald.Problem
	bad := func(field, msg string) {
		ps = append(ps, herald.Problem{Field: field, Code: herald.ValidationInvalid, Message: msg})
	}
	var items []map[string]json.RawMessage
	if isNull(raw) || json.Unmarshal(raw, &items) != nil {
		bad("events", "must be an array of {entity_type, event_types, filters} objects")
		return nil, ps
	}
	triggers := make([]herald.Trigger, len(items))
	for i, item := range items {
		at := fmt.Sprintf("events[%d]", i)
		t := &triggers[i]
		for _, k := range sortedKeys(item) {
			v := item[k]
			switch k {
			case "entity_type":
				if isNull(v) || json.Unmarshal(v, &t.EntityType) != nil {
					bad(at+".entity_type", "must be a string")
				}
			case "event_types":
				if isNull(v) || json.Unmarshal(v, &t.EventTypes) != nil {
					bad(at+".event_types", "must be an array of strings")
				}
			case "filters":
				if isNull(v) {
					continue
				}
				var filters []map[string]json.RawMessage
				if json.Unmarshal(v, &filters) != nil {
					bad(at+".filters", "must be null or an array of {entity_type, entity_ids} objects")
					continue
				}
				t.Filters = make([]herald.Filter, len(filters))
				for j, f := range filters {
					fat := fmt.Sprintf("%s.filters[%d]", at, j)
					for _, fk := range sortedKeys(f) {
						fv := f[fk]
						switch fk {
						case "entity_type":
							if isNull(fv) || json.Unmarshal(fv, &t.Filters[j].EntityType) != nil {
								bad(fat+".entity_type", "must be a string")
							}
						case "entity_ids":
							if isNull(fv) || json.Unmarshal(fv, &t.Filters[j].EntityIDs) != nil {
								bad(fat+".entity_ids", "must be an array of strings")
							}
						default:
							bad(fat+"."+fk, "is not a member of a filter")
						}
					}
				}
			default:
				bad(at+"."+k, "is not a member of a trigger")
			}
		}
	}
	return triggers, ps
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// webhookResource is a webhook as the API shows it.
type webhookResource struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Attributes webhookAttributes `json:"attributes"`
}

type webhookAttributes struct {
	Name                 string            `json:"name"`
	URL                  string            `json:"url"`
	Enabled              bool              `json:"enabled"`
	CustomPayload        *string           `json:"custom_payload"`
	HTTPBasicUser        *string           `json:"http_basic_user"`
	HTTPBasicPassword    *string           `json:"http_basic_password"`
	Headers              map[string]string `json:"headers"`
	Events               []triggerJSON     `json:"events"`
	PayloadAPIVersion    string            `json:"payload_api_version"`
	NestedItemsInPayload bool              `json:"nested_items_in_payload"`
	AutoRetry            bool              `json:"auto_retry"`
	CreatedAt            apiTime           `json:"created_at"`
	UpdatedAt            apiTime           `json:"updated_at"`
	// Herald's, read only (docs/endpoint-health.md). health is left out
	// where it is not read: the webhooks included in call listings, and a
	// deleted webhook.
	DisabledReason *string     `json:"disabled_reason"`
	DisabledAt     *apiTime    `json:"disabled_at"`
	Health         *healthJSON `json:"health,omitempty"`
}

// triggerJSON shows filters as null, never omitted, when a trigger has none.
type triggerJSON struct {
	EntityType string          `json:"entity_type"`
	EventTypes []string        `json:"event_types"`
	Filters    []herald.Filter `json:"filters"`
}

func webhookJSON(w *herald.Webhook) webhookResource {
	triggers := make([]triggerJSON, len(w.Events))
	for i, t := range w.Events {
		triggers[i] = triggerJSON{EntityType: t.EntityType, EventTypes: t.EventTypes, Filters: t.Filters}
		if len(t.Filters) == 0 {
			triggers[i].Filters = nil
		}
	}
	headers := w.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	return webhookResource{
		ID:   w.ID,
		Type: "webhook",
		Attributes: webhookAttributes{
			Name: w.Name, URL: w.URL, Enabled: w.Enabled, CustomPayload: w.CustomPayload,
			HTTPBasicUser: w.HTTPBasicUser, HTTPBasicPassword: w.HTTPBasicPassword,
			Headers: headers, Events: triggers, PayloadAPIVersion: w.PayloadAPIVersion,
			NestedItemsInPayload: w.NestedItemsInPayload, AutoRetry: w.AutoRetry,
			CreatedAt: apiTime(w.CreatedAt), UpdatedAt: apiTime(w.UpdatedAt),
			DisabledReason: optString(w.DisabledReason), DisabledAt: optTime(w.DisabledAt),
		},
	}
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// writeJSON writes v with the status. The Content-Type is application/json:
// the DatoCMS client retries any other type as a transient failure.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only unencodable values fail here, which is a bug in this package.
		buf.Reset()
		buf.WriteString(`{"data":[{"id":"0","type":"api_error","attributes":{"code":"INTERNAL_ERROR","details":{},"transient":false}}]}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// apiTime shows a time as DatoCMS does, in UTC with milliseconds:
// "2026-11-26T10:54:09.616Z". The fixed width also makes the strings sort as
// the times do.
type apiTime time.Time

func (t apiTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(herald.TimeFormat) + `"`), nil
}

func optTime(t *time.Time) *apiTime {
	if t == nil {
		return nil
	}
	v := apiTime(*t)
	return &v
}

package httpapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/shared/herald"
)

var updatePreview = flag.Bool("update-preview", false, "rewrite testdata/preview-*.json")

// postPreview posts a preview request with the given attributes and
// returns the status and the decoded answer.
func postPreview(t *testing.T, s *Server, token string, attrs map[string]any) (int, map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"data": map[string]any{"type": "webhook_payload_preview", "attributes": attrs}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/webhook_payload_preview", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.api+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("decode answer %q: %v", rec.Body.String(), err)
	}
	return rec.Code, doc
}

func previewAttrs(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	data, ok := doc["data"].(map[string]any)
	if !ok || data["type"] != "webhook_payload_preview" {
		t.Fatalf("got %v, want a webhook_payload_preview resource", doc)
	}
	return data["attributes"].(map[string]any)
}

func TestPreviewRenders(t *testing.T) {
	s, token := newPageServer(t)
	tests := map[string]struct {
		attrs        map[string]any
		wantBody     any // string, or nil when it does not render
		wantBodyErr  string
		wantURL      any
		wantURLError string
	}{
		"custom payload over a record update": {
			attrs: map[string]any{"custom_payload": `{"id":"{{entity.id}}","was":"{{previous_entity.attributes.title}}","site":"{{site_id}}"}`,
				"url": "https://example.com/hook", "entity_type": "item", "event_type": "update"},
			wantBody: `{"id":"293467","was":"Hello","site":"205"}`,
			wantURL:  "https://example.com/hook",
		},
		"values are escaped for JSON strings, objects inserted as JSON": {
			attrs: map[string]any{"custom_payload": `{"e":"{{event_type}}","m":{{{entity.relationships.item_type}}}}`,
				"entity_type": "item", "event_type": "publish"},
			wantBody: `{"e":"publish","m":{"data":{"id":"1423","type":"item_type"}}}`,
			wantURL:  nil,
		},
		"url template": {
			attrs:    map[string]any{"custom_payload": "x", "url": "https://example.com/{{entity_type}}/{{entity.id}}?t={{event_type}}", "entity_type": "build_trigger", "event_type": "deploy_failed"},
			wantBody: "x",
			wantURL:  "https://example.com/build_trigger/bt-77?t=deploy_failed",
		},
		"a broken payload template still shows the url": {
			attrs:       map[string]any{"custom_payload": `{"a":"{{#entity}}"}`, "url": "https://example.com/{{entity.id}}", "entity_type": "upload", "event_type": "create"},
			wantBody:    nil,
			wantBodyErr: "custom payload:",
			wantURL:     "https://example.com/upl_7781",
		},
		"a url that renders to no url still shows the body": {
			attrs:        map[string]any{"custom_payload": "{{entity.id}}", "url": "{{entity.id}}", "entity_type": "sso_user", "event_type": "create"},
			wantBody:     "sso_4411",
			wantURL:      nil,
			wantURLError: "url renders to",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status, doc := postPreview(t, s, token, tc.attrs)
			if status != 200 {
				t.Fatalf("got status %d, want 200: %v", status, doc)
			}
			a := previewAttrs(t, doc)
			if a["body"] != tc.wantBody {
				t.Errorf("got body %#v, want %#v", a["body"], tc.wantBody)
			}
			if a["url"] != tc.wantURL {
				t.Errorf("got url %#v, want %#v", a["url"], tc.wantURL)
			}
			checkError(t, "body_error", a["body_error"], tc.wantBodyErr)
			checkError(t, "url_error", a["url_error"], tc.wantURLError)
		})
	}
}

func checkError(t *testing.T, name string, got any, want string) {
	t.Helper()
	if want == "" {
		if got != nil {
			t.Errorf("got %s %#v, want null", name, got)
		}
		return
	}
	if s, ok := got.(string); !ok || !strings.Contains(s, want) {
		t.Errorf("got %s %#v, want it to contain %q", name, got, want)
	}
}

// TestPreviewDefaultPayloadGolden pins the default payload of the sample
// record update: what a receiver gets without a custom payload.
func TestPreviewDefaultPayloadGolden(t *testing.T) {
	s, token := newPageServer(t)
	status, doc := postPreview(t, s, token, map[string]any{"custom_payload": nil, "entity_type": "item", "event_type": "update"})
	if status != 200 {
		t.Fatalf("got status %d: %v", status, doc)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(previewAttrs(t, doc)["body"].(string)), "", "  "); err != nil {
		t.Fatalf("the default payload is not JSON: %v", err)
	}
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "preview-item-update.json")
	if *updatePreview {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (go test -run Golden -update-preview writes it): %v", err)
	}
	if got := pretty.String(); got != string(want) {
		t.Errorf("default payload differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}

// TestPreviewSamplesAreEvents checks that each sample is an event the
// ingest function would accept, with the entity and event types asked for,
// so previews show what real calls look like.
func TestPreviewSamplesAreEvents(t *testing.T) {
	for _, entity := range herald.EntityTypes() {
		for _, event := range herald.EventTypes(entity) {
			c := sampleCall("205", entity, event, adminTestNow)
			raw, err := json.Marshal(herald.Event{
				ProjectID: c.ProjectID, EventID: c.Payload.EventID, Environment: c.Payload.Environment,
				IsEnvironmentPrimary: c.Payload.IsEnvironmentPrimary, EntityType: entity, EventType: event,
				EventTriggeredAt: c.Payload.EventTriggeredAt, Entity: c.Payload.Entity,
				PreviousEntity: c.Payload.PreviousEntity, RelatedEntities: c.Payload.RelatedEntities,
			})
			if err != nil {
				t.Fatal(err)
			}
			ev, subj, err := herald.ParseEvent(raw)
			if err != nil {
				t.Errorf("%s/%s: the sample is not a valid event: %v", entity, event, err)
				continue
			}
			if ev.EntityType != entity || ev.EventType != event || subj.EntityID == "" {
				t.Errorf("%s/%s: got %s/%s about %q", entity, event, ev.EntityType, ev.EventType, subj.EntityID)
			}
			if hasPrevious := len(c.Payload.PreviousEntity) > 0; hasPrevious != (entity == herald.EntityItem && event == "update") {
				t.Errorf("%s/%s: previous_entity present %v; want it for record updates only", entity, event, hasPrevious)
			}
		}
	}
}

func TestPreviewRejects(t *testing.T) {
	s, token := newPageServer(t)
	tests := map[string]struct {
		token      string
		attrs      map[string]any
		wantStatus int
		wantField  string
	}{
		"no token":             {attrs: map[string]any{"entity_type": "item", "event_type": "update"}, wantStatus: 401},
		"unknown entity type":  {token: token, attrs: map[string]any{"entity_type": "page", "event_type": "update"}, wantStatus: 422, wantField: "entity_type"},
		"event of another":     {token: token, attrs: map[string]any{"entity_type": "upload", "event_type": "publish"}, wantStatus: 422, wantField: "event_type"},
		"missing entity type":  {token: token, attrs: map[string]any{"event_type": "update"}, wantStatus: 422, wantField: "entity_type"},
		"missing event type":   {token: token, attrs: map[string]any{"entity_type": "item"}, wantStatus: 422, wantField: "event_type"},
		"payload not a string": {token: token, attrs: map[string]any{"entity_type": "item", "event_type": "update", "custom_payload": 3}, wantStatus: 422, wantField: "custom_payload"},
		"payload too long": {token: token, attrs: map[string]any{"entity_type": "item", "event_type": "update",
			"custom_payload": strings.Repeat("x", herald.MaxCustomPayloadLength+1)}, wantStatus: 422, wantField: "custom_payload"},
		"url too long": {token: token, attrs: map[string]any{"entity_type": "item", "event_type": "update",
			"url": "https://example.com/" + strings.Repeat("x", herald.MaxURLLength)}, wantStatus: 422, wantField: "url"},
		"unknown attribute": {token: token, attrs: map[string]any{"entity_type": "item", "event_type": "update", "headers": map[string]string{}}, wantStatus: 422, wantField: "headers"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status, doc := postPreview(t, s, tc.token, tc.attrs)
			if status != tc.wantStatus {
				t.Fatalf("got status %d, want %d: %v", status, tc.wantStatus, doc)
			}
			if tc.wantField == "" {
				return
			}
			errs, _ := doc["data"].([]any)
			var fields []string
			for _, e := range errs {
				details := e.(map[string]any)["attributes"].(map[string]any)["details"].(map[string]any)
				fields = append(fields, details["field"].(string))
			}
			if len(fields) != 1 || fields[0] != tc.wantField {
				t.Errorf("got errors on %v, want one on %q", fields, tc.wantField)
			}
		})
	}
}

func TestPreviewRefusesOtherTypes(t *testing.T) {
	s, token := newPageServer(t)
	req := httptest.NewRequest("POST", "/webhook_payload_preview", strings.NewReader(`{"data":{"type":"webhook","attributes":{}}}`))
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "INVALID_FORMAT") {
		t.Errorf("got %d %s, want 422 INVALID_FORMAT", rec.Code, rec.Body.String())
	}
}

package herald

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const validEvent = `{
  "project_id": "205", "event_id": "evt_1", "environment": "main",
  "is_environment_primary": true, "entity_type": "item", "event_type": "update",
  "event_triggered_at": "2026-11-26T10:54:09Z",
  "entity": {"id": "293467", "type": "item", "attributes": {"name": "Irene"},
             "relationships": {"item_type": {"data": {"id": "1423", "type": "item_type"}}}},
  "previous_entity": {"id": "293467", "type": "item"},
  "related_entities": [{"id": "1423", "type": "item_type", "attributes": {"api_key": "author"}}]
}`

func TestParseEventSubject(t *testing.T) {
	ev, s, err := ParseEvent([]byte(validEvent))
	if err != nil {
		t.Fatalf("ParseEvent: %v", err)
	}
	want := Subject{EntityType: "item", EventType: "update", EntityID: "293467", ModelID: "1423",
		ModelAPIKey: "author", Environment: "main", Primary: true}
	if *s != want {
		t.Errorf("subject = %+v; want %+v", *s, want)
	}
	if ev.EventID != "evt_1" || ev.ProjectID != "205" || !ev.EventTriggeredAt.Equal(time.Date(2026, 11, 26, 10, 54, 9, 0, time.UTC)) {
		t.Errorf("event = %+v", ev)
	}
}

func TestParseModelEventSubject(t *testing.T) {
	raw := `{"project_id":"1","event_id":"e","environment":"main","entity_type":"item_type","event_type":"update",
	"event_triggered_at":"2026-11-26T10:54:09Z","entity":{"id":"77","type":"item_type","attributes":{"api_key":"post"}}}`
	_, s, err := ParseEvent([]byte(raw))
	if err != nil {
		t.Fatalf("ParseEvent: %v", err)
	}
	if s.ModelID != "77" || s.ModelAPIKey != "post" {
		t.Errorf("model = %q/%q; want 77/post", s.ModelID, s.ModelAPIKey)
	}
}

func TestParseEventProblems(t *testing.T) {
	tests := map[string]struct {
		edit      func(m map[string]any)
		wantCode  string
		wantField string
	}{
		"no project":          {func(m map[string]any) { delete(m, "project_id") }, EINVALID, "project_id"},
		"no event id":         {func(m map[string]any) { m["event_id"] = "" }, EINVALID, "event_id"},
		"long event id":       {func(m map[string]any) { m["event_id"] = strings.Repeat("e", 129) }, EINVALID, "event_id"},
		"no environment":      {func(m map[string]any) { delete(m, "environment") }, EINVALID, "environment"},
		"unknown entity":      {func(m map[string]any) { m["entity_type"] = "page" }, EINVALID, "entity_type"},
		"wrong event":         {func(m map[string]any) { m["event_type"] = "deploy_started" }, EINVALID, "event_type"},
		"no time":             {func(m map[string]any) { delete(m, "event_triggered_at") }, EINVALID, "event_triggered_at"},
		"bad time":            {func(m map[string]any) { m["event_triggered_at"] = "yesterday" }, EBADJSON, ""},
		"no entity":           {func(m map[string]any) { delete(m, "entity") }, EINVALID, "entity"},
		"entity not object":   {func(m map[string]any) { m["entity"] = "x" }, EINVALID, "entity"},
		"entity without id":   {func(m map[string]any) { m["entity"] = map[string]any{"type": "item"} }, EINVALID, "entity.id"},
		"entity without type": {func(m map[string]any) { m["entity"] = map[string]any{"id": "1"} }, EINVALID, "entity.type"},
		"related not array":   {func(m map[string]any) { m["related_entities"] = map[string]any{} }, EINVALID, "related_entities"},
		"project not string":  {func(m map[string]any) { m["project_id"] = 205 }, EBADJSON, ""},
		// '#' separates a key's parts: project "205#7" would share keys
		// with project "205" (issue 10, defect 1).
		"project with #": {func(m map[string]any) { m["project_id"] = "205#7" }, EINVALID, "project_id"},
		"too large": {func(m map[string]any) {
			m["entity"] = map[string]any{"id": "1", "type": "item", "attributes": map[string]any{"x": strings.Repeat("a", MaxEventBytes)}}
		}, ETOOLARGE, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal([]byte(validEvent), &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(m)
			raw, _ := json.Marshal(m)
			_, _, err := ParseEvent(raw)
			if got := ErrorCode(err); got != tc.wantCode {
				t.Fatalf("code = %q (%v); want %q", got, err, tc.wantCode)
			}
			if tc.wantField == "" {
				return
			}
			found := false
			for _, p := range ErrorProblems(err) {
				found = found || p.Field == tc.wantField
			}
			if !found {
				t.Errorf("problems %v name no %q", ErrorProblems(err), tc.wantField)
			}
		})
	}
	if _, _, err := ParseEvent([]byte(`{"project_id": "1",`)); ErrorCode(err) != EBADJSON {
		t.Errorf("truncated JSON: %v; want EBADJSON", err)
	}
	if _, _, err := ParseEvent([]byte(`[1,2]`)); ErrorCode(err) != EBADJSON {
		t.Errorf("array: %v; want EBADJSON", err)
	}
}

package herald

import (
	"encoding/json"
	"testing"
	"time"
)

// TestDefaultPayloadIsWhatEncodingJSONWrites holds the appended default
// payload to what encoding/json makes of the same fields, for payloads in
// the form MarshalPayload stores them: strings that need escaping, HTML
// characters, non-ASCII, a missing previous entity and related entities.
func TestDefaultPayloadIsWhatEncodingJSONWrites(t *testing.T) {
	type reference struct {
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
	tests := map[string]Payload{
		"plain": {EventID: "e1", Environment: "main", IsEnvironmentPrimary: true, EventTriggeredAt: time.Date(2026, 11, 26, 10, 54, 9, 0, time.UTC),
			Entity: json.RawMessage(`{"id":"1","type":"item"}`), PreviousEntity: json.RawMessage(`{"id":"1"}`), RelatedEntities: json.RawMessage(`[{"id":"2"}]`)},
		"escapes": {EventID: "e2", Environment: "sand \"box\" <b>&\u2028\x01é", EventTriggeredAt: time.Date(2026, 11, 26, 10, 54, 9, 123456789, time.FixedZone("x", 3600)),
			Entity: json.RawMessage(` { "t" : "Tom & Jerry <3" , "n": 1.50 } `)},
		"no related":   {Environment: "main", Entity: json.RawMessage(`{}`), PreviousEntity: json.RawMessage(`null`)},
		"empty arrays": {Environment: "", Entity: json.RawMessage(`{"a":[]}`), RelatedEntities: json.RawMessage(`[]`)},
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			doc, err := MarshalPayload(p)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := ParsePayload(doc)
			if err != nil {
				t.Fatal(err)
			}
			c := &Call{ID: "01JDX00000000000000000000C", ProjectID: "p<&>1", WebhookID: "01JDX00000000000000000000W",
				EntityType: "item", EventType: "update", Payload: stored}
			related := stored.RelatedEntities
			if len(related) == 0 {
				related = json.RawMessage("[]")
			}
			want, err := json.Marshal(reference{c.ProjectID, c.WebhookID, c.ID, stored.Environment, stored.IsEnvironmentPrimary,
				stored.EventTriggeredAt, 3, c.EntityType, c.EventType, stored.Entity, stored.PreviousEntity, related})
			if err != nil {
				t.Fatal(err)
			}
			if got := DefaultPayload(c, 3); string(got) != string(want) {
				t.Errorf("DefaultPayload:\n got %s\nwant %s", got, want)
			}
		})
	}
}

package herald

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestScanPayloadReadsWhatEncodingJSONReads: on documents MarshalPayload
// writes, the one-pass scan gives exactly encoding/json's Payload; on
// anything else it steps aside.
func TestScanPayloadReadsWhatEncodingJSONReads(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 54, 9, 616000000, time.UTC)
	payloads := []Payload{
		{EventID: "evt_1", Environment: "main", IsEnvironmentPrimary: true, EventTriggeredAt: at,
			Entity: json.RawMessage(`{"id":"1","type":"item","attributes":{"title":"a \"quoted\" <b>","n":[1,{"x":"]}"}]}}`)},
		{EventID: "evt_2", Environment: "sandbox", EventTriggeredAt: at.Add(time.Nanosecond),
			Entity:          json.RawMessage(`{"id":"2"}`),
			PreviousEntity:  json.RawMessage(`{"id":"2","meta":{"status":"draft"}}`),
			RelatedEntities: json.RawMessage(`[{"id":"9","type":"item_type"}]`)},
		{EventID: "ünïcode", Environment: "main", EventTriggeredAt: at}, // no entity: null
		{EventID: "evt_4", Environment: "main", EventTriggeredAt: at.In(time.FixedZone("x", 3600)), Entity: json.RawMessage(`"a string"`)},
		{EventID: "evt_5", Environment: "main", EventTriggeredAt: at, Entity: json.RawMessage(`12.5e3`), RelatedEntities: json.RawMessage(`[]`)},
	}
	for i, p := range payloads {
		doc, err := MarshalPayload(p)
		if err != nil {
			t.Fatal(err)
		}
		var want Payload
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatal(err)
		}
		got, ok := scanPayload(doc)
		if !ok {
			t.Errorf("payload %d: the scan refused %s", i, doc)
			continue
		}
		if !reflect.DeepEqual(got, want) || !got.EventTriggeredAt.Equal(want.EventTriggeredAt) {
			t.Errorf("payload %d:\n got %+v\nwant %+v", i, got, want)
		}
		// What is rendered from it is what was rendered before.
		c := &Call{ID: "c", ProjectID: "p", WebhookID: "w", Payload: got}
		c2 := &Call{ID: "c", ProjectID: "p", WebhookID: "w", Payload: want}
		if string(DefaultPayload(c, 1)) != string(DefaultPayload(c2, 1)) {
			t.Errorf("payload %d renders differently", i)
		}
	}
	for _, doc := range []string{
		``, `{}`, `null`, `{"event_id":"a"}`,
		`{"event_id":"a\"b","environment":"main","is_environment_primary":false,"event_triggered_at":"2026-11-26T10:54:09Z","entity":{}}`,
		`{"environment":"main","event_id":"a","is_environment_primary":false,"event_triggered_at":"2026-11-26T10:54:09Z","entity":{}}`,
		`{"event_id":"a","environment":"main","is_environment_primary":false,"event_triggered_at":"yesterday","entity":{}}`,
		`{"event_id":"a","environment":"main","is_environment_primary":false,"event_triggered_at":"2026-11-26T10:54:09Z","entity":{"a":"}`,
		`{"event_id":"a","environment":"main","is_environment_primary":false,"event_triggered_at":"2026-11-26T10:54:09Z","entity":{}} `,
		`{"event_id":"a","environment":"main","is_environment_primary":false,"event_triggered_at":"2026-11-26T10:54:09Z","entity":,"x":1}`,
	} {
		if _, ok := scanPayload([]byte(doc)); ok {
			t.Errorf("the scan accepted %q; encoding/json must read it", doc)
		}
	}
}

func TestJobEncoding(t *testing.T) {
	doc, _ := MarshalPayload(Payload{EventID: "e", Environment: "main", Entity: json.RawMessage(`{"text":"line\nbreak"}`)})
	for _, job := range []Job{
		{ProjectID: "p", CallID: "c", Trigger: TriggerFirst, WebhookID: "w", EventID: "e\nwith a newline", ExpiresAt: 9, Payload: doc},
		{ProjectID: "p", CallID: "c", Trigger: TriggerAuto, Retry: 3},
	} {
		body, err := EncodeJob(job)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeJob(body)
		if err != nil || !reflect.DeepEqual(got, job) {
			t.Errorf("%s decodes as %+v %v, want %+v", body, got, err, job)
		}
	}
	// The one-pass read gives what encoding/json gives, on every field, and
	// steps aside for what json.Marshal would not write.
	full := Job{ProjectID: "p", CallID: "c", Trigger: TriggerManual, Retry: 12, ResendID: "r", WebhookID: "w",
		EntityType: "item", EventType: "publish", EventID: "e", ExpiresAt: 1798538403, Replay: true}
	head, _ := json.Marshal(full)
	if got, ok := scanJob(head); !ok || !reflect.DeepEqual(got, full) {
		t.Errorf("scanJob(%s) = %+v %v", head, got, ok)
	}
	for _, doc := range []string{
		`{"call_id":"c","project_id":"p","trigger":"auto"}`,
		`{"project_id":"p\u0041","call_id":"c","trigger":"auto"}`,
		`{"project_id":"p","call_id":"c","trigger":"auto","unknown":1}`,
		`{"project_id":"p","call_id":"c","trigger":"auto","replay":false}`,
	} {
		if _, ok := scanJob([]byte(doc)); ok {
			t.Errorf("scanJob accepted %s", doc)
		}
		if got, err := DecodeJob([]byte(doc)); err != nil || got.ProjectID == "" {
			t.Errorf("DecodeJob(%s) = %+v %v; encoding/json reads it", doc, got, err)
		}
	}
	if _, err := DecodeJob([]byte(`{"project_id":"p","call_id":"c","trigger":"auto","retry":1.5}`)); err == nil {
		t.Error("a fractional retry decoded")
	}

	// A message written before the payload moved out of the JSON.
	old, _ := json.Marshal(Job{ProjectID: "p", CallID: "c", Trigger: TriggerFirst, Payload: doc})
	if got, err := DecodeJob(old); err != nil || string(got.Payload) != string(doc) {
		t.Errorf("an older message: %+v %v", got, err)
	}
	if _, err := DecodeJob([]byte("not json\n{}")); err == nil {
		t.Error("a malformed body decoded")
	}
}

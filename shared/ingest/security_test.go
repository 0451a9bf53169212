package ingest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/heraldhq/herald/shared/herald"
)

// TestIngestRefusesOversizedAndDeepEvents (docs/security.md): an event over
// the size limit or nested deeper than the decoder takes is rejected in the
// reply with a clear code, a batch over the limit or a payload that is not
// an event fails the invocation as a whole, and none of them writes a call,
// an event record or a queue message. A good event beside a bad one is
// still ingested.
func TestIngestRefusesOversizedAndDeepEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addWebhook(t, "p1", "all", true, herald.Trigger{EntityType: "item", EventTypes: []string{"update", "publish"}})
	h := f.handler(f.store, f.queue)
	before := f.env.Snapshot(t)

	withEntity := func(id, entity string) string {
		return strings.Replace(recordEvent("p1", id, "update", "1"),
			`{"id":"293467","type":"item","attributes":{"name":"Irene"}`, entity[:len(entity)-1], 1)
	}
	huge := withEntity("evt-huge", `{"id":"293467","type":"item","attributes":{"body":"`+strings.Repeat("x", herald.MaxEventBytes)+`"}}`)
	deep := withEntity("evt-deep", `{"id":"293467","type":"item","attributes":`+strings.Repeat(`{"a":`, 20000)+`1`+strings.Repeat(`}`, 20000)+`}`)
	deepArray := withEntity("evt-deep-array", `{"id":"293467","type":"item","attributes":{"list":`+strings.Repeat(`[`, 50000)+strings.Repeat(`]`, 50000)+`}}`)
	deepRelated := strings.Replace(recordEvent("p1", "evt-deep-related", "update", "1"), `"related_entities":[`, `"related_entities":[`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`,`, 1)

	for name, tc := range map[string]struct {
		event string
		code  string
	}{
		"over the size limit":         {huge, "EVENT_TOO_LARGE"},
		"objects nested 20000 deep":   {deep, "INVALID_EVENT"},
		"arrays nested 50000 deep":    {deepArray, "INVALID_EVENT"},
		"related nested 20000 deep":   {deepRelated, "INVALID_EVENT"},
		"event id of 10 kB":           {recordEvent("p1", strings.Repeat("e", 10000), "update", "1"), herald.ValidationFormat},
		"project id with a CR and LF": {recordEvent("p1\r\nX: y", "evt-crlf", "update", "1"), herald.ValidationFormat},
	} {
		reply, err := h.Handle(ctx, json.RawMessage(tc.event))
		if err != nil {
			t.Errorf("%s: the invocation failed (%v); want the event rejected in the reply", name, err)
			continue
		}
		if reply.Rejected != 1 || len(reply.Results) != 1 || reply.Results[0].Status != "rejected" ||
			len(reply.Results[0].Errors) == 0 || reply.Results[0].Errors[0].Code != tc.code {
			t.Errorf("%s: reply %.300v, want one rejection with %s", name, reply, tc.code)
		}
	}

	for name, payload := range map[string]string{
		"batch over the limit": `{"events":[` + strings.TrimSuffix(strings.Repeat(recordEvent("p1", "evt-many", "update", "1")+",", herald.MaxBatchEvents+1), ",") + `]}`,
		"an array":             `[` + recordEvent("p1", "evt-array", "update", "1") + `]`,
		"nested arrays":        strings.Repeat("[", 100000) + strings.Repeat("]", 100000),
		"a string":             `"event"`,
		"null":                 `null`,
		"empty":                ``,
	} {
		if _, err := h.Handle(ctx, json.RawMessage(payload)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if code := herald.ErrorCode(err); code != herald.ETOOLARGE && code != herald.EBADJSON {
			t.Errorf("%s: error %v, want a client error (too large or bad JSON)", name, err)
		}
	}
	if changed := before.Changed(f.env.Snapshot(t)); len(changed) > 0 {
		t.Errorf("refused events wrote to the table or the queue: %q", changed)
	}

	// A good event beside a huge and a deep one is still ingested, alone.
	batch := `{"events":[` + huge + `,` + recordEvent("p1", "evt-good", "publish", "1") + `,` + deep + `]}`
	reply, err := h.Handle(ctx, json.RawMessage(batch))
	if err != nil || reply.Accepted != 1 || reply.Rejected != 2 || reply.Results[1].Status != "accepted" {
		t.Fatalf("mixed batch: %v %+v", err, reply.Results)
	}
	if n := f.callCount(t, "p1"); n != 1 {
		t.Errorf("%d calls, want the good event's one", n)
	}
	if msgs := f.messages(t); len(msgs) != 1 {
		t.Errorf("%d queue messages, want 1", len(msgs))
	}
}

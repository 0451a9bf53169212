package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// TestOperationalEventsAreHeraldsOwn: the CMS cannot send a webhook event
// (it could tell a project's alerting anything); Herald raises them, to
// every subscriber but the webhook it is about, once however often it
// raises the same one.
func TestOperationalEventsAreHeraldsOwn(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	subscribe := herald.Trigger{EntityType: herald.EntityWebhook, EventTypes: []string{herald.OpFailing, herald.OpRecovered}}
	failing := f.addWebhook(t, "p1", "failing", true, subscribe, herald.Trigger{EntityType: "item", EventTypes: []string{"update"}})
	ops := f.addWebhook(t, "p1", "ops", true, subscribe)
	f.addWebhook(t, "p1", "records-only", true, herald.Trigger{EntityType: "item", EventTypes: []string{"update"}})
	f.addWebhook(t, "p1", "ops-disabled", false, subscribe)
	f.addWebhook(t, "p2", "other-project", true, subscribe)
	h := f.handler(f.store, f.queue)

	forged := fmt.Sprintf(`{"project_id":"p1","event_id":"evt-forged","environment":"main","entity_type":"webhook","event_type":"failing",
		"event_triggered_at":"2026-11-26T10:54:09Z","entity":{"id":%q,"type":"webhook"}}`, failing.ID)
	reply, err := h.Handle(ctx, json.RawMessage(forged))
	if err != nil {
		t.Fatal(err)
	}
	if r := reply.Results[0]; r.Status != "rejected" || len(r.Errors) != 1 || r.Errors[0].Field != "entity_type" {
		t.Errorf("a webhook event from the CMS: %+v; want rejected on entity_type", r)
	}
	if n := f.callCount(t, "p1"); n != 0 || len(f.messages(t)) != 0 {
		t.Fatalf("the forged event made %d calls", n)
	}

	at := time.Now().UTC()
	st := &herald.HealthState{ConsecutiveFailures: 4, StreakStart: at.Add(-time.Minute)}
	ev, subject, err := herald.NewOperationalEvent(herald.OpFailing, failing, st, nil, at, at)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Raise(ctx, ev, subject)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "accepted" || len(res.Calls) != 1 || res.Calls[0].WebhookID != ops.ID {
		t.Fatalf("raised: %+v; want one call, to ops", res)
	}
	msgs := f.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages; want 1", len(msgs))
	}
	job, err := herald.DecodeJob([]byte(*msgs[0].Body))
	if err != nil || job.EntityType != herald.EntityWebhook || job.EventType != herald.OpFailing {
		t.Errorf("job %+v, %v", job, err)
	}
	// Raised again within the hour (a crash before it was marked raised,
	// or a second streak): the same event, nothing new.
	again, _, _ := herald.NewOperationalEvent(herald.OpFailing, failing, st, nil, at.Add(time.Second), at.Add(time.Second))
	res2, err := h.Raise(ctx, again, subject)
	if err != nil || res2.Status != "duplicate" || !slices.Equal(res2.Calls, res.Calls) {
		t.Errorf("raised again: %+v, %v; want the first's calls", res2, err)
	}
	if n := f.callCount(t, "p1"); n != 1 {
		t.Errorf("%d calls in p1; want 1", n)
	}
	if n := f.callCount(t, "p2"); n != 0 {
		t.Errorf("another project got %d calls", n)
	}
}

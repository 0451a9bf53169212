package dynamo_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
)

// TestCountsKeptPerHourStayExact lists a project's calls over several hours
// while the clock moves: every total must equal the number of calls a full
// listing shows, whether it came from kept hour counts or live counting,
// through new calls in the open hour, created_at bounds, a filter, and
// calls expiring.
func TestCountsKeptPerHourStayExact(t *testing.T) {
	_, env, clock := newStore(t)
	ctx := context.Background()
	retention := 6 * time.Hour
	store := dynamo.New(dynamo.Deps{DB: env.DB, Table: env.Table, Clock: clock, Retention: retention})
	put := func(webhook string, at time.Time) {
		at = at.Truncate(time.Millisecond)
		ev := &herald.Event{ProjectID: "p1", EventID: herald.NewID(at), Environment: "main", EntityType: "item", EventType: "update",
			EventTriggeredAt: at, Entity: json.RawMessage(`{"id":"1","type":"item"}`)}
		if _, err := store.CreateCall(ctx, herald.NewCall(herald.NewID(at), &herald.Webhook{ID: webhook}, ev, at, retention)); err != nil {
			t.Fatal(err)
		}
	}
	// Four hours of calls, some right at hour boundaries.
	base := t0.Truncate(time.Hour)
	for h := 0; h < 4; h++ {
		for i := 0; i < 3+h; i++ {
			put([]string{"wA", "wB"}[i%2], base.Add(time.Duration(h)*time.Hour+time.Duration(i)*7*time.Minute))
		}
		put("wA", base.Add(time.Duration(h+1)*time.Hour-time.Millisecond))
	}
	check := func(label string, q herald.CallQuery) int {
		t.Helper()
		q.Limit, q.Desc = 500, true
		page, total, err := store.ListCalls(ctx, "p1", q)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		if total != len(page) {
			t.Errorf("%s: total_count %d, but the list holds %d calls", label, total, len(page))
		}
		return total
	}
	clock.Set(base.Add(4*time.Hour + 5*time.Minute))
	env.Calls.Reset()
	all := check("first count", herald.CallQuery{})
	if all != 22 {
		t.Errorf("total %d; want 22", all)
	}
	first := env.Calls.Get("DynamoDB.BatchWriteItem")
	env.Calls.Reset()
	check("second count", herald.CallQuery{})
	if first == 0 || env.Calls.Get("DynamoDB.BatchWriteItem") != 0 {
		t.Errorf("hour counts written %d times, then %d; want kept once", first, env.Calls.Get("DynamoDB.BatchWriteItem"))
	}
	// A new call in the open hour, and one at its very start.
	put("wB", clock.Now())
	put("wA", base.Add(4*time.Hour))
	if n := check("after new calls", herald.CallQuery{}); n != 24 {
		t.Errorf("total %d; want 24", n)
	}
	check("webhook filter", herald.CallQuery{WebhookID: "wA"})
	// A filter no call matches keeps no counts, however often it is asked.
	env.Calls.Reset()
	for range 2 {
		if n := check("made-up webhook", herald.CallQuery{WebhookID: "no-such-webhook"}); n != 0 {
			t.Errorf("made-up webhook: total %d; want 0", n)
		}
	}
	if n := env.Calls.Get("DynamoDB.BatchWriteItem"); n != 0 {
		t.Errorf("counting a made-up webhook's calls wrote %d batches; want none", n)
	}
	check("webhook filter again", herald.CallQuery{WebhookID: "wA"})
	after := base.Add(time.Hour + 30*time.Minute)
	before := base.Add(3*time.Hour + 59*time.Minute + 59*time.Second + 999*time.Millisecond)
	check("created between", herald.CallQuery{CreatedAfter: &after, CreatedBefore: &before})
	check("created between again", herald.CallQuery{CreatedAfter: &after, CreatedBefore: &before})
	exact := base.Add(2 * time.Hour)
	check("created after an hour's start", herald.CallQuery{CreatedAfter: &exact})
	check("created before an hour's start", herald.CallQuery{CreatedBefore: &exact})
	// Calls expire: the first hour's, then the second's.
	for _, d := range []time.Duration{6*time.Hour + 30*time.Minute, 7*time.Hour + 20*time.Minute, 8 * time.Hour} {
		clock.Set(base.Add(d))
		check("after "+d.String(), herald.CallQuery{})
		check("after "+d.String()+", wB", herald.CallQuery{WebhookID: "wB"})
	}
}

package dynamo_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
)

// seedCalls writes n calls one second apart for project p1, alternating two
// webhooks and two entity types, and records every third one as sent
// successfully a minute after creation. One call of another project is
// interleaved, and must never show.
func seedCalls(t *testing.T, store *dynamo.Store, n int) []*herald.Call {
	t.Helper()
	ctx := context.Background()
	var calls []*herald.Call
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		webhook, entity, ev := "wA", "item", "update"
		if i%2 == 1 {
			webhook, entity, ev = "wB", "upload", "create"
		}
		c := putCall(t, store, "p1", webhook, at, entity, ev)
		if i%3 == 0 {
			got, _, err := store.ClaimAttempt(ctx, herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerFirst}, "l", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			sent := at.Add(time.Minute)
			got.Status, got.NextAuto, got.LastSentAt = herald.StatusSuccess, nil, &sent
			if err := store.RecordAttempt(ctx, got, "l", herald.Recording{}); err != nil {
				t.Fatal(err)
			}
			c = got
		}
		calls = append(calls, c)
		if i == n/2 {
			putCall(t, store, "p2", "wA", at, "item", "update")
		}
	}
	return calls
}

func idsOf(calls []*herald.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.ID
	}
	return out
}

func TestListCallsNewestFirstAcrossShards(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	calls := seedCalls(t, store, 40)
	want := idsOf(calls)
	slices.Reverse(want)

	// Page through with an odd page size: the pages join into the full list.
	var got []string
	for offset := 0; ; offset += 7 {
		page, total, err := store.ListCalls(ctx, "p1", herald.CallQuery{Offset: offset, Limit: 7, Desc: true})
		if err != nil {
			t.Fatal(err)
		}
		if total != 40 {
			t.Fatalf("total = %d; want 40", total)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, idsOf(page)...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged list:\n got %v\nwant %v", got, want)
	}
	asc, _, _ := store.ListCalls(ctx, "p1", herald.CallQuery{Limit: 5, OrderBy: "created_at"})
	if !slices.Equal(idsOf(asc), idsOf(calls[:5])) {
		t.Errorf("oldest first: %v; want %v", idsOf(asc), idsOf(calls[:5]))
	}
}

func TestListCallsFilters(t *testing.T) {
	store, _, clock := newStore(t)
	ctx := context.Background()
	calls := seedCalls(t, store, 30)
	at := func(i int) *time.Time { v := calls[i].CreatedAt; return &v }
	tests := map[string]struct {
		q    herald.CallQuery
		want func(i int, c *herald.Call) bool
	}{
		"webhook":                         {herald.CallQuery{WebhookID: "wB"}, func(i int, c *herald.Call) bool { return c.WebhookID == "wB" }},
		"entity type":                     {herald.CallQuery{EntityType: "upload"}, func(i int, c *herald.Call) bool { return c.EntityType == "upload" }},
		"event type":                      {herald.CallQuery{EventType: "update"}, func(i int, c *herald.Call) bool { return c.EventType == "update" }},
		"status success":                  {herald.CallQuery{Status: herald.StatusSuccess}, func(i int, c *herald.Call) bool { return i%3 == 0 }},
		"status pending":                  {herald.CallQuery{Status: herald.StatusPending}, func(i int, c *herald.Call) bool { return i%3 != 0 }},
		"webhook and status":              {herald.CallQuery{WebhookID: "wA", Status: herald.StatusSuccess}, func(i int, c *herald.Call) bool { return i%2 == 0 && i%3 == 0 }},
		"created after (exclusive)":       {herald.CallQuery{CreatedAfter: at(10)}, func(i int, c *herald.Call) bool { return i > 10 }},
		"created before (exclusive)":      {herald.CallQuery{CreatedBefore: at(10)}, func(i int, c *herald.Call) bool { return i < 10 }},
		"created between":                 {herald.CallQuery{CreatedAfter: at(4), CreatedBefore: at(9)}, func(i int, c *herald.Call) bool { return i > 4 && i < 9 }},
		"created after, sub-millisecond":  {herald.CallQuery{CreatedAfter: ptrTime(at(10).Add(time.Microsecond))}, func(i int, c *herald.Call) bool { return i > 10 }},
		"created before, sub-millisecond": {herald.CallQuery{CreatedBefore: ptrTime(at(10).Add(time.Microsecond))}, func(i int, c *herald.Call) bool { return i <= 10 }},
		"last sent after":                 {herald.CallQuery{LastSentAfter: ptrTime(at(12).Add(time.Minute))}, func(i int, c *herald.Call) bool { return i%3 == 0 && i > 12 }},
		"last sent before":                {herald.CallQuery{LastSentBefore: ptrTime(at(12).Add(time.Minute))}, func(i int, c *herald.Call) bool { return i%3 == 0 && i < 12 }},
		"ids":                             {herald.CallQuery{IDs: []string{calls[3].ID, calls[4].ID, "nope", calls[4].ID}}, func(i int, c *herald.Call) bool { return i == 3 || i == 4 }},
		"ids and status":                  {herald.CallQuery{IDs: []string{calls[3].ID, calls[4].ID}, Status: herald.StatusSuccess}, func(i int, c *herald.Call) bool { return i == 3 }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			q := tc.q
			q.Limit, q.Desc = 500, true
			got, total, err := store.ListCalls(ctx, "p1", q)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := len(calls) - 1; i >= 0; i-- {
				if tc.want(i, calls[i]) {
					want = append(want, calls[i].ID)
				}
			}
			if !slices.Equal(idsOf(got), want) || total != len(want) {
				t.Errorf("got %d (total %d) %v\nwant %d %v", len(got), total, idsOf(got), len(want), want)
			}
		})
	}

	// Calls past their retention are neither listed nor found, before any TTL
	// deletion (moto never deletes).
	clock.Advance(30*24*time.Hour + 15*time.Second)
	_, total, _ := store.ListCalls(ctx, "p1", herald.CallQuery{Limit: 500, Desc: true})
	if total != 14 {
		t.Errorf("after 30 days and 15 s, %d calls are listed; want the 14 created after t0+15s", total)
	}
	if _, err := store.GetCall(ctx, "p1", calls[0].ID); herald.ErrorCode(err) != herald.ENOTFOUND {
		t.Errorf("an expired call is still found: %v", err)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

func TestListCallsOtherOrders(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	calls := seedCalls(t, store, 12)
	sentAsc, _, err := store.ListCalls(ctx, "p1", herald.CallQuery{Limit: 500, OrderBy: "last_sent_at"})
	if err != nil {
		t.Fatal(err)
	}
	// Sent ones (0, 3, 6, 9) by send time, then the never-sent (NULL) ones.
	want := []string{calls[0].ID, calls[3].ID, calls[6].ID, calls[9].ID}
	if got := idsOf(sentAsc); !slices.Equal(got[:4], want) || sentAsc[4].LastSentAt != nil || len(got) != 12 {
		t.Errorf("last_sent_at asc: %v", got)
	}
	sentDesc, _, _ := store.ListCalls(ctx, "p1", herald.CallQuery{Limit: 500, OrderBy: "last_sent_at", Desc: true})
	if sentDesc[0].LastSentAt != nil || sentDesc[11].ID != calls[0].ID {
		t.Errorf("last_sent_at desc must put NULLs first and the oldest send last: %v", idsOf(sentDesc))
	}
	byHook, total, _ := store.ListCalls(ctx, "p1", herald.CallQuery{Offset: 4, Limit: 4, OrderBy: "webhook_id"})
	if total != 12 || len(byHook) != 4 || byHook[0].WebhookID != "wA" || byHook[3].WebhookID != "wB" {
		t.Errorf("webhook_id asc, page 2: %v", byHook)
	}
}

package main

import (
	"strings"
	"testing"
)

func TestBalance(t *testing.T) {
	events := []ackedEvent{
		{id: "e1", calls: map[string]string{"c1": "w1", "c2": "w2"}},
		{id: "e2", calls: map[string]string{"c3": "w1", "c4": "w2"}},
	}
	table := func(statuses ...string) []storedCall {
		ids := []struct{ id, wh string }{{"c1", "w1"}, {"c2", "w2"}, {"c3", "w1"}, {"c4", "w2"}}
		var out []storedCall
		for i, s := range statuses {
			out = append(out, storedCall{ID: ids[i].id, WebhookID: ids[i].wh, Status: s})
		}
		return out
	}
	allReceived := map[string]int{"c1": 1, "c2": 1, "c3": 1, "c4": 1}
	for name, tc := range map[string]struct {
		calls    []storedCall
		received map[string]int
		balanced bool
		problem  string // part of the first problem
		want     [3]int // delivered, failed, pending
	}{
		"all delivered": {table("success", "success", "success", "success"), allReceived, true, "", [3]int{4, 0, 0}},
		"failed and pending count": {table("success", "failed", "rescheduled", "pending"), map[string]int{"c1": 1, "c2": 1, "c3": 1},
			true, "", [3]int{1, 1, 2}},
		"a call is missing": {table("success", "success", "success"), allReceived, false, "missing from the table", [3]int{3, 0, 0}},
		"a success never received": {table("success", "success", "success", "success"), map[string]int{"c1": 1, "c2": 1, "c3": 1},
			false, "never got it", [3]int{4, 0, 0}},
		"the receiver got a call the table lacks": {table("success", "success", "success", "success"), map[string]int{"c1": 1, "c2": 1, "c3": 1, "c4": 1, "c9": 1},
			false, "not in the table", [3]int{4, 0, 0}},
		"a doubled call": {append(table("success", "success", "success", "success"), storedCall{ID: "c5", WebhookID: "w1", Status: "pending"}),
			allReceived, false, "no ingest reply named it", [3]int{4, 0, 1}},
		"a call for another webhook": {append(table("success", "success", "success"), storedCall{ID: "c4", WebhookID: "w1", Status: "success"}),
			allReceived, false, "the reply said w2", [3]int{4, 0, 0}},
		"an unknown status": {table("success", "success", "success", "lost"), allReceived, false, `status "lost"`, [3]int{3, 0, 0}},
	} {
		l := balance(events, 2, tc.calls, tc.received, len(tc.received))
		if l.Balanced != tc.balanced {
			t.Errorf("%s: balanced %v; want %v (problems %v)", name, l.Balanced, tc.balanced, l.Problems)
		}
		if got := [3]int{l.Delivered, l.Failed, l.Pending}; got != tc.want {
			t.Errorf("%s: delivered, failed, pending %v; want %v", name, got, tc.want)
		}
		if tc.problem != "" && (len(l.Problems) == 0 || !strings.Contains(strings.Join(l.Problems, "\n"), tc.problem)) {
			t.Errorf("%s: problems %q; want one saying %q", name, l.Problems, tc.problem)
		}
	}
}

func TestBalanceNeedsOneCallPerWebhook(t *testing.T) {
	// A reply naming two calls for one webhook and none for the other.
	events := []ackedEvent{{id: "e1", calls: map[string]string{"c1": "w1", "c2": "w1"}}}
	calls := []storedCall{{ID: "c1", WebhookID: "w1", Status: "success"}, {ID: "c2", WebhookID: "w1", Status: "success"}}
	l := balance(events, 2, calls, map[string]int{"c1": 1, "c2": 1}, 2)
	if l.Balanced {
		t.Errorf("balanced; want problems for two calls of one webhook: %+v", l)
	}
}

func TestBalanceCountsDuplicateRequests(t *testing.T) {
	events := []ackedEvent{{id: "e1", calls: map[string]string{"c1": "w1"}}}
	l := balance(events, 1, []storedCall{{ID: "c1", WebhookID: "w1", Status: "success"}}, map[string]int{"c1": 3}, 3)
	if !l.Balanced || l.DuplicateRequests != 2 {
		t.Errorf("balanced %v, duplicates %d; want true, 2", l.Balanced, l.DuplicateRequests)
	}
}

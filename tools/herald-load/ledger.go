package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
)

// storedCall is what the ledger reads of a call: who it is for and where it
// stands. A call's event comes from the ingest reply that named it.
type storedCall struct {
	ID        string
	WebhookID string
	Status    string
}

// scanCalls reads every call of a project from the table, strongly
// consistent. A Scan, because the ledger must see calls whatever index
// entries say; the project is the run's own, so nothing else matches.
// settle balances a run's ledger from the calls in the table and what the
// receiver got, which it also returns.
func (t *target) settle(ctx context.Context, project string, rcv *receiver, acked []ackedEvent, matches int) (Ledger, []delivery, error) {
	calls, err := t.scanCalls(ctx, project)
	if err != nil {
		return Ledger{}, nil, err
	}
	got, perCall := rcv.snapshot()
	return balance(acked, matches, calls, perCall, len(got)), got, nil
}

func (t *target) scanCalls(ctx context.Context, project string) ([]storedCall, error) {
	calls, err := dynamo.New(dynamo.Deps{DB: t.db, Table: t.table}).ScanCalls(ctx, project)
	if err != nil {
		return nil, err
	}
	out := make([]storedCall, len(calls))
	for i, c := range calls {
		out[i] = storedCall{ID: c.ID, WebhookID: c.WebhookID, Status: string(c.Status)}
	}
	return out, nil
}

// Ledger balances what was sent against what the table and the receiver
// hold: events × matches = delivered + failed + still pending.
type Ledger struct {
	Events            int      `json:"events_accepted"`
	Matches           int      `json:"matches_per_event"`
	Expected          int      `json:"expected_calls"`
	CallsInTable      int      `json:"calls_in_table"`
	Delivered         int      `json:"delivered"`
	Failed            int      `json:"failed"`
	Pending           int      `json:"still_pending"`
	ReceivedCalls     int      `json:"received_calls"`
	ReceivedRequests  int      `json:"received_requests"`
	DuplicateRequests int      `json:"duplicate_requests"`
	Balanced          bool     `json:"balanced"`
	Problems          []string `json:"problems,omitempty"`
}

// ackedEvent is an event ingest accepted, with the calls its reply named.
type ackedEvent struct {
	id    string
	calls map[string]string // call id → webhook id
}

// balance checks the ledger: every accepted event has exactly one call per
// matching webhook in the table and no other; each call is delivered,
// failed or pending; every delivered call reached the receiver and the
// receiver got no call the table lacks. Duplicate requests (one call
// received twice) are counted; the design allows them only after a crash.
func balance(events []ackedEvent, matches int, calls []storedCall, received map[string]int, requests int) Ledger {
	l := Ledger{Events: len(events), Matches: matches, Expected: len(events) * matches,
		CallsInTable: len(calls), ReceivedCalls: len(received), ReceivedRequests: requests}
	problem := func(format string, args ...any) {
		if len(l.Problems) < 20 {
			l.Problems = append(l.Problems, fmt.Sprintf(format, args...))
		}
	}
	replied := map[string]string{}    // call id → event id
	repliedFor := map[string]string{} // call id → webhook id
	for _, ev := range events {
		webhooks := map[string]bool{}
		for id, webhook := range ev.calls {
			replied[id], repliedFor[id] = ev.id, webhook
			webhooks[webhook] = true
		}
		if len(ev.calls) != matches || len(webhooks) != matches {
			problem("event %s: the reply names %d calls for %d webhooks; want %d", ev.id, len(ev.calls), len(webhooks), matches)
		}
	}
	// A call no reply named (say, a second call for one event and webhook)
	// is a problem by itself; the pairs count what the replies named.
	pairs := map[[2]string]int{}
	byID := map[string]storedCall{}
	for _, c := range calls {
		byID[c.ID] = c
		ev, ok := replied[c.ID]
		switch {
		case !ok:
			problem("call %s (webhook %s) is in the table but no ingest reply named it", c.ID, c.WebhookID)
		case repliedFor[c.ID] != c.WebhookID:
			problem("call %s is for webhook %s; the reply said %s", c.ID, c.WebhookID, repliedFor[c.ID])
		default:
			pairs[[2]string{ev, c.WebhookID}]++
		}
		switch herald.Status(c.Status) {
		case herald.StatusSuccess:
			l.Delivered++
			if received[c.ID] == 0 {
				problem("call %s is a success but the receiver never got it", c.ID)
			}
		case herald.StatusFailed:
			l.Failed++
		case herald.StatusPending, herald.StatusRescheduled:
			l.Pending++
		default:
			problem("call %s has status %q", c.ID, c.Status)
		}
	}
	for pair, n := range pairs {
		if n > 1 {
			problem("event %s has %d calls for webhook %s; want one", pair[0], n, pair[1])
		}
	}
	for id, ev := range replied {
		if _, ok := byID[id]; !ok {
			problem("call %s of event %s is missing from the table", id, ev)
		}
	}
	var unknown []string
	for id, n := range received {
		if _, ok := byID[id]; !ok {
			unknown = append(unknown, id)
		}
		l.DuplicateRequests += n - 1
	}
	sort.Strings(unknown)
	for _, id := range unknown {
		problem("the receiver got call %q, which is not in the table", id)
	}
	if l.Delivered+l.Failed+l.Pending != l.Expected || l.CallsInTable != l.Expected {
		problem("%d events × %d matches = %d calls; the table holds %d: %d delivered + %d failed + %d pending",
			l.Events, l.Matches, l.Expected, l.CallsInTable, l.Delivered, l.Failed, l.Pending)
	}
	l.Balanced = len(l.Problems) == 0
	return l
}

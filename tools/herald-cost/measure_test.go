package main

import (
	"context"
	"testing"
	"time"
)

// TestRunCounts runs every scenario against moto with three events of two
// webhooks each and checks the counts hang together: what the model reads
// must be what the handlers did.
func TestRunCounts(t *testing.T) {
	d, err := loadDeployment()
	if err != nil {
		t.Fatal(err)
	}
	d.BatchSize = 10
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const events, matches = 3, 2
	m, err := run(ctx, d, events, matches, true)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	calls := events * matches
	checks := []struct {
		what      string
		got, want int
	}{
		{"ingest units", m.Ingest.Units, events},
		{"ingest PutItem (an event claim and a call per match)", m.Ingest.Calls["DynamoDB.PutItem"], events * (1 + matches)},
		{"ingest SendMessageBatch", m.Ingest.Calls["SQS.SendMessageBatch"], events},
		{"delivery units", m.FirstSuccess.Units, calls},
		{"delivery GetItem (the webhooks, read at the warm-up and cached)", m.FirstSuccess.Calls["DynamoDB.GetItem"], 0},
		{"delivery UpdateItem (the record: a first attempt claims nothing)", m.FirstSuccess.Calls["DynamoDB.UpdateItem"], calls},
		// A retry's success also writes its webhook's health (it follows a
		// failure), and the first of each webhook ends the incident the
		// failures opened: the incident closed, the webhook's mark cleared,
		// the webhook read again (docs/endpoint-health.md).
		{"retry UpdateItem (claim, record, health; per webhook, the incident closed and its mark cleared)", m.RetrySuccess.Calls["DynamoDB.UpdateItem"], 3*calls + 2*matches},
		{"retry GetItem (the event's payload; per webhook, the webhook read again)", m.RetrySuccess.Calls["DynamoDB.GetItem"], calls + matches},
		{"delivery invocations (one batch)", m.FirstSuccess.Invocations, 1},
		{"failed attempts queue a retry each", m.FailedAttempt.Calls["SQS.SendMessage"], calls},
		{"a delivered retry queues nothing", m.RetrySuccess.Calls["SQS.SendMessage"], 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d; want %d", c.what, c.got, c.want)
		}
	}
	// Request units: every write costs at least one unit; the call grows
	// with its attempts, so the retry's record costs more than the first.
	_, wru, _, writes := dynamoPer(m.FirstSuccess)
	if wru != 1 || writes != 1 {
		t.Errorf("first success: %v WRU for %v writes per call; want the record, one unit", wru, writes)
	}
	if rru, _, reads, _ := dynamoPer(m.FirstSuccess); rru != 0 || reads != 0 {
		t.Errorf("first success: %v RRU for %v reads per call; want none", rru, reads)
	}
	if _, ingestWRU, _, _ := dynamoPer(m.Ingest); ingestWRU != 1+matches {
		t.Errorf("ingest: %v WRU per event; want the event and a call per match, one unit each", ingestWRU)
	}
	if _, retryWRU, _, _ := dynamoPer(m.RetrySuccess); retryWRU != float64(3*calls+2*matches)/float64(calls) {
		t.Errorf("retry: %v WRU; want a claim, a record and the health, one unit each, and the incident's end per webhook", retryWRU)
	}
	// Small items: the call holds no payload, the event holds it once.
	if m.CallItemBytes <= 0 || m.CallItemBytes > 1024 || m.EventItemBytes <= 0 || m.EventItemBytes > 1024 || m.CallIndexBytes != 0 {
		t.Errorf("sizes: call %v, index %v, event %v", m.CallItemBytes, m.CallIndexBytes, m.EventItemBytes)
	}
	if m.Ingest.LogBytes <= 0 || m.FirstSuccess.LogBytes <= 0 {
		t.Errorf("log bytes: ingest %d, delivery %d", m.Ingest.LogBytes, m.FirstSuccess.LogBytes)
	}
}

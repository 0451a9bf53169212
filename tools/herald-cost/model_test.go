package main

import (
	"math"
	"testing"
	"time"
)

// A hand-worked case: one match per event, batches of 10, 1769 MB (a full
// vCPU), zero latencies and CPU, so that every line is a count times a price.
func TestModelLines(t *testing.T) {
	ph := func(units int, calls map[string]int, dyn map[string]usage, logBytes int64) phase {
		return phase{Units: units, Invocations: units, Calls: calls, Dynamo: dyn, LogBytes: logBytes}
	}
	m := Measurement{
		Matches:        1,
		Ingest:         ph(10, map[string]int{"DynamoDB.PutItem": 20, "SQS.SendMessageBatch": 10}, map[string]usage{"PutItem": {Calls: 20, WRU: 40, IdxWRU: 10}}, 3000),
		FirstSuccess:   ph(10, map[string]int{"DynamoDB.GetItem": 10}, map[string]usage{"GetItem": {Calls: 10, RRU: 10}}, 2000),
		CallItemBytes:  900,
		CallIndexBytes: 0,
		EventItemBytes: 0,
	}
	md := model{d: deployment{MemoryMB: fullVCPUMemoryMB, RetentionDays: 30, BatchSize: 10}, a: assumptions{EventsPerInvoke: 1}, m: m, t: m}
	got := map[string]float64{}
	for _, l := range md.firstSuccess() {
		got[l.Item] = l.PerCall
		if l.Subtotal {
			got["total"] = l.USDPerM
		}
	}
	want := map[string]float64{
		"Lambda requests":       1 + 0.1,           // an ingest per event, a delivery per 10
		"Lambda arm64 duration": 0,                 // no waits, no CPU
		"DynamoDB writes":       5,                 // (40 + 10) WRU / 10 events
		"DynamoDB reads":        1,                 // 10 RRU / 10 calls
		"SQS FIFO requests":     1 + 0.2,           // a batch send per event, receive + delete per 10
		"SQS requests":          0,                 // no retry
		"CloudWatch Logs":       500.0 / (1 << 30), // 300 + 200 B, no platform lines assumed
	}
	for k, w := range want {
		if math.Abs(got[k]-w) > 1e-12 {
			t.Errorf("%s = %v; want %v", k, got[k], w)
		}
	}
	// Storage: 900 + 100 call, 0 + 100 event; no index entry.
	months := 30 / (365.25 / 12)
	if w := 1100.0 / (1 << 30) * months; math.Abs(got["DynamoDB storage"]-w) > 1e-15 {
		t.Errorf("storage = %v GB-month; want %v", got["DynamoDB storage"], w)
	}
	if got["total"] <= 0 {
		t.Errorf("total = %v", got["total"])
	}
	md.a.DynamoLatency, md.a.ReceiverLatency = 10*time.Millisecond, 100*time.Millisecond
	// Waits overlap within a batch: one read (10 ms) and the receiver
	// (100 ms) for 10 calls.
	if got, want := md.deliverySecondsPerCall(m.FirstSuccess, m.FirstSuccess, false), 0.011; math.Abs(got-want) > 1e-12 {
		t.Errorf("delivery seconds per call = %v; want %v", got, want)
	}
	// The plain run, which gives the CPU, counts no DynamoDB requests: the
	// waits come from the accounted run, so the duration is the same.
	timed := m
	timed.FirstSuccess.Dynamo = nil
	plain := md
	plain.t = timed
	if a, b := md.firstSuccess(), plain.firstSuccess(); a[0].PerCall != b[0].PerCall || a[1] != b[1] {
		t.Errorf("duration with the plain run's empty counts: %+v; want %+v", b[:2], a[:2])
	}
}

// TestProvisionedPrices: with provisioned capacity, a write unit costs a
// WCU-hour spread over the seconds of that hour it is used.
func TestProvisionedPrices(t *testing.T) {
	m := Measurement{Matches: 1,
		Ingest:       phase{Units: 1, Invocations: 1, Dynamo: map[string]usage{"PutItem": {Calls: 2, WRU: 2}}},
		FirstSuccess: phase{Units: 1, Invocations: 1, Dynamo: map[string]usage{"UpdateItem": {Calls: 1, WRU: 1}}}}
	md := model{d: deployment{MemoryMB: 256, RetentionDays: 30, BatchSize: 10}, a: assumptions{EventsPerInvoke: 1, Provisioned: true, Utilization: 0.7}, m: m, t: m}
	for _, l := range md.firstSuccess() {
		if l.Item != "DynamoDB writes" {
			continue
		}
		if l.PerCall != 3 {
			t.Errorf("writes %v; want 3 units", l.PerCall)
		}
		// 0.00065 USD per WCU-hour at 70 %: 0.258 USD per million writes.
		if want := 3 * 0.00065 / (3600 * 0.7) * 1e6; math.Abs(l.USDPerM-want) > 1e-9 || math.Abs(l.USDPerM-0.774) > 0.001 {
			t.Errorf("writes cost %v USD per million; want %v", l.USDPerM, want)
		}
	}
}

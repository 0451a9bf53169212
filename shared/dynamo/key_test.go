package dynamo

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/heraldhq/herald/shared/herald"
)

// TestCallShardsSpreadEvenly is issue 10's fifth defect: the shard was the
// ASCII code of the id's last character modulo 16, and with the Crockford
// alphabet two shards never got a call while the busiest got 9.4 % of them.
// Each shard must get its sixteenth, and every list read only shards that
// hold calls.
func TestCallShardsSpreadEvenly(t *testing.T) {
	const n = 64000
	var counts [callShards]int
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i := range n {
		counts[callShard(herald.NewID(at.Add(time.Duration(i)*time.Millisecond)))]++
	}
	want := n / callShards
	for shard, got := range counts {
		// 4,000 expected per shard; a fair spread stays within a few
		// standard deviations (about 61) of it.
		if got < want*9/10 || got > want*11/10 {
			t.Errorf("shard %d got %d of %d calls; want about %d", shard, got, n, want)
		}
	}
}

// TestKindOf: the tools that size the table tell calls and events from
// every other item by the key layout this package owns.
func TestKindOf(t *testing.T) {
	id := herald.NewID(time.Now())
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	for want, pk := range map[string]string{
		KindCall:  callPK("p1", id),
		KindEvent: eventKey("p1", "evt_1"),
	} {
		if got := KindOf(map[string]types.AttributeValue{"PK": s(pk), "SK": s(id)}); got != want {
			t.Errorf("%s: got %q, want %q", pk, got, want)
		}
	}
	for _, pk := range []string{projectKey("p1"), tokenKey("abc"), legacyCallKey("p1", id), dueKey(id), ""} {
		if got := KindOf(map[string]types.AttributeValue{"PK": s(pk)}); got != "" {
			t.Errorf("%q: got %q, want neither a call nor an event", pk, got)
		}
	}
	if got := KindOf(map[string]types.AttributeValue{}); got != "" {
		t.Errorf("no PK: got %q", got)
	}
}

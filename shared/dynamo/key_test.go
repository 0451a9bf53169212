package dynamo

import (
	"testing"
	"time"

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

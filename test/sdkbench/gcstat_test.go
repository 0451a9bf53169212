package sdkbench_test

import (
	"runtime/metrics"
	"testing"
	"time"
)

// gcStats reads what the Go runtime says its collector cost: the CPU time
// it estimates for marking and pauses (dedicated, fractional and idle
// workers and assists), and the cycles completed.
type gcStats struct {
	cpu    time.Duration
	cycles uint64
}

var gcSamples = []metrics.Sample{
	{Name: "/cpu/classes/gc/total:cpu-seconds"},
	{Name: "/gc/cycles/total:gc-cycles"},
	{Name: "/gc/heap/live:bytes"},
}

func readGC() (gcStats, uint64) {
	metrics.Read(gcSamples)
	return gcStats{
		cpu:    time.Duration(gcSamples[0].Value.Float64() * float64(time.Second)),
		cycles: gcSamples[1].Value.Uint64(),
	}, gcSamples[2].Value.Uint64()
}

// reportGC reports the collector's share of a benchmark since before: its
// CPU per iteration, iterations per cycle, and the live heap the cycles
// marked, which sets both.
func reportGC(b *testing.B, before gcStats) {
	b.Helper()
	after, live := readGC()
	reportMS(b, after.cpu-before.cpu, "gc-ms/op")
	if n := after.cycles - before.cycles; n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "ops/gc")
	}
	b.ReportMetric(float64(live)/(1<<20), "live-MiB")
}
